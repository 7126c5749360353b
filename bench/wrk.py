"""wrk, the load generator: the command line for one bounded run, and its report parsed.

Pure functions only. wrk prints a human report (`--latency` adds the percentile table); this
module turns it into numbers with explicit units, so a run can be accepted or rejected on its
error lines. https://github.com/wg/wrk
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# wrk's own time units (format_time_us / format_time_s in wrk's units.c), in milliseconds.
_TIME_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
# wrk's byte units (format_binary: powers of 1024).
_BYTES = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
# wrk's metric suffixes for counts such as Req/Sec (format_metric: powers of 1000).
_METRIC = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}

_NUMBER = r"(\d+(?:\.\d+)?)"
_TIME = _NUMBER + r"(us|ms|s|m|h)"
_REQUESTS = re.compile(
    r"^\s*(\d+) requests in " + _TIME + r", " + _NUMBER + r"(B|KB|MB|GB|TB) read", re.M
)
_RATE = re.compile(r"^Requests/sec:\s+" + _NUMBER, re.M)
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)%\s+" + _TIME + r"\s*$", re.M)
_LATENCY_STATS = re.compile(r"^\s+Latency\s+" + _TIME + r"\s+" + _TIME + r"\s+" + _TIME, re.M)
_SOCKET_ERRORS = re.compile(
    r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.M
)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)", re.M)


class WrkParseError(ValueError):
    """wrk's output did not hold a complete report."""


def time_ms(value: str, unit: str) -> float:
    """A wrk time (`3.21`, `ms`) in milliseconds."""
    return float(value) * _TIME_MS[unit]


def size_bytes(value: str, unit: str) -> float:
    """A wrk size (`7.53`, `GB`) in bytes."""
    return float(value) * _BYTES[unit]


def metric(text: str) -> float:
    """A wrk count with its metric suffix (`84.87k`) as a number."""
    match = re.fullmatch(_NUMBER + r"([kMG]?)", text.strip())
    if match is None:
        raise WrkParseError(f"not a wrk metric: {text!r}")
    return float(match.group(1)) * _METRIC[match.group(2)]


@dataclass(frozen=True)
class SocketErrors:
    """wrk's `Socket errors:` line (absent means all zero)."""

    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0

    @property
    def total(self) -> int:
        return self.connect + self.read + self.write + self.timeout


@dataclass(frozen=True)
class WrkResult:
    """One wrk run's report, in plain units."""

    requests: int
    duration_s: float
    requests_per_s: float
    bytes_read: float
    latency_avg_ms: float
    latency_max_ms: float
    percentiles_ms: dict[int, float] = field(default_factory=dict)
    socket_errors: SocketErrors = SocketErrors()
    non_2xx: int = 0

    @property
    def p50_ms(self) -> float:
        return self.percentiles_ms[50]

    @property
    def p99_ms(self) -> float:
        return self.percentiles_ms[99]

    @property
    def errors(self) -> int:
        """Every failed request: socket errors plus responses wrk counts as errors (>= 400)."""
        return self.socket_errors.total + self.non_2xx

    def rejection(self, *, socket_errors_measured: bool = False) -> str | None:
        """Why this run must not count, or None when it is clean.

        With `socket_errors_measured` (the slow-client scenario, where requests that time out
        or no request at all are what is measured), only error answers reject the run: wrk
        counts them in its rate.
        """
        problems = []
        if self.non_2xx:
            problems.append(f"{self.non_2xx} non-2xx responses")
        if socket_errors_measured:
            return "; ".join(problems) or None
        if self.requests == 0:
            problems.insert(0, "no request completed")
        socket = self.socket_errors
        for name in ("connect", "read", "write", "timeout"):
            count = getattr(socket, name)
            if count:
                problems.append(f"{count} socket {name} errors")
        return "; ".join(problems) or None


def parse_wrk(output: str) -> WrkResult:
    """Parse wrk's report (run with `--latency`). Raises WrkParseError when it is incomplete."""
    totals = _REQUESTS.search(output)
    rate = _RATE.search(output)
    stats = _LATENCY_STATS.search(output)
    if totals is None or rate is None or stats is None:
        raise WrkParseError(f"incomplete wrk report: {output[-600:]!r}")
    percentiles = {int(p): time_ms(v, u) for p, v, u in _PERCENTILE.findall(output)}
    if set(percentiles) != {50, 75, 90, 99}:
        raise WrkParseError("wrk report has no latency distribution (run wrk with --latency)")
    socket = _SOCKET_ERRORS.search(output)
    non_2xx = _NON_2XX.search(output)
    return WrkResult(
        requests=int(totals.group(1)),
        duration_s=time_ms(totals.group(2), totals.group(3)) / 1000.0,
        requests_per_s=float(rate.group(1)),
        bytes_read=size_bytes(totals.group(4), totals.group(5)),
        latency_avg_ms=time_ms(stats.group(1), stats.group(2)),
        latency_max_ms=time_ms(stats.group(5), stats.group(6)),
        percentiles_ms=percentiles,
        socket_errors=SocketErrors(*(int(g) for g in socket.groups()))
        if socket
        else SocketErrors(),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def wrk_command(
    *,
    url: str,
    connections: int,
    duration_s: float,
    threads: int = 1,
    host_header: str | None = "localhost",
    timeout_s: float = 5.0,
) -> list[str]:
    """argv for one bounded wrk run with keep-alive (wrk's default) and percentiles.

    `--timeout` bounds each request; `-d` bounds the run. A request slower than the timeout
    is counted as a socket timeout error, so the run is rejected rather than skewed.
    """
    if connections < threads:
        raise ValueError(
            f"wrk needs at least one connection per thread ({connections} < {threads})"
        )
    argv = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
    ]
    if host_header:
        # Django checks Host against ALLOWED_HOSTS; the replicas are reached by other names.
        argv += ["-H", f"Host: {host_header}"]
    return [*argv, url]
