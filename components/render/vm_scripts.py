"""The VM target's remote steps as plain data: shell scripts, file bundles, their digests.

Each step is a script from templates/vm/ run as root over SSH, with its data (a release of the
project, rendered config files, secrets) on stdin, never in the command text. Bundles are
deterministic tar.gz archives, so equal content gives an equal digest, and the digests are
the `triggers` that make a step run again exactly when what it installs changes.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import shlex
import tarfile
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from components.choices import AppServer, DebianRelease, MediaKind, Proxy, upstream_protocol
from components.dependencies import Dependencies
from components.render.app_server_config import (
    APP_DIR,
    APP_PORT,
    CONFIG_DIR,
    VENV,
    server_packages,
)
from components.render.build_context import (
    DEPENDENCIES_DIR,
    BuildContext,
    dependency_files,
    project_files,
    server_requirements,
)
from components.render.firewall import RULESET_FILE, SSH_SETS, TABLE
from components.render.proxy_config import STATIC_ROOT, STATIC_URL
from components.render.systemd import (
    APP_USER,
    DATA_DIR,
    ENV_FILE,
    OVERLAY_DIR,
    UNIT_DIR,
    UPLOAD_TEMP_DIR_VM,
)
from components.render.templates import render_template, template_path

HEALTH_PATH = "/_stack/health"
# Python, a compiler and headers: wheels that must be built (uWSGI is C) build on the host.
BUILD_PACKAGES = ("python3", "python3-venv", "python3-dev", "gcc", "libc6-dev", "ca-certificates")
PROXY_PACKAGES = {Proxy.NGINX: ("nginx",), Proxy.APACHE: ("apache2",)}
# Root's own record of what each service was last started with (not the app's DATA_DIR).
STATE_DIR = "/var/lib/django-stack-deploy"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def bundle(files: Mapping[str, bytes], *, private: Collection[str] = ()) -> str:
    """A base64 tar.gz of `files` (relative paths), byte-identical for identical content;
    the `private` ones are root's alone (0600)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mode = 0o600 if path in private else 0o755 if path.endswith(".sh") else 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[path]))
    packed = gzip.compress(raw.getvalue(), mtime=0)
    return base64.b64encode(packed).decode()


def digest(text: str) -> str:
    """A short content hash for `triggers`."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def release_context(
    *,
    app_path: Path,
    dependencies: Dependencies,
    app_server: AppServer | None,
    extra_ca_bundle: bytes | None,
    media: MediaKind = MediaKind.NONE,
) -> BuildContext:
    """What a host needs to run the project: the code, the overlay, the dependencies.

    `app_server` None: no server requirements (the proxy host only runs collectstatic). The
    extra CA bundle is for pip and uv only (release.sh deletes it after the install).
    """
    files = {f"project/{k}": v for k, v in project_files(app_path).items()}
    files.update(dependency_files(dependencies))
    requirements = server_requirements(app_server, media) if app_server is not None else b""
    files.update(
        {
            "server-requirements.txt": requirements,
            "overlay/django_stack_settings.py": template_path(
                "django/django_stack_settings.py"
            ).read_bytes(),
            "overlay/django_stack_health.py": template_path(
                "django/django_stack_health.py"
            ).read_bytes(),
            "overlay/django_stack_precompress.py": template_path(
                "django/django_stack_precompress.py"
            ).read_bytes(),
            "overlay/healthcheck.py": template_path("docker/healthcheck.py").read_bytes(),
            "overlay/exchange_paths.py": template_path("vm/exchange_paths.py").read_bytes(),
            "extra-ca.crt": extra_ca_bundle or b"",
        }
    )
    return BuildContext(files)


def root_files(files: Mapping[str, str], *, private: Collection[str] = ()) -> str:
    """A bundle of absolute paths (`/etc/...`) to unpack at `/`; `private` ones are 0600."""
    return bundle(
        {path.lstrip("/"): content.encode() for path, content in files.items()},
        private={p.lstrip("/") for p in private},
    )


def as_root(script: str, *, ssh_user: str, ssh_client: bool = False) -> str:
    """The command text: the script run by bash as root (sudo unless the user is root).

    With `ssh_client`, the script's $1 is the session's SSH_CLIENT ("ADDRESS PORT PORT"),
    expanded by the login shell: sudo's env_reset does not pass that variable on.
    """
    runner = "bash -c" if ssh_user == "root" else "sudo -n bash -c"
    suffix = ' step "$SSH_CLIENT"' if ssh_client else ""
    return f"{runner} {shlex.quote(script)}{suffix}"


def app_packages(app_server: AppServer, system_packages: Sequence[str] = ()) -> list[str]:
    """Debian packages of an app host: Python, the server's, and the project's own."""
    return sorted({*BUILD_PACKAGES, *server_packages(app_server).split(), *system_packages})


def proxy_packages(proxy: Proxy, system_packages: Sequence[str] = ()) -> list[str]:
    """Debian packages of the proxy host (Python and the project's own too: the project is
    installed there to collect its static files)."""
    return sorted({*PROXY_PACKAGES[proxy], *BUILD_PACKAGES, *system_packages})


def release_check(release: DebianRelease) -> str:
    """Shell lines that stop a step on a host of another Debian release than the stack's."""
    return render_template(
        "vm/release-check.sh", {"codename": release.value, "version": release.version}
    ).rstrip("\n")


