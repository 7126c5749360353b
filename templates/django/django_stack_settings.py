"""Production settings overlay that django-stack puts in front of any Django project.

Why it exists: most Django projects ship settings made for ``runserver`` (DEBUG on, a
hard-coded ``django-insecure-...`` key, SQLite next to the code, no STATIC_ROOT). The
deployment must run such a project unmodified, so the image puts this file on PYTHONPATH
and sets ``DJANGO_SETTINGS_MODULE=django_stack_settings``. It loads the project's own
settings, keeps everything that describes the application (apps, middleware, URLs,
templates, storages, ...) and replaces what describes the environment with values from
environment variables.

Environment contract (a comma list is split on "," with blanks dropped):

- ``DJANGO_STACK_BASE_SETTINGS`` (required): the project's settings module, e.g.
  ``config.settings``.
- ``DJANGO_SECRET_KEY`` (required at run time): replaces the project's key. While the image
  is built (``DJANGO_STACK_BUILD=1``, for ``collectstatic``) a random build-only key is used
  when it is missing, so no secret is baked into an image layer.
- ``DJANGO_DEBUG``: ``"1"`` turns DEBUG on; anything else means off.
- ``DJANGO_ALLOWED_HOSTS``, ``DJANGO_CSRF_TRUSTED_ORIGINS``: comma lists; when unset the
  project's own values stay.
- ``DJANGO_DB_ENGINE`` (``postgresql`` or ``sqlite3``) with ``DJANGO_DB_NAME`` (a file path
  for SQLite), ``DJANGO_DB_HOST``, ``DJANGO_DB_PORT`` (default 5432), ``DJANGO_DB_USER`` and
  ``DJANGO_DB_PASSWORD``: replace ``DATABASES["default"]``; when the engine is unset the
  project's DATABASES stay (the image build runs without a database).
- ``DJANGO_STATIC_URL`` (default ``/static/``), ``DJANGO_STATIC_ROOT`` (where the reverse
  proxy serves files from; when unset the project's value stays).
- ``DJANGO_MEDIA_ROOT``, ``DJANGO_MEDIA_URL`` (default ``/media/``) and
  ``DJANGO_FILE_UPLOAD_TEMP_DIR``: where uploaded files are stored (the media volume the
  reverse proxy serves them from, under the URL), and where an upload too big for memory is
  spooled; when unset the project's values stay.
- ``DJANGO_MEDIA_STORAGE=s3`` with ``DJANGO_S3_BUCKET``, ``DJANGO_S3_ENDPOINT_URL`` and
  ``DJANGO_S3_REGION`` (both optional): Django's default storage becomes django-storages' S3
  backend on that bucket, private (every URL is a signed, expiring one). The credentials are
  boto3's own: ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY``, or an instance role.
- ``DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE``, ``DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE`` (bytes):
  Django's upload limits, lined up with the reverse proxy's body limit; when unset the
  project's values stay.
- ``DJANGO_HTTPS``: ``"1"`` when clients reach the site over HTTPS; turns on secure
  cookies and HSTS.
- ``DATABASE_URL`` is not read here: the stack sets it (``postgres://user:password@host:
  port/name``, as Heroku, Render and Dokku do) for projects whose own settings read it, and
  it is in the environment before they are imported. While the image is built it is
  missing, so a build-only placeholder stands in (a project that requires it must import);
  the DATABASES set here from the DJANGO_DB_* variables win either way.

Only Django and the standard library are imported: the overlay must work for any project,
whatever else it installs.
"""

import importlib
import os
import secrets
from typing import Any

from django.conf import global_settings
from django.core.exceptions import ImproperlyConfigured

# Private names here are lowercase on purpose: Django treats every UPPERCASE module
# attribute as a setting, including ones that start with an underscore.
_base_settings_var = "DJANGO_STACK_BASE_SETTINGS"
_secret_key_var = "DJANGO_SECRET_KEY"

# The image build runs `manage.py collectstatic` with this set and no runtime secrets.
_building: bool = os.environ.get("DJANGO_STACK_BUILD") == "1"


