"""The program's stacks under the real Pulumi engine, for the end-to-end suite.

The CLI is scripts/install-pulumi.sh's (DJANGO_STACK_PULUMI_DIR) or one on PATH; the provider
plugins are the ones the project builds itself (scripts/test.sh exports where they are),
installed into a PULUMI_HOME of the stack's own, so nothing is fetched and nothing of the
user's ~/.pulumi is used; without the CLI or a plugin the test skips, which
DJANGO_STACK_REQUIRE_E2E=1 (CI) turns into a failure. Each stack has its own file state
backend in a scratch folder: `up`, a second `up`, `preview` and `destroy` go through the
engine's own diff, exactly as `python -m deploy` does for a user.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto
from pulumi.automation import events

from deploy.workspace import (
    OFFLINE_ENV,
    PROJECT_DIR,
    PROJECT_NAME,
    checkpoints_skipped,
    local_backend,
    program,
)
from deploy.workspace import pulumi_command as cli_command
from tests.engine.conftest import cli_dir, exported_state, install_plugin, own_plugin

# What a VM stack on given hosts registers: remote commands and generated passwords, both
# carried out by the project's own plugins (scripts/build-own-plugins.sh).
VM_PLUGINS = ("command", "random")


def steps(seen: Iterable[events.EngineEvent]) -> dict[str, set[str]]:
    """Each resource's logical name -> the operations the engine announced for it, other
    than `same` (`create`, `update`, `replace`, `delete`, ...); resources left as they are do
    not appear."""
    found: dict[str, set[str]] = {}
    for event in seen:
        step = event.resource_pre_event
        if step is not None and step.metadata.op is not events.OpType.SAME:
            name = step.metadata.urn.rsplit("::", 1)[-1]
            found.setdefault(name, set()).add(step.metadata.op.value)
    return found


def install_own_plugins(cli: Path, home: Path, names: Iterable[str]) -> None:
    """Install each of the project's own plugins into `home` (a PULUMI_HOME) under the version
    the Python SDK asks for (the test skips without one)."""
    for name in names:
        version = importlib.metadata.version(f"pulumi-{name}")
        install_plugin(cli, home, name=name, version=version, binary=own_plugin(name))


@dataclass
class ProgramStack:
    """One stack of the program under the real engine, in a scratch folder of its own."""

    stack: auto.Stack
    root: Path
    cli: Path
    log: list[str]

    def up(self, **options: Any) -> dict[str, Any]:
        """`pulumi up`; the stack's outputs (secrets included, as plain values)."""
        result = self.stack.up(on_output=self.log.append, **options)
        return {key: output.value for key, output in result.outputs.items()}

    def preview(self) -> dict[str, set[str]]:
        """`pulumi preview --diff`: what it would do, by resource (see `steps`)."""
        seen: list[events.EngineEvent] = []
        with checkpoints_skipped(self.stack):
            self.stack.preview(diff=True, on_output=self.log.append, on_event=seen.append)
        return steps(seen)

    def up_steps(self, **options: Any) -> dict[str, set[str]]:
        """`pulumi up`; what it did, by resource (see `steps`)."""
        seen: list[events.EngineEvent] = []
        self.stack.up(on_output=self.log.append, on_event=seen.append, **options)
        return steps(seen)

    def set_config(self, key: str, value: str) -> None:
        """`pulumi config set django-stack:KEY VALUE`."""
        self.stack.set_config(f"{PROJECT_NAME}:{key}", auto.ConfigValue(value))

    def destroy(self) -> None:
        self.stack.destroy(on_output=self.log.append)

    def resource_types(self) -> list[str]:
        deployment = self.stack.export_stack().deployment or {}
        return [r["type"] for r in deployment.get("resources") or []]

    def state_text(self) -> str:
        """The state as `pulumi stack export` prints it (secrets as ciphertext), and the
        backend's files as they are on disk."""
        workspace = self.stack.workspace
        env = {**workspace.env_vars, "PULUMI_HOME": str(workspace.pulumi_home)}
        exported = exported_state(self.stack, self.cli, env)
        return exported + "".join(p.read_text() for p in (self.root / "state").rglob("*.json"))

    def remove(self) -> None:
        try:
            self.stack.workspace.remove_stack(self.stack.name, force=True)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def program_stack(
    name: str,
    config: Mapping[str, str],
    *,
    secret_keys: Collection[str] = (),
    plugins: Iterable[str] = VM_PLUGINS,
) -> ProgramStack:
    """A new stack `name` of the project with `config` (`project:key` -> engine string), the
    keys in `secret_keys` set as secrets, the `plugins` installed; nothing deployed yet."""
    cli = cli_dir()
    if cli is None:
        pytest.skip("no Pulumi CLI (scripts/install-pulumi.sh builds one)")
    root = Path(tempfile.mkdtemp(prefix=f"django-stack-engine-{name}-"))
    try:
        home = root / "pulumi-home"
        install_own_plugins(cli, home, plugins)
        work_dir = root / "work"
        (work_dir / "stacks").mkdir(parents=True)
        shutil.copy(PROJECT_DIR / "Pulumi.yaml", work_dir / "Pulumi.yaml")
        backend = local_backend(root / "state")
        stack = auto.create_stack(
            stack_name=name,
            project_name=PROJECT_NAME,
            program=program(PROJECT_DIR),
            opts=auto.LocalWorkspaceOptions(
                work_dir=str(work_dir),
                pulumi_home=str(home),
                env_vars={**OFFLINE_ENV, **backend.env()},
                secrets_provider="passphrase",
                pulumi_command=cli_command(cli),
            ),
        )
        values = {k: auto.ConfigValue(v, secret=k in secret_keys) for k, v in config.items()}
        stack.set_all_config(values)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return ProgramStack(stack=stack, root=root, cli=cli, log=[])
