"""The benchmark's slow readers (bench/slow_reader.py) against a real server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bench.slow_reader import read_slowly

READER = Path(__file__).resolve().parents[2] / "bench" / "slow_reader.py"

T = TypeVar("T")


def run_in_own_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on a loop of its own. Not asyncio.run: it leaves the thread with no
    current event loop, and the Pulumi mocks tests that run after this module need one."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


@dataclass
class BlockingServer:
    """A server that writes each answer with one blocking sendall, as a sync worker does,
    and records how long each write took (None while it has not returned)."""

    port: int
    body_bytes: int
    writes: list[float | None] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)


def _serve(server: BlockingServer, listener: socket.socket, stop: threading.Event) -> None:
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        threading.Thread(target=_answer, args=(server, conn), daemon=True).start()


def _answer(server: BlockingServer, conn: socket.socket) -> None:
    with conn:
        conn.settimeout(15)
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        server.requests.append(request)
        index = len(server.writes)
        server.writes.append(None)
        started = time.monotonic()
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Length: {server.body_bytes}\r\nConnection: close\r\n\r\n"
        )
        try:
            conn.sendall(head.encode() + b"x" * server.body_bytes)
        except OSError:
            return  # the client went away mid-answer: the write never completed
        server.writes[index] = time.monotonic() - started


@contextmanager
def blocking_server(body_bytes: int) -> Iterator[BlockingServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    server = BlockingServer(port=listener.getsockname()[1], body_bytes=body_bytes)
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(server, listener, stop), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_slow_readers_hold_a_writer_of_a_large_answer_and_read_at_their_rate() -> None:
    # 8 MB: past what the kernel lets the writer's send buffer grow to (tcp_wmem's maximum,
    # 4 MB; on loopback, whose segments are 64 KB, it does grow that far: a 1 MB answer was
    # written in 3 ms to a reader with a 4 KB window) plus the reader's window.
    with blocking_server(body_bytes=8 * 1024 * 1024) as server:
        stats = run_in_own_loop(
            read_slowly(
                host="127.0.0.1",
                port=server.port,
                path="/bulk/",
                host_header="localhost",
                clients=4,
                rate=1024,
                duration_s=3.0,
                rcvbuf=4096,
            )
        )
    assert stats.connections == 4
    assert stats.answers_started == 4
    assert stats.answers_completed == 0
    assert stats.open_at_end == 4
    # About 1 KB a second each: a read at the start, then one a second (3-4 reads).
    assert 4 * 1024 * 2 <= stats.bytes_read <= 4 * 1024 * 4
    # Every write was still blocked when the readers stopped: the writer was held.
    assert len(server.writes) == 4
    assert all(w is None for w in server.writes)
    assert all(r.startswith(b"GET /bulk/ HTTP/1.1\r\nHost: localhost\r\n") for r in server.requests)
    assert 2.9 <= stats.duration_s <= 4.0


def test_slow_readers_of_a_small_answer_finish_it_and_open_a_new_connection() -> None:
    # 1.5 KB: read in two ticks; every client then reconnects, until the duration ends.
    with blocking_server(body_bytes=1536) as server:
        stats = run_in_own_loop(
            read_slowly(
                host="127.0.0.1",
                port=server.port,
                path="/",
                host_header="localhost",
                clients=3,
                rate=1024,
                duration_s=3.5,
                rcvbuf=4096,
            )
        )
    assert stats.answers_completed >= 3
    assert stats.connections > 3
    # The small answer fitted in the buffers: the writer was never held.
    assert all(w is not None and w < 1.0 for w in server.writes[: stats.answers_completed])


def test_slow_readers_count_a_refused_connection_and_do_not_spin() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens once it is closed
    stats = run_in_own_loop(
        read_slowly(
            host="127.0.0.1",
            port=port,
            path="/",
            host_header="localhost",
            clients=2,
            rate=1024,
            duration_s=1.0,
            rcvbuf=4096,
        )
    )
    assert stats.connections == 0
    # One attempt per client per RETRY_PAUSE_S (0.2 s), not thousands.
    assert 2 <= stats.connect_errors <= 2 * 6


def test_the_reader_runs_as_a_script_from_stdin_and_refuses_unbounded_runs() -> None:
    with blocking_server(body_bytes=8 * 1024 * 1024) as server:
        result = subprocess.run(
            [
                sys.executable,
                "-",
                "--host",
                "127.0.0.1",
                "--port",
                str(server.port),
                "--clients",
                "2",
                "--duration",
                "1.5",
                "--path",
                "/bulk/",
            ],
            stdin=READER.open("rb"),
            capture_output=True,
            timeout=30,
            check=True,
        )
    stats = json.loads(result.stdout)
    assert stats["clients"] == 2 and stats["answers_started"] == 2 and stats["open_at_end"] == 2
    refused = subprocess.run(
        [sys.executable, str(READER), "--host", "127.0.0.1", "--port", "1", "--duration", "31"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2
    assert "duration" in refused.stderr


def test_read_slowly_rejects_more_than_its_bounds() -> None:
    with pytest.raises(ValueError, match="clients"):
        run_in_own_loop(
            read_slowly(
                host="127.0.0.1",
                port=1,
                path="/",
                host_header="x",
                clients=1001,
                rate=1024,
                duration_s=1,
                rcvbuf=4096,
            )
        )