def render_base_script(
    *,
    packages: Sequence[str],
    disable_services: Sequence[str],
    release: DebianRelease,
    mod_qos: bool = False,
) -> str:
    """Packages, the app user and directories; `mod_qos` for an Apache proxy host (its
    per-client limits), by the same script as the proxy image's build."""
    extra = ""
    if mod_qos:
        body = template_path("apache/install-mod-qos.sh").read_text()
        lines = [line for line in body.splitlines() if not line.startswith("#!")]
        extra = "# mod_qos, in a subshell of its own (its `exit 0` is for itself):\n(\n"
        extra += "\n".join(lines) + "\n)"
    return render_template(
        "vm/base.sh",
        {
            "extra_packages": extra,
            "release_check": release_check(release),
            "packages": " ".join(sorted(packages)),
            "disable_services": " ".join(disable_services) or "none",
            "user": APP_USER,
            "config_dir": CONFIG_DIR,
            "overlay_dir": OVERLAY_DIR,
            "data_dir": DATA_DIR,
            "upload_temp_dir": UPLOAD_TEMP_DIR_VM,
        },
    )


def render_release_script(*, release: str) -> str:
    """Installs the release bundle read from stdin."""
    return render_template(
        "vm/release.sh",
        {
            "venv": VENV,
            "overlay_dir": OVERLAY_DIR,
            "app_dir": APP_DIR,
            "dependencies_dir": DEPENDENCIES_DIR,
            "release": release,
        },
    )


def render_settings_script() -> str:
    """Writes the environment file read from stdin (secret)."""
    return render_template("vm/settings.sh", {"env_file": ENV_FILE, "user": APP_USER})


def app_health_command(app_server: AppServer, *, address: str) -> str:
    """One request to the host's own app server on its private `address` (the only one it
    listens on), in its protocol (as the container check)."""
    protocol = upstream_protocol(app_server).value
    return (
        f"python3 {OVERLAY_DIR}/healthcheck.py {protocol} {APP_PORT} {HEALTH_PATH} localhost "
        + shlex.quote(address)
    )


def proxy_health_command(port: int, *, host: str) -> str:
    """One request through the proxy to an app server, for `host`: the proxy answers any Host
    that is not allowed itself, so this must be one it passes on (host_names.probe_host)."""
    return f"python3 {OVERLAY_DIR}/healthcheck.py http {port} {HEALTH_PATH} {shlex.quote(host)}"


def render_service_script(
    *,
    unit: str,
    health_check: str,
    restart_on: Sequence[str] = (),
    group_readable: Mapping[str, str] | None = None,
    ready_check: str | None = None,
    wait_seconds: int = 90,
    always_restart: bool = False,
) -> str:
    """Installs a service's files from stdin and reloads it; restarts it when its unit or one
    of the files `restart_on` (read only at start, as an EnvironmentFile) changed, or always
    with `always_restart` (an app host out of the proxy's rotation: a clean start of the new
    release, no old worker left to answer once it is back in).

    `group_readable`: files of the bundle (root's alone in it) made 0640 for a group, before
    the reload; `ready_check`: a command that must succeed too once the health check passes
    (it prints why not)."""
    group_lines = [
        f"chgrp {shlex.quote(group)} {shlex.quote(path)} && chmod 0640 {shlex.quote(path)}"
        for path, group in sorted((group_readable or {}).items())
    ]
    return render_template(
        "vm/service.sh",
        {
            "unit": unit,
            "health_check": health_check,
            "group_readable": "\n".join(group_lines) or "# (no file shared with a group)",
            "ready_check": (
                f"{ready_check} || exit 1" if ready_check else "# (no check beyond the health one)"
            ),
            "restart_on": " ".join(shlex.quote(p) for p in [unit_path(unit), *restart_on]),
            "always_restart": "yes" if always_restart else "no",
            "state_dir": STATE_DIR,
            "wait_seconds": wait_seconds,
        },
    )


