"""The environment a Django replica runs with: the settings overlay's contract.

templates/django/django_stack_settings.py reads these variables; secrets (the secret key and
the database password) are added by the components as Pulumi secrets, never here.
"""

from __future__ import annotations

from collections.abc import Mapping

from components.choices import DatabaseKind
from components.config import DatabaseConfig


def django_environment(
    *,
    allowed_hosts: tuple[str, ...],
    database: DatabaseConfig,
    database_host: str | None,
    debug: bool,
) -> dict[str, str]:
    """Non-secret settings for every replica and the migration job."""
    env = {
        "DJANGO_ALLOWED_HOSTS": ",".join(allowed_hosts),
        "DJANGO_DEBUG": "1" if debug else "0",
        "DJANGO_DB_ENGINE": "sqlite3" if database.kind is DatabaseKind.SQLITE else "postgresql",
        "DJANGO_DB_NAME": database.name,
    }
    if database.kind is not DatabaseKind.SQLITE:
        env.update(
            {
                "DJANGO_DB_HOST": database_host or "",
                "DJANGO_DB_PORT": str(database.port),
                "DJANGO_DB_USER": database.user,
            }
        )
    return env


def env_list(env: Mapping[str, str]) -> list[str]:
    """Docker's `KEY=value` form, in a stable order so diffs stay quiet."""
    return [f"{key}={value}" for key, value in sorted(env.items())]
