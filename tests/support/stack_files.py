"""Reads stacks/Pulumi.<stack>.yaml into the flat string form the Pulumi engine passes a program.

The engine hands config to a program as `project:key` -> string, with lists and objects as
JSON text; tests and the end-to-end harness feed the program exactly that.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
STACKS_DIR = PROJECT_DIR / "stacks"
NAMESPACE = "django-stack"


def copy_of_the_sample_app(directory: Path) -> Path:
    """A copy of the sample app at `directory` (made here), for a test to change."""
    shutil.copytree(PROJECT_DIR / "app", directory, ignore=shutil.ignore_patterns("__pycache__"))
    return directory


def stack_names() -> list[str]:
    """Every stack that has a file under stacks/."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in STACKS_DIR.glob("Pulumi.*.yaml"))


def engine_value(value: Any) -> str:
    """A YAML value as the engine passes it: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def stack_config(stack: str, overrides: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The stack file's config plus `overrides` (keys with or without the namespace)."""
    document = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text()) or {}
    config = {key: engine_value(value) for key, value in (document.get("config") or {}).items()}
    for key, value in (overrides or {}).items():
        full = key if ":" in key else f"{NAMESPACE}:{key}"
        config[full] = engine_value(value)
    return config


# What `pulumi config set --secret` puts in a real stack file, for the tests that evaluate the
# shipped stack files: a VM stack cannot evaluate without its SSH key.
PLACEHOLDER_SECRETS = {
    "sshPrivateKey": (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nplaceholder\n-----END OPENSSH PRIVATE KEY-----\n"
    )
}


def shipped_stack_config(stack: str) -> dict[str, str]:
    """A shipped stack file's config, with placeholders for the secrets it leaves to the user."""
    config = stack_config(stack)
    missing = {
        key: value
        for key, value in PLACEHOLDER_SECRETS.items()
        if config.get(f"{NAMESPACE}:platform") == "vm" and f"{NAMESPACE}:{key}" not in config
    }
    return stack_config(stack, missing)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`key=value` command-line pairs; values parse as YAML (so `3`, `true`, `[a, b]` work)."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {pair!r}")
        overrides[key] = yaml.safe_load(raw) if raw else ""
    return overrides


def built_by_project_script(script: str, *, timeout_s: float) -> Path:
    """The path a `scripts/install-*.sh` prints last: the tool it builds from Go modules on
    the first call on a machine (cached by version after that)."""
    result = subprocess.run(
        ["bash", str(PROJECT_DIR / "scripts" / script)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"scripts/{script} failed: {result.stderr[-2000:]}")
    return Path(result.stdout.strip().splitlines()[-1])
