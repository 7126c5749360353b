"""End to end with TLS on a real Docker engine: one stack per proxy, `tls.mode: self-signed`.

The HTTPS port the proxy container publishes is checked as tests/unit/test_proxy_tls.py
checks the proxies on loopback (sslyze: protocols, Mozilla's TLS 1.2 ciphers, the chain
against the stack's own CA, which is the `tlsCaCertificate` output; ALPN h2), and the pages
are served over it, with HSTS, Secure cookies and Django told https; plain HTTP redirects.
Last, on the same deployment, a certificate rotation: what `up` with a new certificate would
create (the program's own certificate job) runs while clients keep requesting.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
from cryptography import x509

from components.choices import Proxy
from components.docker.proxy_certificate import certificate_installed
from tests.e2e.conftest import build_overrides, free_port
from tests.e2e.deploy import deploy
from tests.e2e.engine import DockerEngine, docker, remove_everything
from tests.e2e.http import Client
from tests.support.mocks import ProgramRun, Registration, run_program, unwrap_secrets
from tests.support.request_loop import requests_in_a_loop
from tests.support.stack_files import stack_config
from tests.support.tls_checks import assert_mozilla_intermediate, negotiated_alpn, scan

pytestmark = pytest.mark.e2e
# The shipped default for a stack with production on.
HSTS = 63072000
STATIC = "/static/guestbook/site.css"


@dataclass(frozen=True)
class TlsStack:
    proxy: Proxy
    http_port: int
    https_port: int
    url: str
    ca_file: Path
    name: str
    overrides: dict[str, Any]
    run: ProgramRun

    def client(self) -> Client:
        return Client(self.url, ssl_context=ssl.create_default_context(cafile=str(self.ca_file)))


@pytest.fixture(scope="module", params=list(Proxy), ids=[p.value for p in Proxy])
def stack(
    request: pytest.FixtureRequest, docker_engine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsStack]:
    proxy: Proxy = request.param
    http_port, https_port = free_port(), free_port()
    name = f"e2e-tls-{proxy.value}"
    overrides = {
        **build_overrides(),
        "proxy": proxy.value,
        "replicas": 2,
        "production": True,
        "tls": {"mode": "self-signed"},
        "httpPort": http_port,
        "httpsPort": https_port,
    }
    try:
        run = deploy(stack_file="dev", stack_name=name, overrides=overrides, run_id=docker_engine)
        assert run.outputs["url"] == f"https://127.0.0.1:{https_port}/"
        ca_file = tmp_path_factory.mktemp(f"tls-{proxy.value}") / "ca.pem"
        ca_file.write_text(run.outputs["tlsCaCertificate"])
        yield TlsStack(
            proxy, http_port, https_port, run.outputs["url"], ca_file, name, overrides, run
        )
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


def _role(run: ProgramRun, role: str) -> Registration:
    (found,) = [
        r
        for r in run.of_type("docker:index/container:Container")
        if {"label": "django-stack.role", "value": role} in r.inputs["labels"]
    ]
    return found


def _started(container: str) -> tuple[str, str, int]:
    """What a replaced or restarted container would change: id, start time, restarts."""
    state = json.loads(docker("inspect", container))[0]
    return state["Id"], state["State"]["StartedAt"], state["RestartCount"]


# Runs last: afterwards the proxy serves another CA's certificate than the checks above expect.
def test_a_new_certificate_is_served_without_a_failed_request(
    stack: TlsStack, docker_engine: str
) -> None:
    # What `up` with a new certificate registers: the program again, with the same config.
    # Under FakeCloud the self-signed seed is another than the deployed stack's, so the CA
    # and the pair are new: a rotation as with new `files`, key and all.
    rotated = run_program(stack_config("dev", stack.overrides), stack=stack.name)
    proxy, job = _role(rotated, "proxy"), _role(rotated, "certificate")
    deployed_proxy = _role(stack.run, "proxy")
    # The engine would leave the proxy alone: its inputs are the deployed ones.
    assert unwrap_secrets(proxy.inputs) == unwrap_secrets(deployed_proxy.inputs)
    assert job.inputs["name"] != _role(stack.run, "certificate").inputs["name"]
    new_ca = rotated.outputs["tlsCaCertificate"]
    old_ca = stack.ca_file.read_text()
    assert new_ca != old_ca
    # Clients that trust both CAs, as users would during a planned change of CA.
    both = ssl.create_default_context(cadata=old_ca + new_ca)
    container = proxy.inputs["name"]
    before = _started(container)

    # A static file: the proxy's own answer, not counted by its per-client rate limit (a
    # page would be: the loop runs far above `rateLimit`), and the TLS edge is what changes.
    def get() -> int:
        return Client(stack.url, ssl_context=both, timeout=5).get(STATIC).status

    engine = DockerEngine(run_id=docker_engine)
    with requests_in_a_loop(get) as loop:
        time.sleep(1)
        # Only the job, carried out as the harness carries out every container.
        _, outputs = engine.new_resource(
            pulumi.runtime.MockResourceArgs(
                typ=job.typ, name=job.name, inputs=job.inputs, custom=True
            )
        )
        time.sleep(2)
    certificate_installed(
        job=job.inputs["name"], exit_code=outputs["exitCode"], logs=outputs.get("containerLogs")
    )
    # It found the proxy running and saw it serve the new certificate (not a first `up`).
    assert "the proxy serves the new certificate" in outputs["containerLogs"], outputs
    assert loop.failures == [], loop.failures[:5]
    assert loop.served > 20, loop.served
    # The new certificate is served: the new pair's leaf, valid against the new CA alone.
    envs = dict(e.split("=", 1) for e in unwrap_secrets(job.inputs["envs"]))
    chain = base64.b64decode(envs["DJANGO_STACK_TLS_CHAIN"]).decode()
    leaf = x509.load_pem_x509_certificates(chain.encode())[0]
    served = ssl.get_server_certificate(("127.0.0.1", stack.https_port))
    assert x509.load_pem_x509_certificate(served.encode()) == leaf
    only_new = ssl.create_default_context(cadata=new_ca)
    assert Client(stack.url, ssl_context=only_new).get("/").status == 200
    # By a reload: the same container, never restarted.
    assert _started(container) == before
