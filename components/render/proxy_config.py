"""Renders the reverse proxy's config: nginx.conf or Apache's httpd.conf.

Both list every replica as a member of one load-balanced group, pass requests with the app
server's own protocol, fail over passively, serve `/static/` from the proxy's disk and, with a
media volume, the uploaded files under `MEDIA_URL` from it (components/render/media.py). Both
are the stack's edge: they answer a Host that is not allowed, a body over the limit and a
client too slow to send its request themselves, and tell Django the client's address and
scheme in headers they set (never ones a client sent). With `tls`, they terminate HTTPS with
Mozilla's intermediate profile (components/render/tls.py), send HSTS over it, and plain HTTP
only redirects there (the stack's health check aside).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from components.choices import Proxy, UpstreamProtocol
from components.render.app_server_config import APP_PORT, PROXY_IDLE_TIMEOUT_SECONDS
from components.render.host_names import (
    any_host,
    apache_server_names,
    check_allowed_hosts,
    nginx_server_names,
)
from components.render.media import (
    DOWNLOAD_TYPE,
    INLINE_MEDIA_TYPES,
    MB,
    MEDIA_FILES,
)
from components.render.templates import render_template
from components.render.tls import CURVES, TLS12_CIPHERS
from components.tuning import apache_event_processes, proxy_worker_connections, upstream_keepalive

PROXY_PORT = 8080
# The path of ACME's HTTP-01 challenge files (RFC 8555 8.3).
ACME_CHALLENGE_PATH = "/.well-known/acme-challenge/"
# Inside the proxy container the TLS listener's port (Docker publishes httpsPort onto it).
PROXY_TLS_PORT = 8443
STATIC_URL = "/static/"
STATIC_ROOT = "/srv/static"
CONFIG_DIR = "/etc/django-stack"
# A replica that failed is left alone this long before it is tried again.
FAIL_TIMEOUT_SECONDS = 10
# The VM target's proxy reads its upstream group's members from a file of their own, so one
# app host can be taken out of the rotation (and put back) by rewriting that file alone and
# reloading, whatever else the config says (components/vm/app_host.py).
UPSTREAM_MEMBERS_FILE = f"{CONFIG_DIR}/upstream-members.conf"
# Slow clients: a request header must be in within CLIENT_HEADER_TIMEOUT_SECONDS, and a body
# may not pause longer than CLIENT_BODY_TIMEOUT_SECONDS (Apache: must keep coming at
# MIN_CLIENT_RATE); the proxy ends the connection otherwise. Apache gives each connection a
# thread while it reads the request, so a flood of slow clients larger than its threads (256
# at least, components/tuning.py) makes everyone else wait up to the header timeout for one:
# 5 s, as nginx's own advice against slow clients, not Apache's default 20 (a browser sends
# its whole header at once). Bodies get the 10 s of the CIS benchmark for nginx: an upload
# on a poor link pauses more than a header.
# https://www.nginx.com/blog/mitigating-ddos-attacks-with-nginx-and-nginx-plus/
# https://httpd.apache.org/docs/2.4/mod/mod_reqtimeout.html
CLIENT_HEADER_TIMEOUT_SECONDS = 5
CLIENT_BODY_TIMEOUT_SECONDS = 10
# Bytes per second a client must keep sending to get more time (Apache's documented value).
MIN_CLIENT_RATE = 500
# Static files: Django's ManifestStaticFilesStorage names a copy of each file after its
# content (`site.0123456789ab.css`), which therefore never changes: cached for a year and
# never revalidated. Any other name may change with the next deploy: an hour.
# https://docs.djangoproject.com/en/5.2/ref/contrib/staticfiles/#manifeststaticfilesstorage
# A precompressed copy (`.gz`, below) is named after the file and cached the same way.
HASHED_STATIC_NAME = r"\.[0-9a-f]{12}(\.[A-Za-z0-9]+)?(\.gz)?$"
HASHED_STATIC_CACHE = "public, max-age=31536000, immutable"
STATIC_CACHE = "public, max-age=3600"
# Compression: gzip of what the proxy serves from its own disk (the static files), never of
# Django's responses. A response that carries a secret (a CSRF token, a user's data) beside
# text a third party can put into it (a query string echoed back) gives the secret away
# through its compressed size (BREACH: https://www.breachattack.com/); static files carry no
# secret, so compressing them is safe, and they are most of the bytes. A project that wants
# its pages compressed adds Django's GZipMiddleware, which pads each response against that
# since Django 4.2. https://docs.djangoproject.com/en/5.2/ref/middleware/#module-django.middleware.gzip
# The types compressed on the fly (images, fonts in woff2 and archives are compressed
# already). Both spellings of JavaScript: nginx's mime.types and Debian's /etc/mime.types
# (Apache) name it differently.
COMPRESSED_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "image/svg+xml",
    "application/xml",
    "text/xml",
    "text/plain",
    "text/html",
)
# The files collectstatic's output gets a precompressed `<name>.gz` of, at build time
# (templates/django/django_stack_precompress.py keeps the same list): text, of the types above.
PRECOMPRESSED_EXTENSIONS = (".css", ".js", ".mjs", ".json", ".svg", ".xml", ".txt", ".html")
# Smaller bodies gain less than the header costs.
GZIP_MIN_BYTES = 256
# On the fly, once per request: a middle level (nginx's default is 1, zlib's 6); the
# precompressed copies are made once, at 9 (templates/django/django_stack_precompress.py).
GZIP_LEVEL = 5


# Per-client limits (the `rateLimit` key), keyed on the address the connection comes from.
# The defaults leave ordinary browsing far below them: a page view is one request to Django
# (the static files it loads are not counted), and a browser opens at most 6 connections to a
# site; an office or a mobile carrier's NAT puts many people behind one address, hence the
# room. A client over the request rate gets 429 until it slows down; one over its connections
# gets 429 (nginx) or its extra connections closed (Apache).
DEFAULT_REQUESTS_PER_SECOND = 20
DEFAULT_BURST = 100
DEFAULT_CONNECTIONS_PER_CLIENT = 128
# Apache's mod_qos counts a client's requests per window and refuses it for the rest of the
# window once over (nginx's leaky bucket has no window): a window of this many seconds lets
# through the rate times the window, plus the burst.
APACHE_RATE_WINDOW_SECONDS = 10
# What both proxies answer a client over its limits (RFC 6585, 4).
TOO_MANY_REQUESTS = 429


@dataclass(frozen=True)
class RateLimit:
    """Per-client (per source address) limits; 0 turns one off."""

    requests_per_second: int = DEFAULT_REQUESTS_PER_SECOND
    """Requests to Django a client may make per second, on average."""
    burst: int = DEFAULT_BURST
    """Requests a client may make at once above that rate."""
    connections_per_client: int = DEFAULT_CONNECTIONS_PER_CLIENT
    """nginx: requests of one client in progress at once; Apache: its open connections,
    idle keep-alive ones and, for a moment, ones it is closing (its lingering close)."""

    def __post_init__(self) -> None:
        for name, high in (
            ("requests_per_second", 10_000),
            ("burst", 100_000),
            ("connections_per_client", 10_000),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= high:
                raise ValueError(f"{name} must be an integer from 0 to {high}: {value!r}")

    @property
    def apache_window_limit(self) -> int:
        """Requests mod_qos lets a client make per APACHE_RATE_WINDOW_SECONDS."""
        return self.requests_per_second * APACHE_RATE_WINDOW_SECONDS + self.burst


DEFAULT_RATE_LIMIT = RateLimit()
NO_RATE_LIMIT = RateLimit(requests_per_second=0, burst=0, connections_per_client=0)


@dataclass(frozen=True)
class Upstream:
    """One app server replica as the proxy reaches it."""

    host: str
    port: int = APP_PORT


@dataclass(frozen=True)
class ProxyTls:
    """The proxy's HTTPS listener."""

    listen_port: int
    """Where the proxy listens for HTTPS."""
    public_port: int
    """The port clients reach it on (what the plain-HTTP redirect names)."""
    certificate_file: str
    """The PEM chain, leaf first."""
    key_file: str
    """The PEM key."""
    hsts_max_age: int
    """Strict-Transport-Security's max-age in seconds (0: the header tells browsers to
    forget it)."""
    ocsp_stapling: bool
    """Staple the CA's OCSP answer: only for a CA that has a responder (not the stack's own)."""
    acme_webroot: str | None = None
    """`tls.mode: acme`: the directory whose `/.well-known/acme-challenge/` plain HTTP serves
    (certbot's webroot) before its redirect; None: every plain-HTTP request redirects."""
    nginx_http2_directive: bool = True
    """nginx 1.25.1 and later (Debian 13) say `http2 on;`; 1.22 (Debian 12) only knows
    `listen ... http2`, which the later ones warn about.
    https://nginx.org/en/docs/http/ngx_http_v2_module.html#http2"""

    def __post_init__(self) -> None:
        if not 0 <= self.hsts_max_age <= 2 * 63072000:
            raise ValueError(f"hsts_max_age must be 0 to two years: {self.hsts_max_age!r}")
        paths = (
            self.certificate_file,
            self.key_file,
            *((self.acme_webroot,) if self.acme_webroot else ()),
        )
        for path in paths:
            if not re.fullmatch(r"/[A-Za-z0-9._/-]+", path):
                raise ValueError(f"a TLS file must be an absolute plain path: {path!r}")

    @property
    def hsts(self) -> str:
        """The Strict-Transport-Security value."""
        return f"max-age={self.hsts_max_age}"

    @property
    def port_suffix(self) -> str:
        """`:port` in an https:// URL, empty for 443."""
        return "" if self.public_port == 443 else f":{self.public_port}"


