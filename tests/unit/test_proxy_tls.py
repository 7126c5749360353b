"""The proxies' TLS listener with the real servers (components/render/proxy_config.py).

nginx and Apache, rendered with TLS on and the stack's own CA (components/render/tls.py), in
front of a real app server on loopback, checked from the client's side: sslyze for what the
listener accepts (no SSL 2/3, TLS 1.0 or 1.1; TLS 1.2 with Mozilla's intermediate ciphers
only; TLS 1.3) and that the chain validates against the CA; ALPN for HTTP/2; plain HTTP's
redirect; HSTS over HTTPS only; Django told the scheme by the proxy, whatever the client
says. And a certificate rotation: new files, a graceful reload, the new certificate served,
and no request of a loop running across the reload failing; the same under the Docker proxy
container's own start, which reloads by itself when the files change and never loads a bad
pair (templates/docker/proxy-tls-watch.sh).
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.choices import DatabaseKind, Proxy, UpstreamProtocol
from components.config import DatabaseConfig
from components.docker.proxy_certificate import TLS_FILES
from components.docker.reverse_proxy import tls_watch_command
from components.render.django_env import django_environment
from components.render.proxy_config import ProxyTls, config_file_path
from components.render.tls import TlsMaterial, self_signed
from components.server_signals import PROXY_SIGNALS
from tests.support.request_loop import requests_in_a_loop
from tests.support.tls_checks import assert_mozilla_intermediate, negotiated_alpn, scan
from tests.unit.test_app_server_config import (
    RunningAppServer,
    free_port,
    log_tail,
    migrated_database,
    require_server_binary,
    running_app_server,
)
from tests.unit.test_proxy_config import (
    APP_SERVER_FOR,
    BINARIES,
    PROTOCOLS,
    PROXIES,
    STATIC_FILE,
    get,
    proxy_user,
    proxy_workdir,
    require_binary,
    running_proxy,
)

HOSTS = ("localhost", "127.0.0.1")
HSTS = 1234
NOW = datetime.datetime.now(datetime.UTC)


def nginx_has_http2_directive() -> bool:
    """nginx 1.25.1 and later (Debian 13) take `http2 on;`; Debian 12 has 1.22."""
    out = subprocess.run(
        [require_binary(Proxy.NGINX), "-v"], capture_output=True, text=True, check=False
    )
    found = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", out.stderr + out.stdout)
    assert found, out
    return tuple(map(int, found.groups())) >= (1, 25, 1)


def write_material(workdir: Path, material: TlsMaterial) -> tuple[Path, Path]:
    """The chain and key where the proxy's account reads them, the key private to it."""
    chain, key = workdir / "chain.pem", workdir / "key.pem"
    for path, text, mode in ((chain, material.chain_pem, 0o644), (key, material.key_pem, 0o600)):
        # Written beside and renamed: a reload never sees half a file.
        partial = path.with_suffix(".new")
        partial.write_text(text)
        partial.chmod(mode)
        user = proxy_user()
        if user is not None:
            os.chown(partial, user.pw_uid, user.pw_gid)
        partial.replace(path)
    return chain, key


def stack_environment() -> dict[str, str]:
    """What the stack tells Django of hosts and HTTPS (components/render/django_env.py)."""
    env = django_environment(
        allowed_hosts=HOSTS,
        http_port=8000,
        database=DatabaseConfig(
            kind=DatabaseKind.SQLITE, name="unused", user="", host=None, port=5432, password=None
        ),
        database_host=None,
        debug=False,
        media_url=None,
        max_body_mb=10,
        https_port=8443,
    )
    assert env["DJANGO_HTTPS"] == "1"
    wanted = ("DJANGO_ALLOWED_HOSTS", "DJANGO_CSRF_TRUSTED_ORIGINS", "DJANGO_HTTPS")
    return {k: v for k, v in env.items() if k in wanted}


