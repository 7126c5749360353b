"""The stack's configuration: read once, validated completely, frozen.

Every `django-stack:*` key is parsed here and nowhere else. A bad value stops the program with
one message that names each bad key, the value given and what is allowed, before any resource
is created.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import pulumi
from cryptography import x509

from components.choices import (
    AppServer,
    DatabaseKind,
    DebianRelease,
    MediaKind,
    Platform,
    Proxy,
    TlsMode,
    VmProvider,
)
from components.debian import DEFAULT_RELEASE, parse_release, release_image, release_of_image
from components.dependencies import LOOKED_FOR, Dependencies, DependencyError, detect_dependencies
from components.docker.provider_forms import container_cpus, cpus_kept_exactly
from components.render.acme import LETS_ENCRYPT_DIRECTORY, acme_domains
from components.render.media import DEFAULT_MAX_BODY_MB, DEFAULT_MEDIA_URL
from components.render.proxy_config import DEFAULT_RATE_LIMIT, STATIC_URL, RateLimit
from components.render.tls import DEFAULT_HSTS_MAX_AGE, check_pair
from components.tuning import default_threads, default_workers

NAMESPACE = "django-stack"
E = TypeVar("E", bound=Enum)


class ConfigError(ValueError):
    """The stack configuration is invalid; the message lists every problem."""


@dataclass(frozen=True)
class Secret:
    """A secret config value; its repr never shows the value."""

    value: str = field(repr=False)

    def as_output(self) -> pulumi.Output[str]:
        """The value as a Pulumi secret, so it is encrypted in state and masked in logs."""
        return pulumi.Output.secret(self.value)


@dataclass(frozen=True)
class DatabaseConfig:
    """Where Django's data lives, and how to reach it."""

    kind: DatabaseKind
    name: str
    user: str
    host: str | None
    port: int
    password: Secret | None
    retain_on_delete: bool = True
    """Whether `pulumi destroy` leaves the data volume (Docker) on the engine."""
    protect: bool = False
    """Whether the engine refuses to delete or replace the database's resources (Pulumi's
    `protect`): `pulumi destroy` and a change that would replace the server fail instead."""

    @property
    def shared(self) -> bool:
        """Whether every replica sees the same data (SQLite lives on one replica's disk)."""
        return self.kind is not DatabaseKind.SQLITE


@dataclass(frozen=True)
class MediaConfig:
    """Where uploaded files go (the `media` key)."""

    kind: MediaKind
    url: str
    """Django's MEDIA_URL, served by the proxy from the volume."""
    retain_on_delete: bool
    """Whether `pulumi destroy` leaves the volume (and the files) on the engine."""
    s3: S3Config | None = None
    """`kind: s3`: the bucket and how to reach it."""


@dataclass(frozen=True)
class S3Config:
    """The bucket of `media.kind: s3` (django-storages' S3 backend, boto3)."""

    bucket: str | None
    """The bucket's name; None on EC2, where the program creates it and names it."""
    endpoint: str | None
    """The S3 API's URL, for an S3-compatible server; None: AWS S3 of `region`."""
    region: str | None
    access_key_id: Secret | None
    """None on EC2: the app hosts' instance role signs the requests instead."""
    secret_access_key: Secret | None

    @property
    def created_by_stack(self) -> bool:
        """Whether the program creates the bucket (EC2) rather than using the user's."""
        return self.bucket is None


@dataclass(frozen=True)
class AcmeConfig:
    """`tls.mode: acme`: where the proxy host gets its certificate (the `tls.acme*` keys)."""

    directory: str
    """The ACME server's directory URL (RFC 8555 7.1.1)."""
    email: str | None
    """The account's contact address (expiry and policy mail), or None for no contact."""
    ca_bundle: str | None
    """PEM certificates to trust for the ACME server itself beside the system's (a private
    server such as Pebble), or None."""
    domains: tuple[str, ...]
    """The names the certificate is for (components/render/acme.py: from allowedHosts)."""


@dataclass(frozen=True)
class TlsConfig:
    """TLS on the proxy (the `tls`, `httpsPort` and `hstsMaxAge` keys)."""

    mode: TlsMode
    https_port: int
    """The port HTTPS is published on (Docker) or listened on (VM)."""
    hsts_max_age: int
    """Strict-Transport-Security's max-age, in seconds, sent over HTTPS only."""
    certificate: str | None = None
    """`files`: the PEM chain, leaf first."""
    key: Secret | None = None
    """`files`: the PEM private key."""
    acme: AcmeConfig | None = None
    """`acme`: the ACME server and account."""

    @property
    def enabled(self) -> bool:
        """Whether the proxy serves HTTPS (and sends plain HTTP there)."""
        return self.mode is not TlsMode.OFF


TLS_OFF = TlsConfig(mode=TlsMode.OFF, https_port=8443, hsts_max_age=DEFAULT_HSTS_MAX_AGE)


@dataclass(frozen=True)
class VmHost:
    """One existing machine of `platform: vm`, `vm.provider: hosts`."""

    address: str
    """Where SSH reaches it."""
    private_address: str
    """Where the other hosts reach it (the proxy's upstream, the database host); defaults to
    `address`."""


@dataclass(frozen=True)
class VmConfig:
    """The machines of `platform: vm` and how to reach them over SSH."""

    provider: VmProvider
    ssh_user: str
    ssh_port: int
    ssh_private_key: Secret
    ssh_allowed_from: tuple[str, ...]
    """The networks each host's firewall admits SSH from (besides the proxy host, the jump
    host of private EC2 machines)."""
    # provider hosts
    proxy_host: VmHost | None
    app_hosts: tuple[VmHost, ...]
    database_host: VmHost | None
    # provider aws
    ssh_allowed_cidr: str | None
    ssh_public_key: str | None
    instance_type: str
    region: str | None


@dataclass(frozen=True)
class StackConfig:
    """Everything one environment chooses, validated."""

    stack: str
    platform: Platform
    app_server: AppServer
    proxy: Proxy
    replicas: int
    workers: int
    threads: int
    cpus_per_replica: float
    memory_mb_per_replica: int
    timeout_seconds: int
    app_path: Path
    dependencies: Dependencies
    """How the project declares its dependencies (components/dependencies.py)."""
    wsgi_module: str
    settings_module: str
    http_port: int
    bind_address: str
    allowed_hosts: tuple[str, ...]
    secret_key: Secret | None
    database: DatabaseConfig
    base_image: str
    debian_release: DebianRelease
    """The images' and the machines' Debian release (components/debian.py)."""
    extra_ca_bundle: Path | None
    docker_host: str | None
    debug: bool
    production: bool
    proxy_workers: str
    proxy_cpus: float
    upstream_keepalive: bool
    max_requests: int
    max_body_mb: int
    media: MediaConfig
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    """Per-client request rate and connections at the proxy (components/render/proxy_config.py)."""
    system_packages: tuple[str, ...] = ()
    """Debian packages the project needs, in the build and runtime images and on the hosts."""
    release_commands: tuple[tuple[str, ...], ...] = ()
    """manage.py commands (argv after `django-admin`) run once per release, after migrate."""
    vm: VmConfig | None = None
    tls: TlsConfig = TLS_OFF

    @property
    def resource_prefix(self) -> str:
        """Prefix for names on the engine (containers, networks), unique per stack."""
        return f"django-stack-{self.stack}"

    @property
    def wsgi_callable(self) -> str:
        """The WSGI entry point as `module:callable`."""
        return f"{self.wsgi_module}:application"


