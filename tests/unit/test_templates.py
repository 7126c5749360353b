"""templates/: what every target's templates may not say, and how the app image finds its Python.

No template names a Python or PostgreSQL version: each comes from the Debian release the
image or the machine runs (components/debian.py), so every supported release builds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.render.templates import TEMPLATES_DIR

# The templates that install or run Python and PostgreSQL, on both targets.
RUNTIME_TEMPLATES = sorted(
    [
        *TEMPLATES_DIR.glob("docker/*.Dockerfile"),
        *TEMPLATES_DIR.glob("postgres/*"),
        *TEMPLATES_DIR.glob("vm/*.sh"),
        *TEMPLATES_DIR.glob("systemd/*"),
        *TEMPLATES_DIR.glob("dependencies/*.sh"),
    ]
)
VERSIONED = re.compile(
    r"(python3\.\d|libpython3\.\d|python 3\.\d|postgresql[-/@ ]?\d|postgres(ql)? \d|pg\d\d)",
    re.IGNORECASE,
)


@pytest.mark.parametrize(
    "template",
    RUNTIME_TEMPLATES,
    ids=[str(p.relative_to(TEMPLATES_DIR)) for p in RUNTIME_TEMPLATES],
)
def test_no_python_or_postgresql_version_is_written(template: Path) -> None:
    found = [
        (n, line)
        for n, line in enumerate(template.read_text().splitlines(), 1)
        if VERSIONED.search(line)
    ]
    assert found == []


def test_the_app_image_asks_its_python_for_the_library_to_install() -> None:
    dockerfile = (TEMPLATES_DIR / "docker" / "app.Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM ")[-1]
    assert (
        "python3 -c 'import sys; print(\"libpython%d.%d\" % sys.version_info[:2])'" in final_stage
    )
    assert '"$libpython"' in final_stage
