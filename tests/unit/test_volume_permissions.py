"""The volume permissions job's script (components/render/volume_permissions.py), run for real
on a tree laid out as an earlier version left a media volume: by one uid, 0644 and 0755."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from components.render.volume_permissions import volume_permissions_command


def run(tree: Path, *more: Path) -> subprocess.CompletedProcess[str]:
    # The current user's own group: the test needs no root (the job's is the app's group).
    command = volume_permissions_command(
        group=os.getgid(), mount_points=[str(tree), *map(str, more)]
    )
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def old_volume(tmp_path: Path) -> Path:
    volume = tmp_path / "media"
    month = volume / "files" / "attachments" / "2026" / "11"
    month.mkdir(parents=True)
    for folder in (volume, *month.parents, month):
        if folder.is_relative_to(volume):
            folder.chmod(0o755)
    (month / "report.pdf").write_bytes(b"%PDF")
    (month / "report.pdf").chmod(0o644)
    (month / "private").write_bytes(b"x")
    (month / "private").chmod(0o600)
    outside = tmp_path / "outside"
    outside.write_bytes(b"not on the volume")
    outside.chmod(0o600)
    (month / "link").symlink_to(outside)
    return volume


def test_an_old_volume_becomes_the_groups(old_volume: Path, tmp_path: Path) -> None:
    result = run(old_volume)

    assert result.returncode == 0, result.stderr
    month = old_volume / "files" / "attachments" / "2026" / "11"
    for folder in (old_volume, old_volume / "files", month):
        assert mode(folder) == 0o2775, folder  # group-writable, setgid; "other" as it was
    assert mode(month / "report.pdf") == 0o664  # the proxy still reads it as "other"
    assert mode(month / "private") == 0o660  # nothing opened to "other"
    # A link's target is not the volume's: left alone.
    assert mode(tmp_path / "outside") == 0o600
    assert "volume permissions: " in result.stdout and " 0 changes" not in result.stdout


def test_a_volume_that_is_right_is_left_as_it_is(old_volume: Path) -> None:
    assert run(old_volume).returncode == 0
    before = {p: (p.lstat().st_mode, p.lstat().st_ctime_ns) for p in old_volume.rglob("*")}

    again = run(old_volume)

    assert again.returncode == 0
    assert "volume permissions: 0 changes" in again.stdout
    assert {p: (p.lstat().st_mode, p.lstat().st_ctime_ns) for p in old_volume.rglob("*")} == before


def test_a_failure_fails_the_job(tmp_path: Path) -> None:
    result = run(tmp_path / "missing")
    assert result.returncode != 0
    assert "missing" in result.stderr


def test_no_mount_points_is_refused() -> None:
    with pytest.raises(ValueError, match="no mount points"):
        volume_permissions_command(group=10001, mount_points=[])
