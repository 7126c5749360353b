"""The check that the proxy serves its chain file's certificate
(components/render/served_certificate.py), run for real: the rendered script against a TLS
server on loopback whose certificate changes a moment later, as after a proxy's reload."""

from __future__ import annotations

import datetime
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.render.served_certificate import render_wait_for_certificate
from components.render.tls import TlsMaterial, self_signed

NOW = datetime.datetime.now(datetime.UTC)


def _material(seed: str) -> TlsMaterial:
    return self_signed(seed=seed * 20, stack="t", allowed_hosts=("localhost",), now=NOW)


class _Server:
    """A TLS server on 127.0.0.1 whose certificate can be swapped (each handshake takes the
    current one)."""

    def __init__(self, workdir: Path, material: TlsMaterial) -> None:
        self.workdir = workdir
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.serve(material)

    def serve(self, material: TlsMaterial) -> None:
        chain, key = self.workdir / "served-chain.pem", self.workdir / "served-key.pem"
        chain.write_text(material.chain_pem)
        key.write_text(material.key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(chain, key)
        self.context = context

    def run(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    conn.recv(1)
            except (OSError, ssl.SSLError):
                pass


@contextmanager
def _serving(workdir: Path, material: TlsMaterial) -> Iterator[_Server]:
    server = _Server(workdir, material)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        # shutdown wakes the accept() (a close alone would leave the port listening).
        server.listener.shutdown(socket.SHUT_RDWR)
        server.listener.close()
        thread.join(timeout=5)


def _wait(server: _Server, chain_file: Path, *, seconds: int) -> subprocess.CompletedProcess:
    script = render_wait_for_certificate(
        https_port=server.port,
        server_name="localhost",
        wait_seconds=seconds,
        chain_file=str(chain_file),
    )
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=seconds + 20
    )


def test_it_returns_once_the_new_certificate_is_served(tmp_path: Path) -> None:
    old, new = _material("old"), _material("new")
    chain_file = tmp_path / "chain.pem"
    chain_file.write_text(new.chain_pem)
    with _serving(tmp_path, old) as server:
        # The "reload" takes effect two seconds after the check started.
        swap = threading.Timer(2, server.serve, args=(new,))
        swap.start()
        done = _wait(server, chain_file, seconds=15)
        swap.join()
    assert done.returncode == 0, done.stderr


def test_it_fails_naming_both_certificates_when_the_old_one_stays(tmp_path: Path) -> None:
    old, new = _material("old"), _material("new")
    chain_file = tmp_path / "chain.pem"
    chain_file.write_text(new.chain_pem)
    with _serving(tmp_path, old) as server:
        done = _wait(server, chain_file, seconds=2)
    assert done.returncode == 1
    assert f"port {server.port} still serves sha256 Fingerprint=" in done.stderr, done.stderr
    assert f"not the certificate of {chain_file}" in done.stderr
    assert "2s after the proxy's reload" in done.stderr


def test_it_fails_when_nothing_answers(tmp_path: Path) -> None:
    material = _material("any")
    chain_file = tmp_path / "chain.pem"
    chain_file.write_text(material.chain_pem)
    with _serving(tmp_path, material) as server:
        pass  # closed: nothing listens on its port any more
    done = _wait(server, chain_file, seconds=1)
    assert done.returncode == 1 and "still serves no certificate" in done.stderr, done.stderr
