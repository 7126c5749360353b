"""Fixtures for the tests that run the sample Django project (app/) for real."""

# Importing the fixture function into a conftest is what registers it with pytest.
from tests.postgres_server import postgres_server

__all__ = ["postgres_server"]
