"""A stack of this project under the real Pulumi engine, driven by the Automation API.

The program runs in this process (an inline program): the engine needs no Python language
host, which the offline build of the CLI (scripts/install-pulumi.sh) cannot provide. State
lives in a local file backend, secrets are encrypted with a passphrase kept beside it, and
nothing is downloaded at run time.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi import automation as auto

from components.program import declare_stack

PROJECT_DIR = Path(__file__).resolve().parents[1]
PROJECT_NAME = "django-stack"
# The engine looks nothing up on the network: no update check, no plugin download (an
# offline machine would wait for each to time out, and a plugin must be the one installed).
OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
}
SKIP_CHECKPOINTS = "PULUMI_SKIP_CHECKPOINTS"


@dataclass(frozen=True)
class LocalBackend:
    """A file state backend and the passphrase that encrypts the secrets in it."""

    state_dir: Path
    passphrase_file: Path

    def env(self) -> dict[str, str]:
        """The engine's environment for this backend (a passphrase from the caller wins)."""
        env = {"PULUMI_BACKEND_URL": self.state_dir.resolve().as_uri()}
        if not os.environ.get("PULUMI_CONFIG_PASSPHRASE"):
            env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(self.passphrase_file.resolve())
        return env


def local_backend(state_dir: Path) -> LocalBackend:
    """The backend in `state_dir`, made with a random passphrase (mode 0600) when new."""
    state_dir.mkdir(parents=True, exist_ok=True)
    passphrase = state_dir / "passphrase"
    if not passphrase.exists():
        fd = os.open(passphrase, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
    return LocalBackend(state_dir=state_dir, passphrase_file=passphrase)


def program(project_dir: Path = PROJECT_DIR) -> auto.PulumiFn:
    """The program `__main__.py` runs, as an inline function."""

    async def main() -> None:
        for key, value in (await declare_stack(project_dir)).items():
            pulumi.export(key, value)

    return main


@contextmanager
def checkpoints_skipped(stack: auto.Stack) -> Iterator[None]:
    """Within: the stack's commands run with PULUMI_SKIP_CHECKPOINTS, for previews only.

    A preview persists nothing, yet CLI 3.274 serializes and integrity-checks the whole
    snapshot after every step of one (pkg/backend/snapshot.go `saveSnapshot`, into the
    `DiscardPersister` backend/diy/backend.go gives dry runs): time in steps x resources,
    57% of the CLI's CPU at 100 app hosts (docs/benchmarks.md). Without checkpoints it
    serializes once, at the end. Never for `up`: killed midway, it would have recorded
    nothing of what it did.
    """
    workspace = stack.workspace
    before = workspace.env_vars
    workspace.env_vars = {**before, SKIP_CHECKPOINTS: "true"}
    try:
        yield
    finally:
        workspace.env_vars = before


def pulumi_command(cli_dir: Path | None) -> auto.PulumiCommand | None:
    """The CLI in `cli_dir` (a folder holding `pulumi`), or None for the one on PATH."""
    if cli_dir is None:
        return None
    # PulumiCommand takes the folder above bin/.
    root = cli_dir.parent if cli_dir.name == "bin" else cli_dir
    return auto.PulumiCommand(root=str(root))


def open_stack(
    stack_name: str,
    *,
    backend: LocalBackend,
    work_dir: Path = PROJECT_DIR,
    project_dir: Path = PROJECT_DIR,
    cli_dir: Path | None = None,
    offline: bool = True,
    env: Mapping[str, str] | None = None,
) -> auto.Stack:
    """Select `stack_name` (creating it when new) in `work_dir`, whose Pulumi.yaml and stack
    config folder the engine reads; the program deploys the project in `project_dir`.

    `offline` keeps the engine off the network (the official CLI, online, may leave it off to
    fetch its plugins itself).
    """
    return auto.create_or_select_stack(
        stack_name=stack_name,
        project_name=PROJECT_NAME,
        program=program(project_dir),
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            env_vars={**(OFFLINE_ENV if offline else {}), **backend.env(), **(env or {})},
            secrets_provider="passphrase",
            pulumi_command=pulumi_command(cli_dir),
        ),
    )
