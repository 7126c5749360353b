"""The proxies' plain-HTTP port with `tls.mode: acme`, with the real servers: ACME's HTTP-01
challenge files are served from certbot's webroot (components/render/acme.py) before the
redirect to HTTPS, as plain text, and nothing else changes (every other path still redirects,
a missing token is a 404 of the proxy's own, never a redirect or Django's, and HTTPS does not
serve the webroot)."""

from __future__ import annotations

import contextlib
import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.choices import Proxy, UpstreamProtocol
from components.render.proxy_config import ACME_CHALLENGE_PATH
from components.render.tls import self_signed
from tests.unit.test_proxy_config import PROXIES, proxy_workdir, require_binary
from tests.unit.test_proxy_tls import (
    HOSTS,
    NOW,
    TlsEdge,
    one_app_server,
    tls_database,  # noqa: F401 (a fixture)
    tls_proxy,
)

TOKEN = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
KEY_AUTHORIZATION = f"{TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


@pytest.fixture(scope="module", params=PROXIES)
def acme_edge(request: pytest.FixtureRequest, tls_database: Path) -> Iterator[TlsEdge]:  # noqa: F811
    proxy: Proxy = request.param
    require_binary(proxy)
    protocol = UpstreamProtocol.HTTP
    material = self_signed(seed="acme-seed-" + "d" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
    with contextlib.ExitStack() as stack:
        workdir = stack.enter_context(proxy_workdir())
        webroot = workdir / "acme"
        challenges = webroot / ACME_CHALLENGE_PATH.strip("/")
        challenges.mkdir(parents=True)
        (challenges / TOKEN).write_text(KEY_AUTHORIZATION)
        webroot.chmod(0o755)
        server = stack.enter_context(
            one_app_server(protocol, workdir=workdir / "a", database=tls_database)
        )
        yield stack.enter_context(
            tls_proxy(
                proxy=proxy,
                protocol=protocol,
                servers=[server],
                material=material,
                acme_webroot=str(webroot),
                workdir=workdir,
            )
        )


def plain(edge: TlsEdge, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", edge.http_port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        reply = conn.getresponse()
        return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
    finally:
        conn.close()


def test_the_challenge_file_is_served_over_plain_http_as_text(acme_edge: TlsEdge) -> None:
    status, headers, body = plain(acme_edge, ACME_CHALLENGE_PATH + TOKEN)
    assert (status, body.decode()) == (200, KEY_AUTHORIZATION), (headers, acme_edge.logs())
    assert headers["content-type"].startswith("text/plain")
    assert "location" not in headers and "strict-transport-security" not in headers


def test_everything_else_still_redirects_and_nothing_reaches_django(acme_edge: TlsEdge) -> None:
    status, headers, _ = plain(acme_edge, "/entries.json?x=1")
    assert status == 301
    assert headers["location"] == f"https://localhost:{acme_edge.https_port}/entries.json?x=1"
    # A token that is not there: the proxy's 404, not a redirect, not Django (X-Served-By).
    for path in (ACME_CHALLENGE_PATH + "missing", ACME_CHALLENGE_PATH):
        status, headers, _ = plain(acme_edge, path)
        assert status in (403, 404) and "x-served-by" not in headers, (path, status, headers)
    # The webroot is plain HTTP's alone: over HTTPS the path goes to Django like any other.
    status, headers, body = acme_edge.https(ACME_CHALLENGE_PATH + TOKEN, context=None)
    assert KEY_AUTHORIZATION.encode() not in body and headers.get("x-served-by") == "a"