@dataclass(frozen=True)
class ProxySettings:
    """What the proxy is told."""

    proxy: Proxy
    protocol: UpstreamProtocol
    upstreams: tuple[Upstream, ...]
    workers_per_upstream: int
    threads_per_worker: int
    timeout_seconds: int
    # Django's ALLOWED_HOSTS patterns: any other Host is answered by the proxy (421).
    allowed_hosts: tuple[str, ...]
    # The largest request body passed on, in MiB; a larger one is answered 413, and Django's
    # upload limits follow it (components/render/media.py).
    max_body_mb: int
    listen_port: int = PROXY_PORT
    client_header_timeout_seconds: int = CLIENT_HEADER_TIMEOUT_SECONDS
    client_body_timeout_seconds: int = CLIENT_BODY_TIMEOUT_SECONDS
    static_url: str = STATIC_URL
    static_root: str = STATIC_ROOT
    # "auto" = one nginx worker per CPU the proxy may use.
    worker_processes: str = "auto"
    upstream_keepalive: bool = True
    # False only for Django's runserver, which serves static files itself.
    serve_static: bool = True
    # None: logs go to the process's stdout/stderr (a container's log). A tag: the access
    # and error logs go to the local syslog socket (systemd's journal) under it, because a
    # systemd unit's stdout is a socket, which /dev/stdout and /proc/self/fd/1 cannot open.
    syslog_tag: str | None = None
    # None: no uploaded files to serve. A path: Django's MEDIA_URL, served from media_root.
    media_url: str | None = None
    media_root: str = MEDIA_FILES
    rate_limit: RateLimit = DEFAULT_RATE_LIMIT
    # None: plain HTTP only. Else HTTPS on its own port, and plain HTTP redirects there.
    tls: ProxyTls | None = None
    # None: the upstream group's members are in the config itself (Docker). A path: the
    # config includes them from there (render_upstream_members writes that file).
    upstream_members_file: str | None = None

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ValueError("a proxy needs at least one upstream")
        check_allowed_hosts(self.allowed_hosts)
        if not 1 <= self.max_body_mb <= 1024:
            raise ValueError(f"max_body_mb must be 1 to 1024: {self.max_body_mb!r}")
        for name in ("static_url", "media_url"):
            url = getattr(self, name)
            if url is not None and not (url.startswith("/") and url.endswith("/")):
                raise ValueError(f"{name} must start and end with '/': {url!r}")
        # nginx allows letters, digits and underscores in a syslog tag.
        tag = self.syslog_tag
        if tag is not None and not re.fullmatch(r"[A-Za-z0-9_]{1,32}", tag):
            raise ValueError(f"syslog_tag must be letters, digits, underscores: {tag!r}")