def _env_list(name: str) -> list[str] | None:
    """Split a comma-separated variable; None when it is unset, so callers can keep a default."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    return [item.strip() for item in raw.split(",") if item.strip()]


def _secret_key() -> str:
    """The runtime secret key, or a random build-only key while the image is built."""
    key = os.environ.get(_secret_key_var, "")
    if key:
        return key
    if _building:
        # Random on every build: nothing signed during the build can be trusted later.
        key = "django-stack-build-only-" + secrets.token_urlsafe(40)
        # Projects whose own settings insist on DJANGO_SECRET_KEY must import too.
        os.environ[_secret_key_var] = key
        return key
    raise ImproperlyConfigured(
        f"{_secret_key_var} is not set. django-stack does not run a project with the secret "
        "key from its settings file; pass a long random string in "
        f"{_secret_key_var} (only the image build, DJANGO_STACK_BUILD=1, may omit it)."
    )


def _build_placeholders() -> None:
    """While the image is built, the runtime-only variables that projects insist on.

    DATABASE_URL names no real server (nothing connects during collectstatic); a project
    branching on it (``django.contrib.postgres`` for a PostgreSQL URL) takes its PostgreSQL
    branch, as it will at run time.
    """
    if _building and not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = "postgres://django-stack-build@build.invalid:5432/build"


def _load_base_settings() -> dict[str, Any]:
    """Import the project's settings module and return its UPPERCASE names.

    Django itself only reads UPPERCASE module attributes as settings, so copying exactly
    those gives the project's full configuration without its helpers and imports.
    """
    module_name = os.environ.get(_base_settings_var, "").strip()
    if not module_name:
        raise ImproperlyConfigured(
            f"{_base_settings_var} is not set; set it to the project's own settings module "
            "(for example 'mysite.settings')."
        )
    if module_name == __name__:
        raise ImproperlyConfigured(
            f"{_base_settings_var}={module_name!r} names this overlay itself; set it to the "
            "project's own settings module."
        )
    module = importlib.import_module(module_name)
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


def _database(engine: str) -> dict[str, Any]:
    """DATABASES["default"] for DJANGO_DB_ENGINE from the DJANGO_DB_* variables."""

    def required(name: str) -> str:
        value = os.environ.get(name, "")
        if not value:
            raise ImproperlyConfigured(f"{name} must be set when DJANGO_DB_ENGINE={engine!r}.")
        return value

    if engine == "sqlite3":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": required("DJANGO_DB_NAME")}
    if engine == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": required("DJANGO_DB_NAME"),
            "HOST": required("DJANGO_DB_HOST"),
            "PORT": os.environ.get("DJANGO_DB_PORT") or "5432",
            "USER": required("DJANGO_DB_USER"),
            "PASSWORD": os.environ.get("DJANGO_DB_PASSWORD", ""),
            # Reuse connections for a minute, and check them before reuse so a database
            # restart does not surface as errors:
            # https://docs.djangoproject.com/en/5.2/ref/databases/#persistent-connections
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # libpq's default is to wait for the OS TCP timeout (minutes): a worker (and a
            # health check) should fail fast instead when the database is unreachable.
            "OPTIONS": {"connect_timeout": 5},
        }
    raise ImproperlyConfigured(
        f"DJANGO_DB_ENGINE={engine!r} is not supported; allowed values: 'postgresql', 'sqlite3'."
    )


# The key is checked before the project's settings are imported, so a missing key is
# reported by the message above rather than by whatever the project's settings raise.
_secret: str = _secret_key()
_build_placeholders()
globals().update(_load_base_settings())

DEBUG: bool = os.environ.get("DJANGO_DEBUG") == "1"
SECRET_KEY: str = _secret

_allowed_hosts = _env_list("DJANGO_ALLOWED_HOSTS")
if _allowed_hosts is not None:
    ALLOWED_HOSTS: list[str] = _allowed_hosts
_csrf_trusted_origins = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
if _csrf_trusted_origins is not None:
    CSRF_TRUSTED_ORIGINS: list[str] = _csrf_trusted_origins

_db_engine = os.environ.get("DJANGO_DB_ENGINE", "").strip()
if _db_engine:
    # A copy, so the project's module keeps its own dict; other aliases stay as they were.
    DATABASES: dict[str, dict[str, Any]] = {
        **globals().get("DATABASES", {}),
        "default": _database(_db_engine),
    }

# The stack's health endpoint answers first, before host validation or the database, for
# any project (django_stack_health.py sits beside this file).
MIDDLEWARE: list[str] = [
    "django_stack_health.HealthCheckMiddleware",
    *globals().get("MIDDLEWARE", []),
]

# The proxy refuses a body over the stack's limit (413) and passes any smaller one, which
# Django must then accept too: its own limit (2.5 MB by default) would refuse some of them
# with a 400 after the proxy had taken the whole body in. It counts the body without its
# uploaded files, so a file upload is bounded by the proxy alone.
# https://docs.djangoproject.com/en/5.2/ref/settings/#data-upload-max-memory-size
_upload_limit = os.environ.get("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", "").strip()
if _upload_limit:
    if not _upload_limit.isdigit():
        raise ImproperlyConfigured(
            f"DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE={_upload_limit!r} is not a number of bytes."
        )
    DATA_UPLOAD_MAX_MEMORY_SIZE: int = int(_upload_limit)

STATIC_URL: str = os.environ.get("DJANGO_STATIC_URL") or "/static/"
if os.environ.get("DJANGO_STATIC_ROOT"):
    STATIC_ROOT: str = os.environ["DJANGO_STATIC_ROOT"]

# Uploads: stored where the reverse proxy serves them from, which is another user, so files
# and folders are readable by all (the volume is seen by the stack's containers only). On
# Docker every replica is a uid of its own in the app's group: a file one replica stored the
# others may replace, and a folder one made (`upload_to="files/%Y/%m/"`) the others store in,
# so both are group-writable; folders setgid, so what is made in them keeps the group (the
# image's media folders are too: templates/docker/app.Dockerfile). Django chmods each file
# and each folder it makes to these modes, whatever the umask.
# https://docs.djangoproject.com/en/5.2/ref/settings/#file-upload-permissions
# https://docs.djangoproject.com/en/5.2/ref/settings/#file-upload-directory-permissions
if os.environ.get("DJANGO_MEDIA_ROOT"):
    MEDIA_ROOT: str = os.environ["DJANGO_MEDIA_ROOT"]
    MEDIA_URL: str = os.environ.get("DJANGO_MEDIA_URL") or "/media/"
    FILE_UPLOAD_PERMISSIONS: int = 0o664
    FILE_UPLOAD_DIRECTORY_PERMISSIONS: int = 0o2775
# Uploads in S3 (django-storages, imported only when a file is stored: the image build and
# the proxy host, which never store one, need not have it). The project's other storages
# (staticfiles) stay. The bucket stays private: querystring auth (the default) makes every
# URL a presigned one that expires; no ACL is sent, so the bucket's own policy rules; a new
# file never overwrites an old one of the same name, as with Django's FileSystemStorage.
# https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
_media_storage = os.environ.get("DJANGO_MEDIA_STORAGE", "").strip()
if _media_storage == "s3":
    _s3_options: dict[str, Any] = {
        "bucket_name": os.environ.get("DJANGO_S3_BUCKET", ""),
        "querystring_auth": True,
        "default_acl": None,
        "file_overwrite": False,
        # Signature Version 4, which every AWS region and S3-compatible server accepts
        # (boto3 would sign presigned URLs with the deprecated V2 for a custom endpoint).
        # https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html
        "signature_version": "s3v4",
    }
    if not _s3_options["bucket_name"]:
        raise ImproperlyConfigured("DJANGO_S3_BUCKET must be set when DJANGO_MEDIA_STORAGE=s3.")
    if os.environ.get("DJANGO_S3_ENDPOINT_URL"):
        _s3_options["endpoint_url"] = os.environ["DJANGO_S3_ENDPOINT_URL"]
    if os.environ.get("DJANGO_S3_REGION"):
        _s3_options["region_name"] = os.environ["DJANGO_S3_REGION"]
    STORAGES: dict[str, dict[str, Any]] = {
        # Django's own STORAGES when the project sets none: its staticfiles entry stays.
        **globals().get("STORAGES", global_settings.STORAGES),
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": _s3_options},
    }
elif _media_storage:
    raise ImproperlyConfigured(
        f"DJANGO_MEDIA_STORAGE={_media_storage!r} is not supported; allowed values: 's3'."
    )
if os.environ.get("DJANGO_FILE_UPLOAD_TEMP_DIR"):
    FILE_UPLOAD_TEMP_DIR: str = os.environ["DJANGO_FILE_UPLOAD_TEMP_DIR"]
# A file past this memory limit is spooled to FILE_UPLOAD_TEMP_DIR.
if os.environ.get("DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE"):
    FILE_UPLOAD_MAX_MEMORY_SIZE: int = int(os.environ["DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE"])

# The reverse proxy terminates TLS and says so in X-Forwarded-Proto (it overwrites any
# value a client sent), so request.is_secure() is right behind it:
# https://docs.djangoproject.com/en/5.2/ref/settings/#secure-proxy-ssl-header
SECURE_PROXY_SSL_HEADER: tuple[str, str] = ("HTTP_X_FORWARDED_PROTO", "https")
# Host comes from the Host header the proxy passes through, never from X-Forwarded-Host,
# which a client could set to get past ALLOWED_HOSTS.
USE_X_FORWARDED_HOST: bool = False
SECURE_CONTENT_TYPE_NOSNIFF: bool = True
X_FRAME_OPTIONS: str = "DENY"

_https: bool = os.environ.get("DJANGO_HTTPS") == "1"
# Secure cookies over plain HTTP would never be sent back, so they follow the real scheme.
SESSION_COOKIE_SECURE: bool = _https
CSRF_COOKIE_SECURE: bool = _https
# An hour, not a year: a wrong HSTS value locks browsers out for its whole duration, so
# start small as Django's checklist advises and raise it once HTTPS is known to work:
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
SECURE_HSTS_SECONDS: int = 3600 if _https else 0

# Containers log to stdout; the runtime collects it. The project's LOGGING may write to
# files that do not exist (or are lost) in a container, so it is replaced.
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
    # Listing "django" replaces Django's default handlers for it (stderr when DEBUG,
    # mail to ADMINS otherwise), which would duplicate every message.
    "loggers": {"django": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
