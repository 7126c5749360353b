"""Slow HTTP clients for tests of a proxy's read timeouts: a bounded slowloris, and stalls.

A slowloris client opens a connection and sends its request header a line at a time, a few
seconds apart, never finishing it, to hold the connection (on a threaded server, a thread)
for as long as the server lets it. Everything here talks to 127.0.0.1 only, and every loop is
bounded both in count and in time.
"""

from __future__ import annotations

import contextlib
import math
import selectors
import socket
import time
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"
# The request a slowloris client starts and never ends (no blank line after the headers).
SLOW_REQUEST_START = b"GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: slow-client-test\r\n"
HEADER_LINE = b"X-Slow: 1\r\n"


@dataclass
class SlowClient:
    """One connection that sent part of a request; `closed` is when the server ended it."""

    sock: socket.socket
    opened: float
    closed: float | None = None
    answer: bytes = b""

    @property
    def lifetime(self) -> float | None:
        """Seconds from connecting to the server's close, or None while it is open."""
        return None if self.closed is None else self.closed - self.opened

    def status(self) -> str | None:
        """The status code of what the server answered before closing, if anything."""
        line = self.answer.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        return parts[1] if len(parts) > 1 and line.startswith("HTTP/") else None


def open_client(port: int, request: bytes, *, timeout: float = 5.0) -> SlowClient:
    """Connect to the proxy on loopback and send `request` (which should not be complete)."""
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    opened = time.monotonic()
    sock.sendall(request)
    return SlowClient(sock=sock, opened=opened)


def wait_closed(client: SlowClient, *, timeout: float) -> SlowClient:
    """Read until the server closes the connection or `timeout` passes; send nothing more."""
    deadline = time.monotonic() + timeout
    # At most one read per 64 KB of answer, and never past the deadline.
    for _ in range(1024):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        client.sock.settimeout(remaining)
        try:
            data = client.sock.recv(65536)
        except TimeoutError:
            break
        except OSError:  # reset by the server: closed just the same
            data = b""
        if not data:
            client.closed = time.monotonic()
            break
        client.answer += data
    client.sock.close()
    return client


@dataclass
class SlowlorisRun:
    """What a slowloris run saw."""

    opened: int = 0
    cut: int = 0
    failed_to_connect: int = 0
    lifetimes: list[float] = field(default_factory=list)
    open_at_end: int = 0


def slowloris(
    *, port: int, connections: int, interval: float, duration: float, reconnects: int
) -> SlowlorisRun:
    """Hold `connections` slow connections to the proxy for `duration` seconds (at most 30).

    Each one sends a header line every `interval` seconds. One the server cuts is opened
    again, as an attacker would, up to `reconnects` times in all.
    """
    if not (0 < connections <= 1000 and 0 < duration <= 30 and interval > 0):
        raise ValueError("a slowloris run here is at most 1000 connections for 30 s")
    run = SlowlorisRun()
    start = time.monotonic()
    end = start + duration
    budget = reconnects
    selector = selectors.DefaultSelector()
    clients: dict[socket.socket, SlowClient] = {}

    def connect() -> None:
        try:
            client = open_client(port, SLOW_REQUEST_START, timeout=2.0)
        except OSError:
            run.failed_to_connect += 1
            return
        client.sock.setblocking(False)
        selector.register(client.sock, selectors.EVENT_READ)
        clients[client.sock] = client
        run.opened += 1

    def cut(client: SlowClient) -> None:
        nonlocal budget
        client.closed = time.monotonic()
        selector.unregister(client.sock)
        client.sock.close()
        del clients[client.sock]
        run.cut += 1
        run.lifetimes.append(client.closed - client.opened)
        if budget > 0 and client.closed < end:
            budget -= 1
            connect()

    try:
        for _ in range(connections):
            connect()
        for _ in range(math.ceil(duration / interval) + 1):
            tick = min(end, time.monotonic() + interval)
            # Notice the server's closes (an answer, then EOF) until the next line is due.
            for _ in range(10_000):
                remaining = tick - time.monotonic()
                if remaining <= 0:
                    break
                for key, _events in selector.select(timeout=remaining):
                    client = clients[key.fileobj]  # type: ignore[index]
                    try:
                        data = client.sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if data:
                        client.answer += data
                    else:
                        cut(client)
            if time.monotonic() >= end:
                break
            for client in list(clients.values()):
                try:
                    client.sock.send(HEADER_LINE)
                except BlockingIOError:
                    pass  # the server reads nothing more: its buffers are full
                except OSError:
                    cut(client)
    finally:
        run.open_at_end = len(clients)
        for client in clients.values():
            with contextlib.suppress(OSError):
                client.sock.close()
        selector.close()
    return run
