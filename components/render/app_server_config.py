"""Renders the app server's own config file: gunicorn.conf.py or uwsgi.ini."""

from __future__ import annotations

from dataclasses import dataclass

from components.choices import AppServer
from components.render.templates import render_template

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
    max_requests: int = 1000


def config_file_name(app_server: AppServer) -> str:
    """The config file's name: each server recognises its own kind by the name."""
    return {AppServer.GUNICORN: "gunicorn.conf.py", AppServer.UWSGI: "uwsgi.ini"}[app_server]


def config_file_path(app_server: AppServer) -> str:
    """Where the config file sits on the replica."""
    return f"{CONFIG_DIR}/{config_file_name(app_server)}"


def render_app_server_config(settings: AppServerSettings) -> str:
    """The config file for the chosen server."""
    values = {
        "wsgi_callable": settings.wsgi_callable,
        "app_dir": settings.app_dir,
        "venv": settings.venv,
        "port": settings.port,
        "workers": settings.workers,
        "threads": settings.threads,
        "worker_class": "gthread" if settings.threads > 1 else "sync",
        "timeout": settings.timeout_seconds,
        "keepalive": PROXY_IDLE_TIMEOUT_SECONDS + 15,
        "max_requests": settings.max_requests,
        "max_requests_jitter": max(1, settings.max_requests // 10),
        "proc_name": "django-stack",
    }
    template = {AppServer.GUNICORN: "gunicorn/gunicorn.conf.py", AppServer.UWSGI: "uwsgi/uwsgi.ini"}
    return render_template(template[settings.app_server], values)


def app_server_command(app_server: AppServer) -> list[str]:
    """The command that starts the server with its rendered config, in the foreground."""
    path = config_file_path(app_server)
    if app_server is AppServer.GUNICORN:
        return [f"{VENV}/bin/gunicorn", "--config", path]
    return [f"{VENV}/bin/uwsgi", "--ini", path]
