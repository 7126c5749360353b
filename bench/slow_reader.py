"""Slow HTTP readers: clients that send a whole request, then read the answer at a few bytes
a second, as a phone on a bad network does. Bounded in clients and in time.

Standard library only and no project imports: the benchmark runs this file as it is, with
the load container's python3 (`docker exec -i ... python3 - ARGS < bench/slow_reader.py`).

Each client sets a small receive buffer (SO_RCVBUF, before connecting, so the TCP window
stays small: https://man7.org/linux/man-pages/man7/tcp.7.html) and reads `--rate` bytes once
a second. A server that writes the answer itself (a sync worker) is held until the answer
fits in its send buffer plus that window; a proxy that buffers the answer is not, it holds
only the connection. A client whose answer ends opens a new connection, so `--clients` stay
in flight until `--duration` ends. Prints one JSON object: what the clients saw.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import time
from dataclasses import asdict, dataclass

MAX_CLIENTS = 1000
MAX_DURATION_S = 30.0
# Pause before reconnecting after a refused or reset connection: no busy loop.
RETRY_PAUSE_S = 0.2


@dataclass
class ReaderStats:
    """What the slow clients saw, summed over all of them."""

    clients: int = 0
    connections: int = 0
    """Connections opened (a client whose answer ended opens another)."""
    answers_started: int = 0
    """Connections on which at least one byte of the answer arrived."""
    answers_completed: int = 0
    """Answers read to the end (the server closed after them)."""
    bytes_read: int = 0
    connect_errors: int = 0
    reset_errors: int = 0
    open_at_end: int = 0
    """Connections still reading when the run ended: what the clients held at the end."""
    duration_s: float = 0.0


def request_bytes(path: str, host_header: str) -> bytes:
    """A complete GET that asks the server to close after the answer."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: django-stack-slow-reader\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii")


async def _one_client(
    *,
    host: str,
    port: int,
    request: bytes,
    rate: int,
    rcvbuf: int,
    end: float,
    stats: ReaderStats,
) -> None:
    loop = asyncio.get_running_loop()
    while time.monotonic() < end:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (host, port)), end - time.monotonic())
            stats.connections += 1
            await loop.sock_sendall(sock, request)
        except (OSError, TimeoutError):
            sock.close()
            stats.connect_errors += 1
            await asyncio.sleep(RETRY_PAUSE_S)
            continue
        started = False
        tick = time.monotonic()
        try:
            while True:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    stats.open_at_end += 1
                    return
                try:
                    data = await asyncio.wait_for(loop.sock_recv(sock, rate), remaining)
                except TimeoutError:
                    stats.open_at_end += 1
                    return
                if not data:
                    stats.answers_completed += 1
                    break
                if not started:
                    started = True
                    stats.answers_started += 1
                stats.bytes_read += len(data)
                # At most `rate` bytes per second: the next read waits for the next tick.
                tick += 1.0
                await asyncio.sleep(max(0.0, min(tick, end) - time.monotonic()))
        except OSError:
            stats.reset_errors += 1
            await asyncio.sleep(RETRY_PAUSE_S)
        finally:
            sock.close()


async def read_slowly(
    *,
    host: str,
    port: int,
    path: str,
    host_header: str,
    clients: int,
    rate: int,
    duration_s: float,
    rcvbuf: int,
) -> ReaderStats:
    """Run `clients` slow readers for `duration_s` seconds; what they saw."""
    if not (0 < clients <= MAX_CLIENTS and 0 < duration_s <= MAX_DURATION_S and rate > 0):
        raise ValueError(
            f"clients must be 1-{MAX_CLIENTS} (got {clients}), duration 0-{MAX_DURATION_S:g} s "
            f"(got {duration_s:g}), rate > 0 (got {rate})"
        )
    stats = ReaderStats(clients=clients)
    started = time.monotonic()
    end = started + duration_s
    request = request_bytes(path, host_header)
    await asyncio.gather(
        *(
            _one_client(
                host=host,
                port=port,
                request=request,
                rate=rate,
                rcvbuf=rcvbuf,
                end=end,
                stats=stats,
            )
            for _ in range(clients)
        )
    )
    stats.duration_s = round(time.monotonic() - started, 3)
    return stats


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--host-header", default="localhost")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rate", type=int, default=1024, help="bytes a second per client")
    parser.add_argument("--duration", type=float, default=10.0, help=f"<= {MAX_DURATION_S:g} s")
    parser.add_argument("--rcvbuf", type=int, default=4096, help="SO_RCVBUF of each client")
    options = parser.parse_args(argv)
    try:
        stats = asyncio.run(
            read_slowly(
                host=options.host,
                port=options.port,
                path=options.path,
                host_header=options.host_header,
                clients=options.clients,
                rate=options.rate,
                duration_s=options.duration,
                rcvbuf=options.rcvbuf,
            )
        )
    except ValueError as error:
        print(f"slow_reader: {error}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(stats)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
