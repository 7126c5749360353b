"""The settings overlay (templates/django/django_stack_settings.py) over real projects.

Every check runs Django in a subprocess, so one project's settings never leak into another
test, with PYTHONPATH = the overlay's folder + the project, as in the app image. Both the
sample project (which reads the environment itself) and the tutorial-style fixture project
(hard-coded DEBUG, SQLite, an insecure key, no STATIC_ROOT) must come out in production
mode.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.choices import DatabaseKind
from components.config import DatabaseConfig
from components.render.django_env import django_environment
from components.render.media import MEDIA_FILES, UPLOAD_TEMP_DIR, s3_credentials, s3_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
OVERLAY_DIR = REPO_ROOT / "templates" / "django"
OVERLAY_FILE = OVERLAY_DIR / "django_stack_settings.py"


@dataclass(frozen=True)
class Project:
    """A Django project the deployment must handle, and what to expect from it."""

    directory: Path
    settings_module: str
    app_label: str
    css: str  # a static file of the project, relative to STATIC_ROOT
    urlconf: str


SAMPLE_APP = Project(
    REPO_ROOT / "app", "config.settings", "guestbook", "guestbook/site.css", "config.urls"
)
OTHERPROJECT = Project(
    REPO_ROOT / "tests" / "fixtures" / "otherproject",
    "shopfront.settings",
    "catalog",
    "catalog/shop.css",
    "shopfront.urls",
)
# cookiecutter-django's layout: config/settings/{base,local,production}.py; its settings
# require DATABASE_URL and DJANGO_SECRET_KEY, as on Heroku.
SPLITSETTINGS = Project(
    REPO_ROOT / "tests" / "fixtures" / "splitsettings",
    "config.settings.production",
    "newsroom",
    "newsroom/newsroom.css",
    "config.urls",
)
PROJECTS = [
    pytest.param(SAMPLE_APP, id="sample-app"),
    pytest.param(OTHERPROJECT, id="otherproject"),
    pytest.param(SPLITSETTINGS, id="splitsettings"),
]
# What the image build has none of: the runtime's secrets and database.
RUNTIME_ONLY = ("DJANGO_SECRET_KEY", "DATABASE_URL")

# Prints the settings the tests look at, as JSON, once Django has loaded them.
PROBE = """
import json
from django.conf import settings