# One entry per key: what it means is documented in README.md's config reference.
KNOWN_KEYS = (
    "platform",
    "appServer",
    "proxy",
    "replicas",
    "workers",
    "threads",
    "cpusPerReplica",
    "memoryMbPerReplica",
    "timeoutSeconds",
    "appPath",
    "wsgiModule",
    "settingsModule",
    "httpPort",
    "httpsPort",
    "hstsMaxAge",
    "tls",
    "bindAddress",
    "allowedHosts",
    "secretKey",
    "database",
    "databasePassword",
    "baseImage",
    "debianRelease",
    "extraCaBundle",
    "dockerHost",
    "debug",
    "production",
    "proxyWorkers",
    "proxyCpus",
    "upstreamKeepalive",
    "maxRequests",
    "media",
    "systemPackages",
    "releaseCommands",
    "maxBodyMb",
    "rateLimit",
    "vm",
    "sshPrivateKey",
    "mediaAccessKeyId",
    "mediaSecretAccessKey",
)
SECRET_KEYS = (
    "secretKey",
    "databasePassword",
    "sshPrivateKey",
    "mediaAccessKeyId",
    "mediaSecretAccessKey",
)
# Keys that must be set with `pulumi config set --secret`: a plain value would sit readable in
# the stack file and in the state.
MUST_BE_SECRET = ("mediaAccessKeyId", "mediaSecretAccessKey")
VM_KEYS = (
    "provider",
    "sshUser",
    "sshPort",
    "proxyHost",
    "appHosts",
    "databaseHost",
    "sshAllowedFrom",
    "sshAllowedCidr",
    "sshPublicKey",
    "instanceType",
    "region",
)
# Keys of `vm` that only one host source understands.
VM_HOSTS_ONLY = ("proxyHost", "appHosts", "databaseHost")
VM_AWS_ONLY = ("sshAllowedCidr", "sshPublicKey", "instanceType", "region")
# vm.sshAllowedFrom's default with vm.provider 'hosts': the private and shared address ranges
# (RFC 1918, RFC 6598's carrier-grade NAT and VPN range, RFC 4193's unique local IPv6), where
# machines given by address are usually administered from, and never the open internet.
# A deployment from elsewhere fails before any rule changes, naming the key (vm/firewall.sh).
DEFAULT_SSH_ALLOWED_FROM = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "fc00::/7",
)
MAX_SSH_ALLOWED_FROM = 64
DATABASE_KEYS = ("kind", "host", "port", "name", "user", "retainOnDelete", "protect")
MEDIA_KEYS = ("kind", "url", "retainOnDelete", "bucket", "endpoint", "region")
MEDIA_S3_ONLY = ("bucket", "endpoint", "region")
# S3's bucket naming rules (general purpose buckets).
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ENDPOINT = re.compile(r"^https?://[^\s/?#]+/?$")
RATE_LIMIT_KEYS = ("requestsPerSecond", "burst", "connectionsPerClient")
TLS_KEYS = ("mode", "certificate", "key", "acmeDirectory", "acmeEmail", "acmeCaBundle")
TLS_ACME_KEYS = ("acmeDirectory", "acmeEmail", "acmeCaBundle")
# A request body Django spools to /tmp must fit twice in the replicas' 64 MB /tmp tmpfs
# (components/docker/container_spec.py); with media.kind 'volume' it goes to the volume.
TMPFS_BODY_LIMIT_MB = 32
_MEDIA_URL = re.compile(r"^/([A-Za-z0-9._~-]+/)+$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_HOST = re.compile(r"^(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9a-fA-F:]+\])$")
_EMAIL = re.compile(r"^[^@\s'\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_SQLITE_PATH = "/var/lib/django-stack/db.sqlite3"
# Debian Policy 5.6.1: lowercase letters, digits, + - and ., two characters at least, starting
# with a letter or digit. https://www.debian.org/doc/debian-policy/ch-controlfields.html#source
_DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
# A Django management command is a module of some app's management/commands package.
_COMMAND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NEVER_RETURN = ("runserver", "testserver")


class _Reader:
    """Parses raw Pulumi config strings, collecting every problem instead of stopping at one."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.problems: list[str] = []

    def problem(self, key: str, value: Any, allowed: str) -> None:
        self.problems.append(f"{NAMESPACE}:{key}: {value!r} is not allowed; expected {allowed}")

    def unknown_keys(self, keys: Any, known: tuple[str, ...], prefix: str = "") -> None:
        """A problem for each of `keys` not in `known`; `prefix` is the object's path."""
        for key in sorted(set(keys) - set(known)):
            self.problems.append(
                f"{NAMESPACE}:{prefix}{key}: unknown key; known keys are " + ", ".join(known)
            )

    def adopt(self, sub: _Reader, prefix: str) -> None:
        """Take the problems of a reader of a nested object, named under `prefix`."""
        self.problems.extend(
            p.replace(f"{NAMESPACE}:", f"{NAMESPACE}:{prefix}", 1) for p in sub.problems
        )

    def text(self, key: str, default: str | None) -> str | None:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            self.problem(key, value, "a non-empty string")
            return default
        return value.strip()

    def choice(self, key: str, enum: type[E], default: E) -> E:
        value = self.raw.get(key)
        if value is None:
            return default
        try:
            return enum(str(value))
        except ValueError:
            self.problem(key, value, "one of " + ", ".join(m.value for m in enum))
            return default

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        value = self.raw.get(key)
        if value is None:
            return default
        try:
            number = _strict_int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            self.problem(key, value, f"an integer from {low} to {high}")
            return default
        return number

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.raw.get(key)
        if value is None:
            return default
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not low <= number <= high:
            self.problem(key, value, f"a number from {low:g} to {high:g}")
            return default
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw.get(key)
        if value is None:
            return default
        lowered = str(value).strip().lower()
        if lowered not in ("true", "false"):
            self.problem(key, value, "true or false")
            return default
        return lowered == "true"

    def structured(self, key: str) -> Any:
        """A list or object value: Pulumi hands these over as JSON text."""
        value = self.raw.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value
        return value

    def secret(self, key: str) -> Secret | None:
        value = self.text(key, None)
        return Secret(value) if value is not None else None


def _strict_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError(value)
    return int(text)


def parse_stack_config(
    raw: Mapping[str, Any],
    *,
    stack: str,
    project_dir: Path,
    secret_keys: Collection[str] = (),
) -> StackConfig:
    """Validate raw `django-stack:*` values (keys without the namespace) into a StackConfig.

    `secret_keys`: the keys (without the namespace) the engine passed as secrets; a key of
    MUST_BE_SECRET given in plain text is refused.

    Raises ConfigError naming every bad key, its value and what is allowed.
    """
    r = _Reader(raw)
    r.unknown_keys(raw, KNOWN_KEYS)

    platform = r.choice("platform", Platform, Platform.DOCKER)
    app_server = r.choice("appServer", AppServer, AppServer.GUNICORN)
    proxy = r.choice("proxy", Proxy, Proxy.NGINX)
    replicas = r.integer("replicas", 2, 1, 100) or 2
    cpus = r.number("cpusPerReplica", 1.0, 0.1, 64.0)
    workers = r.integer("workers", None, 1, 64) or default_workers(app_server=app_server, cpus=cpus)
    threads = r.integer("threads", None, 1, 64) or default_threads(app_server=app_server)
    memory = r.integer("memoryMbPerReplica", 512, 128, 65536) or 512
    timeout = r.integer("timeoutSeconds", 30, 1, 3600) or 30
    http_port = r.integer("httpPort", 8000, 1, 65535) or 8000
    bind_address = r.text("bindAddress", "127.0.0.1") or "127.0.0.1"
    debug = r.boolean("debug", False)
    production = r.boolean("production", True)
    upstream_keepalive = r.boolean("upstreamKeepalive", True)
    # Off unless asked: recycling a worker re-imports the project (docs/benchmarks.md).
    max_requests = r.integer("maxRequests", 0, 0, 100_000_000) or 0
    system_packages = _system_packages(r)
    release_commands = _release_commands(r)
    # The proxy's request body limit, which Django's upload limits follow (render/media.py).
    max_body_mb = r.integer("maxBodyMb", DEFAULT_MAX_BODY_MB, 1, 1024) or DEFAULT_MAX_BODY_MB
    # Two CPUs: at one, the proxy was CPU-throttled serving static files (docs/benchmarks.md).
    proxy_cpus = r.number("proxyCpus", 2.0, 0.1, 64.0)
    if platform is Platform.DOCKER:
        for key, value in (("cpusPerReplica", cpus), ("proxyCpus", proxy_cpus)):
            if not cpus_kept_exactly(value):
                r.problem(
                    key,
                    r.raw[key],
                    f"a CPU count the docker provider keeps as given (it would store "
                    f"{container_cpus(value)!r}); use one or two decimals, such as 0.5 or 1.25",
                )
    proxy_workers = "auto"
    if r.raw.get("proxyWorkers") not in (None, "auto"):
        proxy_workers = str(r.integer("proxyWorkers", None, 1, 64) or "auto")

    app_path, dependencies = _app_path(r, project_dir)
    wsgi_module = _module(r, "wsgiModule", "config.wsgi")
    # Django's startproject puts settings.py beside wsgi.py, so that is the default.
    settings_module = _module(r, "settingsModule", wsgi_module.rpartition(".")[0] + ".settings")
    if app_path is not None:
        for key, module in (("wsgiModule", wsgi_module), ("settingsModule", settings_module)):
            if not _module_file(app_path, module).is_file():
                r.problems.append(
                    f"{NAMESPACE}:{key}: {module!r} is not a module of the project at "
                    f"{app_path} (no {_module_file(app_path, module).relative_to(app_path)})"
                )

    allowed_hosts = _allowed_hosts(r)
    vm = _vm(r, platform=platform)
    if vm is not None and vm.provider is VmProvider.HOSTS and vm.app_hosts:
        # The replicas of a `hosts` VM stack are its app hosts: one app server per machine.
        count = len(vm.app_hosts)
        if r.raw.get("replicas") is not None and replicas != count:
            r.problems.append(
                f"{NAMESPACE}:replicas: {replicas} is not allowed with {count} "
                f"{NAMESPACE}:vm.appHosts; with vm.provider 'hosts' the replicas are the app "
                "hosts (leave replicas out, or make it match)"
            )
        replicas = count
    database = _database(r, replicas=replicas, production=production)
    media = _media(
        r,
        platform=platform,
        vm_provider=vm.provider if vm is not None else None,
        secret_keys=frozenset(secret_keys),
    )
    rate_limit = _rate_limit(r)
    if (
        platform is Platform.DOCKER
        and media.kind is MediaKind.NONE
        and max_body_mb > TMPFS_BODY_LIMIT_MB
    ):
        r.problems.append(
            f"{NAMESPACE}:maxBodyMb: {max_body_mb} is not allowed with {NAMESPACE}:media.kind "
            f"'none'; expected at most {TMPFS_BODY_LIMIT_MB} (Django spools large uploads to "
            "the replica's 64 MB /tmp, which is memory), or media.kind 'volume', whose "
            "temporary-upload directory is on the volume"
        )
    if vm is not None and vm.provider is VmProvider.HOSTS:
        if database.kind is DatabaseKind.POSTGRES and vm.database_host is None:
            r.problems.append(
                f"{NAMESPACE}:vm.databaseHost: required with database.kind 'postgres' and "
                "vm.provider 'hosts' (the machine PostgreSQL is installed on); or use "
                "database.kind 'external'"
            )
        if database.kind is not DatabaseKind.POSTGRES and vm.database_host is not None:
            r.problems.append(
                f"{NAMESPACE}:vm.databaseHost: only allowed with database.kind 'postgres', "
                f"not {database.kind.value!r}"
            )
    base_image, debian_release = _base_image_and_release(r)
    extra_ca = r.text("extraCaBundle", None)
    extra_ca_path = (project_dir / extra_ca).resolve() if extra_ca else None
    if extra_ca_path is not None and not extra_ca_path.is_file():
        r.problem("extraCaBundle", extra_ca, "the path of a PEM file of CA certificates")
        extra_ca_path = None

    if debug and production:
        r.problems.append(
            f"{NAMESPACE}:debug: true is not allowed while {NAMESPACE}:production is true; "
            "Django's DEBUG leaks settings and source on errors "
            "(set production: false for a dev stack)"
        )
    if app_server is AppServer.RUNSERVER:
        why = (
            "Django's development server is single-process, unhardened and reloads code from "
            "the host: it is for one replica of a dev stack only "
            "(https://docs.djangoproject.com/en/5.2/ref/django-admin/#runserver)"
        )
        if replicas > 1:
            r.problems.append(f"{NAMESPACE}:appServer: 'runserver' with replicas {replicas}: {why}")
        if production:
            r.problems.append(
                f"{NAMESPACE}:appServer: 'runserver' while {NAMESPACE}:production is true: {why}"
            )
        if platform is Platform.VM:
            r.problems.append(
                f"{NAMESPACE}:appServer: 'runserver' mounts the code from this machine, so it "
                f"needs the local Docker engine, not {NAMESPACE}:platform 'vm'"
            )
        if r.raw.get("dockerHost"):
            r.problems.append(
                f"{NAMESPACE}:appServer: 'runserver' mounts the code from this machine, so it "
                f"needs the local Docker engine, not {NAMESPACE}:dockerHost"
            )
    if platform is Platform.VM and r.raw.get("dockerHost"):
        r.problems.append(
            f"{NAMESPACE}:dockerHost: not allowed with {NAMESPACE}:platform 'vm' "
            "(the VM target reaches its machines over SSH)"
        )
    if vm is not None and vm.provider is VmProvider.AWS and http_port != 80:
        r.problems.append(
            f"{NAMESPACE}:httpPort: {http_port} is not allowed with {NAMESPACE}:vm.provider "
            "'aws'; expected 80 (the security group opens only 80 and 443 to the world)"
        )

    tls = _tls(
        r,
        production=production,
        http_port=http_port,
        allowed_hosts=allowed_hosts,
        project_dir=project_dir,
        aws=vm is not None and vm.provider is VmProvider.AWS,
        platform=platform,
    )

    if r.problems:
        raise ConfigError(
            f"Invalid configuration for stack {stack!r}:\n  - " + "\n  - ".join(r.problems)
        )
    # A missing path or declaration is reported as a problem above.
    assert app_path is not None and dependencies is not None
    return StackConfig(
        stack=stack,
        platform=platform,
        app_server=app_server,
        proxy=proxy,
        replicas=replicas,
        workers=workers,
        threads=threads,
        cpus_per_replica=cpus,
        memory_mb_per_replica=memory,
        timeout_seconds=timeout,
        app_path=app_path,
        dependencies=dependencies,
        wsgi_module=wsgi_module,
        settings_module=settings_module,
        http_port=http_port,
        bind_address=bind_address,
        allowed_hosts=allowed_hosts,
        secret_key=r.secret("secretKey"),
        database=database,
        base_image=base_image,
        debian_release=debian_release,
        extra_ca_bundle=extra_ca_path,
        docker_host=r.text("dockerHost", None),
        debug=debug,
        production=production,
        proxy_workers=proxy_workers,
        proxy_cpus=proxy_cpus,
        upstream_keepalive=upstream_keepalive,
        max_requests=max_requests,
        media=media,
        system_packages=system_packages,
        release_commands=release_commands,
        max_body_mb=max_body_mb,
        rate_limit=rate_limit,
        vm=vm,
        tls=tls,
    )


def _app_path(r: _Reader, project_dir: Path) -> tuple[Path, Dependencies] | tuple[None, None]:
    """The project directory, and how it declares its dependencies."""
    given = r.text("appPath", "app") or "app"
    path = (project_dir / given).resolve()
    expected = "a Django project directory with its dependencies in " + ", ".join(LOOKED_FOR)
    if not path.is_dir():
        r.problem("appPath", given, expected)
        return None, None
    try:
        return path, detect_dependencies(path)
    except DependencyError as e:
        r.problems.append(f"{NAMESPACE}:appPath: {given!r} {e}; expected {expected}")
        return None, None


def _base_image_and_release(r: _Reader) -> tuple[str, DebianRelease]:
    """`baseImage` and `debianRelease`: either one implies the other (`debianRelease:
    bookworm` alone builds from `debian:bookworm-slim`); given both, they must agree."""
    allowed = ", ".join(f"{d.value} ({d.version})" for d in DebianRelease)
    given = r.text("debianRelease", None)
    release = parse_release(given) if given is not None else None
    if given is not None and release is None:
        r.problem("debianRelease", given, f"a supported Debian release: {allowed}")
    image = r.text("baseImage", None)
    if image is None:
        release = release or DEFAULT_RELEASE
        return release_image(release), release
    named = release_of_image(image)
    if release is not None and named is not None and named is not release:
        r.problems.append(
            f"{NAMESPACE}:debianRelease: {given!r} is not allowed with {NAMESPACE}:baseImage "
            f"{image!r}, which is Debian {named.value} ({named.version}); "
            "expected the two to agree (or leave debianRelease out)"
        )
    return image, release or named or DEFAULT_RELEASE


def _module(r: _Reader, key: str, default: str) -> str:
    value = r.text(key, default) or default
    if not _MODULE.match(value):
        r.problem(key, value, "a dotted Python module path such as 'mysite.wsgi'")
        return default
    return value


def _module_file(app_path: Path, module: str) -> Path:
    parts = module.split(".")
    as_file = app_path.joinpath(*parts[:-1], parts[-1] + ".py")
    package = app_path.joinpath(*parts, "__init__.py")
    return package if package.is_file() else as_file


def _system_packages(r: _Reader) -> tuple[str, ...]:
    """Debian package names: syntax checked here; whether each exists, apt says in the build."""
    value = r.structured("systemPackages")
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        r.problem("systemPackages", value, "a list of Debian package names, e.g. [libjpeg62-turbo]")
        return ()
    bad = [p for p in value if not _DEBIAN_PACKAGE.match(p)]
    if bad:
        r.problem(
            "systemPackages",
            value,
            f"Debian package names (lowercase letters, digits, '+', '-', '.'; two characters "
            f"at least, starting with a letter or digit), not {', '.join(map(repr, bad))}",
        )
        return ()
    return tuple(dict.fromkeys(value))


def _release_commands(r: _Reader) -> tuple[tuple[str, ...], ...]:
    """`manage.py` command lines, each split as a shell would (quotes group words)."""
    value = r.structured("releaseCommands")
    if value is None:
        return ()
    expected = "a list of manage.py command lines, e.g. [createcachetable, 'loaddata seed.json']"
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        r.problem("releaseCommands", value, expected)
        return ()
    commands: list[tuple[str, ...]] = []
    for line in value:
        try:
            argv = tuple(shlex.split(line))
        except ValueError as e:
            r.problem("releaseCommands", line, f"a command line that splits into words ({e})")
            continue
        if argv and argv[0] in _NEVER_RETURN:
            r.problem(
                "releaseCommands",
                line,
                f"a command that finishes ({argv[0]} serves until stopped, so the release "
                "would never end)",
            )
            continue
        if not argv or not _COMMAND.match(argv[0]):
            r.problem(
                "releaseCommands",
                line,
                "a manage.py command name first (such as createcachetable), then its arguments",
            )
            continue
        commands.append(argv)
    return tuple(commands)


def _allowed_hosts(r: _Reader) -> tuple[str, ...]:
    default = ("localhost", "127.0.0.1")
    value = r.structured("allowedHosts")
    if value is None:
        return default
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(h, str) and _HOST.match(h) for h in value)
    ):
        r.problem("allowedHosts", value, "a non-empty list of host names, e.g. [example.com]")
        return default
    return tuple(value)


