"""Where the Pulumi CLI and the project's own provider plugins are, without pytest.

The CLI is the one scripts/install-pulumi.sh makes available (scripts/test.sh puts its folder
in DJANGO_STACK_PULUMI_DIR), or one on PATH; a plugin is the binary DJANGO_STACK_<NAME>_PLUGIN
names (scripts/test.sh sets them), else the one its build script has already built. The
tests under the real engine skip without them (tests/engine/conftest.py); the load benchmark
deploys through the harness instead (bench/deployment.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from deploy.workspace import PROJECT_DIR

# The script that builds each of the project's own plugins, and its arguments.
PLUGIN_BUILDS = {
    "command": ("build-own-plugins.sh", "command"),
    "random": ("build-own-plugins.sh", "random"),
    "docker": ("build-docker-provider.sh",),
}


class MissingToolError(LookupError):
    """The CLI or a plugin is not here; the message says which and how to get it."""


def cli_dir() -> Path | None:
    """The folder of the CLI to use, or None when there is none."""
    configured = os.environ.get("DJANGO_STACK_PULUMI_DIR")
    if configured and (Path(configured) / "pulumi").is_file():
        return Path(configured)
    found = shutil.which("pulumi")
    return Path(found).parent if found else None


def find_own_plugin(name: str) -> Path:
    """The binary of one of the project's own plugins (`command`, `random`, `docker`), or
    MissingToolError. `--if-built`: nothing is built here (that takes minutes)."""
    configured = os.environ.get(f"DJANGO_STACK_{name.upper()}_PLUGIN")
    if configured:
        return Path(configured)
    script, *args = PLUGIN_BUILDS[name]
    built = subprocess.run(
        [str(PROJECT_DIR / "scripts" / script), *args, "--if-built"],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        raise MissingToolError(f"no {name} plugin: {built.stderr.strip()}")
    return Path(built.stdout.strip())


def missing_tools(plugins: Iterable[str]) -> list[str]:
    """Why a stack needing `plugins` cannot run under the real engine here: one reason per
    missing piece; empty when the CLI and every plugin are here."""
    missing = [] if cli_dir() else ["no Pulumi CLI (scripts/install-pulumi.sh builds one)"]
    for name in plugins:
        try:
            binary = find_own_plugin(name)
        except MissingToolError as error:
            missing.append(str(error))
            continue
        if not binary.is_file():
            missing.append(f"no {name} plugin at {binary}")
    return missing
