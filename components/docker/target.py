"""Where a stack's Docker resources go: one value shared by every Docker component."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi


@dataclass(frozen=True)
class DockerTarget:
    """The engine-side context every Docker component of one stack works in."""

    stack: str
    """Stack name, for labels."""
    resource_prefix: str
    """Prefix of names on the engine (containers, volumes, image repositories)."""
    network: pulumi.Input[str]
    """The stack's private network: replicas, database, migration job and proxy."""
    base_image: str
    """Image every image of the stack is built from."""
    build_dir: Path
    """Where build contexts are written."""
