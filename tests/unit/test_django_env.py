"""components/render/django_env.py: DATABASE_URL as the platforms write it."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from components.choices import DatabaseKind
from components.config import DatabaseConfig
from components.render.django_env import database_url


def config(kind: DatabaseKind = DatabaseKind.POSTGRES, **extra: object) -> DatabaseConfig:
    values: dict = {"name": "django", "user": "django", "host": None, "port": 5432}
    values.update(extra)
    return DatabaseConfig(kind=kind, password=None, **values)


def test_postgres_url() -> None:
    url = database_url(database=config(), host="db", password="s3cret")
    assert url == "postgres://django:s3cret@db:5432/django"


def test_every_character_of_the_password_survives_parsing() -> None:
    """dj-database-url and urllib split on @ : / ? #: those are percent-encoded."""
    password = "p@ss:w/rd?#%&= x"
    url = database_url(
        database=config(DatabaseKind.EXTERNAL, user="app user", name="my db", port=6432),
        host="db.internal",
        password=password,
    )
    parts = urlsplit(url)
    assert parts.scheme == "postgres" and parts.hostname == "db.internal" and parts.port == 6432
    assert unquote(parts.password or "") == password
    assert unquote(parts.username or "") == "app user"
    assert unquote(parts.path[1:]) == "my db"


def test_an_ipv6_host_is_bracketed() -> None:
    url = database_url(database=config(), host="fd00::20", password="pw")
    assert urlsplit(url).hostname == "fd00::20"
    assert "@[fd00::20]:5432/" in url


def test_sqlite_is_an_absolute_path() -> None:
    url = database_url(
        database=config(DatabaseKind.SQLITE, name="/var/lib/django-stack/db.sqlite3"),
        host=None,
        password="",
    )
    assert url == "sqlite:////var/lib/django-stack/db.sqlite3"


def test_postgres_needs_a_host() -> None:
    with pytest.raises(ValueError, match="host"):
        database_url(database=config(), host=None, password="pw")
