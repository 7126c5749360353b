"""Checks every end-to-end suite makes through a deployed stack's public URL."""

from __future__ import annotations

import gzip
import http.client
import ipaddress
import json
import socket
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from components.render.proxy_config import (
    APACHE_RATE_WINDOW_SECONDS,
    HASHED_STATIC_CACHE,
    STATIC_CACHE,
    RateLimit,
)
from tests.e2e.http import Client
from tests.support.slow_clients import slowloris
from tests.support.stack_files import PROJECT_DIR

CSS = PROJECT_DIR / "app" / "guestbook" / "static" / "guestbook" / "site.css"
# How many migrations the sample app has: each must be recorded exactly once.
GUESTBOOK_MIGRATIONS = len(list((PROJECT_DIR / "app" / "guestbook" / "migrations").glob("0*.py")))
# What every pair's stack asks for besides the sample app: a Debian package of both releases
# (Pillow's JPEG library) and a release command whose work can be seen (and which may run
# again on a redeploy: it is idempotent, as release commands must be).
SYSTEM_PACKAGE = "libjpeg62-turbo"
RELEASE_ENTRY = "written-by-a-release-command"
RELEASE_COMMAND = (
    'shell -c "from guestbook.models import Entry; '
    f"Entry.objects.get_or_create(text='{RELEASE_ENTRY}')\""
)
PROJECT_NEEDS: dict[str, Any] = {
    "systemPackages": [SYSTEM_PACKAGE],
    "releaseCommands": [RELEASE_COMMAND],
    # Every client of these checks is one address (the test host, or Docker's port forwarder),
    # and the slowloris check opens 300 connections from it: Apache's per-client connection
    # limit (128 by default) would close those before the header timeout does, and the page
    # traffic the check expects served with them. The request rate keeps its default.
    "rateLimit": {"connectionsPerClient": 1000},
}


def assert_spread_over(url: str, replicas: set[str], *, requests: int = 40) -> None:
    """`requests` sequential GETs all succeed, and every replica answers some of them."""
    client = Client(url)
    responses = [client.get("/") for _ in range(requests)]
    assert [r.status for r in responses] == [200] * requests
    served = Counter(r.served_by for r in responses)
    assert set(served) == replicas, served


def assert_static_from_the_proxy(url: str) -> None:
    """The sample app's CSS comes back whole, and not from the app.

    The app adds X-Served-By to every response it makes; this one never reached it.
    """
    response = Client(url).get("/static/guestbook/site.css")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.body == CSS.read_bytes()
    assert response.served_by is None


def assert_write_read_back(url: str, replicas: set[str], *, tag: str) -> None:
    """A form POST through the proxy is read back by every replica (one shared database)."""
    client = Client(url)
    marker = f"written-through-{tag}-{time.time_ns()}"
    assert client.post_form("/", {"text": marker}).status in (200, 302)
    seen: set[str] = set()
    for _ in range(20):
        response = client.get("/entries.json")
        assert response.status == 200
        assert marker in [e["text"] for e in json.loads(response.body)["entries"]]
        seen.add(response.served_by or "")
    assert seen == replicas


def upload_attachment(url: str, *, tag: str, filename: str, content: bytes) -> tuple[str, str]:
    """Post an entry with a file through the proxy; (the entry's text, the replica that took it)."""
    text = f"uploaded-through-{tag}-{time.time_ns()}"
    response = Client(url).post_files("/", {"text": text}, {"attachment": (filename, content)})
    assert response.status == 302, (response.status, response.text[-2000:])
    assert response.served_by, "the upload was not answered by a replica"
    return text, response.served_by


def assert_attachment_everywhere(
    url: str, replicas: set[str], *, text: str, content: bytes
) -> dict[str, object]:
    """Every replica lists the entry's file at one URL and finds it whole in its own storage,
    and the proxy serves that URL itself (no replica answers it). Returns the attachment."""
    client = Client(url)
    seen: dict[str, dict[str, object]] = {}
    for _ in range(40):
        response = client.get("/entries.json")
        assert response.status == 200
        (entry,) = [e for e in json.loads(response.body)["entries"] if e["text"] == text]
        seen[response.served_by or ""] = entry["attachment"]
        if set(seen) >= replicas:
            break
    assert set(seen) == replicas, seen
    (attachment,) = {json.dumps(a, sort_keys=True) for a in seen.values()}
    found = json.loads(attachment)
    assert found["size"] == len(content), seen  # each replica's storage has all of it
    served = client.get(found["url"])
    assert (served.status, served.served_by) == (200, None), served.status
    assert served.body == content
    assert served.headers["x-content-type-options"] == "nosniff"
    return dict(found)


