"""The container health check (templates/docker/healthcheck.py) on the wire.

Against the real servers it is exercised in tests/unit/test_app_server_config.py; here the
bytes it sends are checked against the uwsgi protocol's specification
(https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html), decoded independently of the
code under test, and its verdict is checked for each kind of answer a server can give, from
a real TCP listener that records the request and sends a fixed reply.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.unit.test_app_server_config import healthcheck


def decode_uwsgi_packet(packet: bytes) -> tuple[int, int, dict[str, str]]:
    """(modifier1, modifier2, vars) of a uwsgi packet, per the protocol page.

    Header: uint8 modifier1, uint16 datasize (little endian), uint8 modifier2; then datasize
    bytes of vars, each a uint16 key size, the key, a uint16 value size and the value.
    """
    modifier1, datasize, modifier2 = (
        packet[0],
        int.from_bytes(packet[1:3], "little"),
        packet[3],
    )
    body = packet[4:]
    assert datasize == len(body), (datasize, len(body))
    variables: dict[str, str] = {}
    offset = 0
    while offset < len(body):
        key_size = int.from_bytes(body[offset : offset + 2], "little")
        key = body[offset + 2 : offset + 2 + key_size]
        offset += 2 + key_size
        value_size = int.from_bytes(body[offset : offset + 2], "little")
        value = body[offset + 2 : offset + 2 + value_size]
        offset += 2 + value_size
        assert len(key) == key_size and len(value) == value_size, "a size runs past the packet"
        variables[key.decode()] = value.decode()
    assert offset == len(body)
    return modifier1, modifier2, variables


@pytest.mark.parametrize(
    "path", [pytest.param("/_stack/health", id="ascii"), pytest.param("/café/", id="non-ascii")]
)
def test_uwsgi_packet_follows_the_protocol(path: str) -> None:
    packet = healthcheck.uwsgi_packet(path=path, host="localhost", port=8000)
    modifier1, modifier2, variables = decode_uwsgi_packet(packet)
    # modifier1 0 = a WSGI request; modifier2 0 = no sub-modifier.
    assert (modifier1, modifier2) == (0, 0)
    assert {
        name: variables.get(name)
        for name in ("REQUEST_METHOD", "PATH_INFO", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")
    } == {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": "localhost",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
    }


def test_http_request_is_a_get_that_closes() -> None:
    request = healthcheck.http_request(path="/_stack/health", host="localhost")
    # HTTP/1.0 without keep-alive: the server closes after the answer, so reading ends.
    assert request == b"GET /_stack/health HTTP/1.0\r\nHost: localhost\r\n\r\n"


@dataclass
class Listener:
    """A TCP listener that answers one connection with `reply` and keeps what it read."""

    reply: bytes
    port: int = 0
    received: bytearray = field(default_factory=bytearray)


def _read_request(conn: socket.socket, protocol: str) -> bytes:
    """One whole request: a uwsgi packet by its header's size, HTTP up to the blank line."""
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
        if protocol == "uwsgi" and len(data) >= 4:
            if len(data) >= 4 + int.from_bytes(data[1:3], "little"):
                return data
        if protocol == "http" and b"\r\n\r\n" in data:
            return data


@contextlib.contextmanager
def listening(protocol: str, reply: bytes) -> Iterator[Listener]:
    listener = Listener(reply)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    listener.port = server.getsockname()[1]

    def serve() -> None:
        with contextlib.suppress(OSError), server.accept()[0] as conn:
            conn.settimeout(10)
            listener.received += _read_request(conn, protocol)
            conn.sendall(listener.reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.close()
        thread.join(timeout=10)


PROTOCOLS = ["http", "uwsgi"]
REPLIES = [
    pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", True, id="200"),
    pytest.param(b"HTTP/1.0 200 OK\r\n\r\n", True, id="200-http10"),
    pytest.param(b"HTTP/1.1 404 Not Found\r\n\r\n", False, id="404"),
    pytest.param(b"HTTP/1.1 503 Service Unavailable\r\n\r\n", False, id="503"),
    pytest.param(b"HTTP/1.1 2000 Odd\r\n\r\n", False, id="not-200"),
    pytest.param(b"", False, id="closed-without-answer"),
]


@pytest.mark.parametrize(("reply", "healthy"), REPLIES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_check_is_true_only_for_status_200(protocol: str, reply: bytes, healthy: bool) -> None:
    with listening(protocol, reply) as listener:
        result = healthcheck.check(
            protocol=protocol, port=listener.port, path="/_stack/health", host="localhost"
        )
    assert result is healthy
    # And it spoke the protocol it was asked to.
    expected = (
        healthcheck.uwsgi_packet(path="/_stack/health", host="localhost", port=listener.port)
        if protocol == "uwsgi"
        else healthcheck.http_request(path="/_stack/health", host="localhost")
    )
    assert bytes(listener.received) == expected


@pytest.mark.parametrize(
    ("reply", "exit_code"),
    [
        pytest.param(b"HTTP/1.1 200 OK\r\n\r\n", 0, id="healthy"),
        pytest.param(b"HTTP/1.1 500 Internal Server Error\r\n\r\n", 1, id="unhealthy"),
    ],
)
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_exit_code_follows_the_verdict(protocol: str, reply: bytes, exit_code: int) -> None:
    with listening(protocol, reply) as listener:
        argv = ["healthcheck.py", protocol, str(listener.port), "/_stack/health", "localhost"]
        assert healthcheck.main(argv) == exit_code


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nothing_listening_is_unhealthy_not_a_crash(
    protocol: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    # The port is closed again: the connection is refused.
    assert healthcheck.main(["healthcheck.py", protocol, str(port), "/", "localhost"]) == 1
    assert "health check failed" in capsys.readouterr().err