names = [
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "DATABASES",
    "STATIC_URL", "STATIC_ROOT", "SECURE_PROXY_SSL_HEADER", "USE_X_FORWARDED_HOST",
    "SECURE_CONTENT_TYPE_NOSNIFF", "X_FRAME_OPTIONS", "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "LOGGING", "INSTALLED_APPS",
    "ROOT_URLCONF", "MEDIA_ROOT", "MEDIA_URL", "FILE_UPLOAD_TEMP_DIR",
    "DATA_UPLOAD_MAX_MEMORY_SIZE", "FILE_UPLOAD_MAX_MEMORY_SIZE", "FILE_UPLOAD_PERMISSIONS",
    "FILE_UPLOAD_DIRECTORY_PERMISSIONS",
]
print(json.dumps({name: getattr(settings, name) for name in names}, default=str))
"""


def _env(project: Project, tmp_path: Path, **overrides: str | None) -> dict[str, str]:
    """A production-like environment for `project`; an override of None removes a variable."""
    env: dict[str, str | None] = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(OVERLAY_DIR), str(project.directory)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "django_stack_settings",
        "DJANGO_STACK_BASE_SETTINGS": project.settings_module,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "shop.example.com, 10.0.0.5 ,",
        "DJANGO_DB_ENGINE": "postgresql",
        "DJANGO_DB_HOST": "db.internal",
        "DJANGO_DB_PORT": "6543",
        "DJANGO_DB_NAME": "proddb",
        "DJANGO_DB_USER": "produser",
        "DJANGO_DB_PASSWORD": "prodpass",
        # What the stack sets beside them, for projects that read it themselves.
        "DATABASE_URL": "postgres://produser:prodpass@db.internal:6543/proddb",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        **overrides,
    }
    return {name: value for name, value in env.items() if value is not None}


def _run(argv: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def _settings(env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """The settings Django ends up with under `env`."""
    result = _run([sys.executable, "-c", PROBE], env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("project", PROJECTS)
def test_overlay_puts_the_project_in_production_mode(project: Project, tmp_path: Path) -> None:
    env = _env(project, tmp_path, DJANGO_CSRF_TRUSTED_ORIGINS="https://shop.example.com")

    settings = _settings(env, tmp_path)

    assert settings["DEBUG"] is False
    assert settings["SECRET_KEY"] == env["DJANGO_SECRET_KEY"]
    assert settings["ALLOWED_HOSTS"] == ["shop.example.com", "10.0.0.5"]
    assert settings["CSRF_TRUSTED_ORIGINS"] == ["https://shop.example.com"]
    db = settings["DATABASES"]["default"]
    assert {k: db[k] for k in ("ENGINE", "HOST", "PORT", "NAME", "USER", "PASSWORD")} == {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "db.internal",
        "PORT": "6543",
        "NAME": "proddb",
        "USER": "produser",
        "PASSWORD": "prodpass",
    }
    assert db["CONN_MAX_AGE"] == 60
    assert db["CONN_HEALTH_CHECKS"] is True
    assert settings["STATIC_ROOT"] == str(tmp_path / "static")
    assert settings["STATIC_URL"] == "/static/"
    assert settings["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert settings["USE_X_FORWARDED_HOST"] is False
    assert settings["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert settings["X_FRAME_OPTIONS"] == "DENY"
    # Plain HTTP unless DJANGO_HTTPS=1: secure-only cookies would never come back.
    assert settings["SESSION_COOKIE_SECURE"] is False
    assert settings["CSRF_COOKIE_SECURE"] is False
    assert settings["SECURE_HSTS_SECONDS"] == 0
    console = settings["LOGGING"]["handlers"]["console"]
    assert console["stream"] == "ext://sys.stdout"
    assert settings["LOGGING"]["root"] == {"handlers": ["console"], "level": "INFO"}
    # What describes the application is the project's own.
    assert project.app_label in settings["INSTALLED_APPS"]
    assert settings["ROOT_URLCONF"] == project.urlconf


def test_https_turns_on_secure_cookies_and_hsts(tmp_path: Path) -> None:
    settings = _settings(_env(OTHERPROJECT, tmp_path, DJANGO_HTTPS="1"), tmp_path)

    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["SECURE_HSTS_SECONDS"] > 0


@pytest.mark.parametrize(
    ("value", "expected"),
    # Unset: Django's own 2.5 MB stays (neither project changes it).
    [(None, 2621440), ("10485760", 10485760), (" 26214400 ", 26214400)],
)
def test_the_upload_limit_is_the_proxys_body_limit(
    value: str | None, expected: int, tmp_path: Path
) -> None:
    env = _env(OTHERPROJECT, tmp_path, DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE=value)

    assert _settings(env, tmp_path)["DATA_UPLOAD_MAX_MEMORY_SIZE"] == expected


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", False), ("0", False)])
def test_debug_needs_exactly_1(value: str, expected: bool, tmp_path: Path) -> None:
    settings = _settings(_env(OTHERPROJECT, tmp_path, DJANGO_DEBUG=value), tmp_path)

    assert settings["DEBUG"] is expected


def test_sqlite_engine_takes_a_file_path(tmp_path: Path) -> None:
    env = _env(
        OTHERPROJECT,
        tmp_path,
        DJANGO_DB_ENGINE="sqlite3",
        DJANGO_DB_NAME="/var/lib/app/db.sqlite3",
        DJANGO_DB_HOST=None,
        DJANGO_DB_PORT=None,
        DJANGO_DB_USER=None,
        DJANGO_DB_PASSWORD=None,
    )

    db = _settings(env, tmp_path)["DATABASES"]["default"]

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == "/var/lib/app/db.sqlite3"


def test_without_db_engine_the_projects_database_stays(tmp_path: Path) -> None:
    env = _env(OTHERPROJECT, tmp_path, DJANGO_DB_ENGINE=None)

    db = _settings(env, tmp_path)["DATABASES"]["default"]

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(OTHERPROJECT.directory / "db.sqlite3")


@pytest.mark.parametrize("project", PROJECTS)
def test_missing_secret_key_fails_with_a_clear_message(project: Project, tmp_path: Path) -> None:
    result = _run(
        [sys.executable, "-c", PROBE],
        env=_env(project, tmp_path, DJANGO_SECRET_KEY=None),
        cwd=tmp_path,
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("project", PROJECTS)
def test_build_may_run_without_a_secret_key(project: Project, tmp_path: Path) -> None:
    env = _env(project, tmp_path, DJANGO_STACK_BUILD="1", **dict.fromkeys(RUNTIME_ONLY))

    first = _settings(env, tmp_path)["SECRET_KEY"]
    second = _settings(env, tmp_path)["SECRET_KEY"]

    # Never the key hard-coded in the project, and never the same twice.
    assert first.startswith("django-stack-build-only-")
    assert first != second


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"DJANGO_STACK_BASE_SETTINGS": None}, "DJANGO_STACK_BASE_SETTINGS is not set"),
        ({"DJANGO_DB_ENGINE": "mysql"}, "allowed values: 'postgresql', 'sqlite3'"),
        ({"DJANGO_DB_NAME": None}, "DJANGO_DB_NAME must be set"),
        ({"DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE": "10m"}, "is not a number of bytes"),
    ],
)
def test_bad_configuration_is_named(
    overrides: dict[str, str | None], message: str, tmp_path: Path
) -> None:
    result = _run(
        [sys.executable, "-c", PROBE], env=_env(OTHERPROJECT, tmp_path, **overrides), cwd=tmp_path
    )

    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize("project", PROJECTS)
def test_collectstatic_at_build_time(project: Project, tmp_path: Path) -> None:
    # As in the image build: no secret key and no database variables.
    env = _env(project, tmp_path, DJANGO_STACK_BUILD="1", **dict.fromkeys(RUNTIME_ONLY))
    for name in list(env):
        if name.startswith("DJANGO_DB_"):
            del env[name]

    result = _run(
        [sys.executable, str(project.directory / "manage.py"), "collectstatic", "--noinput"],
        env=env,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    collected = tmp_path / "static" / project.css
    source = next(project.directory.glob(f"*/static/{project.css}"))
    assert collected.read_bytes() == source.read_bytes()


@pytest.mark.parametrize("project", PROJECTS)
def test_check_deploy_passes(project: Project, tmp_path: Path) -> None:
    env = _env(project, tmp_path, DJANGO_HTTPS="1")

    result = _run(
        [
            *(sys.executable, str(project.directory / "manage.py")),
            *("check", "--deploy", "--fail-level", "ERROR"),
        ],
        env=env,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    # The fixture project's own settings trigger all of these; the overlay must clear them:
    # W004 HSTS, W009 weak key, W012/W016 insecure cookies, W018 DEBUG, W020 no hosts.
    for warning in ("W004", "W009", "W012", "W016", "W018", "W020"):
        assert f"security.{warning}" not in output


def _stack_env(*, media_url: str | None, max_body_mb: int) -> dict[str, str]:
    """What the stack's renderer (components/render/django_env.py) hands the overlay."""
    database = DatabaseConfig(
        kind=DatabaseKind.POSTGRES, name="d", user="u", host=None, port=5432, password=None
    )
    return django_environment(
        allowed_hosts=("shop.example.com",),
        http_port=80,
        database=database,
        database_host="db",
        debug=False,
        media_url=media_url,
        max_body_mb=max_body_mb,
    )


