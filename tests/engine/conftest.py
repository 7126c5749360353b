"""Fixtures for the tests that run the program under the real Pulumi engine.

The CLI is the one scripts/install-pulumi.sh makes available (scripts/test.sh puts its folder
in DJANGO_STACK_PULUMI_DIR), or an official one on PATH. Each test gets its own work folder
(a copy of Pulumi.yaml and of one stack file) and its own file state backend, so nothing a
test does reaches the checkout's stacks/ or .pulumi-state/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pulumi import automation as auto

from deploy.workspace import PROJECT_DIR, LocalBackend, local_backend, open_stack


def cli_dir() -> Path | None:
    """The folder of the CLI to use, or None when there is none."""
    configured = os.environ.get("DJANGO_STACK_PULUMI_DIR")
    if configured and (Path(configured) / "pulumi").is_file():
        return Path(configured)
    found = shutil.which("pulumi")
    return Path(found).parent if found else None


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
