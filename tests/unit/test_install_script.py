"""templates/dependencies/install.sh run for real, by bash and pip, offline.

The step both targets run (the app image's build stage, a VM release) gets exactly the files
components/render/build_context.py gives it, and installs a wheel made here from a local
folder (PIP_NO_INDEX, PIP_FIND_LINKS), so no index is needed: nested includes, hash-checking
mode and a PEP 621 pyproject.toml, with pip's own verdict. (uv.lock projects are built for real
in the app image: uv comes from PyPI.)
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from components.dependencies import detect_dependencies
from components.render.build_context import BuildContext, dependency_files

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def make_wheel(directory: Path) -> tuple[Path, str]:
    """A one-module pure-Python wheel, `stackprobe 1.0`, and its sha256."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "stackprobe-1.0-py3-none-any.whl"
    files = {
        "stackprobe.py": b"VALUE = 'installed by install.sh'\n",
        "stackprobe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: stackprobe\n"
        b"Version: 1.0\n",
        "stackprobe-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(content)}")
    record.append("stackprobe-1.0.dist-info/RECORD,,")
    with zipfile.ZipFile(path, "w") as wheel:
        for name, content in files.items():
            wheel.writestr(name, content)
        wheel.writestr("stackprobe-1.0.dist-info/RECORD", "\n".join(record) + "\n")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return make_wheel(tmp_path_factory.mktemp("wheels"))


def install(tmp_path: Path, project: dict[str, str], wheels: Path) -> subprocess.CompletedProcess:
    """Run install.sh as the build does, into a fresh virtualenv; return the run."""
    app = tmp_path / "app"
    for name, text in project.items():
        (app / name).parent.mkdir(parents=True, exist_ok=True)
        (app / name).write_text(textwrap.dedent(text).lstrip())
    context = BuildContext(dependency_files(detect_dependencies(app))).write(tmp_path / "ctx")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # pip from this interpreter, into the venv: quicker than ensurepip, and offline.
    (venv / "bin" / "pip").write_text(
        f'#!/bin/sh\nexec {sys.executable} -m pip --python "{venv}/bin/python" "$@"\n'
    )
    (venv / "bin" / "pip").chmod(0o755)
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
    }
    return subprocess.run(
        ["bash", "../install.sh", str(venv)],
        cwd=context / "dependencies" / "project",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def installed(tmp_path: Path) -> str:
    probe = subprocess.run(
        [
            str(tmp_path / "venv" / "bin" / "python"),
            "-c",
            "import stackprobe; print(stackprobe.VALUE)",
        ],
        capture_output=True,
        text=True,
    )
    return probe.stdout.strip()


def test_nested_includes_in_hash_checking_mode(tmp_path: Path, wheel: tuple[Path, str]) -> None:
    path, sha = wheel
    run = install(
        tmp_path,
        {
            "requirements.txt": "-r requirements/production.txt\n",
            "requirements/production.txt": "--require-hashes\n-r base.txt\n",
            "requirements/base.txt": f"stackprobe==1.0 \\\n    --hash=sha256:{sha}\n",
        },
        path.parent,
    )
    assert run.returncode == 0, run.stderr
    assert "installing the project's dependencies from requirements.txt with pip" in run.stdout
    assert installed(tmp_path) == "installed by install.sh"


def test_a_wrong_hash_fails_with_pips_message(tmp_path: Path, wheel: tuple[Path, str]) -> None:
    path, _ = wheel
    run = install(
        tmp_path,
        {"requirements.txt": "stackprobe==1.0 --hash=sha256:" + "0" * 64 + "\n"},
        path.parent,
    )
    assert run.returncode != 0
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in run.stderr
    assert installed(tmp_path) == ""


def test_pyproject_dependencies_with_pip(tmp_path: Path, wheel: tuple[Path, str]) -> None:
    path, _ = wheel
    pyproject = '[project]\nname = "shop"\nversion = "1"\ndependencies = ["stackprobe==1.0"]\n'
    run = install(tmp_path, {"pyproject.toml": pyproject}, path.parent)
    assert run.returncode == 0, run.stderr
    assert "from pyproject.toml with pip" in run.stdout
    assert installed(tmp_path) == "installed by install.sh"
