"""systemd units of the VM target: the app server, the migrations, the reverse proxy.

Each unit runs exactly the command and config the Docker target's containers run
(components/render/app_server_config.py, proxy_config.py), so both targets tell the servers
the same thing; only the supervisor differs. Reloads are graceful signals to the server's
master process.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from components.choices import AppServer, Proxy
from components.render.app_server_config import APP_DIR, CONFIG_DIR, VENV, app_server_command
from components.render.proxy_config import STATIC_ROOT, STATIC_URL, proxy_command
from components.render.release import release_commands as all_release_commands
from components.render.templates import render_template
from components.server_signals import APP_SIGNALS, PROXY_SIGNALS, stop_grace_seconds

APP_USER = "app"
OVERLAY_DIR = "/opt/django-stack"
DATA_DIR = "/var/lib/django-stack"
# Django's FILE_UPLOAD_TEMP_DIR on an app host with media in S3: on the data disk, which the
# unit may write (ReadWritePaths), with room for the largest upload; made by templates/vm/base.sh.
UPLOAD_TEMP_DIR_VM = f"{DATA_DIR}/upload-tmp"
ENV_FILE = f"{CONFIG_DIR}/django.env"
APP_UNIT = "django-stack-app.service"
MIGRATE_UNIT = "django-stack-migrate.service"
PROXY_UNIT = "django-stack-proxy.service"
# The user and group the proxy runs as (Debian's own for nginx and Apache).
PROXY_USER = "www-data"
PROXY_GROUP = "www-data"
# The VM proxy's TLS files, in every TLS mode: the chain readable by all, the key by root and
# the proxy's group (0640 root:www-data), which the proxy reads itself at each start and each
# reload. So a new chain or key, the user's (`files`), the yearly one (`self-signed`) or
# certbot's (`acme`), takes effect by a graceful reload, never a restart. (systemd's
# LoadCredential= would copy the key to the unit only at its start, making a new key a
# restart and its failed requests; and it leaves /run/credentials empty in the containers
# that stand in for VMs in the tests.)
TLS_CHAIN_FILE = f"{CONFIG_DIR}/tls/chain.pem"
TLS_KEY_FILE = f"{CONFIG_DIR}/tls/key.pem"
UNIT_DIR = "/etc/systemd/system"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# What `systemctl reload` says it does, per app server (the signals: components/server_signals.py).
_RELOAD_WHAT = {
    AppServer.GUNICORN: "new workers, old ones finish their requests",
    AppServer.UWSGI: "the master reloads its workers gracefully",
    AppServer.MOD_WSGI: "Apache's graceful restart",
}
# Commands the containers find on PATH; systemd is given absolute paths.
_ABSOLUTE = {"apache2": "/usr/sbin/apache2", "nginx": "/usr/sbin/nginx"}


def exec_line(argv: Sequence[str]) -> str:
    """A systemd Exec* line of literal words: `%` specifiers and `$` variables, which systemd
    would expand, are doubled; words with spaces or quotes are double-quoted and escaped.
    https://www.freedesktop.org/software/systemd/man/latest/systemd.service.html#Command%20lines
    """

    def word(w: str) -> str:
        w = w.replace("%", "%%").replace("$", "$$")
        if re.fullmatch(r"[A-Za-z0-9_@%$+=:,./-]+", w):
            return w
        return '"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return " ".join(word(w) for w in argv)


def _absolute(argv: list[str]) -> list[str]:
    return [_ABSOLUTE.get(argv[0], argv[0]), *argv[1:]]


def environment_file(env: Mapping[str, str]) -> str:
    """systemd's EnvironmentFile= form, every value double-quoted, in a stable order.

    https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html#EnvironmentFile=
    """
    lines = []
    for key in sorted(env):
        if not _ENV_NAME.match(key):
            raise ValueError(f"not an environment variable name: {key!r}")
        value = env[key]
        if "\n" in value or "\r" in value:
            raise ValueError(f"environment value of {key} spans lines")
        # Inside double quotes systemd, like the shell, takes \ " ` $ escaped by a backslash.
        escaped = re.sub(r'(["\\`$])', r"\\\1", value)
        lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + "\n"


def _hardening(*, bind_low_ports: bool = False) -> str:
    """The confinement every unit gets (templates/systemd/hardening.conf). Only the proxy
    keeps one capability, to bind ports below 1024."""
    capability = "CAP_NET_BIND_SERVICE" if bind_low_ports else ""
    return render_template(
        "systemd/hardening.conf",
        {
            "capabilities": f"AmbientCapabilities={capability}\nCapabilityBoundingSet={capability}",
        },
    ).rstrip("\n")


def _environment(*, settings_module: str, replica: str) -> str:
    return render_template(
        "systemd/environment.conf",
        {
            "env_file": ENV_FILE,
            "venv": VENV,
            "overlay_dir": OVERLAY_DIR,
            "app_dir": APP_DIR,
            "settings_module": settings_module,
            "static_root": STATIC_ROOT,
            "static_url": STATIC_URL,
            "replica": replica,
        },
    ).rstrip("\n")


def render_app_unit(
    *,
    app_server: AppServer,
    settings_module: str,
    replica: str,
    memory_mb: int,
    cpus: float,
    timeout_seconds: int,
    max_tasks: int,
) -> str:
    """django-stack-app.service for one app host."""
    if app_server not in APP_SIGNALS:
        raise ValueError(f"{app_server.value} has no systemd unit (the VM target refuses it)")
    signals = APP_SIGNALS[app_server]
    return render_template(
        "systemd/django-stack-app.service",
        {
            "app_server": app_server.value,
            "reload_what": _RELOAD_WHAT[app_server],
            "user": APP_USER,
            "app_dir": APP_DIR,
            "environment": _environment(settings_module=settings_module, replica=replica),
            "exec_start": exec_line(_absolute(app_server_command(app_server))),
            "exec_reload": f"/bin/kill -{signals.reload} $MAINPID",
            "kill_signal": signals.stop,
            "stop_timeout": stop_grace_seconds(timeout_seconds),
            "hardening": _hardening(),
            "data_dir": DATA_DIR,
            "memory_mb": memory_mb,
            "cpu_quota": round(cpus * 100),
            "max_tasks": max_tasks,
        },
    )


def render_migrate_unit(
    *, settings_module: str, release_commands: Sequence[Sequence[str]] = ()
) -> str:
    """django-stack-migrate.service: `django-admin migrate`, then each release command, once,
    with the app's environment (a oneshot unit runs its ExecStart= lines in order and stops
    at the first that fails)."""
    return render_template(
        "systemd/django-stack-migrate.service",
        {
            "user": APP_USER,
            "app_dir": APP_DIR,
            "environment": _environment(settings_module=settings_module, replica="migrate"),
            "exec_start": "\n".join(
                "ExecStart=" + exec_line([f"{VENV}/bin/django-admin", *argv])
                for argv in all_release_commands(release_commands)
            ),
            "hardening": _hardening(),
            "data_dir": DATA_DIR,
        },
    )


def render_proxy_unit(proxy: Proxy) -> str:
    """django-stack-proxy.service: nginx or Apache with the stack's rendered config. With TLS
    on, the proxy reads TLS_KEY_FILE itself (its group's to read): the same unit in every
    mode, and a new key is a reload."""
    signals = PROXY_SIGNALS[proxy]
    return render_template(
        "systemd/django-stack-proxy.service",
        {
            "proxy": proxy.value,
            "user": PROXY_USER,
            "group": PROXY_GROUP,
            "exec_start": exec_line(_absolute(proxy_command(proxy))),
            "exec_reload": f"/bin/kill -{signals.reload} $MAINPID",
            "kill_signal": signals.stop,
            "hardening": _hardening(bind_low_ports=True),
        },
    )
