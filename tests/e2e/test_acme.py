"""End to end: TLS on the VM target's proxy host, `acme` against Pebble (tests/e2e/pebble.py),
then `files` and their rotation, on one deployment per proxy.

One deployment per proxy (Gunicorn behind nginx, then behind Apache, on stand-in machines,
tests/e2e/vm_hosts.py) whose proxy host gets its certificate from a Pebble on the machines'
network by HTTP-01, validated for real through the proxy's plain-HTTP port. Checked: the
HTTPS port serves a chain that verifies against Pebble's root (from its management
interface) for the stack's name, with Mozilla's profile and HTTP/2 by ALPN; pages over it;
plain HTTP redirects except the challenge files; then a renewal run as certbot.timer runs it
(`systemctl start certbot.service`), after which the new certificate is served, without one
failed request of a loop running across it. Last, the same machines are given
`tls.mode: files` by `up` (the program run again), twice, each time with a chain and key of
a new CA made here, while the loop runs: as soon as `up` returns, the proxy serves that chain,
the proxy process is the same (a reload, never a restart) and no request failed.
"""

from __future__ import annotations

import datetime
import http.client
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store
from pulumi import automation as auto

from components.choices import AppServer, Proxy
from components.debian import DEFAULT_RELEASE
from components.render.acme import ACME_WEBROOT
from components.render.proxy_config import ACME_CHALLENGE_PATH
from components.render.systemd import PROXY_UNIT
from components.render.tls import TlsMaterial, self_signed
from tests.e2e.conftest import build_overrides, free_port
from tests.e2e.pebble import Pebble, pebble_dir, start_pebble
from tests.e2e.vm_hosts import VmDeployed, deployed_on_standins
from tests.support.request_loop import requests_in_a_loop
from tests.support.stack_files import engine_value
from tests.support.tls_checks import assert_mozilla_intermediate, negotiated_alpn, scan

pytestmark = pytest.mark.e2e

DOMAIN = "shop.django-stack.test"
# Short-lived, so certbot's renewal (30 days before the end) finds it due at once.
VALIDITY_SECONDS = 7 * 24 * 3600
STATIC = "/static/guestbook/site.css"


