"""The database image's entrypoint (templates/postgres/postgres-entrypoint.sh), run for real.

The script the Docker target's PostgreSQL container starts with, run here by this machine's
own PostgreSQL server binaries (tests/postgres_server.py finds them) on a data directory of
the test's: at first start it makes the app role a plain role (not a superuser, no CREATEDB,
no CREATEROLE) that owns its database, so that Django's migrations run as it; the superuser
has no password and cannot log in over TCP. A second start on the same data is idempotent
and takes a changed password; a data directory made by the old entrypoint (the app role was
the bootstrap superuser) still starts and serves the app, with a warning in the log.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.postgres_server import _run_as_kwargs, find_bindir
from tests.unit.test_app_server_config import (
    VENV,
    django_env,
    free_port,
    log_tail,
    stop_process_group,
)

ENTRYPOINT = Path(__file__).resolve().parents[2] / "templates/postgres/postgres-entrypoint.sh"
USER, DATABASE = "django", "django"
START_TIMEOUT = 30.0


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A directory PostgreSQL's account may write (not pytest's tmp_path: root's only)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries are not installed")
    with tempfile.TemporaryDirectory(prefix="django-stack-entrypoint-") as name:
        path = Path(name)
        as_user = _run_as_kwargs()
        if as_user:
            os.chown(path, as_user["user"], as_user["group"])
        yield path


def _env(bindir: Path, workdir: Path, password: str) -> dict[str, str]:
    return {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "PGDATA": str(workdir / "data"),
        "APP_DB_USER": USER,
        "APP_DB_NAME": DATABASE,
        "APP_DB_PASSWORD": password,
        "LC_ALL": "C",
    }


def connect(port: int, *, user: str = USER, password: str, **kwargs: Any) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=port, user=user, password=password, dbname=DATABASE, **kwargs
    )


@contextlib.contextmanager
def entrypoint(workdir: Path, password: str) -> Iterator[tuple[int, Path]]:
    """The entrypoint as the container runs it (plus a port and a private socket directory),
    until the app role can log in: (port, log)."""
    bindir = find_bindir()
    assert bindir is not None
    port = free_port()
    log = workdir / f"server-{port}.log"
    as_user = _run_as_kwargs()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                "sh",
                str(ENTRYPOINT),
                *("-c", "listen_addresses=127.0.0.1", "-p", str(port)),
                *("-c", f"unix_socket_directories={workdir}"),
            ],
            cwd=workdir,
            env=_env(bindir, workdir, password),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_user,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"the entrypoint exited with {process.returncode}:\n{log_tail(log)}")
            with contextlib.suppress(psycopg.OperationalError):
                connect(port, password=password, connect_timeout=2).close()
                break
            if time.monotonic() > deadline:
                pytest.fail(f"no login as {USER} in {START_TIMEOUT}s:\n{log_tail(log)}")
            time.sleep(0.2)
        yield port, log
    finally:
        stop_process_group(process)


def role(port: int, password: str) -> tuple[bool, bool, bool, str]:
    """(superuser, createdb, createrole, the database's owner) of the app role."""
    with connect(port, password=password) as conn:
        row = conn.execute(
            "SELECT r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba) "
            "FROM pg_roles r, pg_database d WHERE r.rolname = current_user "
            "AND d.datname = current_database()"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def migrate(port: int, password: str) -> subprocess.CompletedProcess[str]:
    """The sample project's `django-admin migrate`, with the stack's DJANGO_DB_* variables."""
    env = {
        **django_env(database=Path("unused"), replica="migrate"),
        "DJANGO_DB_ENGINE": "postgresql",
        "DJANGO_DB_HOST": "127.0.0.1",
        "DJANGO_DB_PORT": str(port),
        "DJANGO_DB_NAME": DATABASE,
        "DJANGO_DB_USER": USER,
        "DJANGO_DB_PASSWORD": password,
    }
    return subprocess.run(
        [str(VENV / "bin" / "django-admin"), "migrate", "--noinput"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_app_role_is_a_plain_role_that_owns_its_database_and_migrates(
    workdir: Path,
) -> None:
    password = "first-pa'ss$word"
    with entrypoint(workdir, password) as (port, log):
        assert role(port, password) == (False, False, False, USER), log_tail(log)
        result = migrate(port, password)
        assert result.returncode == 0, result.stdout + result.stderr
        with connect(port, password=password, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM guestbook_entry").fetchone() == (0,)
            # What a plain role may not do.
            for statement in ("CREATE ROLE intruder", "CREATE DATABASE other"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
        # The superuser has no password and no way in over TCP.
        for guess in ("", password):
            with pytest.raises(psycopg.OperationalError, match=r"pg_hba\.conf rejects"):
                connect(port, user="postgres", password=guess).close()

    # The next start (a new container on the same volume) changes nothing but the password.
    with entrypoint(workdir, "second-password") as (port, log):
        assert role(port, "second-password") == (False, False, False, USER)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            connect(port, password=password).close()
        with connect(port, password="second-password") as conn:
            assert conn.execute("SELECT count(*) FROM guestbook_entry").fetchone() == (0,)
        assert "WARNING" not in log.read_text()


def test_a_volume_made_by_the_old_entrypoint_keeps_working(workdir: Path) -> None:
    """The old scheme, as its entrypoint made it: initdb with the app role as the superuser."""
    bindir = find_bindir()
    assert bindir is not None
    as_user = _run_as_kwargs()
    env = _env(bindir, workdir, "old-password")
    pwfile = workdir / "pw"
    pwfile.write_text("old-password")
    if as_user:
        os.chown(pwfile, as_user["user"], as_user["group"])
    for argv, given in (
        (
            [
                "initdb",
                f"--username={USER}",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            None,
        ),
        (
            ["postgres", "--single", "-D", env["PGDATA"], "-j", "postgres"],
            f'CREATE DATABASE "{DATABASE}" OWNER "{USER}";\n',
        ),
    ):
        done = subprocess.run(
            argv,
            input=given,
            env=env,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            **as_user,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    with (workdir / "data" / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 0.0.0.0/0 scram-sha-256\n")

    with entrypoint(workdir, "old-password") as (port, log):
        # The bootstrap superuser cannot be demoted: it stays one, and the log says so.
        assert role(port, "old-password") == (True, True, True, USER)
        result = migrate(port, "old-password")
        assert result.returncode == 0, result.stdout + result.stderr
        assert "is this volume's bootstrap superuser" in log.read_text(), log_tail(log)