def _database(r: _Reader, *, replicas: int, production: bool) -> DatabaseConfig:
    value = r.structured("database")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        r.problem("database", value, "an object with keys " + ", ".join(DATABASE_KEYS))
        value = {}
    r.unknown_keys(value, DATABASE_KEYS, "database.")
    sub = _Reader({k: None if v is None else str(v) for k, v in value.items()})
    kind = sub.choice("kind", DatabaseKind, DatabaseKind.POSTGRES)
    port = sub.integer("port", 5432, 1, 65535) or 5432
    name = sub.text("name", "django") or "django"
    user = sub.text("user", "django") or "django"
    host = sub.text("host", None)
    # Kept by `pulumi destroy` on a production stack, like the media volume: the data outlives
    # the stack; a dev stack's goes with it unless told otherwise.
    retain = sub.boolean("retainOnDelete", production)
    # A production stack's database is protected: `pulumi destroy`, or a change that would
    # replace its server, fails until the stack is told otherwise (protect: false, `up`).
    protect = sub.boolean("protect", production and kind is not DatabaseKind.EXTERNAL)
    r.adopt(sub, "database.")
    password = r.secret("databasePassword")
    for key in ("retainOnDelete", "protect"):
        if kind is DatabaseKind.EXTERNAL and value.get(key) is not None:
            r.problems.append(
                f"{NAMESPACE}:database.{key}: not allowed with database.kind 'external' "
                "(the stack keeps no data of an external database)"
            )

    if kind is DatabaseKind.EXTERNAL:
        if host is None:
            r.problems.append(
                f"{NAMESPACE}:database.host: required when database.kind is 'external'"
            )
        if password is None:
            r.problems.append(
                f"{NAMESPACE}:databasePassword: required (as a secret: pulumi config set "
                f"--secret {NAMESPACE}:databasePassword ...) when database.kind is 'external'"
            )
    if kind is DatabaseKind.SQLITE:
        name = _SQLITE_PATH
        if replicas > 1:
            r.problems.append(
                f"{NAMESPACE}:replicas: {replicas} is not allowed with database.kind 'sqlite': "
                "an SQLite file is not shared between replicas; use replicas: 1 or "
                "database.kind 'postgres' or 'external'"
            )
    return DatabaseConfig(
        kind=kind,
        name=name,
        user=user,
        host=host,
        port=port,
        password=password,
        retain_on_delete=retain,
        protect=protect,
    )


