"""A bounded load of page GETs and form POSTs through a stack's proxy while a release rolls out.

Each client thread loads the page (a GET, which also hands it Django's CSRF token) and signs
the guestbook with it (a POST, a write), again and again with a pause between, until it is
told to stop or the whole load reaches its request cap: loopback only, bounded in count and
time, under the proxy's per-client rate limit (20 requests/s and a burst of 100 by default:
two clients at 0.1 s pauses went over it within 30 s, and the checks after them got 429).
Every request is recorded: a failure is any answer other than the app's own success (200 for
the page, 302 for the post/redirect/get) or a socket error or timeout.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

from tests.e2e.http import Client, Response

_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@dataclass(frozen=True)
class Outcome:
    """One request of the load."""

    method: str
    status: int | None
    """None: no answer (a socket error or a timeout)."""
    seconds: float
    error: str = ""
    release: str = ""
    """The answering app's X-Release header (empty when it sends none)."""

    @property
    def failed(self) -> bool:
        expected = 200 if self.method == "GET" else 302
        return self.status != expected


@dataclass
class Load:
    """What the load saw, filled in by its threads."""

    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]

    def percentile(self, fraction: float) -> float:
        times = sorted(o.seconds for o in self.outcomes)
        return times[min(len(times) - 1, int(fraction * len(times)))] if times else 0.0

    def summary(self) -> str:
        kinds = Counter(f"{o.method} {o.status or 'no answer'}" for o in self.failures)
        return (
            f"{len(self.outcomes)} requests "
            f"({sum(o.method == 'POST' for o in self.outcomes)} POSTs), "
            f"{len(self.failures)} failed {dict(kinds) if kinds else ''}, "
            f"p99 {self.percentile(0.99) * 1000:.0f} ms, max {self.percentile(1.0) * 1000:.0f} ms"
        )


def _timed(load: Load, method: str, send: Callable[[], Response]) -> tuple[Outcome, str]:
    """Run `send` (a callable returning a Response), record its outcome; the page's text."""
    started = time.monotonic()
    try:
        response = send()
    except OSError as e:  # refused, reset, timed out
        outcome = Outcome(method, None, time.monotonic() - started, error=repr(e))
        load.add(outcome)
        return outcome, ""
    outcome = Outcome(
        method,
        response.status,
        time.monotonic() - started,
        error="" if response.status in (200, 302) else response.text[-300:],
        release=response.headers.get("x-release", ""),
    )
    load.add(outcome)
    return outcome, response.text


def _sign(client: Client, body: bytes) -> Response:
    """The form POST, with the token of the page just loaded (its cookie kept by `client`)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return client.request("POST", "/", body=body, headers=headers)


def _client_loop(url: str, load: Load, stop: threading.Event, *, cap: int, pause: float) -> None:
    client = Client(url, timeout=15.0)
    n = 0
    while not stop.is_set() and len(load.outcomes) < cap:
        page, text = _timed(load, "GET", lambda: client.get("/"))
        token = _TOKEN.search(text) if not page.failed else None
        if token is not None:
            fields = {"csrfmiddlewaretoken": token.group(1), "text": f"load {time.time_ns()} {n}"}
            _timed(load, "POST", partial(_sign, client, urllib.parse.urlencode(fields).encode()))
        n += 1
        stop.wait(pause)


@contextmanager
def load_through(
    url: str, *, clients: int = 2, cap: int = 2000, pause: float = 0.2
) -> Iterator[Load]:
    """GETs and POSTs through `url` from `clients` threads while the body runs (at most `cap`
    requests in all, each client pausing `pause` s after each GET and POST pair)."""
    load = Load()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=_client_loop, args=(url, load, stop), kwargs={"cap": cap, "pause": pause}
        )
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    try:
        yield load
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
