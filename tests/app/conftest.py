"""Fixtures for the tests that run the sample Django project (app/) for real."""

import sys
from pathlib import Path

# `tests.postgres_server` is imported by its package path, so the repository root must be
# importable however pytest was started (`pytest` alone does not put the cwd on sys.path).
_REPO_ROOT = str(Path(__file__).resolve().parents[2])
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

# Importing the fixture function into a conftest is what registers it with pytest.
from tests.postgres_server import postgres_server

__all__ = ["postgres_server"]