def _media(
    r: _Reader,
    *,
    platform: Platform,
    vm_provider: VmProvider | None,
    secret_keys: frozenset[str],
) -> MediaConfig:
    """The `media` object: a shared volume by default on Docker; nothing on VMs unless s3."""
    value = r.structured("media")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        r.problem("media", value, "an object with keys " + ", ".join(MEDIA_KEYS))
        value = {}
    r.unknown_keys(value, MEDIA_KEYS, "media.")
    sub = _Reader({k: None if v is None else str(v) for k, v in value.items()})
    # A Docker volume lives on one engine, so it is the default there; VM app hosts are
    # separate machines, which only shared storage (s3) can serve.
    default = MediaKind.VOLUME if platform is Platform.DOCKER else MediaKind.NONE
    kind = sub.choice("kind", MediaKind, default)
    url = sub.text("url", DEFAULT_MEDIA_URL) or DEFAULT_MEDIA_URL
    retain = sub.boolean("retainOnDelete", True)
    s3 = _media_s3(sub, vm_provider=vm_provider) if kind is MediaKind.S3 else None
    r.adopt(sub, "media.")

    if kind is MediaKind.VOLUME and platform is Platform.VM:
        r.problems.append(
            f"{NAMESPACE}:media.kind: 'volume' is not allowed with {NAMESPACE}:platform 'vm': "
            "a volume lives on one Docker engine, and each app host is a machine of its own, "
            "so a file stored by one would not be served by the others; use 's3' (or 'none')"
        )
    if not _MEDIA_URL.match(url):
        r.problem("media.url", url, "a path that starts and ends with '/', such as '/media/'")
        url = DEFAULT_MEDIA_URL
    elif url.startswith((STATIC_URL, "/_stack/")) or STATIC_URL.startswith(url):
        r.problem(
            "media.url",
            url,
            f"a path outside {STATIC_URL} (the static files) and /_stack/ (health checks)",
        )
        url = DEFAULT_MEDIA_URL
    if kind is not MediaKind.VOLUME and value.get("retainOnDelete") is not None:
        r.problems.append(
            f"{NAMESPACE}:media.retainOnDelete: only allowed with media.kind 'volume', "
            f"not {kind.value!r}"
        )
    if kind is MediaKind.S3 and value.get("url") is not None:
        r.problems.append(
            f"{NAMESPACE}:media.url: not allowed with media.kind 's3': the proxy serves no "
            "media, the S3 endpoint serves each object under a signed URL"
        )
    if kind is not MediaKind.S3:
        for key in MEDIA_S3_ONLY:
            if value.get(key) is not None:
                r.problems.append(
                    f"{NAMESPACE}:media.{key}: only allowed with media.kind 's3', "
                    f"not {kind.value!r}"
                )
    if s3 is not None and not s3.created_by_stack:
        s3 = _media_keys(r, s3, secret_keys=secret_keys)
    elif r.raw.get("mediaAccessKeyId") is not None or r.raw.get("mediaSecretAccessKey") is not None:
        why = (
            "the app hosts sign with their instance role (vm.provider 'aws')"
            if s3 is not None
            else f"only used with media.kind 's3', not {kind.value!r}"
        )
        r.problems.append(
            f"{NAMESPACE}:mediaAccessKeyId, mediaSecretAccessKey: not allowed here: {why}"
        )
    return MediaConfig(kind=kind, url=url, retain_on_delete=retain, s3=s3)


