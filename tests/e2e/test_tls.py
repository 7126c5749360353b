"""End to end with TLS on a real Docker engine: one stack per proxy, `tls.mode: self-signed`.

The HTTPS port the proxy container publishes is checked as tests/unit/test_proxy_tls.py
checks the proxies on loopback (sslyze: protocols, Mozilla's TLS 1.2 ciphers, the chain
against the stack's own CA, which is the `tlsCaCertificate` output; ALPN h2), and the pages
are served over it, with HSTS, Secure cookies and Django told https; plain HTTP redirects.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.choices import Proxy
from tests.e2e.conftest import build_overrides, free_port
from tests.e2e.deploy import deploy
from tests.e2e.engine import remove_everything
from tests.e2e.http import Client
from tests.support.tls_checks import assert_mozilla_intermediate, negotiated_alpn, scan

pytestmark = pytest.mark.e2e
# The shipped default for a stack with production on.
HSTS = 63072000


@dataclass(frozen=True)
class TlsStack:
    proxy: Proxy
    http_port: int
    https_port: int
    url: str
    ca_file: Path

    def client(self) -> Client:
        return Client(self.url, ssl_context=ssl.create_default_context(cafile=str(self.ca_file)))


@pytest.fixture(scope="module", params=list(Proxy), ids=[p.value for p in Proxy])
def stack(
    request: pytest.FixtureRequest, docker_engine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsStack]:
    proxy: Proxy = request.param
    http_port, https_port = free_port(), free_port()
    try:
        run = deploy(
            stack_file="dev",
            stack_name=f"e2e-tls-{proxy.value}",
            overrides={
                **build_overrides(),
                "proxy": proxy.value,
                "replicas": 2,
                "production": True,
                "tls": {"mode": "self-signed"},
                "httpPort": http_port,
                "httpsPort": https_port,
            },
            run_id=docker_engine,
        )
        assert run.outputs["url"] == f"https://127.0.0.1:{https_port}/"
        ca_file = tmp_path_factory.mktemp(f"tls-{proxy.value}") / "ca.pem"
        ca_file.write_text(run.outputs["tlsCaCertificate"])
        yield TlsStack(proxy, http_port, https_port, run.outputs["url"], ca_file)
    finally:
        remove_everything(docker_engine)


def test_the_published_https_port_takes_mozillas_intermediate_profile(stack: TlsStack) -> None:
    # The URL names 127.0.0.1, which the certificate covers as well as localhost.
    for host in ("127.0.0.1", "localhost"):
        assert_mozilla_intermediate(
            scan(port=stack.https_port, ca_file=stack.ca_file, host=host), ca_file=stack.ca_file
        )
    assert negotiated_alpn(port=stack.https_port, ca_file=stack.ca_file) == "h2"


def test_pages_are_served_over_https_with_hsts_and_secure_cookies(stack: TlsStack) -> None:
    client = stack.client()
    page = client.get("/")
    assert page.status == 200
    assert page.headers["strict-transport-security"] == f"max-age={HSTS}"
    static = client.get("/static/guestbook/site.css")
    assert static.status == 200 and static.served_by is None
    told = json.loads(
        client.request("GET", "/request.json", headers={"X-Forwarded-Proto": "http"}).body
    )
    assert told["x_forwarded_proto"] == "https"
    # The page's form sets Django's CSRF cookie: Secure, with DJANGO_HTTPS.
    assert 'name="csrfmiddlewaretoken"' in page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("csrftoken=") and "; secure" in cookie.lower(), cookie


def test_plain_http_redirects_to_the_https_port(stack: TlsStack) -> None:
    reply = Client(f"http://127.0.0.1:{stack.http_port}/").get("/entries.json?x=1")
    assert reply.status == 301
    assert reply.headers["location"] == f"https://127.0.0.1:{stack.https_port}/entries.json?x=1"
    assert "strict-transport-security" not in reply.headers
