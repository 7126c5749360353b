"""components/render/release.py: migrate, then the release commands; the first failure stops.

The migration container's command is run for real by `sh`, against a stand-in django-admin
that records its arguments and fails when told to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from components.render.release import release_container_command

STAND_IN = """#!/bin/sh
printf '%s|' "$@" >> "$LOG"
echo >> "$LOG"
[ "$1" != "$FAIL" ]
"""


def run_release(tmp_path: Path, command: list[str], fail: str = "") -> tuple[int, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "django-admin").write_text(STAND_IN)
    (bin_dir / "django-admin").chmod(0o755)
    log = tmp_path / "log"
    result = subprocess.run(
        command,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(log), "FAIL": fail},
        capture_output=True,
        text=True,
    )
    lines = log.read_text().splitlines() if log.exists() else []
    return result.returncode, lines


def test_without_release_commands_the_job_is_migrate_alone() -> None:
    assert release_container_command(()) == ["django-admin", "migrate", "--noinput"]


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
def test_release_commands_run_in_order_after_migrate(tmp_path: Path) -> None:
    command = release_container_command(
        [("createcachetable",), ("loaddata", "seed data.json"), ("shell", "-c", "print('$HOME')")]
    )
    code, calls = run_release(tmp_path, command)
    assert code == 0
    # Arguments arrive as they were split in the config: no shell expansion on the way.
    assert calls == [
        "migrate|--noinput|",
        "createcachetable|",
        "loaddata|seed data.json|",
        "shell|-c|print('$HOME')|",
    ]


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
@pytest.mark.parametrize(("fail", "ran"), [("migrate", 1), ("createcachetable", 2)])
def test_the_first_failure_fails_the_release(tmp_path: Path, fail: str, ran: int) -> None:
    command = release_container_command([("createcachetable",), ("check",)])
    code, calls = run_release(tmp_path, command, fail=fail)
    assert code != 0
    assert len(calls) == ran
    assert os.path.basename(command[0]) == "sh"