def _media_s3(sub: _Reader, *, vm_provider: VmProvider | None) -> S3Config:
    """`media.bucket`, `endpoint` and `region` of kind s3 (problems named under `media.`)."""
    on_ec2 = vm_provider is VmProvider.AWS
    bucket = sub.text("bucket", None)
    endpoint = sub.text("endpoint", None)
    region = sub.text("region", None)
    if on_ec2:
        # The program creates the bucket in the stack's own AWS region and account.
        for key, given in (("bucket", bucket), ("endpoint", endpoint), ("region", region)):
            if given is not None:
                sub.problems.append(
                    f"{NAMESPACE}:{key}: not allowed with vm.provider 'aws': the stack creates "
                    "its bucket (private, versioned, encrypted) in the stack's AWS region"
                )
        return S3Config(None, None, None, None, None)
    if bucket is None:
        sub.problems.append(
            f"{NAMESPACE}:bucket: required with media.kind 's3' (the name of a bucket the "
            "app's keys may read and write)"
        )
        bucket = "missing"
    elif not _BUCKET.match(bucket):
        sub.problem("bucket", bucket, "an S3 bucket name: 3 to 63 of a-z, 0-9, '.' and '-'")
    if endpoint is not None and not _ENDPOINT.match(endpoint):
        sub.problem("endpoint", endpoint, "the S3 API's URL, such as 'https://s3.example.com:9000'")
    if endpoint is None and region is None:
        sub.problems.append(
            f"{NAMESPACE}:region: required with media.kind 's3' when no media.endpoint is "
            "given (the AWS region of the bucket, such as 'eu-west-1')"
        )
    return S3Config(bucket, endpoint, region, None, None)


