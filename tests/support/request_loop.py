"""Clients that keep requesting while something changes under them (a certificate rotated,
a proxy reloaded), and count what failed: the "without a failed request" checks."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class LoopResult:
    """What the clients saw: answers served, and every failure (a non-200 or an error)."""

    served: int = 0
    failures: list[str] = field(default_factory=list)


@contextmanager
def requests_in_a_loop(request: Callable[[], int], *, clients: int = 4) -> Iterator[LoopResult]:
    """`clients` threads call `request` (which returns an HTTP status) until the block ends."""
    result = LoopResult()
    done = threading.Event()
    lock = threading.Lock()

    def loop() -> None:
        while not done.is_set():
            try:
                status = request()
                failure = None if status == 200 else f"status {status}"
            except (OSError, http.client.HTTPException) as error:
                failure = repr(error)
            with lock:
                result.served += 1
                if failure is not None:
                    result.failures.append(failure)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    try:
        yield result
    finally:
        done.set()
        for thread in threads:
            thread.join()
