"""Per-client limits at the proxy (the `rateLimit` key; components/render/proxy_config.py),
with the real servers.

nginx (limit_req, limit_conn) and Apache (mod_qos) in front of a real Gunicorn running the
sample project, each with small limits so that a test reaches them in a second: a client
over the request rate gets 429 for its pages (never from Django) while its static files and
every other client are still served; a client at an ordinary pace, loading pages with their
static files, is never refused; a client's connections beyond its limit are refused (nginx:
429; Apache: mod_qos closes them, maybe with a 500 first), and served again once it lets go.
Every client is a loopback address of its own (127.0.0.x), which is what the limits key on.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.choices import AppServer, Proxy, UpstreamProtocol
from components.render.proxy_config import (
    NO_RATE_LIMIT,
    RateLimit,
    render_proxy_config,
)
from tests.unit.test_app_server_config import (
    log_tail,
    migrated_database,
    require_server_binary,
    running_app_server,
)
from tests.unit.test_proxy_config import (
    PROXIES,
    STATIC_FILE,
    directive,
    nginx_block,
    proxy_workdir,
    running_proxy,
    settings,
)

LIMIT = RateLimit(requests_per_second=5, burst=10, connections_per_client=4)
# Large enough that a client which does not read it keeps its request in progress (loopback
# socket buffers hold a few MB).
BIG_FILE = "guestbook/big.bin"
BIG_SIZE = 48 * 1024 * 1024
PAGE = "/request.json"


# --- What the rendered file says ------------------------------------------------------------


@pytest.mark.parametrize("proxy", PROXIES)
def test_limits_by_default_and_off(proxy: Proxy) -> None:
    conf = render_proxy_config(settings(proxy, UpstreamProtocol.HTTP, 2, media_url="/media/"))
    if proxy is Proxy.NGINX:
        assert directive(conf, "limit_req_zone") == [
            "$binary_remote_addr zone=django_stack_requests:10m rate=20r/s"
        ]
        assert directive(conf, "limit_req_status") == ["429"]
        assert directive(conf, "limit_conn_status") == ["429"]
        # The request rate counts Django's requests only, the connections everything.
        assert directive(nginx_block(conf, "location /"), "limit_req") == [
            "zone=django_stack_requests burst=100 nodelay"
        ]
        for exempt in ("location /static/", "location ^~ /media/"):
            assert "limit_req" not in nginx_block(conf, exempt)
        # The connections: in the allowed hosts' server, after its names, for all of it.
        assert directive(conf, "limit_conn") == ["django_stack_connections 128"]
        names = conf.index("server_name 127.0.0.1 localhost")
        assert names < conf.index("limit_conn django_stack") < conf.index("location ")
    else:
        assert directive(conf, "QS_SrvMaxConnPerIP") == ["128"]
        assert directive(conf, "QS_ClientEventLimitCount") == ["300 10 django_stack_request"]
        assert directive(conf, "QS_ErrorResponseCode") == ["429"]
        assert 'SetEnvIf Request_URI "^(?!/static/|/media/)" django_stack_request=1' in conf
    off = render_proxy_config(settings(proxy, UpstreamProtocol.HTTP, 2, rate_limit=NO_RATE_LIMIT))
    assert "limit_req" not in off and "limit_conn" not in off and "QS_" not in off
    assert "mod_qos" not in off


@pytest.mark.parametrize(
    "overrides",
    [{"requests_per_second": -1}, {"burst": 100_001}, {"connections_per_client": 10_001}],
)
def test_rate_limit_refuses_what_a_config_file_cannot_say(overrides: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=next(iter(overrides))):
        RateLimit(**overrides)


# --- The real thing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Front:
    proxy: Proxy
    port: int
    log: Path

    def logs(self) -> str:
        return log_tail(self.log)


@pytest.fixture(scope="module", params=PROXIES)
def front(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Front]:
    require_server_binary(AppServer.GUNICORN)
    proxy: Proxy = request.param
    database = migrated_database(tmp_path_factory.mktemp("limits-db"))
    workdir = tmp_path_factory.mktemp(f"limits-{proxy.value}")
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(
            running_app_server(
                app_server=AppServer.GUNICORN, workdir=workdir / "a", database=database, replica="a"
            )
        )
        running = stack.enter_context(
            running_proxy(
                proxy=proxy,
                protocol=UpstreamProtocol.HTTP,
                servers=[server],
                workdir=stack.enter_context(proxy_workdir()),
                static_files={BIG_FILE: b"\0" * BIG_SIZE},
                rate_limit=LIMIT,
            )
        )
        yield Front(proxy, running.port, running.log)
        assert running.process.poll() is None, log_tail(running.log)


def fetch(port: int, path: str, *, source: str, timeout: float = 10) -> tuple[object, str | None]:
    """(status, X-Served-By) of one GET from `source`, or the error's name if refused."""
    conn = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(source, 0)
    )
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("x-served-by")
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, None
    finally:
        conn.close()


