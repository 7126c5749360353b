"""Settings of the sample guestbook project, read from environment variables.

Nothing secret or host-specific lives in this file, so one image runs in every environment:

- ``DJANGO_SECRET_KEY``: required unless ``DJANGO_DEBUG=1`` (then a dev-only key is used).
- ``DJANGO_DEBUG``: ``"1"`` turns debug on; anything else, or unset, means off.
- ``DJANGO_ALLOWED_HOSTS``: comma-separated host names (default: none, or localhost in debug).
- ``DJANGO_DB_ENGINE``: ``sqlite3`` (default) or ``postgresql``; then ``DJANGO_DB_NAME``,
  ``DJANGO_DB_HOST``, ``DJANGO_DB_PORT``, ``DJANGO_DB_USER``, ``DJANGO_DB_PASSWORD``.
  For SQLite, ``DJANGO_DB_NAME`` is the file path (default ``BASE_DIR/db.sqlite3``).
- ``DJANGO_STATIC_ROOT``: where ``collectstatic`` copies the static files.
- ``DJANGO_MEDIA_ROOT``: where uploaded files are stored (default ``BASE_DIR/media``), served
  under ``/media/``: by ``runserver`` in debug, by the reverse proxy in a deployment.

In production the deployment layers ``django_stack_settings`` over this module, which reads
the same variables; this module is what ``manage.py runserver`` uses on a laptop.
"""

import os
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BASE_DIR: Path = Path(__file__).resolve().parent.parent

# Debug must be asked for explicitly: a forgotten variable must never expose tracebacks.
DEBUG: bool = os.environ.get("DJANGO_DEBUG", "0") == "1"


def _env_list(name: str) -> list[str]:
    """Split a comma-separated environment variable into its non-empty, trimmed items."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _secret_key() -> str:
    """Return the secret key from the environment; only debug runs may go without one."""
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if DEBUG:
        return "django-insecure-local-development-only"
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set. Set it to a long random string "
        "(or set DJANGO_DEBUG=1 for local development)."
    )


def _databases() -> dict[str, dict[str, Any]]:
    """Build DATABASES from DJANGO_DB_*; SQLite under BASE_DIR when nothing is configured."""
    engine = os.environ.get("DJANGO_DB_ENGINE", "sqlite3")
    if engine == "sqlite3":
        return {
            "default": {
                "ENGINE": "django.db.backends.sqlite3",
                "NAME": os.environ.get("DJANGO_DB_NAME") or str(BASE_DIR / "db.sqlite3"),
            }
        }
    if engine == "postgresql":
        return {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": os.environ.get("DJANGO_DB_NAME", "guestbook"),
                "HOST": os.environ.get("DJANGO_DB_HOST", "localhost"),
                "PORT": os.environ.get("DJANGO_DB_PORT", "5432"),
                "USER": os.environ.get("DJANGO_DB_USER", ""),
                "PASSWORD": os.environ.get("DJANGO_DB_PASSWORD", ""),
                # Persistent connections, checked before reuse so a database restart
                # costs one retry instead of a 500:
                # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
                "CONN_MAX_AGE": 60,
                "CONN_HEALTH_CHECKS": True,
                # Fail fast instead of hanging a worker when the database is unreachable.
                "OPTIONS": {"connect_timeout": 5},
            }
        }
    raise ImproperlyConfigured(
        f"DJANGO_DB_ENGINE={engine!r} is not supported; use 'sqlite3' or 'postgresql'."
    )


SECRET_KEY: str = _secret_key()

ALLOWED_HOSTS: list[str] = _env_list("DJANGO_ALLOWED_HOSTS") or (
    ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)

# Only what the guestbook uses: no admin, users or sessions. CSRF works from its cookie.
INSTALLED_APPS: list[str] = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "guestbook",
]

MIDDLEWARE: list[str] = [
    # Outermost, so even responses produced by the middleware below (a 400 for a bad
    # Host header, a 403 for a failed CSRF check) say which replica sent them.
    "guestbook.middleware.ReplicaHeaderMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF: str = "config.urls"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

WSGI_APPLICATION: str = "config.wsgi.application"

DATABASES: dict[str, dict[str, Any]] = _databases()

DEFAULT_AUTO_FIELD: str = "django.db.models.BigAutoField"

LANGUAGE_CODE: str = "en-us"
TIME_ZONE: str = "UTC"
USE_I18N: bool = False
USE_TZ: bool = True

STATIC_URL: str = "/static/"
STATIC_ROOT: str | None = os.environ.get("DJANGO_STATIC_ROOT") or None

MEDIA_URL: str = "/media/"
MEDIA_ROOT: str = os.environ.get("DJANGO_MEDIA_ROOT") or str(BASE_DIR / "media")

# Containers log to stdout; the runtime (Docker, journald) collects and rotates.
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    # Listing "django" replaces Django's default handlers for it, which would otherwise
    # print every message a second time (to stderr) when DEBUG is on.
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
