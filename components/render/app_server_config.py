"""Renders the app server's own config file: gunicorn.conf.py, uwsgi.ini or mod_wsgi.conf."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from components.choices import AppServer
from components.render.templates import render_template
from components.tuning import mod_wsgi_front_threads

APP_DIR = "/srv/app"
VENV = "/opt/venv"
APP_PORT = 8000
CONFIG_DIR = "/etc/django-stack"
PROXY_IDLE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class AppServerSettings:
    """What one replica's WSGI server is told."""

    app_server: AppServer
    wsgi_callable: str
    workers: int
    threads: int
    timeout_seconds: int
    port: int = APP_PORT
    app_dir: str = APP_DIR
    venv: str = VENV
    max_requests: int = 0
    """Requests after which a worker is replaced (0: never)."""
    # mod_wsgi's Apache logs: None to its stdout/stderr (a container's log); a tag to the
    # local syslog (systemd's journal), as a unit's stdout is a socket Apache cannot reopen.
    syslog_tag: str | None = None
    bind_address: str | None = None
    """The one address to listen on (a VM's private address), or None for every interface
    (a container's own network namespace)."""


CONFIG_FILES = {
    AppServer.GUNICORN: ("gunicorn.conf.py", "gunicorn/gunicorn.conf.py"),
    AppServer.UWSGI: ("uwsgi.ini", "uwsgi/uwsgi.ini"),
    AppServer.MOD_WSGI: ("mod_wsgi.conf", "mod_wsgi/httpd.conf"),
}


def config_file_name(app_server: AppServer) -> str | None:
    """The config file's name (None: Django's runserver takes only arguments)."""
    entry = CONFIG_FILES.get(app_server)
    return entry[0] if entry else None


def config_file_path(app_server: AppServer) -> str:
    """Where the config file sits on the replica."""
    return f"{CONFIG_DIR}/{config_file_name(app_server)}"


def wsgi_script_path(*, app_dir: str, wsgi_callable: str) -> str:
    """The file mod_wsgi loads: `config.wsgi:application` -> APP_DIR/config/wsgi.py."""
    module = wsgi_callable.partition(":")[0]
    return f"{app_dir}/{module.replace('.', '/')}.py"


def _apache_log(syslog_tag: str | None, priority: str, stdio: str) -> str:
    if syslog_tag is None:
        return stdio
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", syslog_tag):
        raise ValueError(f"syslog_tag must be letters, digits, - or _: {syslog_tag!r}")
    return f'"|/usr/bin/logger -t {syslog_tag} -p {priority}"'


def listen_address(app_server: AppServer, *, port: int, bind_address: str | None) -> str:
    """The server's listen value: `ADDRESS:PORT` (IPv6 in brackets, the form all three
    servers take), or every interface (`0.0.0.0:PORT`; Apache's bare `PORT`, which also
    takes IPv6). https://httpd.apache.org/docs/2.4/mod/mpm_common.html#listen
    """
    if bind_address is None:
        return str(port) if app_server is AppServer.MOD_WSGI else f"0.0.0.0:{port}"
    try:
        address = ipaddress.ip_address(bind_address)
    except ValueError:
        raise ValueError(f"bind address must be an IP address: {bind_address!r}") from None
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"{host}:{port}"


def render_app_server_config(settings: AppServerSettings) -> str | None:
    """The config file for the chosen server (None for runserver, which has none)."""
    if settings.app_server not in CONFIG_FILES:
        return None
    values = {
        "wsgi_callable": settings.wsgi_callable,
        "app_dir": settings.app_dir,
        "venv": settings.venv,
        "port": settings.port,
        "listen": listen_address(
            settings.app_server, port=settings.port, bind_address=settings.bind_address
        ),
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread" if settings.threads > 1 else "sync",
        "timeout": settings.timeout_seconds,
        "keepalive": PROXY_IDLE_TIMEOUT_SECONDS + 15,
        "max_requests": settings.max_requests,
        "max_requests_jitter": settings.max_requests // 10,
        "proc_name": "django-stack",
        "wsgi_script": wsgi_script_path(
            app_dir=settings.app_dir, wsgi_callable=settings.wsgi_callable
        ),
        "front_threads": mod_wsgi_front_threads(workers=settings.workers, threads=settings.threads),
        # Piped logs: https://httpd.apache.org/docs/2.4/logs.html#piped
        "error_log": _apache_log(settings.syslog_tag, "daemon.err", "/proc/self/fd/2"),
        "access_log": _apache_log(settings.syslog_tag, "daemon.info", "/proc/self/fd/1"),
    }
    return render_template(CONFIG_FILES[settings.app_server][1], values)


def app_server_command(app_server: AppServer, *, port: int = APP_PORT) -> list[str]:
    """The command that starts the server with its rendered config, in the foreground."""
    if app_server is AppServer.RUNSERVER:
        # --insecure: Django serves the static files itself, also with DEBUG off; it reloads
        # on code changes by default.
        return [f"{VENV}/bin/django-admin", "runserver", f"0.0.0.0:{port}", "--insecure"]
    path = config_file_path(app_server)
    if app_server is AppServer.GUNICORN:
        return [f"{VENV}/bin/gunicorn", "--config", path]
    if app_server is AppServer.MOD_WSGI:
        return ["apache2", "-f", path, "-DFOREGROUND"]
    return [f"{VENV}/bin/uwsgi", "--ini", path]


def server_packages(app_server: AppServer) -> str:
    """Debian packages the replica needs beyond Python (mod_wsgi is Apache's module)."""
    if app_server is AppServer.MOD_WSGI:
        # Debian's mod_wsgi is built against the release's own Python, the venv's Python.
        return "apache2-bin libapache2-mod-wsgi-py3"
    return ""
