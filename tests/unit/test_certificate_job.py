"""The Docker proxy's certificate job (templates/docker/proxy-certificate-install.sh), run by
the shell on this machine against a real TLS server (`openssl s_server`) standing in for the
proxy: it installs the new pair, waits until the proxy serves it, and when the proxy does not
within its time, puts the old pair back and fails, naming what was served instead."""

from __future__ import annotations

import base64
import contextlib
import datetime
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.render.templates import render_template
from components.render.tls import TlsMaterial, self_signed
from tests.unit.test_app_server_config import free_port

NOW = datetime.datetime.now(datetime.UTC)
HOSTS = ("localhost",)
OLD = self_signed(seed="old-seed-" + "a" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
NEW = self_signed(seed="new-seed-" + "b" * 30, stack="t", allowed_hosts=HOSTS, now=NOW)
WAIT_SECONDS = 3
# Docker's DNS names no stopped container: nothing by this name answers either.
NO_PROXY = "django-stack-no-such-proxy.invalid"


def run_job(
    tls_dir: Path, material: TlsMaterial, *, proxy_host: str, port: int
) -> subprocess.CompletedProcess[str]:
    script = render_template(
        "docker/proxy-certificate-install.sh",
        {
            "tls_dir": str(tls_dir),
            "proxy_host": proxy_host,
            "tls_port": port,
            "wait_seconds": WAIT_SECONDS,
        },
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_STACK_TLS_CHAIN": base64.b64encode(material.chain_pem.encode()).decode(),
        "DJANGO_STACK_TLS_KEY": base64.b64encode(material.key_pem.encode()).decode(),
    }
    return subprocess.run(
        ["sh", "-c", script, "django-stack-certificate", "digest"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@contextlib.contextmanager
def proxy_serving(material: TlsMaterial, workdir: Path) -> Iterator[int]:
    """A TLS server on loopback that serves `material`'s certificate; its port."""
    workdir.mkdir(parents=True, exist_ok=True)
    chain, key = workdir / "chain.pem", workdir / "key.pem"
    chain.write_text(material.chain_pem)
    key.write_text(material.key_pem)
    port = free_port()
    server = subprocess.Popen(
        ["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{port}", "-cert", str(chain),
         "-key", str(key), "-www"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            assert server.poll() is None and time.monotonic() < deadline, "s_server did not start"
            time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def installed(tls_dir: Path) -> tuple[str, list[str]]:
    """Where `current` points, and the sets in the directory."""
    return os.readlink(tls_dir / "current"), sorted(p.name for p in tls_dir.glob("set-*"))


@pytest.fixture
def tls_dir(tmp_path: Path) -> Path:
    """The TLS volume with the old pair installed, as a first `up` left it."""
    directory = tmp_path / "tls"
    directory.mkdir()
    first = run_job(directory, OLD, proxy_host=NO_PROXY, port=free_port())
    assert first.returncode == 0, first.stderr
    assert "no proxy is running yet" in first.stdout
    return directory


def test_a_proxy_that_serves_the_new_pair_keeps_it_alone(tls_dir: Path, tmp_path: Path) -> None:
    with proxy_serving(NEW, tmp_path / "proxy") as port:
        done = run_job(tls_dir, NEW, proxy_host="localhost", port=port)
    assert done.returncode == 0, done.stderr
    assert "the proxy serves the new certificate" in done.stdout
    current, sets = installed(tls_dir)
    assert sets == [current]
    assert (tls_dir / current / "chain.pem").read_text() == NEW.chain_pem


def test_a_proxy_that_keeps_the_old_pair_gets_it_back_and_the_job_fails(
    tls_dir: Path, tmp_path: Path
) -> None:
    before, _ = installed(tls_dir)
    started = time.monotonic()
    with proxy_serving(OLD, tmp_path / "proxy") as port:
        done = run_job(tls_dir, NEW, proxy_host="localhost", port=port)
    took = time.monotonic() - started
    assert done.returncode == 1
    assert "did not serve the new certificate" in done.stderr and "within 3 s" in done.stderr
    assert "the old certificate files are back in place" in done.stderr
    # It names what was served instead: the old certificate's fingerprint.
    served = done.stderr.split("it serves ", 1)[1]
    assert served.startswith("sha256 Fingerprint=") or served.startswith("SHA256 Fingerprint=")
    assert installed(tls_dir) == (before, [before])
    assert (tls_dir / before / "key.pem").read_text() == OLD.key_pem
    assert WAIT_SECONDS <= took < WAIT_SECONDS + 15


def test_with_no_earlier_pair_there_is_nothing_to_go_back_to(tmp_path: Path) -> None:
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    # Nothing listens on the port: the proxy serves nothing at all.
    done = run_job(tls_dir, NEW, proxy_host="localhost", port=free_port())
    assert done.returncode == 1
    assert "it serves nothing on port" in done.stderr
    assert "there were no earlier files to go back to" in done.stderr
