"""The reverse proxy configs (components/render/proxy_config.py), checked by the real proxies.

Over the matrix proxy (nginx, Apache) x upstream protocol (HTTP, uwsgi) x replicas (1, 3):
the binary accepts the rendered file (`nginx -t`, `apache2 -t`), and the file lists every
replica once in the protocol's own terms, fails over passively, serves `/static/` from disk
and, for nginx, keeps upstream connections alive only over HTTP.

Then, for each proxy x protocol, the real thing: the proxy started with
`proxy_command()` in front of two real app servers (Gunicorn for HTTP, uWSGI for the uwsgi
protocol) that run the sample project from their own rendered configs. Requests reach both
replicas, the proxy answers `/static/` itself, and once one replica is killed every request
still succeeds. With a media root, the proxy serves the uploaded files itself, as inert files
(nosniff, anything that could script a download, no directory listing), and refuses a body
past its limit.

The proxy runs as www-data when the tests run as root, as both proxy images do
(`USER www-data` in templates/docker/*.Dockerfile); otherwise as the current user. Two
test-time changes to the rendered file, both asserted to apply: the config path is a
temporary file instead of /etc/django-stack/..., and the pid/temp/runtime paths the templates
put straight under /tmp move into the test's own directory, so the test neither trips over
nor disturbs another proxy on the same host (a root-owned /tmp/nginx.pid would stop an
unprivileged nginx).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.choices import AppServer, Proxy, UpstreamProtocol
from components.render.host_names import probe_host
from components.render.media import INLINE_MEDIA_TYPES, MEDIA_FILES
from components.render.proxy_config import (
    ProxySettings,
    Upstream,
    config_file_name,
    config_file_path,
    proxy_command,
    render_proxy_config,
    render_upstream_members,
)
from tests.support.forms import multipart
from tests.unit.test_app_server_config import (
    APP_DIR,
    RunningAppServer,
    free_port,
    log_tail,
    migrated_database,
    require_server_binary,
    running_app_server,
    stop_process_group,
)

PROXIES = [pytest.param(Proxy.NGINX, id="nginx"), pytest.param(Proxy.APACHE, id="apache")]
PROTOCOLS = [
    pytest.param(UpstreamProtocol.HTTP, id="http"),
    pytest.param(UpstreamProtocol.UWSGI, id="uwsgi"),
]
REPLICAS = [pytest.param(1, id="1-replica"), pytest.param(3, id="3-replicas")]
BINARIES = {Proxy.NGINX: "nginx", Proxy.APACHE: "apache2"}
APP_SERVER_FOR = {
    UpstreamProtocol.HTTP: AppServer.GUNICORN,
    UpstreamProtocol.UWSGI: AppServer.UWSGI,
}
# The account both proxy images run as.
PROXY_ACCOUNT = "www-data"
STATIC_ROOT = "/srv/static-under-test"
STATIC_FILE = "guestbook/site.css"
# What the sample app's replicas allow (tests/unit/test_app_server_config.py, django_env).
ALLOWED_HOSTS = ("127.0.0.1", "localhost")
START_TIMEOUT = 15.0
FAILOVER_REQUESTS = 20


def require_binary(proxy: Proxy) -> str:
    binary = shutil.which(BINARIES[proxy], path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if binary is None:
        pytest.skip(f"{BINARIES[proxy]} is not installed")
    return binary


def upstreams(replicas: int) -> tuple[Upstream, ...]:
    """IP literals: nginx resolves upstream names while it tests the config."""
    return tuple(Upstream(f"127.0.0.{i + 1}", 8001 + i) for i in range(replicas))


def settings(
    proxy: Proxy, protocol: UpstreamProtocol, replicas: int, **overrides: Any
) -> ProxySettings:
    values: dict[str, Any] = {
        "proxy": proxy,
        "protocol": protocol,
        "upstreams": upstreams(replicas),
        "workers_per_upstream": 3,
        "threads_per_worker": 2,
        "timeout_seconds": 30,
        "allowed_hosts": ALLOWED_HOSTS,
        "max_body_mb": 10,
        "static_root": STATIC_ROOT,
        **overrides,
    }
    return ProxySettings(**values)


def nginx_block(conf: str, opening: str) -> str:
    """The text between `opening {` and its matching `}`."""
    start = conf.index(opening + " {") + len(opening) + 2
    depth = 1
    for index in range(start, len(conf)):
        depth += {"{": 1, "}": -1}.get(conf[index], 0)
        if depth == 0:
            return conf[start:index]
    raise AssertionError(f"unbalanced block {opening!r}")


def members(proxy: Proxy, conf: str) -> list[tuple[str, str]]:
    """(scheme, host:port) of every member of the load-balanced group, in order.

    nginx `server` lines carry no scheme: the pass directive of `location /` gives it.
    """
    if proxy is Proxy.NGINX:
        location = nginx_block(conf, "location /")
        scheme = "uwsgi" if re.search(r"^\s*uwsgi_pass\s", location, re.MULTILINE) else "http"
        upstream = nginx_block(conf, "upstream django_app")
        found = re.findall(r"^\s*server\s+(\S+?)(?:\s|;)", upstream, flags=re.MULTILINE)
        return [(scheme, address) for address in found]
    return re.findall(r'^\s*BalancerMember\s+"(\w+)://([^"/]+)/?"', conf, flags=re.MULTILINE)


def directive(conf: str, name: str) -> list[str]:
    """The arguments of every `name ...` line (nginx `;` stripped)."""
    return [
        value.rstrip(";").strip()
        for value in re.findall(rf"^\s*{re.escape(name)}\s+(.*)$", conf, flags=re.MULTILINE)
    ]


# --- The binary accepts what is rendered ------------------------------------------------------


@pytest.mark.parametrize("media_url", [None, "/media/"], ids=["no-media", "media"])
@pytest.mark.parametrize("replicas", REPLICAS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_binary_accepts_the_rendered_config(
    proxy: Proxy, protocol: UpstreamProtocol, replicas: int, media_url: str | None, tmp_path: Path
) -> None:
    binary = require_binary(proxy)
    conf = tmp_path / config_file_name(proxy)
    conf.write_text(render_proxy_config(settings(proxy, protocol, replicas, media_url=media_url)))
    flag = "-c" if proxy is Proxy.NGINX else "-f"
    result = subprocess.run(
        [binary, "-t", flag, str(conf)], capture_output=True, text=True, timeout=30, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert ("test is successful" if proxy is Proxy.NGINX else "Syntax OK") in output


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_a_member_taken_out_of_the_rotation_stays_in_the_group_marked(
    proxy: Proxy, protocol: UpstreamProtocol, tmp_path: Path
) -> None:
    """The VM target's config includes its members from their own file; with one host out of
    the rotation (a rolling release) that file marks it alone, and the binary takes both."""
    binary = require_binary(proxy)
    members_file = tmp_path / "upstream-members.conf"
    given = settings(proxy, protocol, 3, upstream_members_file=str(members_file))
    conf = render_proxy_config(given)
    inline = render_proxy_config(settings(proxy, protocol, 3))
    assert members(proxy, conf) == [] and str(members_file) in conf
    every = render_upstream_members(given)
    # The same member lines as the Docker target's config has inline.
    assert all(line in inline for line in every.splitlines())
    without = render_upstream_members(given, out_of_rotation=["127.0.0.2"])
    changed = [b for a, b in zip(every.splitlines(), without.splitlines(), strict=True) if a != b]
    mark = " down;" if proxy is Proxy.NGINX else " status=+D"
    assert len(changed) == 1 and "127.0.0.2:8002" in changed[0] and changed[0].endswith(mark)
    (tmp_path / config_file_name(proxy)).write_text(conf)
    flag = "-c" if proxy is Proxy.NGINX else "-f"
    for text in (every, without):
        members_file.write_text(text)
        result = subprocess.run(
            [binary, "-t", flag, str(tmp_path / config_file_name(proxy))],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    with pytest.raises(ValueError, match="names no upstream"):
        render_upstream_members(given, out_of_rotation=["127.0.0.9"])
    with pytest.raises(ValueError, match="at least one upstream must stay"):
        render_upstream_members(given, out_of_rotation=["127.0.0.1", "127.0.0.2", "127.0.0.3"])


@pytest.mark.parametrize("proxy", PROXIES)
def test_under_systemd_logs_go_to_syslog_not_stdout(proxy: Proxy, tmp_path: Path) -> None:
    """A unit's stdout is the journal's socket: /dev/stdout cannot be opened on it (ENXIO)."""
    binary = require_binary(proxy)
    rendered = render_proxy_config(
        settings(proxy, UpstreamProtocol.HTTP, 2, syslog_tag="django_stack_proxy")
    )
    assert "/dev/stdout" not in rendered and "/proc/self/fd" not in rendered
    assert "django_stack_proxy" in rendered
    conf = tmp_path / config_file_name(proxy)
    conf.write_text(rendered)
    flag = "-c" if proxy is Proxy.NGINX else "-f"
    result = subprocess.run(
        [binary, "-t", flag, str(conf)], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with pytest.raises(ValueError, match="syslog_tag"):
        settings(proxy, UpstreamProtocol.HTTP, 1, syslog_tag="bad tag;")


@pytest.mark.parametrize(
    ("syslog_tag", "buffered"),
    [(None, True), ("django_stack_proxy", False)],
    ids=["file", "syslog"],
)
def test_nginx_buffers_its_access_log_except_to_syslog(
    syslog_tag: str | None, buffered: bool
) -> None:
    """A write per request to the container's stdout is costly; syslog cannot be buffered."""
    conf = render_proxy_config(
        settings(Proxy.NGINX, UpstreamProtocol.HTTP, 2, syslog_tag=syslog_tag)
    )
    (line,) = re.findall(r"^\s*access_log (?!off).*$", conf, flags=re.MULTILINE)
    assert ("buffer=64k flush=1s" in line) is buffered, line


