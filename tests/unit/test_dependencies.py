"""components/dependencies.py: which declaration a project has, which files its install needs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from components.choices import DependencyFormat
from components.dependencies import (
    PYPROJECT_REQUIREMENTS,
    DependencyError,
    detect_dependencies,
)
from tests.support.stack_files import PROJECT_DIR

FIXTURES = PROJECT_DIR / "tests" / "fixtures"
PEP621 = """
[project]
name = "shop"
version = "1.0"
requires-python = ">=3.12"
dependencies = ["django>=6.0", "pillow>=12"]

[dependency-groups]
dev = ["pytest"]
"""


def project(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def test_requirements_with_nested_includes_anywhere_in_the_project(tmp_path: Path) -> None:
    app = project(
        tmp_path,
        {
            "requirements.txt": "-r requirements/production.txt\n",
            # Includes resolve relative to the file that names them, in pip's every spelling.
            "requirements/production.txt": """
                -r base.txt  # the shared ones
                --constraint=../constraints/pins.txt
                gunicorn==23.0.0 \\
                    --hash=sha256:0000
            """,
            "requirements/base.txt": "-rextra.txt\nDjango==5.2.19\n",
            "requirements/extra.txt": "--requirement base.txt\nsqlparse\n",  # a cycle: fine
            "constraints/pins.txt": "asgiref==3.9.1\n",
            # Not included by anything: stays out of the install step.
            "requirements/local.txt": "-r base.txt\ndjango-debug-toolbar\n",
            "shop/views.py": "",
        },
    )
    found = detect_dependencies(app)
    assert found.format is DependencyFormat.REQUIREMENTS
    assert sorted(found.files) == [
        "constraints/pins.txt",
        "requirements.txt",
        "requirements/base.txt",
        "requirements/extra.txt",
        "requirements/production.txt",
    ]
    assert (
        found.files["requirements/production.txt"]
        == (app / "requirements/production.txt").read_bytes()
    )
    assert found.description.startswith("requirements.txt (including constraints/pins.txt, ")
    assert found.description.endswith(", installed with pip")


def test_hash_checked_requirements_reach_pip_as_written(tmp_path: Path) -> None:
    hashed = "--require-hashes\nDjango==5.2.19 --hash=sha256:" + "a" * 64 + "\n"
    found = detect_dependencies(project(tmp_path, {"requirements.txt": hashed}))
    assert found.format is DependencyFormat.REQUIREMENTS
    assert found.files == {"requirements.txt": hashed.encode()}


def test_an_include_from_a_url_is_left_to_pip(tmp_path: Path) -> None:
    found = detect_dependencies(
        project(tmp_path, {"requirements.txt": "-r https://example.com/reqs.txt\nDjango\n"})
    )
    assert list(found.files) == ["requirements.txt"]


@pytest.mark.parametrize(
    ("requirements", "message"),
    [
        ("-r ../shared.txt\n", "requirements.txt, line 1: -r ../shared.txt is outside the project"),
        ("Django\n-c pins.txt\n", "requirements.txt, line 2: -c pins.txt: no such file"),
        ("-e .\n", "requirements.txt, line 1: '-e .' installs from the project's own files"),
        ("./vendor/lib\n", "'./vendor/lib' installs from the project's own files"),
    ],
    ids=["outside", "missing", "editable-self", "local-path"],
)
def test_requirements_that_the_install_step_could_not_see(
    tmp_path: Path, requirements: str, message: str
) -> None:
    (tmp_path / "shared.txt").write_text("Django\n")
    app = project(tmp_path / "app", {"requirements.txt": requirements})
    with pytest.raises(DependencyError) as error:
        detect_dependencies(app)
    assert message in str(error.value)


def test_pyproject_dependencies_are_installed_with_pip(tmp_path: Path) -> None:
    found = detect_dependencies(project(tmp_path, {"pyproject.toml": PEP621}))
    assert found.format is DependencyFormat.PYPROJECT
    assert found.files == {
        PYPROJECT_REQUIREMENTS: b"# [project].dependencies of pyproject.toml\n"
        b"django>=6.0\npillow>=12\n"
    }
    assert found.description == "pyproject.toml [project].dependencies, installed with pip"


def test_uv_lock_is_preferred_and_installed_with_uv(tmp_path: Path) -> None:
    app = project(
        tmp_path,
        {"pyproject.toml": PEP621, "uv.lock": "version = 1\n", "requirements.txt": "Django\n"},
    )
    found = detect_dependencies(app)
    assert found.format is DependencyFormat.UV
    assert sorted(found.files) == ["pyproject.toml", "uv.lock"]
    assert found.description == "uv.lock and pyproject.toml, installed with uv sync --frozen"


def test_requirements_are_preferred_to_pyproject(tmp_path: Path) -> None:
    app = project(tmp_path, {"pyproject.toml": PEP621, "requirements.txt": "Django\n"})
    assert detect_dependencies(app).format is DependencyFormat.REQUIREMENTS


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"manage.py": ""}, "looked for uv.lock (with pyproject.toml), requirements.txt, "),
        # A pyproject.toml of tool settings only declares nothing.
        ({"pyproject.toml": "[tool.ruff]\nline-length = 100\n"}, "declares no dependencies"),
        ({"uv.lock": "version = 1\n"}, "has uv.lock but no pyproject.toml with a [project]"),
        (
            {
                "pyproject.toml": PEP621 + "[tool.uv.workspace]\nmembers = ['libs/*']\n",
                "uv.lock": "",
            },
            "uv workspace",
        ),
        (
            {
                "pyproject.toml": PEP621 + "[tool.uv.sources]\nlib = { path = 'libs/lib' }\n",
                "uv.lock": "",
            },
            "installs lib from the project's own files",
        ),
        (
            {
                "pyproject.toml": '[project]\nname = "x"\nversion = "1"\n'
                'dynamic = ["dependencies"]\n'
            },
            "dependencies as dynamic",
        ),
        ({"pyproject.toml": "[project\n"}, "pyproject.toml is not valid TOML"),
    ],
    ids=[
        "none",
        "tool-only-pyproject",
        "lock-alone",
        "workspace",
        "path-source",
        "dynamic",
        "toml",
    ],
)
def test_declarations_that_cannot_be_installed(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(DependencyError) as error:
        detect_dependencies(project(tmp_path, files))
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("fixture", "expected", "files"),
    [
        ("otherproject", DependencyFormat.REQUIREMENTS, ["requirements.txt"]),
        (
            "splitsettings",
            DependencyFormat.REQUIREMENTS,
            [
                "requirements.txt",
                "requirements/base.txt",
                "requirements/constraints.txt",
                "requirements/production.txt",
            ],
        ),
        ("uvproject", DependencyFormat.UV, ["pyproject.toml", "uv.lock"]),
    ],
)
def test_the_fixture_projects(fixture: str, expected: DependencyFormat, files: list[str]) -> None:
    found = detect_dependencies(FIXTURES / fixture)
    assert found.format is expected
    assert sorted(found.files) == files