def _media_keys(r: _Reader, s3: S3Config, *, secret_keys: frozenset[str]) -> S3Config:
    """The access key pair of a bucket the user runs: both required, both Pulumi secrets."""
    keys: dict[str, Secret | None] = {}
    for key in MUST_BE_SECRET:
        secret = r.secret(key)
        if secret is None:
            r.problems.append(
                f"{NAMESPACE}:{key}: required with media.kind 's3' (as a secret: pulumi "
                f"config set --secret {NAMESPACE}:{key} ...)"
            )
        elif key not in secret_keys:
            # The value is a credential: never repeated in the message.
            r.problems.append(
                f"{NAMESPACE}:{key}: is set in plain text; it must be a secret, so it is "
                f"encrypted in the stack file and the state: pulumi config set --secret "
                f"{NAMESPACE}:{key} ..."
            )
            secret = None
        keys[key] = secret
    return S3Config(
        bucket=s3.bucket,
        endpoint=s3.endpoint,
        region=s3.region,
        access_key_id=keys["mediaAccessKeyId"],
        secret_access_key=keys["mediaSecretAccessKey"],
    )


def _rate_limit(r: _Reader) -> RateLimit:
    """The `rateLimit` object: each limit an integer, 0 to turn it off."""
    default = DEFAULT_RATE_LIMIT
    value = r.structured("rateLimit")
    if value is None:
        return default
    if not isinstance(value, dict):
        r.problem("rateLimit", value, "an object with keys " + ", ".join(RATE_LIMIT_KEYS))
        return default
    r.unknown_keys(value, RATE_LIMIT_KEYS, "rateLimit.")
    sub = _Reader({k: None if v is None else v for k, v in value.items()})
    rate = sub.integer("requestsPerSecond", default.requests_per_second, 0, 10_000)
    burst = sub.integer("burst", default.burst, 0, 100_000)
    connections = sub.integer("connectionsPerClient", default.connections_per_client, 0, 10_000)
    if rate == 0 and value.get("burst") not in (None, 0, "0"):
        sub.problems.append(
            f"{NAMESPACE}:burst: {value['burst']!r} is not allowed with requestsPerSecond 0 "
            "(no request limit); expected 0 or no burst"
        )
    r.adopt(sub, "rateLimit.")
    return RateLimit(
        requests_per_second=default.requests_per_second if rate is None else rate,
        burst=default.burst if burst is None else burst,
        connections_per_client=(
            default.connections_per_client if connections is None else connections
        ),
    )


def _tls(
    r: _Reader,
    *,
    production: bool,
    http_port: int,
    allowed_hosts: tuple[str, ...],
    project_dir: Path,
    aws: bool,
    platform: Platform,
) -> TlsConfig:
    """The `tls` object, `httpsPort` and `hstsMaxAge`.

    A production stack gets HTTPS unless it opts out: `self-signed` by default, so that it is
    encrypted from its first `up` with nothing to prepare, and its cookies are Secure. Browsers
    do not trust that CA, so config_warnings says so on every preview until `files` (a real
    certificate) is set; requiring `files` instead would stop every new production stack
    until a certificate exists, and leave the choice between no deployment and plain HTTP.
    A dev stack stays on plain HTTP (its URL is http://127.0.0.1:8000/).
    """
    value = r.structured("tls")
    if value is None:
        value = {}
    if not isinstance(value, dict):
        r.problem("tls", value, "an object with keys " + ", ".join(TLS_KEYS))
        value = {}
    r.unknown_keys(value, TLS_KEYS, "tls.")
    default = TlsMode.SELF_SIGNED if production else TlsMode.OFF
    given = value.get("mode")
    # YAML 1.1 (PyYAML, and many editors' idea of YAML) reads a bare `off` as false.
    if given is False or (isinstance(given, str) and given.strip().lower() == "false"):
        given = TlsMode.OFF.value
    sub = _Reader({} if given is None else {"mode": str(given)})
    mode = sub.choice("mode", TlsMode, default)
    r.adopt(sub, "tls.")
    # 443 where a production stack is reached by browsers; a dev stack's engine binds what
    # it likes, but a port over 1024 is what a user can also bind without root elsewhere.
    https_port = r.integer("httpsPort", 443 if production else 8443, 1, 65535) or 443
    # Up to two years (Mozilla's value, and what the HSTS preload list asks for).
    hsts = r.integer("hstsMaxAge", DEFAULT_HSTS_MAX_AGE, 0, 2 * DEFAULT_HSTS_MAX_AGE)
    hsts = DEFAULT_HSTS_MAX_AGE if hsts is None else hsts
    certificate: str | None = None
    key: Secret | None = None

    acme: AcmeConfig | None = None
    if mode is TlsMode.ACME:
        acme = _tls_acme(
            r, value, platform=platform, allowed_hosts=allowed_hosts, project_dir=project_dir
        )
    for name in TLS_ACME_KEYS:
        if mode is not TlsMode.ACME and value.get(name) is not None:
            r.problems.append(
                f"{NAMESPACE}:tls.{name}: only allowed with tls.mode 'acme', not {mode.value!r}"
            )
    for name in ("certificate", "key"):
        if mode is not TlsMode.FILES and value.get(name) is not None:
            r.problems.append(
                f"{NAMESPACE}:tls.{name}: only allowed with tls.mode 'files', not {mode.value!r}"
            )
    if mode is TlsMode.FILES:
        certificate = _tls_certificate(r, value.get("certificate"), project_dir)
        key_text = value.get("key")
        if not isinstance(key_text, str) or "PRIVATE KEY-----" not in key_text:
            # The value is a secret: never repeated in the message.
            r.problems.append(
                f"{NAMESPACE}:tls.key: required with tls.mode 'files': the PEM private key "
                f"('-----BEGIN ... PRIVATE KEY-----'), as a secret: pulumi config set "
                f"--secret --path {NAMESPACE}:tls.key < KEYFILE"
            )
        else:
            key = Secret(key_text)
            if certificate is not None:
                why = check_pair(chain_pem=certificate, key_pem=key_text)
                if why is not None:
                    r.problems.append(f"{NAMESPACE}:tls.key: {why}; expected the chain's key")
    if mode is not TlsMode.OFF:
        if https_port == http_port:
            r.problem(
                "httpsPort", https_port, f"a port other than {NAMESPACE}:httpPort ({http_port})"
            )
        if aws and https_port != 443:
            r.problem(
                "httpsPort",
                https_port,
                "443 with vm.provider 'aws' (the security group opens only 80 and 443)",
            )
        if mode is TlsMode.SELF_SIGNED and allowed_hosts == ("*",):
            r.problems.append(
                f"{NAMESPACE}:allowedHosts: ['*'] is not allowed with tls.mode 'self-signed'; "
                "expected the names the stack's certificate is to be made for (a certificate "
                "cannot name any host)"
            )
    return TlsConfig(
        mode=mode,
        https_port=https_port,
        hsts_max_age=hsts,
        certificate=certificate,
        key=key,
        acme=acme,
    )