def config_file_name(proxy: Proxy) -> str:
    """The config file's name on the proxy."""
    return {Proxy.NGINX: "nginx.conf", Proxy.APACHE: "httpd.conf"}[proxy]


def config_file_path(proxy: Proxy) -> str:
    """Where the config file sits on the proxy."""
    return f"{CONFIG_DIR}/{config_file_name(proxy)}"


def proxy_command(proxy: Proxy) -> list[str]:
    """The command that runs the proxy in the foreground with its rendered config."""
    if proxy is Proxy.NGINX:
        return ["nginx", "-c", config_file_path(proxy), "-g", "daemon off;"]
    return ["apache2", "-f", config_file_path(proxy), "-DFOREGROUND"]


def render_proxy_config(settings: ProxySettings) -> str:
    """The config file for the chosen proxy."""
    if settings.proxy is Proxy.NGINX:
        return render_nginx_conf(settings)
    return render_apache_conf(settings)


def _tries(settings: ProxySettings) -> int:
    return len(settings.upstreams)


def max_body_bytes(max_body_mb: int) -> int:
    """The body limit in bytes: nginx's `m` is a MiB, and so is Django's limit set from it."""
    return max_body_mb * MB


def _static(settings: ProxySettings, template: str) -> str:
    """The block that serves `static_url` from the proxy's disk, or nothing."""
    if not settings.serve_static:
        return ""
    values = {
        "static_url": settings.static_url,
        "static_root": settings.static_root,
        "static_cache": STATIC_CACHE,
        "hashed_static_cache": HASHED_STATIC_CACHE,
        "hashed_static_name": HASHED_STATIC_NAME,
        "compressed_types": " ".join(COMPRESSED_TYPES),
        "gzip_min_bytes": GZIP_MIN_BYTES,
        "gzip_level": GZIP_LEVEL,
        "precompressed_extensions": "|".join(e.lstrip(".") for e in PRECOMPRESSED_EXTENSIONS),
        # add_header in a location replaces the server's: nginx's files need their own.
        "hsts": _nginx_hsts(settings, "            "),
    }
    return render_template(template, values).rstrip("\n")


