"""The machine a benchmark ran on: CPUs, model, memory, kernel, Docker engine."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from tests.e2e.engine import docker


def cpu_model(cpuinfo: str) -> str:
    """The first `model name` of /proc/cpuinfo."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return "unknown CPU"


def memory_gib(meminfo: str) -> float:
    """MemTotal of /proc/meminfo, in GiB."""
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024**2
    return 0.0


def describe_machine() -> dict[str, Any]:
    """What docs/benchmarks.md says about the machine."""
    info: dict[str, Any] = {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(Path("/proc/cpuinfo").read_text()),
        "memory_gib": memory_gib(Path("/proc/meminfo").read_text()),
        "kernel": f"Linux {platform.release()}",
    }
    fields = "{{.ServerVersion}}|{{.Driver}}|{{.CgroupVersion}}"
    engine = docker("info", "--format", fields, check=False, timeout=30).strip().split("|")
    if len(engine) == 3:
        info["docker"], info["storage_driver"], info["cgroup_version"] = engine
    return info


def source_digest(project_dir: Path) -> str:
    """A short digest of what is benchmarked: components/, templates/ and app/."""
    sha = hashlib.sha256()
    for folder in ("components", "templates", "app"):
        for path in sorted((project_dir / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                sha.update(path.relative_to(project_dir).as_posix().encode() + b"\0")
                sha.update(hashlib.sha256(path.read_bytes()).digest())
    return sha.hexdigest()[:12]


def describe_source(project_dir: Path) -> dict[str, str]:
    """The commit (when the tree is a git checkout) and the digest of the benchmarked code."""
    info = {"digest": source_digest(project_dir)}
    result = subprocess.run(
        ["git", "-C", str(project_dir), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if result.returncode == 0 and result.stdout.strip():
        info["commit"] = result.stdout.strip()
    return info