@pytest.mark.parametrize("project", PROJECTS)
def test_uploads_go_to_the_media_volume_within_the_proxys_limit(
    project: Project, tmp_path: Path
) -> None:
    env = _env(project, tmp_path, **_stack_env(media_url="/uploads/", max_body_mb=25))

    settings = _settings(env, tmp_path)

    assert (settings["MEDIA_ROOT"], settings["MEDIA_URL"]) == (MEDIA_FILES, "/uploads/")
    assert settings["FILE_UPLOAD_TEMP_DIR"] == UPLOAD_TEMP_DIR
    # Whatever the proxy lets through Django takes; a file past 2.5 MB goes to the volume.
    assert settings["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 25 * 1024 * 1024
    assert settings["FILE_UPLOAD_MAX_MEMORY_SIZE"] == 2_621_440
    # The proxy is another user: it must be able to read what the replicas store; each
    # replica is a uid of its own in one group: it replaces and stores in what another made.
    assert settings["FILE_UPLOAD_PERMISSIONS"] == 0o664
    assert settings["FILE_UPLOAD_DIRECTORY_PERMISSIONS"] == 0o2775


def test_without_media_the_projects_own_stays_and_limits_still_line_up(tmp_path: Path) -> None:
    env = _env(OTHERPROJECT, tmp_path, **_stack_env(media_url=None, max_body_mb=1))

    settings = _settings(env, tmp_path)

    assert (settings["MEDIA_ROOT"], settings["MEDIA_URL"]) == ("", "/")  # Django's defaults
    assert settings["FILE_UPLOAD_TEMP_DIR"] is None
    assert settings["DATA_UPLOAD_MAX_MEMORY_SIZE"] == 1024 * 1024
    assert settings["FILE_UPLOAD_MAX_MEMORY_SIZE"] == 1024 * 1024


# What Django's default storage is under the overlay, and the URL it gives a stored file.
STORAGE_PROBE = """
import json
from django.conf import settings
from django.core.files.storage import storages

default_storage = storages["default"]

url = default_storage.url("attachments/report.pdf")
print(json.dumps({
    "backend": type(default_storage).__module__ + "." + type(default_storage).__name__,
    "bucket": default_storage.bucket_name,
    "endpoint": default_storage.endpoint_url,
    "region": default_storage.region_name,
    "querystring_auth": default_storage.querystring_auth,
    "default_acl": default_storage.default_acl,
    "file_overwrite": default_storage.file_overwrite,
    "url": url,
    "staticfiles": type(storages["staticfiles"]).__name__,
    "temp_dir": settings.FILE_UPLOAD_TEMP_DIR,
}))
"""


@pytest.mark.parametrize("project", PROJECTS)
def test_s3_media_is_django_storages_on_a_private_bucket(project: Project, tmp_path: Path) -> None:
    """The real django-storages and boto3: the default storage is S3's, every URL is a signed
    one (the bucket is private), the project's staticfiles storage stays."""
    media = s3_environment(
        bucket="uploads-bucket",
        endpoint="http://s3.internal:8333",
        region="eu-west-1",
        upload_temp_dir="/var/lib/django-stack/upload-tmp",
    )
    keys = s3_credentials(access_key_id="AKIDEXAMPLE", secret_access_key="not-a-real-secret")
    env = _env(project, tmp_path, **_stack_env(media_url=None, max_body_mb=10), **media, **keys)

    result = _run([sys.executable, "-c", STORAGE_PROBE], env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    storage = json.loads(result.stdout)
    assert storage["backend"] == "storages.backends.s3.S3Storage"
    assert (storage["bucket"], storage["endpoint"], storage["region"]) == (
        "uploads-bucket",
        "http://s3.internal:8333",
        "eu-west-1",
    )
    assert storage["querystring_auth"] is True and storage["default_acl"] is None
    assert storage["file_overwrite"] is False
    assert storage["url"].startswith(
        "http://s3.internal:8333/uploads-bucket/attachments/report.pdf?"
    )
    assert "X-Amz-Signature=" in storage["url"] and "AKIDEXAMPLE" in storage["url"]
    assert storage["staticfiles"] != "S3Storage"
    assert storage["temp_dir"] == "/var/lib/django-stack/upload-tmp"


def test_an_unknown_media_storage_is_named(tmp_path: Path) -> None:
    env = _env(SAMPLE_APP, tmp_path, DJANGO_MEDIA_STORAGE="gcs")
    result = _run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "DJANGO_MEDIA_STORAGE='gcs' is not supported" in result.stderr


def test_a_build_only_database_url_stands_in_while_building(tmp_path: Path) -> None:
    """A project that insists on DATABASE_URL still imports in the image build, where no
    database exists; at run time the stack's own is used, never the placeholder."""
    probe = "import os, django; django.setup(); print(os.environ['DATABASE_URL'])"
    building = _env(SPLITSETTINGS, tmp_path, DJANGO_STACK_BUILD="1", DATABASE_URL=None)
    result = _run([sys.executable, "-c", probe], env=building, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("postgres://django-stack-build@build.invalid")
    running = _env(SPLITSETTINGS, tmp_path, DATABASE_URL=None)
    result = _run([sys.executable, "-c", probe], env=running, cwd=tmp_path)
    assert result.returncode != 0
    assert "Set the DATABASE_URL environment variable" in result.stderr


def test_overlay_imports_only_django_and_the_standard_library() -> None:
    tree = ast.parse(OVERLAY_FILE.read_text())
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    }

    assert modules, "no imports found: the parse is broken"
    assert modules - {"django"} <= sys.stdlib_module_names