def _media(settings: ProxySettings, template: str, values: dict[str, str]) -> str:
    """The block that serves `media_url` from the media volume, or nothing."""
    if settings.media_url is None:
        return ""
    common = {
        "media_url": settings.media_url,
        "media_root": settings.media_root,
        "download_type": DOWNLOAD_TYPE,
        "hsts": _nginx_hsts(settings, "            "),
    }
    return render_template(template, {**common, **values}).rstrip("\n")


def _nginx_tls_listen(tls: ProxyTls, default_server: str) -> str:
    """The `listen` line of a TLS server (and `http2 on;` where nginx has it)."""
    if tls.nginx_http2_directive:
        return f"        listen {tls.listen_port} ssl{default_server};\n        http2 on;"
    return f"        listen {tls.listen_port} ssl http2{default_server};"


def _nginx_hsts(settings: ProxySettings, indent: str) -> str:
    """HSTS over TLS only: on plain HTTP browsers ignore it (RFC 6797, 8.1)."""
    if settings.tls is None:
        return ""
    value = settings.tls.hsts
    return f'{indent}add_header Strict-Transport-Security "{value}" always;'


def _apache_vhost_tls(settings: ProxySettings, *, hsts: bool) -> str:
    if settings.tls is None:
        return ""
    lines = ["    SSLEngine on"]
    if hsts:
        # `unset` drops Django's own header (passed on with the response), so there is one.
        lines += [
            "    Header unset Strict-Transport-Security",
            f'    Header always set Strict-Transport-Security "{settings.tls.hsts}"',
        ]
    return "\n".join(lines)


def _unknown_host(settings: ProxySettings, template: str) -> str:
    """The default server that answers every Host not allowed, or nothing when all are."""
    if any_host(settings.allowed_hosts):
        return ""
    if settings.proxy is Proxy.NGINX:
        listen = f"        listen {settings.listen_port} default_server;"
        if settings.tls is not None:
            listen += "\n" + _nginx_tls_listen(settings.tls, " default_server")
        return render_template(template, {"listen": listen})
    blocks = [render_template(template, {"listen_port": settings.listen_port, "vhost_tls": ""})]
    if settings.tls is not None:
        blocks.append(
            render_template(
                template,
                {
                    "listen_port": settings.tls.listen_port,
                    "vhost_tls": _apache_vhost_tls(settings, hsts=False),
                },
            )
        )
    return "\n".join(blocks)