# The process name (comm) of the proxy's workers: nginx's and Apache's children keep it.
PROXY_WORKER_NAMES = {Proxy.NGINX: "nginx", Proxy.APACHE: "apache2"}


def render_rotation_script(*, unit: str, proxy: Proxy, change: str, wait_seconds: int) -> str:
    """Installs the upstream member list from stdin and reloads the proxy gracefully, then
    waits (at most `wait_seconds`) until its workers from before the reload have finished
    their requests and exited; `change` says what it did (one app host out or back in)."""
    if wait_seconds < 1:
        raise ValueError(f"wait_seconds must be at least 1: {wait_seconds!r}")
    return render_template(
        "vm/rotation.sh",
        {
            "unit": unit,
            "worker": PROXY_WORKER_NAMES[proxy],
            "change": change.replace('"', "'"),
            "wait_seconds": wait_seconds,
            "wait_tenths": wait_seconds * 10,
        },
    )


def render_firewall_script() -> str:
    """Checks and loads the nftables ruleset read from stdin (components/render/firewall.py),
    refusing one that would not admit this SSH session's own address."""
    return render_template(
        "vm/firewall.sh",
        {
            "table": TABLE,
            "ssh_v4": SSH_SETS[4],
            "ssh_v6": SSH_SETS[6],
            "ruleset_file": RULESET_FILE,
        },
    )


def render_migrate_script(*, unit: str, release: str) -> str:
    """Installs the migration unit from stdin and runs it."""
    return render_template("vm/migrate.sh", {"unit": unit, "release": release})


def render_collectstatic_script(*, settings_module: str, release: str) -> str:
    """collectstatic into the proxy's static root."""
    return render_template(
        "vm/collectstatic.sh",
        {
            "static_root": STATIC_ROOT,
            "static_url": STATIC_URL,
            "user": APP_USER,
            "venv": VENV,
            "overlay_dir": OVERLAY_DIR,
            "app_dir": APP_DIR,
            "settings_module": settings_module,
            "release": release,
        },
    )


def render_postgres_script(
    *, database: str, role: str, port: int, clients: Sequence[str], release: DebianRelease
) -> str:
    """The release's PostgreSQL for the app hosts `clients` (addresses); the password comes on
    stdin."""
    for kind, name in (("database", database), ("role", role)):
        if not _IDENTIFIER.match(name):
            raise ValueError(f"{kind} name {name!r} is not a plain SQL identifier")
    if not clients:
        raise ValueError("a database host needs at least one client")
    cidrs = [c if "/" in c else (f"{c}/128" if ":" in c else f"{c}/32") for c in clients]
    return render_template(
        "vm/postgres.sh",
        {
            "release_check": release_check(release),
            "database": database,
            "role": role,
            "port": port,
            "clients": " ".join(shlex.quote(c) for c in cidrs),
        },
    )


def render_teardown_script(*, units: Sequence[str]) -> str:
    """What `pulumi destroy` runs on a host: `units` stopped and disabled, their files
    removed. Data, packages and the firewall stay."""
    if not units:
        raise ValueError("a teardown stops at least one unit")
    paths = [unit_path(u) for u in units] + [f"{STATE_DIR}/{u}.sha256" for u in units]
    return render_template(
        "vm/teardown.sh",
        {
            "units": " ".join(shlex.quote(u) for u in units),
            "files": " ".join(shlex.quote(p) for p in paths),
        },
    )


def unit_path(unit: str) -> str:
    """Where a unit file goes."""
    return f"{UNIT_DIR}/{unit}"