def assert_the_edge_answers_for_itself(url: str, *, max_body_mb: int = 10) -> None:
    """What the proxy answers itself (an unknown Host, a body over the limit) never reaches a
    replica, and what it tells Django of the client it set itself (tests/unit/test_proxy_edge.py
    checks the same on the host's own servers)."""
    client = Client(url)
    unknown = client.request("GET", "/", headers={"Host": "evil.example"})
    assert (unknown.status, unknown.served_by) == (421, None)
    told = client.request(
        "GET",
        "/request.json",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
    )
    assert told.status == 200 and told.served_by is not None
    seen = json.loads(told.body)
    # The address the proxy saw (the engine's gateway here), alone: not the client's claim.
    ipaddress.ip_address(seen["x_forwarded_for"])
    assert seen["x_forwarded_for"] != "203.0.113.9" and seen["x_forwarded_proto"] == "http"
    port = urllib.parse.urlsplit(url).port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (max_body_mb * 1024 * 1024 + 1)
        )
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert (response.status, response.getheader("x-served-by")) == (413, None)
    static = client.get("/static/guestbook/site.css")
    assert static.headers.get("cache-control") == STATIC_CACHE
    assert static.headers.get("x-content-type-options") == "nosniff"
    assert HASHED_STATIC_CACHE != STATIC_CACHE


def assert_slow_clients_do_not_stall_the_rest(url: str, *, connections: int = 300) -> None:
    """A bounded slowloris (loopback, 20 s) is cut off by the proxy's header timeout (5 s)
    while a page a second is still served, each within the client's 10 s."""
    port = urllib.parse.urlsplit(url).port
    assert port is not None
    served: list[int | str] = []
    duration = 20.0

    def traffic() -> None:
        end = time.monotonic() + duration - 2
        for _ in range(int(duration)):
            if time.monotonic() >= end:
                break
            try:
                served.append(Client(url).get("/").status)
            except (OSError, http.client.HTTPException) as error:
                served.append(type(error).__name__)
            time.sleep(1.0)

    thread = threading.Thread(target=traffic)
    thread.start()
    run = slowloris(
        port=port,
        connections=connections,
        interval=3.0,
        duration=duration,
        reconnects=2 * connections,
    )
    thread.join(timeout=duration + 15)
    assert served and set(served) == {200}, served
    assert run.failed_to_connect == 0 and run.cut >= connections, run


def assert_static_text_is_gzipped(url: str) -> None:
    """The sample app's CSS, to a client that accepts gzip: the build's precompressed copy
    (gzip at level 9 with no time in it, so it decompresses to the file); plain otherwise."""
    client = Client(url)
    compressed = client.request(
        "GET", "/static/guestbook/site.css", headers={"Accept-Encoding": "gzip"}
    )
    assert compressed.status == 200 and compressed.served_by is None
    assert compressed.headers.get("content-encoding") == "gzip", compressed.headers
    assert "accept-encoding" in compressed.headers.get("vary", "").lower(), compressed.headers
    assert gzip.decompress(compressed.body) == CSS.read_bytes()
    # Level 9, as the build makes it, and no time: the header's mtime field is zero.
    assert compressed.body[4:8] == b"\0\0\0\0" and compressed.body[8] == 2
    plain = client.get("/static/guestbook/site.css")
    assert plain.headers.get("content-encoding") is None and plain.body == CSS.read_bytes()
    page = client.request("GET", "/", headers={"Accept-Encoding": "gzip"})
    assert page.status == 200 and page.headers.get("content-encoding") is None


def assert_a_flood_of_requests_is_refused(url: str, *, limit: RateLimit | None = None) -> None:
    """Requests to Django from one client, 8 at a time, as fast as it can (at most 15 s or
    3 x what the proxy lets through): some are answered 429 by the proxy itself. Then the
    client waits out the penalty (Apache's window) and is served again."""
    limit = limit or RateLimit()
    most = 3 * (limit.apache_window_limit + limit.burst)
    deadline = time.monotonic() + 15.0
    client = Client(url)

    def one(_: int) -> tuple[int, str | None]:
        if time.monotonic() > deadline:
            return 0, None
        response = client.get("/_stack/health")
        return response.status, response.served_by

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(one, range(most)))
    statuses = Counter(status for status, _ in outcomes if status)
    assert statuses[429] > 0 and set(statuses) <= {200, 429}, statuses
    time.sleep(APACHE_RATE_WINDOW_SECONDS + 1)
    assert client.get("/").status == 200