@pytest.mark.parametrize("replicas", [1, 2, 40])
def test_apache_starts_every_process_with_room_for_every_busy_connection(replicas: int) -> None:
    conf = render_proxy_config(settings(Proxy.APACHE, UpstreamProtocol.HTTP, replicas))
    mpm = {
        name: int(value)
        for name, value in re.findall(r"^(\w+) (\d+)$", conf, flags=re.MULTILINE)
        if name
        in ("StartServers", "ServerLimit", "ThreadLimit", "ThreadsPerChild", "MaxRequestWorkers")
    }
    assert mpm["StartServers"] == mpm["ServerLimit"]
    assert mpm["ThreadLimit"] == mpm["ThreadsPerChild"]
    assert mpm["MaxRequestWorkers"] == mpm["ServerLimit"] * mpm["ThreadsPerChild"]
    # One process alone can hold 128 busy client connections (the event MPM closes the idle
    # keep-alive connections of a process whose threads are all busy), and all processes
    # together twice what the replicas (3 workers x 2 threads each) serve at once.
    assert mpm["ThreadsPerChild"] >= 128
    assert mpm["MaxRequestWorkers"] >= max(256, 2 * replicas * 6)
    assert re.search(r"^BufferedLogs On$", conf, flags=re.MULTILINE)


