"""The environment a Django replica runs with: the settings overlay's contract, and the
platforms' own variables.

templates/django/django_stack_settings.py reads the DJANGO_* variables. DATABASE_URL is the
variable Heroku, Render, Dokku and Railway set, which projects written for them read in their
own settings; it holds the password, so the components add it with the other secrets, as a
Pulumi secret: `database_url` is only ever called inside an apply on the secret password.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from components.choices import DatabaseKind
from components.config import DatabaseConfig
from components.render.media import MEDIA_FILES, UPLOAD_TEMP_DIR, upload_limits


def csrf_trusted_origins(
    *, allowed_hosts: tuple[str, ...], http_port: int, https_port: int | None = None
) -> list[str]:
    """The origins browsers send for this stack's own pages.

    The proxy passes Host without the port, so on a non-default port Django could not match
    the browser's Origin header by itself. With TLS (`https_port`) pages are only served
    over HTTPS, on that port.
    https://docs.djangoproject.com/en/5.2/ref/settings/#csrf-trusted-origins
    """
    hosts = [h.lstrip(".") for h in allowed_hosts if h != "*"]
    if https_port is not None:
        suffix = "" if https_port == 443 else f":{https_port}"
        return [f"https://{host}{suffix}" for host in hosts]
    suffix = "" if http_port in (80, 443) else f":{http_port}"
    return [f"{scheme}://{host}{suffix}" for host in hosts for scheme in ("http", "https")]


def django_environment(
    *,
    allowed_hosts: tuple[str, ...],
    http_port: int,
    database: DatabaseConfig,
    database_host: str | None,
    debug: bool,
    media_url: str | None,
    max_body_mb: int,
    https_port: int | None = None,
) -> dict[str, str]:
    """Non-secret settings for every replica and the migration job.

    `media_url` None: the stack stores no uploads (the project's MEDIA_* settings stay);
    else they go to the media volume (components/render/media.py), served under it.
    `https_port` None: plain HTTP; else the proxy serves HTTPS there, and the overlay's
    Secure cookies turn on (DJANGO_HTTPS).
    """
    limits = upload_limits(max_body_mb)
    env = {
        "DJANGO_ALLOWED_HOSTS": ",".join(allowed_hosts),
        "DJANGO_CSRF_TRUSTED_ORIGINS": ",".join(
            csrf_trusted_origins(
                allowed_hosts=allowed_hosts, http_port=http_port, https_port=https_port
            )
        ),
        "DJANGO_DEBUG": "1" if debug else "0",
        "DJANGO_DB_ENGINE": "sqlite3" if database.kind is DatabaseKind.SQLITE else "postgresql",
        "DJANGO_DB_NAME": database.name,
        "DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE": str(limits.data_memory_bytes),
        "DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE": str(limits.file_memory_bytes),
    }
    if https_port is not None:
        env["DJANGO_HTTPS"] = "1"
    if media_url is not None:
        env.update(
            {
                "DJANGO_MEDIA_ROOT": MEDIA_FILES,
                "DJANGO_MEDIA_URL": media_url,
                "DJANGO_FILE_UPLOAD_TEMP_DIR": UPLOAD_TEMP_DIR,
            }
        )
    if database.kind is not DatabaseKind.SQLITE:
        env.update(
            {
                "DJANGO_DB_HOST": database_host or "",
                "DJANGO_DB_PORT": str(database.port),
                "DJANGO_DB_USER": database.user,
            }
        )
    return env


def database_url(*, database: DatabaseConfig, host: str | None, password: str) -> str:
    """DATABASE_URL as the platforms write it: `postgres://user:password@host:port/name`, or
    `sqlite:////absolute/path`; user, password and name percent-encoded, so any character
    survives dj-database-url's (and urllib's) parsing.
    https://github.com/jazzband/dj-database-url#url-schema
    """
    if database.kind is DatabaseKind.SQLITE:
        return f"sqlite:///{database.name}"
    if not host:
        raise ValueError("a PostgreSQL database needs a host for DATABASE_URL")
    netloc = f"[{host}]" if ":" in host else host
    credentials = quote(database.user, safe="")
    if password:
        credentials += ":" + quote(password, safe="")
    return f"postgres://{credentials}@{netloc}:{database.port}/{quote(database.name, safe='')}"


def env_list(env: Mapping[str, str]) -> list[str]:
    """Docker's `KEY=value` form, in a stable order so diffs stay quiet."""
    return [f"{key}={value}" for key, value in sorted(env.items())]
