"""The program's stacks under the real Pulumi engine, for the end-to-end suite.

The CLI is scripts/install-pulumi.sh's (DJANGO_STACK_PULUMI_DIR) or one on PATH; the provider
plugins are the ones the project builds itself (scripts/test.sh exports where they are),
installed into a PULUMI_HOME of the stack's own, so nothing is fetched and nothing of the
user's ~/.pulumi is used. Each stack has its own file state backend in a scratch folder:
`up`, a second `up`, `preview` and `destroy` go through the engine's own diff, exactly as
`python -m deploy` does for a user.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import tempfile
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from deploy.workspace import OFFLINE_ENV, PROJECT_DIR, PROJECT_NAME, local_backend, program
from deploy.workspace import pulumi_command as cli_command
from tests.engine.conftest import cli_dir


class EngineUnavailableError(Exception):
    """The CLI or a plugin the stack needs is not on this machine."""


@dataclass(frozen=True)
class Plugin:
    """A provider plugin the project builds: where a test run finds its binary."""

    name: str
    env_var: str
    build_script: str

    @property
    def version(self) -> str:
        # The version the Python SDK asks the engine for.
        return importlib.metadata.version(f"pulumi-{self.name}")

    def binary(self) -> Path:
        configured = os.environ.get(self.env_var)
        if configured and Path(configured).is_file():
            return Path(configured)
        script = PROJECT_DIR / "scripts" / self.build_script
        if script.is_file():
            built = subprocess.run(
                [str(script), "--if-built"], capture_output=True, text=True, check=False
            )
            if built.returncode == 0 and Path(built.stdout.strip()).is_file():
                return Path(built.stdout.strip())
        raise EngineUnavailableError(
            f"no {self.name} plugin: set {self.env_var} or run scripts/{self.build_script}"
        )


COMMAND = Plugin("command", "DJANGO_STACK_COMMAND_PLUGIN", "build-command-provider.sh")
RANDOM = Plugin("random", "DJANGO_STACK_RANDOM_PLUGIN", "build-random-provider.sh")
# What a VM stack on given hosts registers: remote commands and generated passwords.
VM_PLUGINS = (COMMAND, RANDOM)


def the_cli() -> Path:
    folder = cli_dir()
    if folder is None:
        raise EngineUnavailableError("no Pulumi CLI (scripts/install-pulumi.sh builds one)")
    return folder


def install_plugins(cli: Path, home: Path, plugins: Iterable[Plugin]) -> None:
    """Install each plugin's binary into `home` (a PULUMI_HOME) under the version the SDK
    asks for."""
    home.mkdir(parents=True, exist_ok=True)
    for plugin in plugins:
        subprocess.run(
            [
                str(cli / "pulumi"),
                *("plugin", "install", "resource", plugin.name, plugin.version),
                *("--file", str(plugin.binary())),
            ],
            env={**os.environ, **OFFLINE_ENV, "PULUMI_HOME": str(home)},
            capture_output=True,
            text=True,
            check=True,
        )


@dataclass
class EngineStack:
    """One stack of the program under the real engine, in a scratch folder of its own."""

    stack: auto.Stack
    root: Path
    log: list[str]

    def up(self, **options: Any) -> dict[str, Any]:
        """`pulumi up`; the stack's outputs (secrets included, as plain values)."""
        result = self.stack.up(on_output=self.log.append, **options)
        return {key: output.value for key, output in result.outputs.items()}

    def preview(self, **options: Any) -> auto.PreviewResult:
        return self.stack.preview(on_output=self.log.append, **options)

    def destroy(self) -> None:
        self.stack.destroy(on_output=self.log.append)

    def resource_types(self) -> list[str]:
        deployment = self.stack.export_stack().deployment or {}
        return [r["type"] for r in deployment.get("resources") or []]

    def exported_state(self) -> str:
        """The state as `pulumi stack export` prints it."""
        return str(self.stack.export_stack().deployment)

    def remove(self) -> None:
        try:
            self.stack.workspace.remove_stack(self.stack.name, force=True)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def engine_stack(
    name: str,
    config: Mapping[str, str],
    *,
    secret_keys: Collection[str] = (),
    plugins: Iterable[Plugin] = VM_PLUGINS,
) -> EngineStack:
    """A new stack `name` of the project with `config` (`project:key` -> engine string), the
    keys in `secret_keys` set as secrets, the `plugins` installed; nothing deployed yet."""
    cli = the_cli()
    root = Path(tempfile.mkdtemp(prefix=f"django-stack-engine-{name}-"))
    try:
        home = root / "pulumi-home"
        install_plugins(cli, home, plugins)
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
    return EngineStack(stack=stack, root=root, log=[])