def _tls_acme(
    r: _Reader,
    value: Mapping[str, Any],
    *,
    platform: Platform,
    allowed_hosts: tuple[str, ...],
    project_dir: Path,
) -> AcmeConfig | None:
    """The `tls.acme*` keys of `tls.mode: acme`."""
    if platform is not Platform.VM:
        # The certificate lives on the proxy host, renewed there by its own timer; a proxy
        # container is rebuilt from its image and has no such place (yet).
        r.problems.append(
            f"{NAMESPACE}:tls.mode: 'acme' is not allowed with {NAMESPACE}:platform "
            f"{platform.value!r}; expected platform 'vm' (given hosts or EC2), or tls.mode "
            "'self-signed' or 'files' on Docker"
        )
        return None
    sub = _Reader({k: value.get(k) for k in TLS_ACME_KEYS})
    directory = sub.text("acmeDirectory", LETS_ENCRYPT_DIRECTORY) or LETS_ENCRYPT_DIRECTORY
    if not re.fullmatch(r"https://[^\s'\"]+", directory):
        sub.problem("acmeDirectory", directory, "an https:// URL of an ACME directory")
    email = sub.text("acmeEmail", None)
    if email is not None and not _EMAIL.fullmatch(email):
        sub.problem("acmeEmail", email, "an email address (name@example.com), or no key")
    bundle = _acme_ca_bundle(sub, value.get("acmeCaBundle"), project_dir)
    r.adopt(sub, "tls.")
    domains = acme_domains(allowed_hosts)
    if not domains:
        r.problem(
            "allowedHosts",
            list(allowed_hosts),
            "with tls.mode 'acme' at least one DNS name the ACME server can reach over HTTP "
            "(HTTP-01 cannot validate '*', IP addresses or localhost)",
        )
    if sub.problems or not domains:
        return None
    return AcmeConfig(directory=directory, email=email, ca_bundle=bundle, domains=domains)


def _acme_ca_bundle(r: _Reader, given: Any, project_dir: Path) -> str | None:
    """`tls.acmeCaBundle`: PEM text, or the path of a PEM file (relative to the project)."""
    if given is None:
        return None
    expected = "PEM CA certificates: the text itself, or the path of a PEM file"
    if not isinstance(given, str) or not given.strip():
        r.problem("acmeCaBundle", given, expected)
        return None
    text = given
    if "-----BEGIN" not in given:
        path = (project_dir / given.strip()).resolve()
        if not path.is_file():
            r.problem("acmeCaBundle", given, f"{expected}; no such file")
            return None
        text = path.read_text()
    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        r.problem("acmeCaBundle", given, expected)
        return None
    return text


def _tls_certificate(r: _Reader, given: Any, project_dir: Path) -> str | None:
    """`tls.certificate`: PEM text, or the path of a PEM file (relative to the project)."""
    expected = "a PEM certificate chain, leaf first: the text itself, or the path of a PEM file"
    if not isinstance(given, str) or not given.strip():
        r.problem("tls.certificate", given, f"{expected} (required with tls.mode 'files')")
        return None
    text = given
    if "-----BEGIN" not in given:
        path = (project_dir / given.strip()).resolve()
        if not path.is_file():
            r.problem("tls.certificate", given, f"{expected}; no such file")
            return None
        text = path.read_text()
    if "-----BEGIN CERTIFICATE-----" not in text:
        r.problem("tls.certificate", given, expected)
        return None
    return text


def config_warnings(config: StackConfig) -> list[str]:
    """What a valid config still leaves undone, for the preview's output (pulumi.log.warn)."""
    warnings: list[str] = []
    if config.production and config.media.kind is MediaKind.NONE:
        warnings.append(
            f"{NAMESPACE}:media.kind is 'none' on a production stack: the stack stores no "
            "uploaded files. A project with a MEDIA_ROOT or a default file storage that writes "
            "to disk fails every upload (the replicas' root filesystem is read-only), and "
            "nothing is shared between replicas. Set media.kind 'volume' (Docker) or 's3' "
            "(any target) if the project takes uploads."
        )
    if config.production and config.tls.mode is TlsMode.SELF_SIGNED:
        warnings.append(
            f"{NAMESPACE}:tls.mode is 'self-signed' on a production stack: HTTPS works, but "
            "browsers do not trust the stack's own CA (the tlsCaCertificate output) and warn "
            "every visitor. Give the site's certificate with tls.mode 'files'."
        )
    return warnings


def _vm_host(sub: _Reader, key: str, value: Any) -> VmHost | None:
    """`address` or `{address, privateAddress}`; None (with a problem) when malformed."""
    expected = "a host name or IP address, or an object {address, privateAddress}"
    if isinstance(value, str):
        value = {"address": value}
    if not isinstance(value, dict) or set(value) - {"address", "privateAddress"}:
        sub.problem(key, value, expected)
        return None
    address = value.get("address")
    private = value.get("privateAddress", address)
    if not all(isinstance(c, str) and _HOST.match(c) and c != "*" for c in (address, private)):
        sub.problem(key, value, expected)
        return None
    return VmHost(address=str(address), private_address=str(private))


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def _ssh_allowed_from(sub: _Reader, value: Any, *, aws_cidr: str | None) -> tuple[str, ...]:
    """vm.sshAllowedFrom: networks (CIDR) the hosts' firewalls admit SSH from; by default the
    private ranges (provider hosts) or sshAllowedCidr (provider aws)."""
    if value is None:
        return (aws_cidr,) if aws_cidr else DEFAULT_SSH_ALLOWED_FROM
    expected = (
        f"a list of 1 to {MAX_SSH_ALLOWED_FROM} IPv4/IPv6 networks in CIDR form, each narrower "
        "than the whole internet, e.g. ['203.0.113.0/24', '2001:db8::/48']"
    )
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_SSH_ALLOWED_FROM:
        sub.problem("sshAllowedFrom", value, expected)
        return DEFAULT_SSH_ALLOWED_FROM
    networks = []
    for item in value:
        try:
            network = ipaddress.ip_network(item, strict=True) if isinstance(item, str) else None
        except ValueError:
            network = None
        if network is None or network.prefixlen == 0:
            sub.problem("sshAllowedFrom", item, expected)
            return DEFAULT_SSH_ALLOWED_FROM
        networks.append(str(network))
    return tuple(networks)


