"""The closed sets a stack chooses from: platform, app server, reverse proxy, database, media."""

from __future__ import annotations

from enum import Enum


class Platform(str, Enum):
    """Where the processes run."""

    DOCKER = "docker"
    VM = "vm"


class VmProvider(str, Enum):
    """Where the machines of `platform: vm` come from."""

    HOSTS = "hosts"  # existing Debian machines listed in the stack config
    AWS = "aws"  # EC2 instances this stack creates from Debian's own AMI


class DebianRelease(str, Enum):
    """The Debian releases the images and the machines may run, by codename.

    Nothing else names a version: Python and PostgreSQL are the release's own.
    """

    BOOKWORM = "bookworm"  # Debian 12: Python 3.11, PostgreSQL 15
    TRIXIE = "trixie"  # Debian 13: Python 3.13, PostgreSQL 17

    @property
    def version(self) -> int:
        """The release's major version number, as in `debian-13-amd64-*` AMI names."""
        return {DebianRelease.BOOKWORM: 12, DebianRelease.TRIXIE: 13}[self]


class DependencyFormat(str, Enum):
    """How a project declares its dependencies (components/dependencies.py)."""

    UV = "uv"  # uv.lock with pyproject.toml: uv sync --frozen
    REQUIREMENTS = "requirements"  # requirements.txt and its includes: pip install -r
    PYPROJECT = "pyproject"  # pyproject.toml's [project].dependencies: pip


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


class TlsMode(str, Enum):
    """Where the proxy's TLS certificate comes from (the `tls.mode` key)."""

    OFF = "off"  # plain HTTP only
    SELF_SIGNED = "self-signed"  # a CA of the stack's own, made by the program (render/tls.py)
    FILES = "files"  # the user's certificate chain and key
    ACME = "acme"  # from an ACME CA (Let's Encrypt): not implemented yet
