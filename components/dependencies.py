"""How a Django project declares its dependencies, and which files the install needs.

A project is deployed as it is written, so its own declaration is what gets installed, in
this order of preference:

1. `uv.lock` with `pyproject.toml`: `uv sync --frozen`, exactly the locked versions;
2. `requirements.txt`: `pip install -r`, with every file it includes (`-r`, `-c`) anywhere in
   the project, and pip's hash-checking mode when the files carry hashes;
3. `pyproject.toml` with a PEP 621 `[project]` table: its `dependencies`, with pip.

Only the declaration files reach the install step, before the project's code does (a layer
of its own in the image, docs/benchmarks.md): a code change never reinstalls dependencies.
The project itself is not installed as a package, whatever the format: its code runs from
the app directory, on PYTHONPATH.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from components.choices import DependencyFormat

REQUIREMENTS = "requirements.txt"
PYPROJECT = "pyproject.toml"
UV_LOCK = "uv.lock"
# The file the `pyproject` format writes [project].dependencies into, for pip.
PYPROJECT_REQUIREMENTS = "pyproject-dependencies.txt"
LOOKED_FOR = (
    f"{UV_LOCK} (with {PYPROJECT})",
    REQUIREMENTS,
    f"{PYPROJECT} (with a [project] table)",
)
# pip's options that name another requirements file: -r/--requirement, -c/--constraint.
# https://pip.pypa.io/en/stable/reference/requirements-file-format/#supported-options
_INCLUDE = re.compile(r"^(?:(-r|-c)\s*|(--requirement|--constraint)(?:=|\s+))(\S.*)$")
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# A requirement installed from the project's own files, which reach the build after the
# dependencies: `.`, `./lib`, `-e .`, `/abs/path`.
_LOCAL = re.compile(r"^(-e\s+|--editable(\s+|=))?(\.|/|file:)")


class DependencyError(ValueError):
    """The project's dependency declaration cannot be installed; the message says why."""


@dataclass(frozen=True)
class Dependencies:
    """What the install step gets: the format, and the declaration files by relative path."""

    format: DependencyFormat
    files: dict[str, bytes]

    @property
    def description(self) -> str:
        """Which files, and the tool that installs them: for the deployment's log."""
        if self.format is DependencyFormat.UV:
            return f"{UV_LOCK} and {PYPROJECT}, installed with uv sync --frozen"
        if self.format is DependencyFormat.PYPROJECT:
            return f"{PYPROJECT} [project].dependencies, installed with pip"
        others = sorted(set(self.files) - {REQUIREMENTS})
        including = f" (including {', '.join(others)})" if others else ""
        return f"{REQUIREMENTS}{including}, installed with pip"


def detect_dependencies(app_path: Path) -> Dependencies:
    """The project's declaration, by the order of preference above.

    Raises DependencyError when there is none, or when it cannot be installed from the
    declaration files alone (an include outside the project, a missing file, ...).
    """
    pyproject = app_path / PYPROJECT
    table = _pyproject(pyproject) if pyproject.is_file() else None
    if (app_path / UV_LOCK).is_file():
        return _uv(app_path, table)
    if (app_path / REQUIREMENTS).is_file():
        return Dependencies(DependencyFormat.REQUIREMENTS, requirement_files(app_path))
    if table is not None and "project" in table:
        return _pep621(table)
    raise DependencyError(
        "declares no dependencies: looked for " + ", ".join(LOOKED_FOR) + " in that order"
    )


def _pyproject(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise DependencyError(f"{PYPROJECT} is not valid TOML: {e}") from None


def _uv(app_path: Path, table: dict[str, Any] | None) -> Dependencies:
    if table is None or "project" not in table:
        raise DependencyError(
            f"has {UV_LOCK} but no {PYPROJECT} with a [project] table, which uv sync needs"
        )
    uv = table.get("tool", {}).get("uv", {})
    if "workspace" in uv:
        raise DependencyError(
            f"{PYPROJECT} declares a uv workspace ([tool.uv.workspace]), whose members are "
            "not installed before the code; declare the project alone"
        )
    local = sorted(
        name
        for name, source in (uv.get("sources") or {}).items()
        if isinstance(source, dict) and ("path" in source or source.get("workspace"))
    )
    if local:
        raise DependencyError(
            f"{PYPROJECT} installs {', '.join(local)} from the project's own files "
            "([tool.uv.sources] path or workspace), which reach the build after the "
            "dependencies; publish them to an index or use a git source"
        )
    return Dependencies(
        DependencyFormat.UV,
        {name: (app_path / name).read_bytes() for name in (PYPROJECT, UV_LOCK)},
    )


def _pep621(table: dict[str, Any]) -> Dependencies:
    project = table["project"]
    if "dependencies" in (project.get("dynamic") or []):
        raise DependencyError(
            f"{PYPROJECT} lists dependencies as dynamic, known only once the project is "
            f"built; list them in [project].dependencies, or ship a {REQUIREMENTS}"
        )
    listed = project.get("dependencies") or []
    if not isinstance(listed, list) or not all(isinstance(d, str) for d in listed):
        raise DependencyError(f"{PYPROJECT} [project].dependencies is not a list of strings")
    lines = [f"# [project].dependencies of {PYPROJECT}", *listed]
    return Dependencies(
        DependencyFormat.PYPROJECT, {PYPROJECT_REQUIREMENTS: ("\n".join(lines) + "\n").encode()}
    )


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """pip's view of a requirements file: continuations joined, comments dropped."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = re.sub(r"(^|\s)#.*$", "", pending + raw).strip()
        pending = ""
        if line:
            lines.append((start, line))
    return lines


def requirement_files(app_path: Path) -> dict[str, bytes]:
    """`requirements.txt` and every file it includes, recursively, by path relative to the
    project (pip resolves an include relative to the file that names it)."""
    root = app_path.resolve()
    files: dict[str, bytes] = {}
    queue = [PurePosixPath(REQUIREMENTS)]
    while queue:
        relative = queue.pop(0)
        if relative.as_posix() in files:
            continue
        content = (root / relative).read_bytes()
        files[relative.as_posix()] = content
        for number, line in _logical_lines(content.decode("utf-8", "replace")):
            where = f"{relative}, line {number}"
            if _LOCAL.match(line):
                raise DependencyError(
                    f"{where}: {line!r} installs from the project's own files, which reach "
                    "the build after the dependencies; list what it depends on instead"
                )
            match = _INCLUDE.match(line)
            if not match:
                continue
            option = match.group(1) or match.group(2)
            words = shlex.split(match.group(3))
            target = words[0] if words else ""
            if _URL.match(target):
                continue  # pip fetches it itself
            resolved = (root / relative.parent / target).resolve()
            if not resolved.is_relative_to(root):
                raise DependencyError(
                    f"{where}: {option} {target} is outside the project; only files "
                    "inside appPath reach the build"
                )
            if not resolved.is_file():
                raise DependencyError(f"{where}: {option} {target}: no such file")
            queue.append(PurePosixPath(resolved.relative_to(root).as_posix()))
    return files
