"""The app server configs (components/render/app_server_config.py) run by the real servers.

For Gunicorn and uWSGI alike: the rendered file says what it was given, the server itself
reads it back that way (`gunicorn --print-config`, uWSGI's `strict = true`), and the command
`app_server_command()` returns really serves the sample project (app/) through the
deployment's settings overlay, answering the container health check
(templates/docker/healthcheck.py) in its own protocol with the configured number of workers.

Only two paths differ from the image: the config file is a temporary file instead of
/etc/django-stack/..., and the virtualenv is the one running the tests instead of /opt/venv.

The helpers that start a real app server (`running_app_server`, `migrated_database`) are
also used by tests/unit/test_proxy_config.py, which puts a real proxy in front of two.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib.util
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from components.choices import AppServer, UpstreamProtocol, upstream_protocol
from components.render import app_server_config
from components.render.app_server_config import (
    AppServerSettings,
    app_server_command,
    config_file_name,
    config_file_path,
    render_app_server_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_DIR = REPO_ROOT / "app"
OVERLAY_DIR = REPO_ROOT / "templates" / "django"
HEALTHCHECK_FILE = REPO_ROOT / "templates" / "docker" / "healthcheck.py"
# The virtualenv running the tests stands in for the image's /opt/venv.
VENV = Path(sys.prefix)
WSGI_CALLABLE = "config.wsgi:application"
HEALTH_PATH = "/_stack/health"
MISSING_PATH = "/no-such-page/"
# Seconds a server may take to answer its first health check, or to stop.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0

APP_SERVERS = [
    pytest.param(AppServer.GUNICORN, id="gunicorn"),
    pytest.param(AppServer.UWSGI, id="uwsgi"),
]


def load_healthcheck() -> ModuleType:
    """templates/docker/healthcheck.py, which is a script in the image, not a package."""
    spec = importlib.util.spec_from_file_location("django_stack_healthcheck", HEALTHCHECK_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = load_healthcheck()


def require_server_binary(app_server: AppServer) -> Path:
    """The server's executable in the test virtualenv (a skip, so CI fails, when missing)."""
    binary = VENV / "bin" / app_server.value
    if not binary.exists():
        pytest.skip(f"{binary} is not installed")
    return binary


def free_port() -> int:
    """A TCP port free on every IPv4 address (the servers bind 0.0.0.0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


def django_env(*, database: Path, replica: str) -> dict[str, str]:
    """The environment the app image gives Django: the overlay over the sample project."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(OVERLAY_DIR), str(APP_DIR)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "django_stack_settings",
        "DJANGO_STACK_BASE_SETTINGS": "config.settings",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_DB_ENGINE": "sqlite3",
        "DJANGO_DB_NAME": str(database),
        "DJANGO_STACK_REPLICA": replica,
    }


