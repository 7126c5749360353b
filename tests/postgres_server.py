"""A throwaway PostgreSQL server for tests that need a real database.

`running_postgres()` runs `initdb` into a fresh temporary directory, starts the server with
`pg_ctl` on a free TCP port (plus a Unix socket in that directory), creates a login role
and a database it owns, yields their coordinates and removes everything afterwards.
`postgres_server` wraps it as a session-scoped pytest fixture; a conftest registers it by
importing it.

PostgreSQL refuses to run as root ("root" execution of the PostgreSQL server is not
permitted). When the tests run as root (containers, CI), initdb, pg_ctl and the server
therefore run as an existing unprivileged account (`postgres` if present, else `nobody`)
through `subprocess`'s `user=`/`group=`, with the temporary directory handed to it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

# Set to "1" in CI so a machine without PostgreSQL fails the run instead of skipping.
REQUIRE_E2E_ENV = "DJANGO_STACK_REQUIRE_E2E"
# Accounts tried, in order, to run PostgreSQL when the tests run as root.
UNPRIVILEGED_ACCOUNTS = ("postgres", "nobody")
STARTUP_ATTEMPTS = 3


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl) are not installed."""


@dataclass(frozen=True)
class PostgresServer:
    """Where the test database is and how to log in to it."""

    host: str
    """TCP address the server listens on."""
    port: int
    """TCP port (also the number in the Unix socket's name)."""
    user: str
    """A non-superuser login role that owns `dbname`."""
    password: str
    """That role's password (the server requires scram-sha-256 passwords)."""
    dbname: str
    """The database the role owns."""
    superuser: str
    """The bootstrap superuser, for tests that need to create more databases or roles."""
    superuser_password: str
    """The superuser's password."""
    socket_dir: Path
    """Directory holding the server's Unix socket."""

    def django_env(self) -> dict[str, str]:
        """The DJANGO_DB_* variables that point a django-stack project at this database."""
        return {
            "DJANGO_DB_ENGINE": "postgresql",
            "DJANGO_DB_HOST": self.host,
            "DJANGO_DB_PORT": str(self.port),
            "DJANGO_DB_NAME": self.dbname,
            "DJANGO_DB_USER": self.user,
            "DJANGO_DB_PASSWORD": self.password,
        }

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection as the app role (callers close it)."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            **kwargs,
        )


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's versioned dirs."""
    initdb = shutil.which("initdb")
    if initdb:
        bindir = Path(initdb).resolve().parent
        if (bindir / "pg_ctl").exists():
            return bindir
    # Debian installs the binaries off PATH, one directory per major version.
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port(host: str) -> int:
    """A TCP port nothing listens on right now (racy, hence the startup retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _run_as_kwargs() -> dict[str, Any]:
    """subprocess keyword arguments that drop root to an unprivileged account."""
    if os.geteuid() != 0:
        return {}
    for name in UNPRIVILEGED_ACCOUNTS:
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    raise PostgresUnavailableError(
        f"running as root and none of the accounts {UNPRIVILEGED_ACCOUNTS} exists to run "
        "PostgreSQL (it refuses to run as root)"
    )


def _run(argv: list[str], *, workdir: Path, as_user: dict[str, Any]) -> None:
    """Run a PostgreSQL tool; on failure, raise with its output in the message."""
    result = subprocess.run(
        argv,
        cwd=workdir,  # the unprivileged account may not be able to read the caller's cwd
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **as_user,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )


@contextlib.contextmanager
def running_postgres(
    *,
    dbname: str = "django_stack",
    user: str = "django_stack",
    listen_address: str = "127.0.0.1",
) -> Iterator[PostgresServer]:
    """Start a private PostgreSQL server for the duration of the `with` block."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailableError("initdb/pg_ctl not found on PATH or in /usr/lib/postgresql")
    as_user = _run_as_kwargs()

    workdir = Path(tempfile.mkdtemp(prefix="django-stack-pg-"))
    datadir = workdir / "data"
    logfile = workdir / "server.log"
    superuser = "stack_admin"
    superuser_password = secrets.token_urlsafe(18)
    password = secrets.token_urlsafe(18)
    try:
        pwfile = workdir / "superuser-password"
        pwfile.write_text(superuser_password + "\n")
        if as_user:
            for path in (workdir, pwfile):
                os.chown(path, as_user["user"], as_user["group"])
        _run(
            [
                str(bindir / "initdb"),
                f"--pgdata={datadir}",
                f"--username={superuser}",
                f"--pwfile={pwfile}",
                # Passwords over TCP and the socket alike, as a deployed database would.
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
                # A throwaway cluster: skip the fsyncs, they only cost time.
                "--no-sync",
            ],
            workdir=workdir,
            as_user=as_user,
        )
        # Reachable over TCP from any address it listens on, still password-only.
        with (datadir / "pg_hba.conf").open("a") as hba:
            hba.write("host all all all scram-sha-256\n")

        port = 0
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            port = _free_port(listen_address)
            options = " ".join(
                [
                    f"-p {port}",
                    f"-k {workdir}",
                    f"-c listen_addresses={listen_address}",
                    # Durability is pointless for a throwaway cluster and slows every commit.
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                ]
            )
            try:
                _run(
                    [
                        *(str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(logfile)),
                        *("-o", options, "-w", "-t", "30", "start"),
                    ],
                    workdir=workdir,
                    as_user=as_user,
                )
            except RuntimeError as error:
                # Most likely another process took the port between probe and bind.
                log = logfile.read_text(errors="replace") if logfile.exists() else ""
                if attempt == STARTUP_ATTEMPTS:
                    raise RuntimeError(f"{error}\nserver log:\n{log}") from error
                continue
            break

        host = "127.0.0.1" if listen_address in ("*", "0.0.0.0") else listen_address
        with psycopg.connect(
            host=host,
            port=port,
            user=superuser,
            password=superuser_password,
            dbname="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )
            # Owning the database gives the role CREATE on its public schema, which
            # PostgreSQL 15 no longer grants to everyone; migrations need it.
            admin.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(dbname), sql.Identifier(user)
                )
            )
        yield PostgresServer(
            host=host,
            port=port,
            user=user,
            password=password,
            dbname=dbname,
            superuser=superuser,
            superuser_password=superuser_password,
            socket_dir=workdir,
        )
    finally:
        # A postmaster.pid means a server may be up, even after a failed or timed-out start.
        if (datadir / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run(
                    [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"],
                    workdir=workdir,
                    as_user=as_user,
                )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server shared by the session's tests.

    Skips when PostgreSQL is not installed, unless DJANGO_STACK_REQUIRE_E2E=1 says the
    run must exercise it, in which case that is a failure.
    """
    try:
        with running_postgres() as server:
            yield server
    except PostgresUnavailableError as error:
        if os.environ.get(REQUIRE_E2E_ENV) == "1":
            pytest.fail(f"PostgreSQL is required ({REQUIRE_E2E_ENV}=1) but unavailable: {error}")
        pytest.skip(f"PostgreSQL unavailable: {error}")