# --- What the rendered file says --------------------------------------------------------------


@pytest.mark.parametrize("replicas", REPLICAS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_every_replica_is_one_member_in_the_protocols_scheme(
    proxy: Proxy, protocol: UpstreamProtocol, replicas: int
) -> None:
    conf = render_proxy_config(settings(proxy, protocol, replicas))
    assert members(proxy, conf) == [
        (protocol.value, f"{u.host}:{u.port}") for u in upstreams(replicas)
    ]


# The lines that must (and must not) be there for each proxy x protocol.
PASSING = {
    (Proxy.NGINX, UpstreamProtocol.HTTP): {
        "present": [r"^\s*proxy_pass http://django_app;$"],
        "absent": [r"uwsgi_pass", r"uwsgi_params"],
    },
    (Proxy.NGINX, UpstreamProtocol.UWSGI): {
        "present": [
            r"^\s*uwsgi_pass django_app;$",
            r"^\s*include /etc/nginx/uwsgi_params;$",
        ],
        "absent": [r"proxy_pass"],
    },
    (Proxy.APACHE, UpstreamProtocol.HTTP): {
        "present": [
            r"^LoadModule proxy_http_module /usr/lib/apache2/modules/mod_proxy_http\.so$",
            r'^\s*ProxyPass "/" "balancer://django_app/"$',
        ],
        "absent": [r"mod_proxy_uwsgi", r"uwsgi://"],
    },
    (Proxy.APACHE, UpstreamProtocol.UWSGI): {
        "present": [
            r"^LoadModule proxy_uwsgi_module /usr/lib/apache2/modules/mod_proxy_uwsgi\.so$",
            r'^\s*ProxyPass "/" "balancer://django_app/"$',
        ],
        "absent": [r"mod_proxy_http", r"http://"],
    },
}


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_requests_pass_with_the_protocols_own_module(
    proxy: Proxy, protocol: UpstreamProtocol
) -> None:
    conf = render_proxy_config(settings(proxy, protocol, 2))
    expected = PASSING[(proxy, protocol)]
    missing = [p for p in expected["present"] if not re.search(p, conf, re.MULTILINE)]
    unwanted = [p for p in expected["absent"] if re.search(p, conf)]
    assert (missing, unwanted) == ([], [])


@pytest.mark.parametrize("replicas", REPLICAS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_failed_replicas_are_skipped_and_requests_retried(
    proxy: Proxy, protocol: UpstreamProtocol, replicas: int
) -> None:
    conf = render_proxy_config(settings(proxy, protocol, replicas))
    if proxy is Proxy.NGINX:
        servers = directive(nginx_block(conf, "upstream django_app"), "server")
        assert len(servers) == replicas
        assert all(re.search(r"\bmax_fails=[1-9]\d* fail_timeout=[1-9]\d*s$", s) for s in servers)
        prefix = "proxy" if protocol is UpstreamProtocol.HTTP else "uwsgi"
        location = nginx_block(conf, "location /")
        [conditions] = directive(location, f"{prefix}_next_upstream")
        assert {"error", "timeout"} <= set(conditions.split())
        # Every replica may be tried once per request.
        assert directive(location, f"{prefix}_next_upstream_tries") == [str(replicas)]
    else:
        balancer_members = directive(conf, "BalancerMember")
        assert len(balancer_members) == replicas
        assert all(re.search(r"\sretry=[1-9]\d*\s", m) for m in balancer_members)
        [proxy_set] = directive(conf, "ProxySet")
        attempts = int(re.findall(r"\bmaxattempts=(\d+)", proxy_set)[0])
        # After the first member fails, every other one may be tried (at least one retry).
        assert attempts == max(1, replicas - 1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_static_files_come_from_the_proxys_disk(proxy: Proxy, protocol: UpstreamProtocol) -> None:
    conf = render_proxy_config(settings(proxy, protocol, 2))
    if proxy is Proxy.NGINX:
        static = nginx_block(conf, "location /static/")
        assert directive(static, "alias") == [f"{STATIC_ROOT}/"]
        assert not re.search(r"_pass\s", static)
    else:
        assert directive(conf, "Alias") == [f'"/static/" "{STATIC_ROOT}/"']
        # ProxyPass rules match in order: the exclusion must come before "/".
        assert directive(conf, "ProxyPass") == ['"/static/" "!"', '"/" "balancer://django_app/"']
        assert f'<Directory "{STATIC_ROOT}">' in conf


@pytest.mark.parametrize("proxy", PROXIES)
def test_uploaded_files_come_from_the_media_volume_before_any_proxying(proxy: Proxy) -> None:
    conf = render_proxy_config(settings(proxy, UpstreamProtocol.HTTP, 2, media_url="/uploads/"))
    if proxy is Proxy.NGINX:
        media = nginx_block(conf, "location ^~ /uploads/")
        assert directive(media, "alias") == [f"{MEDIA_FILES}/"]
        assert not re.search(r"_pass\s", media)
        # Only the listed types keep their own; the rest fall to the download type.
        types = nginx_block(media, "types")
        assert directive(media, "default_type") == ["application/octet-stream"]
        assert "text/html" not in types and "image/svg+xml" not in types
        assert all(t in types for t in INLINE_MEDIA_TYPES)
    else:
        assert f'"/uploads/" "{MEDIA_FILES}/"' in directive(conf, "Alias")
        assert directive(conf, "ProxyPass") == [
            '"/static/" "!"',
            '"/uploads/" "!"',
            '"/" "balancer://django_app/"',
        ]
        assert directive(conf, "ForceType")[0] == "application/octet-stream"
    # Without media there is nothing of it.
    plain = render_proxy_config(settings(proxy, UpstreamProtocol.HTTP, 2))
    assert MEDIA_FILES not in plain and "Content-Disposition" not in plain


@pytest.mark.parametrize("proxy", PROXIES)
def test_both_proxies_refuse_the_same_body_size(proxy: Proxy) -> None:
    conf = render_proxy_config(settings(proxy, UpstreamProtocol.HTTP, 2, max_body_mb=25))
    if proxy is Proxy.NGINX:
        assert directive(conf, "client_max_body_size") == ["25m"]
    else:
        assert directive(conf, "LimitRequestBody") == [str(25 * 1024 * 1024)]
    with pytest.raises(ValueError, match="max_body_mb"):
        settings(proxy, UpstreamProtocol.HTTP, 1, max_body_mb=0)
    with pytest.raises(ValueError, match="media_url"):
        settings(proxy, UpstreamProtocol.HTTP, 1, media_url="media")


@pytest.mark.parametrize("replicas", REPLICAS)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nginx_keeps_upstream_connections_alive_only_over_http(
    protocol: UpstreamProtocol, replicas: int
) -> None:
    conf = render_proxy_config(settings(Proxy.NGINX, protocol, replicas))
    upstream = nginx_block(conf, "upstream django_app")
    location = nginx_block(conf, "location /")
    if protocol is UpstreamProtocol.HTTP:
        [pool] = directive(upstream, "keepalive")
        assert int(pool) >= 1
        # Without HTTP/1.1 and an empty Connection header nginx closes every connection anyway.
        assert directive(location, "proxy_http_version") == ["1.1"]
        assert 'Connection ""' in directive(location, "proxy_set_header")
    else:
        # The uwsgi protocol closes its connection after every response.
        assert directive(upstream, "keepalive") == []
    disabled = render_proxy_config(
        settings(Proxy.NGINX, protocol, replicas, upstream_keepalive=False)
    )
    assert directive(nginx_block(disabled, "upstream django_app"), "keepalive") == []


# --- The real thing: a proxy in front of two app servers ---------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    # Every header line as sent, in order: `headers` keeps only the last of a repeated name.
    header_lines: tuple[tuple[str, str], ...] = ()

    def all(self, name: str) -> list[str]:
        """Every value of header `name`, one per line it was sent on."""
        return [v for k, v in self.header_lines if k.lower() == name.lower()]


def get(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Reply:
    """One request (a GET unless told) on a fresh connection, so each is balanced on its own.

    `headers` may replace Host (http.client sends `127.0.0.1:<port>` otherwise)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        lines = tuple(response.getheaders())
        return Reply(
            response.status, {k.lower(): v for k, v in lines}, response.read(), header_lines=lines
        )
    finally:
        conn.close()


def proxy_user() -> pwd.struct_passwd | None:
    """The account the proxy runs as: www-data when the tests are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PROXY_ACCOUNT)
    except KeyError:
        pytest.skip(f"running as root and there is no {PROXY_ACCOUNT} account to run the proxy")


# The templates' runtime paths directly under /tmp, and how many each proxy has.
RUNTIME_PATHS = {
    Proxy.NGINX: (re.compile(r"^(\s*(?:pid|\w+_temp_path) )/tmp(?=/)", re.MULTILINE), 6),
    Proxy.APACHE: (
        re.compile(r"^((?:PidFile |DefaultRuntimeDir |Mutex file:))/tmp\b", re.MULTILINE),
        3,
    ),
}


def private_runtime_paths(proxy: Proxy, conf: str, run_dir: Path) -> str:
    pattern, expected = RUNTIME_PATHS[proxy]
    moved, count = pattern.subn(lambda m: m.group(1) + str(run_dir), conf)
    assert count == expected, f"the template's /tmp paths changed:\n{conf}"
    return moved


@dataclass(frozen=True)
class RunningProxy:
    port: int
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def proxy_workdir() -> Iterator[Path]:
    """A directory the proxy's account can read (static files) and write (pid, temp files).

    Not pytest's tmp_path: its parents are private to the user running the tests.
    """
    user = proxy_user()
    with tempfile.TemporaryDirectory(prefix="django-stack-proxy-") as name:
        workdir = Path(name)
        workdir.chmod(0o755)
        if user is not None:
            os.chown(workdir, user.pw_uid, user.pw_gid)
        yield workdir


@contextlib.contextmanager
def running_proxy(
    *,
    proxy: Proxy,
    protocol: UpstreamProtocol,
    servers: list[RunningAppServer],
    workdir: Path,
    static_files: dict[str, bytes] | None = None,
    media_root: Path | None = None,
    wrap: Callable[[list[str], Path], list[str]] | None = None,
    **overrides: Any,
) -> Iterator[RunningProxy]:
    """The proxy in front of `servers`, serving STATIC_FILE and `static_files` (relative path:
    content) from its disk, and `/media/` from a media_root; `overrides` replace ProxySettings'
    values; `wrap(command, config_file)` gives the command that starts it (a container's
    start script around it)."""
    binary = require_binary(proxy)
    user = proxy_user()
    port = free_port()
    static_root = workdir / "static"
    (static_root / STATIC_FILE).parent.mkdir(parents=True)
    shutil.copy(APP_DIR / "guestbook" / "static" / STATIC_FILE, static_root / STATIC_FILE)
    for relative, content in (static_files or {}).items():
        (static_root / relative).parent.mkdir(parents=True, exist_ok=True)
        (static_root / relative).write_bytes(content)
    values: dict[str, Any] = {
        "proxy": proxy,
        "protocol": protocol,
        "upstreams": tuple(Upstream("127.0.0.1", s.port) for s in servers),
        "workers_per_upstream": 2,
        "threads_per_worker": 2,
        "timeout_seconds": 10,
        "allowed_hosts": ALLOWED_HOSTS,
        "max_body_mb": 10,
        "listen_port": port,
        "static_root": str(static_root),
        **({} if media_root is None else {"media_url": "/media/", "media_root": str(media_root)}),
        **overrides,
    }
    rendered = render_proxy_config(ProxySettings(**values))
    # A name the proxy serves, for the readiness check.
    host = probe_host(values["allowed_hosts"])
    conf = workdir / config_file_name(proxy)
    conf.write_text(private_runtime_paths(proxy, rendered, workdir))

    command = proxy_command(proxy)
    assert command[0] == BINARIES[proxy] and config_file_path(proxy) in command, command
    command = [binary, *(str(conf) if a == config_file_path(proxy) else a for a in command[1:])]
    if wrap is not None:
        command = wrap(command, conf)

    # The proxy reopens its stdout/stderr by name (/dev/stdout, /proc/self/fd/2): its account
    # must own the log file, as Docker hands the container user its own stdio.
    log = workdir / "proxy.log"
    log.touch()
    as_user: dict[str, Any] = {}
    if user is not None:
        os.chown(log, user.pw_uid, user.pw_gid)
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **as_user,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"{proxy.value} exited with {process.returncode}:\n{log_tail(log)}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                ready = get(port, f"/static/{STATIC_FILE}", headers={"Host": host})
                # With TLS, plain HTTP only redirects (tests/unit/test_proxy_tls.py).
                if ready.status == 200 or (values.get("tls") and ready.status == 301):
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"{proxy.value} not serving in {START_TIMEOUT}s:\n{log_tail(log)}")
            time.sleep(0.1)
        yield RunningProxy(port, process, log)
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_server_binary(AppServer.GUNICORN)
    return migrated_database(tmp_path_factory.mktemp("db"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
def test_proxy_balances_serves_static_and_fails_over(
    proxy: Proxy, protocol: UpstreamProtocol, tmp_path: Path, database: Path
) -> None:
    app_server = APP_SERVER_FOR[protocol]
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(
                running_app_server(
                    app_server=app_server,
                    workdir=tmp_path / replica,
                    database=database,
                    replica=replica,
                )
            )
            for replica in ("a", "b")
        ]
        workdir = stack.enter_context(proxy_workdir())
        front = stack.enter_context(
            running_proxy(proxy=proxy, protocol=protocol, servers=servers, workdir=workdir)
        )
        logs = lambda: log_tail(front.log)  # noqa: E731

        # Balancing: both replicas answer within a few requests.
        seen: list[str | None] = []
        for _ in range(20):
            reply = get(front.port, "/")
            assert reply.status == 200, logs()
            seen.append(reply.headers.get("x-served-by"))
            if {"a", "b"} <= set(seen):
                break
        assert set(seen) == {"a", "b"}, (seen, logs())

        # Static files: from the proxy's disk, never through Django (no X-Served-By).
        static = get(front.port, f"/static/{STATIC_FILE}")
        assert static.status == 200
        assert static.headers["content-type"].split(";")[0] == "text/css"
        assert static.body == (APP_DIR / "guestbook" / "static" / STATIC_FILE).read_bytes()
        assert "x-served-by" not in static.headers
        missing = get(front.port, "/static/guestbook/no-such-file.css")
        assert (missing.status, "x-served-by" in missing.headers) == (404, False)

        # Passive failover: replica "a" crashes; every request still succeeds, on "b".
        servers[0].kill()
        replies = [get(front.port, "/") for _ in range(FAILOVER_REQUESTS)]
        assert [(r.status, r.headers.get("x-served-by")) for r in replies] == [
            (200, "b")
        ] * FAILOVER_REQUESTS, logs()


# Uploaded files as a user might name them, and what the proxy must make of each:
# (Content-Type, Content-Disposition). Every one holds markup that would run as a page.
UPLOADS = {
    "uploads/photo.png": ("image/png", None),
    "uploads/SHOUTING.JPG": ("image/jpeg", None),
    "uploads/notes.txt": ("text/plain", None),
    "uploads/page.html": ("application/octet-stream", "attachment"),
    "uploads/drawing.svg": ("application/octet-stream", "attachment"),
    "uploads/feed.xml": ("application/octet-stream", "attachment"),
    "uploads/app.js": ("application/octet-stream", "attachment"),
    "uploads/page.png.html": ("application/octet-stream", "attachment"),
    "uploads/no-extension": ("application/octet-stream", "attachment"),
}
ACTIVE_CONTENT = b"<html><svg onload=alert(document.domain)><script>alert(1)</script></html>"


@pytest.mark.parametrize("proxy", PROXIES)
def test_proxy_serves_uploaded_files_inert_and_refuses_big_bodies(
    proxy: Proxy, tmp_path: Path, database: Path
) -> None:
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            running_app_server(
                app_server=AppServer.GUNICORN,
                workdir=tmp_path / "a",
                database=database,
                replica="a",
            )
        )
        workdir = stack.enter_context(proxy_workdir())
        # The volume's layout (components/render/media.py): files, and the temporary uploads
        # beside them, which must never be served.
        media_root = workdir / "media" / "files"
        (media_root / "uploads").mkdir(parents=True)
        for name in UPLOADS:
            (media_root / name).write_bytes(ACTIVE_CONTENT)
        (workdir / "media" / "tmp").mkdir()
        (workdir / "media" / "tmp" / "upload-in-progress.upload").write_bytes(b"partial")
        front = stack.enter_context(
            running_proxy(
                proxy=proxy,
                protocol=UpstreamProtocol.HTTP,
                servers=[server],
                workdir=workdir,
                media_root=media_root,
                max_body_mb=1,
            )
        )
        logs = lambda: log_tail(front.log)  # noqa: E731

        for name, (content_type, disposition) in UPLOADS.items():
            reply = get(front.port, f"/media/{name}")
            assert reply.status == 200, (name, logs())
            assert reply.body == ACTIVE_CONTENT
            assert "x-served-by" not in reply.headers, name  # the proxy's own disk
            assert reply.headers["x-content-type-options"] == "nosniff", name
            assert reply.headers["content-type"] == content_type, (name, reply.headers)
            assert reply.headers.get("content-disposition") == disposition, (name, reply.headers)

        # No directory is listed, not even the root; the temporary uploads are out of reach.
        for path in ("/media/", "/media/uploads/", "/media/uploads"):
            reply = get(front.port, path)
            assert reply.status in (301, 403, 404), (path, reply.status, logs())
            assert b"photo.png" not in reply.body, path
            assert reply.headers.get("x-content-type-options") == "nosniff", path
            assert "x-served-by" not in reply.headers, path
        for path in (
            "/media/../tmp/",
            "/media/../tmp/upload-in-progress.upload",
            "/media/tmp/upload-in-progress.upload",
            "/media/%2e%2e/tmp/upload-in-progress.upload",
        ):
            reply = get(front.port, path)
            assert reply.status in (400, 403, 404), (path, reply.status)
            assert b"partial" not in reply.body and b"upload-in-progress" not in reply.body

        # A body under the limit reaches Django (which refuses it: no CSRF token); one past
        # the limit is refused by the proxy and never reaches a replica.
        small = get(front.port, "/", method="POST", body=b"x" * 1000)
        assert (small.status, small.headers.get("x-served-by")) == (403, "a"), logs()
        big = get(front.port, "/", method="POST", body=b"x" * (1024 * 1024 + 1))
        assert (big.status, big.headers.get("x-served-by")) == (413, None), logs()


def _post_entry(port: int, text: str, filename: str, content: bytes) -> Reply:
    """The guestbook form with a file, posted through the proxy as a browser would."""
    page = get(port, "/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body.decode())
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    assert token and cookie.startswith("csrftoken="), page.status
    body, content_type = multipart(
        {"csrfmiddlewaretoken": token.group(1), "text": text}, {"attachment": (filename, content)}
    )
    # No Origin header: over plain HTTP Django then checks the token alone, and the proxy
    # passes Host without the test's port, which an Origin would have to match.
    return get(
        port,
        "/",
        method="POST",
        body=body,
        headers={"Content-Type": content_type, "Cookie": cookie},
    )


@pytest.mark.parametrize("proxy", PROXIES)
def test_an_upload_through_the_proxy_is_stored_by_django_and_served_by_the_proxy(
    proxy: Proxy, tmp_path: Path, database: Path
) -> None:
    """The overlay's media settings and the proxy's media location agree, on real servers:
    Django (as the replicas' user) stores the file where the proxy (as www-data) reads it."""
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(proxy_workdir())
        media = workdir / "media"
        (media / "files").mkdir(parents=True)
        (media / "tmp").mkdir(mode=0o700)
        server = stack.enter_context(
            running_app_server(
                app_server=AppServer.GUNICORN,
                workdir=tmp_path / "a",
                database=database,
                replica="a",
                extra_env={
                    "DJANGO_MEDIA_ROOT": str(media / "files"),
                    "DJANGO_MEDIA_URL": "/media/",
                    "DJANGO_FILE_UPLOAD_TEMP_DIR": str(media / "tmp"),
                    # Past this, the upload is spooled to the temporary-upload directory.
                    "DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE": "1024",
                },
            )
        )
        front = stack.enter_context(
            running_proxy(
                proxy=proxy,
                protocol=UpstreamProtocol.HTTP,
                servers=[server],
                workdir=workdir,
                media_root=media / "files",
            )
        )
        logs = lambda: log_tail(front.log) + "\n" + log_tail(server.log)  # noqa: E731
        uploads = {"photo.png": os.urandom(200_000), "page.html": ACTIVE_CONTENT}
        for filename, content in uploads.items():
            text = f"{proxy.value} {filename}"
            posted = _post_entry(front.port, text, filename, content)
            assert (posted.status, posted.headers.get("x-served-by")) == (302, "a"), logs()
            entries = json.loads(get(front.port, "/entries.json").body)["entries"]
            (entry,) = [e for e in entries if e["text"] == text]
            url = entry["attachment"]["url"]
            assert url.startswith("/media/attachments/")
            served = get(front.port, url)
            assert (served.status, served.body) == (200, content), logs()
            assert "x-served-by" not in served.headers
            assert served.headers["x-content-type-options"] == "nosniff"
            assert (filename == "page.html") is (
                served.headers.get("content-disposition") == "attachment"
            )
            stored = media / "files" / entry["attachment"]["name"]
            # Writable by the group (the other replicas' uids), readable by "other" (the proxy).
            assert stored.stat().st_mode & 0o777 == 0o664
        assert list((media / "tmp").iterdir()) == []