# The lines that staple the CA's OCSP answer to the certificate, per proxy: only for a CA of
# the user's (`files`), as the stack's own CA has no responder to ask.
# https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_stapling
# https://httpd.apache.org/docs/2.4/mod/mod_ssl.html#sslusestapling
OCSP_STAPLING = {
    Proxy.NGINX: (
        "    # The CA's OCSP answer, sent with the certificate (a CA of the user's).",
        "    ssl_stapling on;",
        "    ssl_stapling_verify on;",
    ),
    Proxy.APACHE: (
        "# The CA's OCSP answer, sent with the certificate (a CA of the user's).",
        "SSLUseStapling On",
        'SSLStaplingCache "shmcb:/tmp/apache2-ocsp-cache(128000)"',
    ),
}


def _acme_challenge(tls: ProxyTls, template: str) -> str:
    """The plain-HTTP server's ACME challenge files (tls.mode acme), or nothing."""
    if tls.acme_webroot is None:
        return ""
    return render_template(
        template, {"challenge_path": ACME_CHALLENGE_PATH, "webroot": tls.acme_webroot}
    ).rstrip("\n")


def _tls(settings: ProxySettings) -> str:
    """The proxy's TLS block (templates/<proxy>/tls.conf), or nothing without TLS."""
    tls = settings.tls
    if tls is None:
        return ""
    return render_template(
        f"{settings.proxy.value}/tls.conf",
        {
            "certificate_file": tls.certificate_file,
            "key_file": tls.key_file,
            "curves": ":".join(CURVES),
            "ciphers": ":".join(TLS12_CIPHERS),
            "ocsp_stapling": "\n".join(OCSP_STAPLING[settings.proxy]) if tls.ocsp_stapling else "",
        },
    ).rstrip("\n")


def render_upstream_members(
    settings: ProxySettings, *, out_of_rotation: Collection[str] = ()
) -> str:
    """The upstream group's members, one line each; the hosts `out_of_rotation` are kept in
    the group but get no request (nginx `down`, Apache's member status `D`, disabled), so a
    graceful reload sends nothing new to them while the others serve on."""
    hosts = [u.host for u in settings.upstreams]
    unknown = sorted(set(out_of_rotation) - set(hosts))
    if unknown:
        raise ValueError(f"out_of_rotation names no upstream: {unknown!r} (upstreams {hosts!r})")
    if out_of_rotation and set(out_of_rotation) >= set(hosts):
        raise ValueError(f"at least one upstream must stay in the rotation: {hosts!r}")
    if settings.proxy is Proxy.NGINX:
        # `down`: "marks the server as permanently unavailable".
        # https://nginx.org/en/docs/http/ngx_http_upstream_module.html#server
        return "".join(
            f"        server {u.host}:{u.port} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECONDS}s"
            + (" down" if u.host in out_of_rotation else "")
            + ";\n"
            for u in settings.upstreams
        )
    if settings.protocol is UpstreamProtocol.HTTP:
        scheme = "http"
        # Reuse backend connections, but drop them before the app server's keepalive ends.
        options = f"ttl={PROXY_IDLE_TIMEOUT_SECONDS - 5} addressttl=-1"
    else:
        scheme, options = "uwsgi", "addressttl=-1"
    # addressttl=-1: resolve each member's name once and keep the address, as nginx does.
    # mod_proxy_uwsgi answers a failed DNS lookup (a stopped container's name) with 500
    # instead of failing over. status=+D: "Worker is disabled and will not accept any
    # requests"; without BalancerPersist a graceful restart takes it from the config.
    # https://httpd.apache.org/docs/2.4/mod/mod_proxy.html#proxypass
    return "".join(
        f'    BalancerMember "{scheme}://{u.host}:{u.port}" retry={FAIL_TIMEOUT_SECONDS} '
        f"connectiontimeout=5 timeout={settings.timeout_seconds} {options}"
        + (" status=+D" if u.host in out_of_rotation else "")
        + "\n"
        for u in settings.upstreams
    )