def migrated_database(directory: Path) -> Path:
    """A SQLite file in `directory` with the sample project's tables (`django-admin migrate`)."""
    database = directory / "db.sqlite3"
    result = subprocess.run(
        [str(VENV / "bin" / "django-admin"), "migrate", "--noinput"],
        env=django_env(database=database, replica="migrate"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return database


def local_command(app_server: AppServer, config: Path) -> list[str]:
    """`app_server_command()` with the image's config path and virtualenv swapped for ours."""
    command = app_server_command(app_server)
    image_config = config_file_path(app_server)
    # Fail loudly if the command stops naming the rendered file or the image's virtualenv.
    assert image_config in command, command
    assert command[0].startswith(f"{app_server_config.VENV}/bin/"), command
    return [
        str(config) if arg == image_config else arg.replace(app_server_config.VENV, str(VENV), 1)
        for arg in command
    ]


def stop_process_group(process: subprocess.Popen[Any]) -> None:
    """SIGTERM the process group (master and workers), then SIGKILL whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=STOP_TIMEOUT)
    # A worker whose master was killed outlives it in the group; nothing may leak.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=STOP_TIMEOUT)


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def child_pids(pid: int) -> set[int]:
    """Processes whose parent is `pid`, from /proc/<pid>/stat (field 4, after the name)."""
    children: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue  # the process ended while the directory was listed
        if int(fields[1]) == pid:
            children.add(int(stat.parent.name))
    return children


@dataclass(frozen=True)
class RunningAppServer:
    """An app server started from its rendered config, serving the sample project."""

    app_server: AppServer
    port: int
    replica: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def protocol(self) -> UpstreamProtocol:
        return upstream_protocol(self.app_server)

    def check(self, path: str) -> bool:
        """The container health check against this server, in its protocol."""
        return bool(
            healthcheck.check(
                protocol=self.protocol.value, port=self.port, path=path, host="localhost"
            )
        )

    def kill(self) -> None:
        """Crash the whole server at once (master and workers), as an OOM kill would.

        Returns once the port refuses connections: every worker shares the listening socket,
        so by then none is left holding a connection open, not only the master.
        """
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except ConnectionRefusedError:
                return
            time.sleep(0.05)
        pytest.fail(f"{self.app_server.value} on port {self.port} still accepts after SIGKILL")


@contextlib.contextmanager
def running_app_server(
    *,
    app_server: AppServer,
    workdir: Path,
    database: Path,
    replica: str,
    workers: int = 2,
    threads: int = 2,
    timeout_seconds: int = 10,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[RunningAppServer]:
    """Render the config, run `app_server_command()` and wait for the health check to pass.

    `extra_env` adds to (or replaces in) the image's environment, e.g. a setting the stack
    passes to the overlay."""
    require_server_binary(app_server)
    port = free_port()
    settings = AppServerSettings(
        app_server=app_server,
        wsgi_callable=WSGI_CALLABLE,
        workers=workers,
        threads=threads,
        timeout_seconds=timeout_seconds,
        port=port,
        app_dir=str(APP_DIR),
        venv=str(VENV),
    )
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / config_file_name(app_server)
    config.write_text(render_app_server_config(settings))
    log = workdir / f"{app_server.value}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            local_command(app_server, config),
            env={**django_env(database=database, replica=replica), **(extra_env or {})},
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the workers die with it
        )
    try:
        server = RunningAppServer(app_server, port, replica, process, log)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"{app_server.value} exited with {process.returncode}:\n{log_tail(log)}"
                )
            with contextlib.suppress(OSError):
                if server.check(HEALTH_PATH):
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{app_server.value} not healthy in {START_TIMEOUT}s:\n{log_tail(log)}")
            time.sleep(0.1)
        yield server
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_server_binary(AppServer.GUNICORN)  # django-admin comes with the same virtualenv
    return migrated_database(tmp_path_factory.mktemp("db"))


# --- What the rendered file says -------------------------------------------------------------

GIVEN = {"workers": 3, "threads": 4, "timeout_seconds": 17, "port": 18123}


def _read_gunicorn(text: str) -> dict[str, Any]:
    """The names a gunicorn.conf.py defines: it is Python, so run it."""
    namespace: dict[str, Any] = {}
    exec(compile(text, "gunicorn.conf.py", "exec"), namespace)
    return {
        "workers": namespace["workers"],
        "threads": namespace["threads"],
        "timeout": namespace["timeout"],
        "socket": namespace["bind"],
        "app": namespace["wsgi_app"],
        "dir": namespace["chdir"],
    }


def _read_uwsgi(text: str) -> dict[str, Any]:
    """The [uwsgi] section of an ini file (every option is given once)."""
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    parser.read_string(text)
    section = parser["uwsgi"]
    return {
        "workers": int(section["processes"]),
        "threads": int(section["threads"]),
        "timeout": int(section["harakiri"]),
        "socket": section["socket"],
        "app": section["module"],
        "dir": section["chdir"],
        "venv": section["virtualenv"],
    }


EXPECTED: dict[AppServer, dict[str, Any]] = {
    AppServer.GUNICORN: {
        "workers": 3,
        "threads": 4,
        "timeout": 17,
        "socket": ["0.0.0.0:18123"],
        "app": WSGI_CALLABLE,
        "dir": "/srv/app-under-test",
    },
    AppServer.UWSGI: {
        "workers": 3,
        "threads": 4,
        "timeout": 17,
        "socket": "0.0.0.0:18123",
        "app": WSGI_CALLABLE,
        "dir": "/srv/app-under-test",
        "venv": "/opt/venv-under-test",
    },
}
READERS = {AppServer.GUNICORN: _read_gunicorn, AppServer.UWSGI: _read_uwsgi}


@pytest.mark.parametrize("app_server", APP_SERVERS)
def test_rendered_config_says_what_it_was_given(app_server: AppServer) -> None:
    text = render_app_server_config(
        AppServerSettings(
            app_server=app_server,
            wsgi_callable=WSGI_CALLABLE,
            app_dir="/srv/app-under-test",
            venv="/opt/venv-under-test",
            **GIVEN,
        )
    )
    assert READERS[app_server](text) == EXPECTED[app_server]


def _logging_and_recycling(app_server: AppServer, text: str) -> dict[str, Any]:
    """Whether the server logs every request, and after how many requests a worker goes."""
    if app_server is AppServer.GUNICORN:
        namespace: dict[str, Any] = {}
        exec(compile(text, "gunicorn.conf.py", "exec"), namespace)
        return {
            "logs_every_request": namespace["accesslog"] is not None,
            "max_requests": namespace["max_requests"],
            "jitter": namespace["max_requests_jitter"],
        }
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    parser.read_string(text)
    section = parser["uwsgi"]
    return {
        "logs_every_request": section.get("disable-logging") != "true",
        "max_requests": int(section["max-requests"]),
        "jitter": int(section["max-requests-delta"]),
    }


@pytest.mark.parametrize("app_server", APP_SERVERS)
@pytest.mark.parametrize(("max_requests", "jitter"), [(0, 0), (5000, 500)])
def test_only_the_proxy_logs_requests_and_workers_recycle_only_when_asked(
    app_server: AppServer, max_requests: int, jitter: int
) -> None:
    """The proxy logs every request already; worker recycling is off unless configured."""
    given = {**GIVEN, "max_requests": max_requests} if max_requests else GIVEN
    text = render_app_server_config(
        AppServerSettings(app_server=app_server, wsgi_callable=WSGI_CALLABLE, **given)
    )
    assert _logging_and_recycling(app_server, text) == {
        "logs_every_request": False,
        "max_requests": max_requests,
        "jitter": jitter,
    }


# --- Gunicorn reads the file as intended ------------------------------------------------------


def _gunicorn(
    flag: str, tmp_path: Path, database: Path, wsgi_callable: str
) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "gunicorn.conf.py"
    settings = AppServerSettings(
        app_server=AppServer.GUNICORN,
        wsgi_callable=wsgi_callable,
        app_dir=str(APP_DIR),
        venv=str(VENV),
        **GIVEN,
    )
    config.write_text(render_app_server_config(settings))
    command = local_command(AppServer.GUNICORN, config)
    return subprocess.run(
        [command[0], flag, *command[1:]],
        env=django_env(database=database, replica="check"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("wsgi_callable", "accepted"),
    [
        pytest.param(WSGI_CALLABLE, True, id="sample-app"),
        # The negative control: --check-config really imports the app, so it can say no.
        pytest.param("config.no_such_module:application", False, id="missing-module"),
    ],
)
def test_gunicorn_check_config_loads_the_app(
    tmp_path: Path, database: Path, wsgi_callable: str, accepted: bool
) -> None:
    result = _gunicorn("--check-config", tmp_path, database, wsgi_callable)
    assert (result.returncode == 0) is accepted, result.stdout + result.stderr


def test_gunicorn_resolves_the_rendered_values(tmp_path: Path, database: Path) -> None:
    """`--print-config` shows what Gunicorn made of the file (a misspelt name would be lost)."""
    result = _gunicorn("--print-config", tmp_path, database, WSGI_CALLABLE)
    assert result.returncode == 0, result.stdout + result.stderr
    resolved = dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, flags=re.MULTILINE))
    assert {
        name: resolved.get(name)
        for name in (
            "workers",
            "threads",
            "timeout",
            "bind",
            "worker_class",
            "wsgi_app",
            "chdir",
            "control_socket_disable",
        )
    } == {
        "workers": "3",
        "threads": "4",
        "timeout": "17",
        "bind": "['0.0.0.0:18123']",
        "worker_class": "gthread",
        "wsgi_app": WSGI_CALLABLE,
        "chdir": str(APP_DIR),
        "control_socket_disable": "True",
    }


def test_gunicorn_starts_no_control_socket_where_it_cannot_write(
    tmp_path: Path, database: Path
) -> None:
    """A replica's home is /nonexistent on a read-only root: Gunicorn's control socket (by
    default under $HOME/.gunicorn) failed there at every start. Here HOME is a plain file, so
    the same failure (a directory that cannot be made) shows in the log if the socket is on."""
    home = tmp_path / "home-is-a-file"
    home.write_text("")
    with running_app_server(
        app_server=AppServer.GUNICORN,
        workdir=tmp_path / "server",
        database=database,
        replica="a",
        extra_env={"HOME": str(home)},
    ) as server:
        # The master starts the control server in a thread once its workers are up.
        deadline = time.monotonic() + START_TIMEOUT
        while len(child_pids(server.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        log = server.log.read_text(errors="replace")
    assert "Booting worker" in log, log
    assert "Control server error" not in log and "control socket" not in log.lower(), log


# --- uWSGI reads the file strictly ------------------------------------------------------------


def test_uwsgi_strict_mode_rejects_an_unknown_option(tmp_path: Path) -> None:
    """So the rendered ini loading at all (test below) means every option in it is real."""
    binary = require_server_binary(AppServer.UWSGI)
    settings = AppServerSettings(
        app_server=AppServer.UWSGI,
        wsgi_callable=WSGI_CALLABLE,
        app_dir=str(APP_DIR),
        venv=str(VENV),
        **GIVEN,
    )
    config = tmp_path / "uwsgi.ini"
    config.write_text(render_app_server_config(settings) + "no-such-option = 1\n")
    result = subprocess.run(
        [str(binary), "--ini", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "unknown config directive: no-such-option" in result.stdout + result.stderr


# --- The server runs from its rendered config -------------------------------------------------


@pytest.mark.parametrize("app_server", APP_SERVERS)
def test_server_answers_the_health_check_with_the_configured_workers(
    app_server: AppServer, tmp_path: Path, database: Path
) -> None:
    workers = 3
    with running_app_server(
        app_server=app_server,
        workdir=tmp_path,
        database=database,
        replica="a",
        workers=workers,
        threads=2,
    ) as server:
        # The stack's middleware, the project's own health view, and a page that 404s.
        assert server.check(HEALTH_PATH) is True
        assert server.check("/health/") is True
        assert server.check(MISSING_PATH) is False

        # The master forks the workers one by one after the first is ready: wait, bounded.
        deadline = time.monotonic() + START_TIMEOUT
        while len(child_pids(server.process.pid)) != workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # and no more come after
        assert len(child_pids(server.process.pid)) == workers, log_tail(server.log)