@contextlib.contextmanager
def one_app_server(
    protocol: UpstreamProtocol, *, workdir: Path, database: Path
) -> Iterator[RunningAppServer]:
    """The one replica ("a") the TLS proxies front, speaking `protocol`, with the stack's
    HTTPS environment."""
    with running_app_server(
        app_server=APP_SERVER_FOR[protocol],
        workdir=workdir,
        database=database,
        replica="a",
        extra_env=stack_environment(),
    ) as server:
        yield server


@dataclass(frozen=True)
class TlsEdge:
    proxy: Proxy
    protocol: UpstreamProtocol
    http_port: int
    https_port: int
    ca_file: Path
    log: Path
    process: subprocess.Popen[bytes]
    workdir: Path

    def logs(self) -> str:
        return log_tail(self.log)

    def context(self, *cas: Path) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(cas[0] if cas else self.ca_file))
        for extra in cas[1:]:
            context.load_verify_locations(cafile=str(extra))
        return context

    def https(
        self, path: str, *, headers: dict[str, str] | None = None, context: ssl.SSLContext | None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPSConnection(
            "localhost", self.https_port, timeout=10, context=context or self.context()
        )
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            conn.close()


@contextlib.contextmanager
def tls_proxy(
    *,
    proxy: Proxy,
    protocol: UpstreamProtocol,
    servers: list,
    material: TlsMaterial,
    acme_webroot: str | None = None,
    workdir: Path | None = None,
    wrap: Callable[[list[str], Path], list[str]] | None = None,
) -> Iterator[TlsEdge]:
    """The proxy with TLS on; `acme_webroot` (in `workdir`, the proxy's own when None) for
    tls.mode acme's challenge files."""
    with contextlib.ExitStack() as stack:
        workdir = workdir or stack.enter_context(proxy_workdir())
        chain, key = write_material(workdir, material)
        ca_file = workdir / "ca.pem"
        ca_file.write_text(material.ca_pem or "")
        https_port = free_port()
        front = stack.enter_context(
            running_proxy(
                proxy=proxy,
                protocol=protocol,
                servers=servers,
                workdir=workdir,
                allowed_hosts=HOSTS,
                tls=ProxyTls(
                    listen_port=https_port,
                    public_port=https_port,
                    certificate_file=str(chain),
                    key_file=str(key),
                    hsts_max_age=HSTS,
                    ocsp_stapling=False,
                    acme_webroot=acme_webroot,
                    nginx_http2_directive=proxy is Proxy.NGINX and nginx_has_http2_directive(),
                ),
                wrap=wrap,
            )
        )
        yield TlsEdge(
            proxy, protocol, front.port, https_port, ca_file, front.log, front.process, workdir
        )
        # Still up, unless the test stopped it cleanly (exit 0: a graceful stop).
        assert front.process.poll() in (None, 0), log_tail(front.log)


@pytest.fixture(scope="module")
def tls_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_server_binary(next(iter(APP_SERVER_FOR.values())))
    return migrated_database(tmp_path_factory.mktemp("tls-db"))


TLS_PARAMS = [
    pytest.param((proxy.values[0], protocol.values[0]), id=f"{proxy.id}-{protocol.id}")
    for proxy in PROXIES
    for protocol in PROTOCOLS
]


@pytest.fixture(scope="module", params=TLS_PARAMS)
def edge(
    request: pytest.FixtureRequest, tls_database: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsEdge]:
    proxy, protocol = request.param
    require_binary(proxy)
    workdir = tmp_path_factory.mktemp(f"tls-{proxy.value}-{protocol.value}")
    material = self_signed(seed="test-seed-" + "a" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            one_app_server(protocol, workdir=workdir / "a", database=tls_database)
        )
        yield stack.enter_context(
            tls_proxy(proxy=proxy, protocol=protocol, servers=[server], material=material)
        )


def test_only_tls_12_and_13_with_mozillas_ciphers_and_a_chain_that_validates(
    edge: TlsEdge,
) -> None:
    # Both names the stack allows, a DNS name and an address, are in the certificate.
    for host in HOSTS:
        result = scan(port=edge.https_port, ca_file=edge.ca_file, host=host)
        assert_mozilla_intermediate(result, ca_file=edge.ca_file)


def test_http2_is_negotiated_by_alpn(edge: TlsEdge) -> None:
    assert negotiated_alpn(port=edge.https_port, ca_file=edge.ca_file) == "h2"


def test_plain_http_redirects_to_https_with_host_and_path(edge: TlsEdge) -> None:
    for host in ("localhost", "localhost:8000", "127.0.0.1"):
        reply = get(edge.http_port, "/some/page?x=1&y=2", headers={"Host": host})
        assert reply.status == 301, (host, edge.logs())
        name = host.split(":")[0]
        assert reply.headers["location"] == f"https://{name}:{edge.https_port}/some/page?x=1&y=2"
        assert "strict-transport-security" not in reply.headers
    # The stack's own probes still get their answer over plain HTTP.
    assert get(edge.http_port, "/_stack/health", headers={"Host": "localhost"}).status == 200
    # An unknown Host is still answered by the proxy on both listeners.
    assert get(edge.http_port, "/", headers={"Host": "evil.test"}).status == 421
    status, _, _ = edge.https("/", headers={"Host": "evil.test"}, context=None)
    assert status == 421


def test_hsts_is_sent_over_https_once(edge: TlsEdge) -> None:
    for path in ("/", f"/static/{STATIC_FILE}"):
        status, headers, _ = edge.https(path, context=None)
        assert status == 200, (path, edge.logs())
        # One header, the proxy's (Django's own, from DJANGO_HTTPS, is dropped).
        assert headers.get_all("Strict-Transport-Security") == [f"max-age={HSTS}"], path
    # Django is told https (DJANGO_HTTPS): its cookies are Secure.
    status, headers, body = edge.https("/", context=None)
    assert b'name="csrfmiddlewaretoken"' in body
    (cookie,) = headers.get_all("Set-Cookie") or [""]
    assert cookie.startswith("csrftoken=") and "; secure" in cookie.lower(), cookie


def test_django_is_told_https_by_the_proxy_whatever_the_client_says(edge: TlsEdge) -> None:
    status, _, body = edge.https(
        "/request.json", headers={"X-Forwarded-Proto": "http"}, context=None
    )
    assert status == 200, edge.logs()
    assert json.loads(body)["x_forwarded_proto"] == "https"


# --- Rotation ---------------------------------------------------------------------------------


def reload(edge: TlsEdge) -> None:
    """What `systemctl reload` sends (components/render/systemd.py): nginx re-reads on HUP,
    Apache restarts gracefully on USR1; both finish the requests under way."""
    sig = signal.SIGHUP if edge.proxy is Proxy.NGINX else signal.SIGUSR1
    os.kill(edge.process.pid, sig)


def served_certificate(edge: TlsEdge, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", edge.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as conn,
    ):
        der = conn.getpeercert(binary_form=True)
        assert der is not None
        return der


@pytest.mark.parametrize("proxy", PROXIES)
def test_a_new_certificate_is_served_after_a_graceful_reload_without_a_failed_request(
    proxy: Proxy, tls_database: Path, tmp_path: Path
) -> None:
    require_binary(proxy)
    old = self_signed(seed="old-seed-" + "b" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
    new = self_signed(seed="new-seed-" + "c" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
    protocol = UpstreamProtocol.HTTP
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            one_app_server(protocol, workdir=tmp_path / "a", database=tls_database)
        )
        edge = stack.enter_context(
            tls_proxy(proxy=proxy, protocol=protocol, servers=[server], material=old)
        )
        new_ca = edge.workdir / "new-ca.pem"
        new_ca.write_text(new.ca_pem or "")
        both = edge.context(edge.ca_file, new_ca)
        old_der = served_certificate(edge, both)

        with requests_in_a_loop(
            lambda: edge.https(f"/static/{STATIC_FILE}", context=both)[0]
        ) as seen:
            time.sleep(0.5)
            write_material(edge.workdir, new)
            reload(edge)
            deadline = time.monotonic() + 15
            while served_certificate(edge, both) == old_der:
                assert time.monotonic() < deadline, edge.logs()
                time.sleep(0.1)
            time.sleep(0.5)
        # Only the new CA is needed now.
        assert served_certificate(edge, edge.context(new_ca)) != old_der
        assert seen.served > 20 and seen.failures == [], (
            seen.served,
            seen.failures[:5],
            edge.logs(),
        )


def watched(proxy: Proxy, workdir: Path) -> Callable[[list[str], Path], list[str]]:
    """The Docker proxy container's start (components/docker/reverse_proxy.py) around the
    proxy's command, with its paths (the TLS volume, the config) moved into `workdir`."""

    def wrap(command: list[str], conf: Path) -> list[str]:
        start = tls_watch_command(proxy, command)
        script = start[2]
        for there, here in (
            (TLS_FILES[0], workdir / "chain.pem"),
            (TLS_FILES[1], workdir / "key.pem"),
            (config_file_path(proxy), conf),
            (f"{BINARIES[proxy]} -t", f"{command[0]} -t"),
        ):
            assert there in script, there
            script = script.replace(str(there), str(here))
        return [*start[:2], script, *start[3:]]

    return wrap


def wait_for(condition: Callable[[], bool], edge: TlsEdge, *, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, edge.logs()
        time.sleep(0.2)


@pytest.mark.parametrize("proxy", PROXIES)
def test_the_docker_start_reloads_new_files_by_itself_and_never_a_bad_pair(
    proxy: Proxy, tls_database: Path
) -> None:
    require_binary(proxy)
    old = self_signed(seed="old-seed-" + "d" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
    new = self_signed(seed="new-seed-" + "e" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
    protocol = UpstreamProtocol.HTTP
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(proxy_workdir())
        server = stack.enter_context(
            one_app_server(protocol, workdir=workdir / "a", database=tls_database)
        )
        edge = stack.enter_context(
            tls_proxy(
                proxy=proxy,
                protocol=protocol,
                servers=[server],
                material=old,
                workdir=workdir,
                wrap=watched(proxy, workdir),
            )
        )
        new_ca = edge.workdir / "new-ca.pem"
        new_ca.write_text(new.ca_pem or "")
        both = edge.context(edge.ca_file, new_ca)
        old_der = served_certificate(edge, both)

        # A pair that does not belong together (the new chain, the old key): not loaded,
        # and the proxy is still up, serving the old certificate.
        write_material(edge.workdir, TlsMaterial(chain_pem=new.chain_pem, key_pem=old.key_pem))
        wait_for(lambda: "fail the config test" in edge.logs(), edge)
        assert edge.process.poll() is None, edge.logs()
        assert served_certificate(edge, both) == old_der

        # The whole new pair: served after a reload the start does by itself.
        with requests_in_a_loop(
            lambda: edge.https(f"/static/{STATIC_FILE}", context=both)[0]
        ) as seen:
            time.sleep(0.5)
            write_material(edge.workdir, new)
            wait_for(lambda: served_certificate(edge, both) != old_der, edge)
            time.sleep(0.5)
        assert served_certificate(edge, edge.context(new_ca)) != old_der
        assert seen.served > 20 and seen.failures == [], (seen.served, seen.failures[:5])
        # The same process all along: a reload, not a restart.
        assert edge.process.poll() is None, edge.logs()

        # The container's stop signal (the proxy's graceful stop) reaches the proxy through
        # the start's shell, PID 1 in the container, which then exits with the proxy's status.
        # Without its trap, sh would die of QUIT and leave nginx running, and ignore WINCH.
        edge.process.send_signal(getattr(signal, PROXY_SIGNALS[proxy].stop))
        assert edge.process.wait(timeout=30) == 0, edge.logs()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", edge.https_port), timeout=5).close()