def _members_or_include(settings: ProxySettings, include: str) -> str:
    """The members in the config, or the line that includes them from their own file."""
    if settings.upstream_members_file is None:
        return render_upstream_members(settings).rstrip("\n")
    return include.format(file=settings.upstream_members_file)


def render_nginx_conf(settings: ProxySettings) -> str:
    """nginx.conf: an upstream group of every replica, `/static/` from disk."""
    servers = _members_or_include(settings, "        include {file};")
    capacity = {
        "replicas": len(settings.upstreams),
        "workers": settings.workers_per_upstream,
        "threads": settings.threads_per_worker,
    }
    # The uwsgi protocol closes its connection after every request, so only HTTP upstreams
    # get a keepalive pool. https://nginx.org/en/docs/http/ngx_http_upstream_module.html#keepalive
    keepalive = ""
    if settings.upstream_keepalive and settings.protocol is UpstreamProtocol.HTTP:
        keepalive = (
            f"        keepalive {upstream_keepalive(**capacity)};\n"
            f"        keepalive_timeout {PROXY_IDLE_TIMEOUT_SECONDS}s;"
        )
    pass_template = {
        UpstreamProtocol.HTTP: "nginx/pass-http.conf",
        UpstreamProtocol.UWSGI: "nginx/pass-uwsgi.conf",
    }[settings.protocol]
    upstream_pass = render_template(
        pass_template, {"timeout": settings.timeout_seconds, "tries": _tries(settings)}
    ).rstrip("\n")
    # With every Host allowed there is no other server: this one is the default.
    default = " default_server" if any_host(settings.allowed_hosts) else ""
    redirect = ""
    if settings.tls is None:
        app_listen = f"        listen {settings.listen_port}{default};"
    else:
        app_listen = _nginx_tls_listen(settings.tls, default)
        redirect = render_template(
            "nginx/redirect.conf",
            {
                "listen_port": settings.listen_port,
                "default_server": default,
                "server_names": nginx_server_names(settings.allowed_hosts),
                "upstream_pass": upstream_pass,
                "port_suffix": settings.tls.port_suffix,
                "acme_challenge": _acme_challenge(settings.tls, "nginx/acme-challenge.conf"),
            },
        )
    return render_template(
        "nginx/nginx.conf",
        {
            **_nginx_rate_limit(settings.rate_limit),
            "worker_processes": settings.worker_processes,
            "worker_connections": proxy_worker_connections(**capacity),
            "upstream_servers": servers,
            "upstream_keepalive": keepalive,
            "worker_rlimit_nofile": 2 * proxy_worker_connections(**capacity),
            "max_body_mb": settings.max_body_mb,
            "client_header_timeout": settings.client_header_timeout_seconds,
            "client_body_timeout": settings.client_body_timeout_seconds,
            "hashed_static_name": HASHED_STATIC_NAME,
            "hashed_static_cache": HASHED_STATIC_CACHE,
            "static_cache": STATIC_CACHE,
            "unknown_host_server": _unknown_host(settings, "nginx/unknown-host.conf"),
            "redirect_server": redirect,
            "app_listen": app_listen,
            "tls": _tls(settings),
            "hsts": _nginx_hsts(settings, "        "),
            "server_names": nginx_server_names(settings.allowed_hosts),
            "static_location": _static(settings, "nginx/static.conf"),
            "media_map": _media(settings, "nginx/media-map.conf", {}),
            "media_location": _media(
                settings,
                "nginx/media.conf",
                {
                    "inline_types": "\n".join(
                        f"                {media_type} {' '.join(extensions)};"
                        for media_type, extensions in INLINE_MEDIA_TYPES.items()
                    ),
                },
            ),
            "upstream_pass": upstream_pass,
            # https://nginx.org/en/docs/syslog.html
            "access_log": f"syslog:server=unix:/dev/log,tag={settings.syslog_tag},nohostname"
            if settings.syslog_tag
            else "/dev/stdout",
            # One write per 64 KB or per second instead of one per request: unbuffered, the
            # container's log (Docker copies every write) cost 30% of the proxied rate
            # (docs/benchmarks.md). nginx cannot buffer syslog, which is a datagram per line.
            # https://nginx.org/en/docs/http/ngx_http_log_module.html#access_log
            "access_log_buffer": "" if settings.syslog_tag else " buffer=64k flush=1s",
        },
    )


