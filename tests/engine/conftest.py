"""Fixtures for the tests that run the program under the real Pulumi engine.

The CLI and the project's own plugins are found by tests/support/pulumi_tools.py (what
scripts/test.sh exports, else what the build scripts have built); a test skips without
them. Each test gets its own work folder
(a copy of Pulumi.yaml and of one stack file) and its own file state backend, so nothing a
test does reaches the checkout's stacks/ or .pulumi-state/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from pulumi import automation as auto

from deploy.workspace import (
    OFFLINE_ENV,
    PROJECT_DIR,
    LocalBackend,
    local_backend,
    open_stack,
    pulumi_command,
)
from tests.support.pulumi_tools import MissingToolError, cli_dir, find_own_plugin


def own_plugin(name: str) -> Path:
    """The binary of one of the project's own plugins (`command`, `random`, `docker`); the
    test skips without it."""
    try:
        return find_own_plugin(name)
    except MissingToolError as error:
        pytest.skip(str(error))


@dataclass(frozen=True)
class PluginEngine:
    """The CLI with one resource plugin installed in a scratch PULUMI_HOME, and a file
    backend: what an inline program needs to run under the real engine, offline."""

    cli_dir: Path
    home: Path
    backend: LocalBackend

    def env(self) -> dict[str, str]:
        return {**OFFLINE_ENV, **self.backend.env(), "PULUMI_HOME": str(self.home)}

    def inline_stack(self, *, project: str, program: auto.PulumiFn, work_dir: Path) -> auto.Stack:
        """A stack `check` of an inline program, in `work_dir` (made here)."""
        work_dir.mkdir()
        return auto.create_or_select_stack(
            stack_name="check",
            project_name=project,
            program=program,
            opts=auto.LocalWorkspaceOptions(
                work_dir=str(work_dir),
                env_vars=self.env(),
                secrets_provider="passphrase",
                pulumi_command=pulumi_command(self.cli_dir),
            ),
        )

    def exported_and_on_disk(self, stack: auto.Stack) -> tuple[str, str]:
        """The stack's state as `pulumi stack export` prints it (without --show-secrets),
        and the backend's state files as they are on disk."""
        on_disk = "".join(p.read_text() for p in self.backend.state_dir.rglob("*.json"))
        return exported_state(stack, self.cli_dir, self.env()), on_disk


def exported_state(stack: auto.Stack, cli: Path, env: Mapping[str, str]) -> str:
    """`pulumi stack export` of `stack`, secrets as ciphertext: not the Automation API's
    `Stack.export_stack()`, which passes --show-secrets."""
    return subprocess.run(
        [str(cli / "pulumi"), "stack", "export", "--stack", stack.name],
        cwd=stack.workspace.work_dir,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def plugin_engine(tmp_path: Path, *, name: str, version: str, binary: Path) -> PluginEngine:
    """The CLI (or a skip) with `binary` installed as resource plugin `name` `version`."""
    folder = cli_dir()
    if folder is None:
        pytest.skip("no Pulumi CLI (scripts/install-pulumi.sh builds one)")
    engine = PluginEngine(
        cli_dir=folder, home=tmp_path / "pulumi-home", backend=local_backend(tmp_path / "state")
    )
    install_plugin(folder, engine.home, name=name, version=version, binary=binary)
    return engine


def install_plugin(cli: Path, home: Path, *, name: str, version: str, binary: Path) -> None:
    """`pulumi plugin install resource NAME VERSION --file BINARY` into PULUMI_HOME `home`."""
    install = ["plugin", "install", "resource", name, version, "--file", str(binary)]
    subprocess.run(
        [str(cli / "pulumi"), *install],
        env={**os.environ, **OFFLINE_ENV, "PULUMI_HOME": str(home)},
        check=True,
        capture_output=True,
    )


@dataclass(frozen=True)
class EngineStack:
    """A stack under the real engine, in a work folder of its own."""

    stack: auto.Stack
    work_dir: Path
    backend: LocalBackend

    def stack_file(self) -> Path:
        return self.work_dir / "stacks" / f"Pulumi.{self.stack.name}.yaml"


@pytest.fixture
def engine_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[EngineStack]:
    """A new stack (named after the stack file given by `@pytest.mark.stack_file`, default
    dev) with that file's config; removed with its state when the test ends."""
    folder = cli_dir()
    if folder is None:
        pytest.skip("no Pulumi CLI (scripts/install-pulumi.sh builds one)")
    marker = request.node.get_closest_marker("stack_file")
    stack_name = marker.args[0] if marker else "dev"
    work_dir = tmp_path / "work"
    (work_dir / "stacks").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", work_dir / "Pulumi.yaml")
    shutil.copy(
        PROJECT_DIR / "stacks" / f"Pulumi.{stack_name}.yaml",
        work_dir / "stacks" / f"Pulumi.{stack_name}.yaml",
    )
    backend = local_backend(tmp_path / "state")
    stack = open_stack(stack_name, backend=backend, work_dir=work_dir, cli_dir=folder)
    try:
        yield EngineStack(stack=stack, work_dir=work_dir, backend=backend)
    finally:
        stack.workspace.remove_stack(stack_name, force=True)
