"""The closed sets a stack chooses from: platform, app server, reverse proxy, database, media."""

from __future__ import annotations

from enum import Enum


class Platform(str, Enum):
    """Where the processes run."""

    DOCKER = "docker"
    VM = "vm"


class VmProvider(str, Enum):
    """Where the machines of `platform: vm` come from."""

    HOSTS = "hosts"  # existing Debian 12 machines listed in the stack config
    AWS = "aws"  # EC2 instances this stack creates from a Debian 12 AMI


class AppServer(str, Enum):
    """The WSGI server that runs Django inside each replica."""

    GUNICORN = "gunicorn"
    UWSGI = "uwsgi"
    MOD_WSGI = "mod_wsgi"  # Apache httpd with mod_wsgi in daemon mode, per replica
    RUNSERVER = "runserver"  # Django's development server: dev stacks, one replica only


class Proxy(str, Enum):
    """The reverse proxy in front of the replicas (load balancer and static file server)."""

    NGINX = "nginx"
    APACHE = "apache"


class DatabaseKind(str, Enum):
    """Where Django's database lives."""

    POSTGRES = "postgres"  # a PostgreSQL server the stack runs itself
    EXTERNAL = "external"  # an existing PostgreSQL server (host, port, name, user, password)
    SQLITE = "sqlite"  # a file on one replica's volume: only valid with a single replica


class MediaKind(str, Enum):
    """Where the files users upload (Django's MEDIA_ROOT, its default file storage) go."""

    NONE = "none"  # nowhere the stack provides: the project's own settings stay
    VOLUME = "volume"  # one Docker volume shared by every replica, served by the proxy
    S3 = "s3"  # an S3-compatible bucket (django-storages): not implemented yet


class UpstreamProtocol(str, Enum):
    """How the proxy talks to the app server."""

    HTTP = "http"
    UWSGI = "uwsgi"


def upstream_protocol(app_server: AppServer) -> UpstreamProtocol:
    """uWSGI speaks its binary protocol to the proxy (less parsing); Gunicorn speaks HTTP."""
    return UpstreamProtocol.UWSGI if app_server is AppServer.UWSGI else UpstreamProtocol.HTTP