def _nginx_rate_limit(limit: RateLimit) -> dict[str, str]:
    """The zones (http level), the connection limit (the server) and the request limit
    (Django's location only): https://nginx.org/en/docs/http/ngx_http_limit_req_module.html
    and https://nginx.org/en/docs/http/ngx_http_limit_conn_module.html"""
    zones: list[str] = []
    connection_limit = request_limit = ""
    if limit.requests_per_second:
        zones += [
            "    # A client's requests to Django: a bucket of `burst` that refills at the rate.",
            "    # 10 MB of 64-byte states: 160,000 addresses at once.",
            f"    limit_req_zone $binary_remote_addr zone=django_stack_requests:10m "
            f"rate={limit.requests_per_second}r/s;",
            f"    limit_req_status {TOO_MANY_REQUESTS};",
        ]
        # nodelay: a burst within the bucket is served at once, not spread out over time.
        request_limit = (
            f"            limit_req zone=django_stack_requests burst={limit.burst} nodelay;"
        )
    if limit.connections_per_client:
        zones += [
            "    # A client's requests in progress at once (an idle keep-alive connection, or one",
            "    # still sending its header, is not counted: the header timeout cuts those).",
            "    limit_conn_zone $binary_remote_addr zone=django_stack_connections:10m;",
            f"    limit_conn_status {TOO_MANY_REQUESTS};",
        ]
        connection_limit = (
            f"        limit_conn django_stack_connections {limit.connections_per_client};"
        )
    return {
        "rate_limit_zones": "\n".join(zones),
        "connection_limit": connection_limit,
        "request_limit": request_limit,
    }


def _apache_rate_limit(limit: RateLimit, settings: ProxySettings) -> str:
    """mod_qos's per-client limits (Debian's libapache2-mod-qos), server-wide: it keeps them
    per server, not per name-based VirtualHost. https://mod-qos.sourceforge.net/"""
    if not (limit.requests_per_second or limit.connections_per_client):
        return ""
    lines = [
        "LoadModule qos_module /usr/lib/apache2/modules/mod_qos.so",
        "# A request over a limit is answered 429, as nginx does (mod_qos's default is 500).",
        f"QS_ErrorResponseCode {TOO_MANY_REQUESTS}",
    ]
    if limit.connections_per_client:
        lines += [
            "# A client's open TCP connections (idle keep-alive ones too): one more is closed",
            "# by mod_qos at once (it may answer 500 first: it refuses at connection level).",
            f"QS_SrvMaxConnPerIP {limit.connections_per_client}",
        ]
    if limit.requests_per_second:
        exempt = "|".join(
            re.escape(url) for url in (settings.static_url, settings.media_url) if url is not None
        )
        lines += [
            "# A client's requests to Django, counted per window; once over, it is refused for",
            "# the rest of the window (components/render/proxy_config.py). Static and media files",
            "# are not counted: a page loads many, and the proxy serves them from its disk.",
            f'SetEnvIf Request_URI "^(?!{exempt})" django_stack_request=1',
            f"QS_ClientEventLimitCount {limit.apache_window_limit} "
            f"{APACHE_RATE_WINDOW_SECONDS} django_stack_request",
        ]
    return "\n".join(lines)