def test_a_client_over_the_request_rate_gets_429_and_no_one_else_does(front: Front) -> None:
    # More than either proxy lets through at once (nginx: the burst; Apache: the window's
    # rate x 10 s + burst), as fast as one client can send them.
    count = LIMIT.apache_window_limit + 20
    outcomes = [fetch(front.port, PAGE, source="127.0.0.11") for _ in range(count)]
    statuses = [status for status, _ in outcomes]
    # The burst is served; then the proxy answers 429 itself, Django never sees those.
    assert statuses[: LIMIT.burst] == [200] * LIMIT.burst, (statuses, front.logs())
    refused = [o for o in outcomes if o[0] == 429]
    assert refused and all(by is None for _, by in refused), statuses
    assert set(statuses) <= {200, 429}, statuses
    # Static files are not counted. nginx still serves them to that client; mod_qos refuses
    # a client over its count everything for the rest of the window.
    static = fetch(front.port, f"/static/{STATIC_FILE}", source="127.0.0.11")[0]
    assert static == {Proxy.NGINX: 200, Proxy.APACHE: 429}[front.proxy]
    # Nor is anyone else held back by it.
    assert fetch(front.port, PAGE, source="127.0.0.12") == (200, "a")


def test_an_ordinary_pace_is_never_refused(front: Front) -> None:
    """Pages at under the rate (2 a second, for 4 s), each with 6 static files fetched over 2
    more connections at once, every connection kept alive and reused, as a browser does (3
    connections: the test's limit is 4)."""
    source = "127.0.0.13"

    def connection() -> http.client.HTTPConnection:
        return http.client.HTTPConnection(
            "127.0.0.1", front.port, timeout=10, source_address=(source, 0)
        )

    def over(conn: http.client.HTTPConnection, path: str) -> object:
        try:
            conn.request("GET", path, headers={"Host": "localhost"})
            response = conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException) as error:
            return type(error).__name__

    page, *assets = [connection() for _ in range(3)]
    outcomes: list[object] = []
    try:
        with ThreadPoolExecutor(max_workers=len(assets)) as pool:
            for _ in range(8):
                started = time.monotonic()
                outcomes.append(over(page, PAGE))
                for _ in range(3):
                    outcomes.extend(pool.map(over, assets, [f"/static/{STATIC_FILE}"] * 2))
                time.sleep(max(0.0, started + 0.5 - time.monotonic()))
    finally:
        for conn in (page, *assets):
            conn.close()
    assert outcomes == [200] * len(outcomes), (outcomes, front.logs())


@contextlib.contextmanager
def held_downloads(port: int, *, source: str, count: int) -> Iterator[list[socket.socket]]:
    """`count` connections from `source`, each in the middle of sending BIG_FILE (unread)."""
    held: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(
                ("127.0.0.1", port), timeout=10, source_address=(source, 0)
            )
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(f"GET /static/{BIG_FILE} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            assert sock.recv(12).startswith(b"HTTP/1.1 200"), "a held download was refused"
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def test_connections_over_the_limit_are_refused_until_the_client_lets_go(front: Front) -> None:
    source = "127.0.0.14"
    with held_downloads(front.port, source=source, count=LIMIT.connections_per_client):
        time.sleep(0.3)
        extra = [fetch(front.port, f"/static/{STATIC_FILE}", source=source)[0] for _ in range(3)]
        # nginx answers 429; mod_qos closes the connection (with a 500 at most).
        expected = {
            Proxy.NGINX: {429},
            Proxy.APACHE: {500, 429, "RemoteDisconnected", "ConnectionResetError", "BadStatusLine"},
        }
        assert extra and set(extra) <= expected[front.proxy], (extra, front.logs())
        # Another client is not affected.
        assert fetch(front.port, f"/static/{STATIC_FILE}", source="127.0.0.15")[0] == 200
    # Once it lets go, it is served again.
    deadline = time.monotonic() + 5
    while (status := fetch(front.port, f"/static/{STATIC_FILE}", source=source)[0]) != 200:
        assert time.monotonic() < deadline, (status, front.logs())
        time.sleep(0.2)