def _vm(r: _Reader, *, platform: Platform) -> VmConfig | None:
    """The `vm` object and `sshPrivateKey`, for `platform: vm` only."""
    value = r.structured("vm")
    if platform is not Platform.VM:
        for key in ("vm", "sshPrivateKey"):
            if r.raw.get(key) is not None:
                r.problems.append(f"{NAMESPACE}:{key}: only allowed with {NAMESPACE}:platform 'vm'")
        return None
    if value is None:
        value = {}
    if not isinstance(value, dict):
        r.problem("vm", value, "an object with keys " + ", ".join(VM_KEYS))
        value = {}
    r.unknown_keys(value, VM_KEYS, "vm.")
    scalars = {
        k: None if v is None else str(v)
        for k, v in value.items()
        if k in VM_KEYS and not isinstance(v, list | dict)
    }
    sub = _Reader(scalars)
    provider = sub.choice("provider", VmProvider, VmProvider.HOSTS)
    # Debian's cloud images log in as `admin`; existing machines often do too.
    ssh_user = sub.text("sshUser", "admin") or "admin"
    ssh_port = sub.integer("sshPort", 22, 1, 65535) or 22
    instance_type = sub.text("instanceType", "t3.small") or "t3.small"
    region = sub.text("region", None)
    ssh_public_key = sub.text("sshPublicKey", None)
    cidr = sub.text("sshAllowedCidr", None)

    proxy_host: VmHost | None = None
    database_host: VmHost | None = None
    app_hosts: list[VmHost] = []
    wrong_source = VM_AWS_ONLY if provider is VmProvider.HOSTS else VM_HOSTS_ONLY
    for key in wrong_source:
        if value.get(key) is not None:
            sub.problems.append(
                f"{NAMESPACE}:{key}: only allowed with vm.provider "
                f"'{'aws' if provider is VmProvider.HOSTS else 'hosts'}', not '{provider.value}'"
            )
    if provider is VmProvider.HOSTS:
        if value.get("proxyHost") is None:
            sub.problems.append(f"{NAMESPACE}:proxyHost: required with vm.provider 'hosts'")
        else:
            proxy_host = _vm_host(sub, "proxyHost", value["proxyHost"])
        given = value.get("appHosts")
        if not isinstance(given, list) or not given or len(given) > 100:
            sub.problem("appHosts", given, "a list of 1 to 100 app hosts (addresses or objects)")
        else:
            app_hosts = [h for h in (_vm_host(sub, "appHosts", v) for v in given) if h]
            addresses = [h.address for h in app_hosts]
            if len(set(addresses)) != len(addresses):
                sub.problem("appHosts", given, "each app host listed once")
        if value.get("databaseHost") is not None:
            database_host = _vm_host(sub, "databaseHost", value["databaseHost"])
    else:
        if cidr is None:
            sub.problems.append(
                f"{NAMESPACE}:sshAllowedCidr: required with vm.provider 'aws' "
                "(the only addresses SSH is opened to, e.g. 203.0.113.7/32)"
            )
        else:
            try:
                network = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                network = None
            if network is None or network.prefixlen == 0:
                sub.problem(
                    "sshAllowedCidr",
                    cidr,
                    "an IPv4/IPv6 network narrower than the whole internet, e.g. 203.0.113.7/32",
                )
                cidr = None
        if ssh_public_key is None or not ssh_public_key.startswith(("ssh-", "ecdsa-")):
            sub.problem(
                "sshPublicKey",
                ssh_public_key,
                "the OpenSSH public key of sshPrivateKey "
                "(ssh-ed25519 AAAA... or ssh-rsa AAAA...), for the EC2 key pair",
            )
    ssh_allowed_from = _ssh_allowed_from(sub, value.get("sshAllowedFrom"), aws_cidr=cidr)
    if provider is VmProvider.HOSTS:
        for key, host in (
            ("proxyHost", proxy_host),
            ("databaseHost", database_host),
            *(("appHosts", h) for h in app_hosts),
        ):
            if host is not None and not _is_ip(host.private_address):
                sub.problem(
                    key,
                    host.private_address,
                    "an IP address as its privateAddress (the address itself when it has "
                    "none): the app servers listen on it and the firewalls admit it by address",
                )
    r.adopt(sub, "vm.")

    private_key = r.secret("sshPrivateKey")
    if private_key is None:
        r.problems.append(
            f"{NAMESPACE}:sshPrivateKey: required with {NAMESPACE}:platform 'vm' (as a secret: "
            f"pulumi config set --secret {NAMESPACE}:sshPrivateKey < KEYFILE)"
        )
        private_key = Secret("")
    elif "PRIVATE KEY-----" not in private_key.value:
        r.problems.append(
            f"{NAMESPACE}:sshPrivateKey: not a PEM/OpenSSH private key "
            "(expected the contents of a key file, '-----BEGIN ... PRIVATE KEY-----')"
        )
    return VmConfig(
        provider=provider,
        ssh_user=ssh_user,
        ssh_port=ssh_port,
        ssh_private_key=private_key,
        ssh_allowed_from=ssh_allowed_from,
        proxy_host=proxy_host,
        app_hosts=tuple(app_hosts),
        database_host=database_host,
        ssh_allowed_cidr=cidr,
        ssh_public_key=ssh_public_key,
        instance_type=instance_type,
        region=region,
    )


def _namespace_values() -> dict[str, Any]:
    """Every `django-stack:*` config value the engine passed, keyed without the namespace."""
    merged: dict[str, Any] = dict(pulumi.runtime.get_config_env())
    merged.update(pulumi.runtime.config.CONFIG.get())
    prefix = NAMESPACE + ":"
    return {k[len(prefix) :]: v for k, v in merged.items() if k.startswith(prefix)}


def read_stack_config(*, project_dir: Path, stack: str | None = None) -> StackConfig:
    """Read and validate this stack's configuration from the Pulumi engine."""
    return parse_stack_config(
        _namespace_values(),
        stack=stack or pulumi.get_stack(),
        project_dir=project_dir,
        secret_keys=_secret_keys(),
    )


def _secret_keys() -> set[str]:
    """The `django-stack:*` keys the engine passed as secrets, without the namespace."""
    prefix = NAMESPACE + ":"
    given = set(pulumi.runtime.get_config_env()) | set(pulumi.runtime.config.CONFIG.get())
    secret = set(pulumi.runtime.config.get_config_secret_keys_env())
    return {
        k[len(prefix) :]
        for k in given
        if k.startswith(prefix) and (k in secret or pulumi.runtime.config.is_config_secret(k))
    }