def render_apache_conf(settings: ProxySettings) -> str:
    """httpd.conf: a mod_proxy_balancer group of every replica, `/static/` from disk."""
    if settings.protocol is UpstreamProtocol.HTTP:
        scheme, module = "http", "proxy_http_module"
        forwarded_for = (
            "    # mod_proxy_http adds the client's address to X-Forwarded-For itself, after any\n"
            "    # list the client sent: drop that first, so the address is the only value.\n"
            "    # https://httpd.apache.org/docs/2.4/mod/mod_proxy.html#x-headers\n"
            "    RequestHeader unset X-Forwarded-For"
        )
    else:
        scheme, module = "uwsgi", "proxy_uwsgi_module"
        forwarded_for = (
            "    # mod_proxy_uwsgi passes the request's headers on and adds none of its own.\n"
            "    # https://httpd.apache.org/docs/2.4/mod/mod_headers.html#requestheader\n"
            '    RequestHeader set X-Forwarded-For "expr=%{REMOTE_ADDR}"'
        )
    members = _members_or_include(settings, '    Include "{file}"')
    server_name, aliases = apache_server_names(settings.allowed_hosts)
    threads_per_child, server_limit = apache_event_processes(
        replicas=len(settings.upstreams),
        workers=settings.workers_per_upstream,
        threads=settings.threads_per_worker,
    )
    redirect = ""
    if settings.tls is not None:
        redirect = render_template(
            "apache/redirect.conf",
            {
                "listen_port": settings.listen_port,
                "server_name": server_name,
                "server_alias": f"    ServerAlias {' '.join(aliases)}" if aliases else "",
                "port_suffix": settings.tls.port_suffix,
                "forwarded_for": forwarded_for,
                "acme_rewrite_condition": (
                    f'    RewriteCond "%{{REQUEST_URI}}" "!^{re.escape(ACME_CHALLENGE_PATH)}"'
                    if settings.tls.acme_webroot
                    else ""
                ),
                "acme_challenge": _acme_challenge(settings.tls, "apache/acme-challenge.conf"),
            },
        )
    return render_template(
        "apache/httpd.conf",
        {
            "rate_limit": _apache_rate_limit(settings.rate_limit, settings),
            "listen_port": settings.listen_port,
            "tls_listen": f"Listen {settings.tls.listen_port}" if settings.tls else "",
            "tls": _tls(settings),
            "redirect_vhost": redirect,
            "app_port": settings.tls.listen_port if settings.tls else settings.listen_port,
            "vhost_tls": _apache_vhost_tls(settings, hsts=True),
            # Set by the proxy from the listener, replacing whatever a client sent.
            "scheme": "https" if settings.tls else "http",
            "proxy_module": module,
            "proxy_module_file": f"mod_proxy_{scheme}.so",
            "timeout": settings.timeout_seconds,
            # Every process from the start, so a burst of connections spreads over all of them
            # instead of filling the first (components/tuning.py says why that matters).
            "start_servers": server_limit,
            "server_limit": server_limit,
            "threads_per_child": threads_per_child,
            "max_request_workers": server_limit * threads_per_child,
            "max_body_bytes": max_body_bytes(settings.max_body_mb),
            "header_timeout": settings.client_header_timeout_seconds,
            # A client still sending at MinRate may take twice as long, never more.
            "header_timeout_max": 2 * settings.client_header_timeout_seconds,
            "body_timeout": settings.client_body_timeout_seconds,
            "min_rate": MIN_CLIENT_RATE,
            "unknown_host_vhost": _unknown_host(settings, "apache/unknown-host.conf"),
            "server_name": server_name,
            "server_alias": f"    ServerAlias {' '.join(aliases)}" if aliases else "",
            "forwarded_for": forwarded_for,
            "static_files": _static(settings, "apache/static.conf"),
            "media_files": _media(
                settings,
                "apache/media.conf",
                {
                    "inline_types": "\n".join(
                        f"        AddType {media_type} " + " ".join(f".{e}" for e in extensions)
                        for media_type, extensions in INLINE_MEDIA_TYPES.items()
                    ),
                    "inline_extensions": "|".join(
                        e for extensions in INLINE_MEDIA_TYPES.values() for e in extensions
                    ),
                },
            ),
            "static_url": settings.static_url,
            "balancer_members": members,
            "max_attempts": max(1, len(settings.upstreams) - 1),
            # Piped logs: https://httpd.apache.org/docs/2.4/logs.html#piped
            "error_log": f'"|/usr/bin/logger -t {settings.syslog_tag} -p daemon.err"'
            if settings.syslog_tag
            else "/proc/self/fd/2",
            "access_log": f'"|/usr/bin/logger -t {settings.syslog_tag} -p daemon.info"'
            if settings.syslog_tag
            else "/proc/self/fd/1",
        },
    )