@dataclass
class AcmeStack:
    deployed: VmDeployed
    pebble: Pebble
    http_port: int
    https_port: int
    root_file: Path
    proxy: Proxy

    def context(self) -> ssl.SSLContext:
        """Trusts Pebble's root only (and checks the name, as a browser would)."""
        return ssl.create_default_context(cafile=str(self.root_file))

    def https(
        self, path: str, *, context: ssl.SSLContext | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request for DOMAIN through the published HTTPS port."""
        context = context or self.context()
        conn = http.client.HTTPSConnection(DOMAIN, self.https_port, timeout=10, context=context)
        raw = socket.create_connection(("127.0.0.1", self.https_port), timeout=10)
        conn.sock = context.wrap_socket(raw, server_hostname=DOMAIN)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            reply = conn.getresponse()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        finally:
            conn.close()

    def http(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """One plain-HTTP request for DOMAIN through the published HTTP port."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": DOMAIN, "Connection": "close"})
            reply = conn.getresponse()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        finally:
            conn.close()

    def served_leaf(self, *, context: ssl.SSLContext | None = None) -> x509.Certificate:
        """The certificate the HTTPS port sends for DOMAIN, in a handshake that verifies
        it against Pebble's root (or `context`'s CAs) and the name."""
        with (
            socket.create_connection(("127.0.0.1", self.https_port), timeout=10) as raw,
            (context or self.context()).wrap_socket(raw, server_hostname=DOMAIN) as conn,
        ):
            der = conn.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der)

    def served_chain(self) -> list[x509.Certificate]:
        """Every certificate the HTTPS port sends for DOMAIN, as sent (openssl s_client)."""
        shown = subprocess.run(
            [
                *("openssl", "s_client", "-connect", f"127.0.0.1:{self.https_port}"),
                *("-servername", DOMAIN, "-showcerts"),
            ],
            input="",
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        return x509.load_pem_x509_certificates(shown.stdout.encode())


@pytest.fixture(scope="module", params=list(Proxy), ids=[p.value for p in Proxy])
def acme_stack(
    request: pytest.FixtureRequest, docker_engine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AcmeStack]:
    proxy: Proxy = request.param
    http_port, https_port = free_port(), free_port()
    workdir = tmp_path_factory.mktemp(f"acme-{proxy.value}")
    minica = (pebble_dir() / "certs/pebble.minica.pem").read_text()
    name = f"e2e-vm-acme-{proxy.value}"
    started: list[Pebble] = []

    def pebble_beside_the_machines(network: str) -> dict[str, Any]:
        started.append(
            start_pebble(
                run_id=docker_engine,
                network=network,
                name=f"django-stack-{docker_engine}-{name}-pebble",
                http_port=http_port,
                workdir=workdir / "pebble",
                validity_seconds=VALIDITY_SECONDS,
            )
        )
        return {}

    with deployed_on_standins(
        run_id=docker_engine,
        name=name,
        release=DEFAULT_RELEASE,
        port=http_port,
        overrides={
            **build_overrides(),
            "appServer": AppServer.GUNICORN.value,
            "proxy": proxy.value,
            "allowedHosts": [DOMAIN],
            "httpsPort": https_port,
            "tls": {
                "mode": "acme",
                "acmeDirectory": "https://pebble:14000/dir",
                "acmeEmail": "ops@django-stack.test",
                "acmeCaBundle": minica,
            },
        },
        app_hosts=1,
        proxy_ports=[https_port],
        proxy_aliases=[DOMAIN],
        services=pebble_beside_the_machines,
    ) as deployed:
        (pebble,) = started
        assert deployed.outputs["url"] == f"https://{DOMAIN}:{https_port}/"
        root_file = workdir / "pebble-root.pem"
        root_file.write_text(pebble.root())
        yield AcmeStack(deployed, pebble, http_port, https_port, root_file, proxy)


def test_the_certificate_is_pebbles_for_the_stacks_name(acme_stack: AcmeStack) -> None:
    leaf = acme_stack.served_leaf()
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == [DOMAIN]
    # The chain as sent (leaf, Pebble's intermediate), by another verifier than OpenSSL's:
    # up to Pebble's root, for the stack's name.
    chain = acme_stack.served_chain()
    assert chain[0] == leaf and len(chain) >= 2, chain
    roots = x509.load_pem_x509_certificates(acme_stack.root_file.read_bytes())
    verifier = PolicyBuilder().store(Store(roots)).build_server_verifier(x509.DNSName(DOMAIN))
    path = verifier.verify(leaf, chain[1:])
    assert path[-1] == roots[0]
    assert_mozilla_intermediate(
        scan(port=acme_stack.https_port, ca_file=acme_stack.root_file, host=DOMAIN),
        ca_file=acme_stack.root_file,
    )
    assert (
        negotiated_alpn(port=acme_stack.https_port, ca_file=acme_stack.root_file, host=DOMAIN)
        == "h2"
    )


def test_pages_over_https_and_plain_http_redirects_but_the_challenge(
    acme_stack: AcmeStack,
) -> None:
    status, headers, body = acme_stack.https("/")
    assert status == 200 and "strict-transport-security" in headers, (status, headers)
    status, headers, _ = acme_stack.http("/entries.json?x=1")
    assert status == 301
    assert headers["location"] == f"https://{DOMAIN}:{acme_stack.https_port}/entries.json?x=1"
    # What the CA fetches is a file of the webroot, over plain HTTP, never redirected.
    proxy = acme_stack.deployed.proxy
    token = "e2e-probe-token"
    proxy.run(
        "sh",
        "-c",
        f"install -d {ACME_WEBROOT}{ACME_CHALLENGE_PATH}"
        f" && printf key-authorization > {ACME_WEBROOT}{ACME_CHALLENGE_PATH}{token}",
    )
    status, headers, body = acme_stack.http(f"{ACME_CHALLENGE_PATH}{token}")
    assert (status, body) == (200, b"key-authorization"), (status, headers)
    assert headers["content-type"].startswith("text/plain")
    proxy.run("rm", "-f", f"{ACME_WEBROOT}{ACME_CHALLENGE_PATH}{token}")


def test_the_timers_renewal_serves_a_new_certificate_without_a_failed_request(
    acme_stack: AcmeStack,
) -> None:
    proxy = acme_stack.deployed.proxy
    # certbot.timer is what renews: it is on, and it starts certbot.service.
    assert proxy.run("systemctl", "is-enabled", "certbot.timer").strip() == "enabled"
    old = acme_stack.served_leaf()
    since = proxy.run("date", "+%s").strip()
    with requests_in_a_loop(lambda: acme_stack.https(STATIC)[0]) as seen:
        time.sleep(1)
        # What the timer triggers (a oneshot: `systemctl start` returns when it is done,
        # and its deploy hook returns once the proxy serves the new certificate).
        proxy.run("systemctl", "start", "certbot.service")
        new = acme_stack.served_leaf()  # at once: no waiting here
        time.sleep(1)
    assert new.serial_number != old.serial_number, proxy.run(
        "journalctl", "-u", "certbot.service", "-n", "40", "--no-pager"
    )
    assert new.public_key() != old.public_key()  # certbot's new key, taken by a reload
    journal = proxy.run(
        "journalctl", "-u", PROXY_UNIT, "--since", f"@{since}", "-o", "cat", "--no-pager"
    )
    assert "Reloaded" in journal and "Stopping" not in journal, journal[-3000:]
    assert seen.served > 20 and seen.failures == [], (seen.served, seen.failures[:5])


def _main_pid(stack: AcmeStack) -> str:
    pid = stack.deployed.proxy.run(
        "systemctl", "show", "--property=MainPID", "--value", PROXY_UNIT
    ).strip()
    assert pid not in ("", "0"), pid
    return pid


def _own_files(stack: AcmeStack, generation: str) -> TlsMaterial:
    """A chain and key as a user brings them (`files`): a CA of their own, made here, and a
    certificate it issued for the stack's name."""
    own = self_signed(
        seed=f"{stack.deployed.name}-{generation}-" + "s" * 32,
        stack=f"own-{generation}",
        allowed_hosts=(DOMAIN,),
        now=datetime.datetime.now(datetime.UTC),
    )
    assert own.ca_pem is not None
    return own


def test_own_files_and_their_rotation_are_served_by_a_reload_without_a_failed_request(
    acme_stack: AcmeStack, tmp_path: Path
) -> None:
    """`up` with `tls.mode: files`, then `up` with a new chain and key: each time, the
    program returns only once the proxy serves the new chain (checked at once, no waiting
    here), the proxy's main process is the one from before (a graceful reload: a restart,
    as systemd's LoadCredential= needed for a new key, would change it and fail requests),
    and the clients looping over HTTPS meanwhile see no failure."""
    deployed = acme_stack.deployed
    engine = deployed.engine
    # certbot.timer, which the acme deployment left on, would put its own certificate back;
    # not part of what is checked here.
    deployed.proxy.run("systemctl", "disable", "--now", "certbot.timer")
    generations = {g: _own_files(acme_stack, g) for g in ("first", "second")}
    trusted = tmp_path / "trusted.pem"
    trusted.write_text(
        acme_stack.root_file.read_text() + "".join(m.ca_pem or "" for m in generations.values())
    )
    # The clients trust the old and the new CAs, as a rotation with a care for clients does.
    any_of_them = ssl.create_default_context(cafile=str(trusted))
    main_pid = _main_pid(acme_stack)
    with requests_in_a_loop(lambda: acme_stack.https(STATIC, context=any_of_them)[0]) as seen:
        for generation, own in generations.items():
            tls = engine_value({"mode": "files", "certificate": own.chain_pem, "key": own.key_pem})
            started = time.monotonic()
            # What a user does: `pulumi config set --secret tls ...`, then `pulumi up`.
            engine.stack.set_config("django-stack:tls", auto.ConfigValue(tls, secret=True))
            engine.up()
            took = time.monotonic() - started
            print(f"\n[e2e] `up` with the {generation} own files: {took:.0f}s")
            # At once: `up` returned, so the proxy serves them (verified against their CA).
            own_only = ssl.create_default_context(cadata=own.ca_pem)
            served = acme_stack.served_leaf(context=own_only)
            expected = x509.load_pem_x509_certificates(own.chain_pem.encode())
            assert served == expected[0], (generation, served.subject, served.issuer)
            assert acme_stack.served_chain() == expected, generation
            assert _main_pid(acme_stack) == main_pid, f"{PROXY_UNIT} restarted ({generation})"
        time.sleep(1)
    key_file = deployed.proxy.run("stat", "-c", "%a %U:%G", "/etc/django-stack/tls/key.pem")
    assert key_file.strip() == "640 root:www-data"
    # Leaving acme deleted certbot's lineage (the engine ran the acme teardown's delete).
    assert deployed.proxy.run("find", "/etc/letsencrypt", "-name", "django-stack*") == ""
    assert seen.served > 20 and seen.failures == [], (seen.served, seen.failures[:5])
