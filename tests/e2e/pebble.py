"""Pebble, Let's Encrypt's ACME test server, beside the VM stand-ins (tests/e2e/vm_hosts.py).

Built by scripts/install-pebble.sh (pinned, cached); run here in a container of the stand-ins'
private network, reachable there as `pebble` (the name its own HTTPS certificate, from its
module's test/certs/, is for). It validates HTTP-01 for real: it resolves the stack's name
with the system resolver, Docker's embedded DNS, which answers with the proxy stand-in
(a network alias of it), and fetches the token from the port the config names (the stack's
plain-HTTP port). PEBBLE_VA_ALWAYS_VALID is never set.
https://github.com/letsencrypt/pebble#readme
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from components.debian import DEFAULT_RELEASE, release_image
from tests.e2e.engine import LABEL, EngineError, docker
from tests.support.stack_files import built_by_project_script

REPOSITORY = Path(__file__).resolve().parents[2]
NAME = "pebble"
ACME_PORT = 14000
MANAGEMENT_PORT = 15000


def pebble_dir() -> Path:
    """The directory of the built pebble and its certs/ (scripts/install-pebble.sh), built
    now when scripts/test.sh has not said where (DJANGO_STACK_PEBBLE_DIR)."""
    given = os.environ.get("DJANGO_STACK_PEBBLE_DIR")
    if given:
        return Path(given)
    return built_by_project_script("install-pebble.sh", timeout_s=900)


@dataclass(frozen=True)
class Pebble:
    """A running Pebble and how to reach it."""

    container: str
    address: str
    """Its address on the private network (the tests reach it from this machine too)."""
    minica: Path
    """The root of Pebble's own HTTPS certificate (its directory, its management API)."""

    @property
    def directory(self) -> str:
        """The ACME directory URL, as the stand-ins reach it."""
        return f"https://{NAME}:{ACME_PORT}/dir"

    def management(self, path: str) -> str:
        """GET on the management interface (/roots/0: the root that signs the certificates
        it issues, made anew at each start)."""
        context = ssl.create_default_context(cafile=str(self.minica))
        with (
            socket.create_connection((self.address, MANAGEMENT_PORT), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=NAME) as conn,
        ):
            conn.sendall(
                f"GET {path} HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0]
        if b" 200 " not in status + b" ":
            raise EngineError(f"pebble {path}: {status!r}")
        if b"transfer-encoding: chunked" in head.lower():
            body = _dechunk(body)
        return body.decode()

    def root(self) -> str:
        return self.management("/roots/0")


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def start_pebble(
    *, run_id: str, network: str, name: str, http_port: int, workdir: Path, validity_seconds: int
) -> Pebble:
    """Pebble on `network`, validating HTTP-01 on `http_port`, issuing certificates valid for
    `validity_seconds`; removed with the run's other containers (its label)."""
    built = pebble_dir()
    # Pebble's own test config (test/config/pebble-config.json in its module) with the
    # ports and paths of this run; no OCSP (Let's Encrypt has none since 2025 either).
    config = {
        "pebble": {
            "listenAddress": f"0.0.0.0:{ACME_PORT}",
            "managementListenAddress": f"0.0.0.0:{MANAGEMENT_PORT}",
            "certificate": "/pebble/certs/localhost/cert.pem",
            "privateKey": "/pebble/certs/localhost/key.pem",
            "httpPort": http_port,
            "tlsPort": 5001,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
            "retryAfter": {"authz": 1, "order": 1},
            "keyAlgorithm": "ecdsa",
            "profiles": {"default": {"description": "e2e", "validityPeriod": validity_seconds}},
        }
    }
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "pebble-config.json").write_text(json.dumps(config, indent=2))
    docker(
        "run",
        "--detach",
        "--name",
        name,
        "--label",
        f"{LABEL}={run_id}",
        "--network",
        network,
        "--network-alias",
        NAME,
        "--volume",
        f"{built}:/pebble:ro",
        "--volume",
        f"{workdir}:/config:ro",
        # No random wait before each validation (up to 15 s), and no nonce refused at random
        # (5% by default, which certbot retries once): a deterministic run, still validated.
        "--env",
        "PEBBLE_VA_NOSLEEP=1",
        "--env",
        "PEBBLE_WFE_NONCEREJECT=0",
        release_image(DEFAULT_RELEASE),
        "/pebble/pebble",
        "-config",
        "/config/pebble-config.json",
    )
    details = json.loads(docker("inspect", name))[0]
    address = details["NetworkSettings"]["Networks"][network]["IPAddress"]
    pebble = Pebble(container=name, address=address, minica=built / "certs/pebble.minica.pem")
    deadline = time.monotonic() + 30
    while True:
        try:
            pebble.root()
            return pebble
        except (OSError, EngineError) as error:
            if time.monotonic() > deadline:
                logs = docker("logs", name, check=False)
                raise EngineError(f"pebble did not answer: {error}\n{logs[-2000:]}") from error
            time.sleep(0.5)
