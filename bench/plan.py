"""What the load benchmark measures: pairs, variants, scenarios, targets, and the cells.

Pure data. A cell is one (pair, variant, scenario, target, connections) point: a warm-up run,
then `runs` measured runs of the same fixed duration, summarised by their median.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from components.choices import AppServer, Proxy

# Every pair runs with the same replicas and limits (the project's defaults, made explicit).
REPLICAS = 2
CPUS_PER_REPLICA = 1
MEMORY_MB_PER_REPLICA = 512
MOD_WSGI_DEFAULT_THREADS = 15


class Variant(str, Enum):
    """How the servers are tuned."""

    TUNED = "tuned"  # the project's defaults: what `pulumi up` ships
    DEFAULTS = "defaults"  # what the tutorials start from
    # The project's defaults with HTTPS at the proxy (`tls.mode: self-signed`): the TLS cost,
    # HTTPS against plain HTTP through the same proxy (TLS_CELLS).
    TLS = "tls"


class Target(str, Enum):
    """Where the load goes."""

    PROXY = "proxy"  # the stack's reverse proxy, as a client reaches it
    DIRECT = "direct"  # one app server alone, over HTTP: the reference
    PROXY_TLS = "proxy-tls"  # the same proxy over HTTPS (the TLS variant only)


@dataclass(frozen=True)
class Scenario:
    """One kind of request."""

    key: str
    path: str
    title: str
    direct: bool
    """Whether it is also measured against the app server alone (static files are not:
    Django does not serve them in production)."""
    expected_bytes: int | None = None
    """The body size the pre-flight check expects (static files)."""
    connections: tuple[int, ...] = ()
    """Connection counts this scenario always runs at, whatever the sweep and the headline
    (empty: the sweep or the headline, as the plan says)."""
    variants: tuple[Variant, ...] | None = None
    """The variants its usual cells run in (None: every variant)."""
    extra: tuple[tuple[Variant, Target, int], ...] = ()
    """Cells it runs beyond its usual ones: (variant, target, connections)."""
    slow_clients: SlowClients | None = None
    """Slow readers that run beside wrk in each of its runs (no warm-up run: the scenario's
    reference, measured just before on the same servers, warmed them)."""
    drain: bool = False
    """Wait after each run until the requests it left queued are served. wrk stops with
    every connection's request in flight; a sync worker still serves each of those, though
    nobody waits for it, and at 20 ms a request 128 of them keep 2 sync workers busy for
    1.3-1.7 s, most of the next 2 s run (seen: 26 req/s at 128 connections, 75 at 32)."""


@dataclass(frozen=True)
class SlowClients:
    """Slow readers (bench/slow_reader.py) beside the normal load of a scenario."""

    clients: int
    rate_bytes_per_s: int
    path: str
    """What they read: an answer far past the kernel's buffers between them and its writer,
    or they hold nothing."""
    reference: str
    """The scenario whose cell at the same (variant, target, connections) is the normal load
    without them."""
    settle_s: float = 0.5
    """Seconds they read before wrk starts, so they hold what they will hold."""
    rcvbuf: int = 4096

    def duration_s(self, run_s: float) -> float:
        """How long they run: the settling, the wrk run, and half a second past it."""
        return self.settle_s + run_s + 0.5


SCENARIOS: dict[str, Scenario] = {
    s.key: s
    for s in (
        Scenario("health", "/health/", "minimal view /health/ (no database)", direct=True),
        Scenario("index", "/", "realistic view / (template + 2 queries)", direct=True),
        # A view that waits (issue 16): 20 ms on PostgreSQL, then a small template. Through
        # the proxy only, at a load a sync worker cannot keep up with and at four times that:
        # what workers and threads are for.
        Scenario(
            "wait",
            "/wait/",
            "waiting view /wait/ (20 ms on PostgreSQL)",
            direct=False,
            connections=(32, 128),
            # The slow clients' reference directly to the tutorial defaults' sync worker.
            extra=((Variant.DEFAULTS, Target.DIRECT, 32),),
            drain=True,
        ),
        # Slow clients (issue 16): the same 32 connections on the waiting view while 64
        # clients read a 256 KB answer at 1 KB/s. Through the proxy as shipped (tuned), and
        # directly to the tutorial defaults' one sync worker, which they should take.
        Scenario(
            "slow",
            "/wait/",
            "waiting view /wait/ beside 64 slow clients (1 KB/s)",
            direct=False,
            connections=(32,),
            variants=(Variant.TUNED,),
            extra=((Variant.DEFAULTS, Target.DIRECT, 32),),
            slow_clients=SlowClients(
                clients=64, rate_bytes_per_s=1024, path="/bulk/", reference="wait"
            ),
            drain=True,
        ),
        Scenario(
            "static-1k",
            "/static/guestbook/bench-1k.txt",
            "static file, 1 KB",
            direct=False,
            expected_bytes=1024,
        ),
        Scenario(
            "static-100k",
            "/static/guestbook/bench-100k.txt",
            "static file, 100 KB",
            direct=False,
            expected_bytes=102400,
        ),
    )
}
MINIMAL = "health"
WAITING = "wait"
# The TLS cost's view: the one path the proxy of a TLS stack still passes on over plain HTTP
# (for the stack's own probes), so HTTP and HTTPS are measured on one deployment, through
# one proxy config, to one Django view (the overlay's middleware: no URL routing, no
# database). Not in SCENARIOS: only the TLS variant measures it.
TLS_SCENARIO = Scenario(
    "stack-health", "/_stack/health", "minimal view /_stack/health (no database)", direct=False
)
ALL_SCENARIOS: dict[str, Scenario] = {**SCENARIOS, TLS_SCENARIO.key: TLS_SCENARIO}
SLOW = "slow"
BULK_BYTES = 256 * 1024
"""The size of /bulk/, the answer the slow clients read (app/guestbook/views.py)."""


@dataclass(frozen=True)
class Pair:
    """An app server behind a proxy."""

    app_server: AppServer
    proxy: Proxy

    @property
    def key(self) -> str:
        return f"{self.app_server.value}-{self.proxy.value}"

    @property
    def title(self) -> str:
        names = {
            "gunicorn": "Gunicorn",
            "uwsgi": "uWSGI",
            "mod_wsgi": "mod_wsgi",
            "nginx": "nginx",
            "apache": "Apache",
        }
        return f"{names[self.app_server.value]} + {names[self.proxy.value]}"

    @classmethod
    def parse(cls, key: str) -> Pair:
        """`gunicorn-nginx` -> the pair."""
        for pair in ALL_PAIRS:
            if pair.key == key:
                return pair
        allowed = ", ".join(p.key for p in ALL_PAIRS)
        raise ValueError(f"unknown pair {key!r}; allowed: {allowed}")


# The production app servers (not the development server).
SERVERS = (AppServer.GUNICORN, AppServer.UWSGI, AppServer.MOD_WSGI)
PROXIES = (Proxy.NGINX, Proxy.APACHE)
ALL_PAIRS: tuple[Pair, ...] = tuple(Pair(s, p) for s in SERVERS for p in PROXIES)


def tls_pairs(pairs: tuple[Pair, ...]) -> tuple[Pair, ...]:
    """The pairs the TLS variant deploys: the first of each proxy (TLS ends at the proxy, so
    the app server behind it does not matter; one each keeps the run short)."""
    first: dict[Proxy, Pair] = {}
    for pair in pairs:
        first.setdefault(pair.proxy, pair)
    return tuple(first.values())


def stack_overrides(*, pair: Pair, variant: Variant) -> dict[str, Any]:
    """The `django-stack:` config of one deployment (besides ports and the CA bundle)."""
    overrides: dict[str, Any] = {
        "appServer": pair.app_server.value,
        "proxy": pair.proxy.value,
        "replicas": REPLICAS,
        "cpusPerReplica": CPUS_PER_REPLICA,
        "memoryMbPerReplica": MEMORY_MB_PER_REPLICA,
        # wrk is one client, from one address, at thousands of requests a second: the
        # per-client limits would measure themselves (429s), not the servers.
        "rateLimit": {"requestsPerSecond": 0, "connectionsPerClient": 0},
    }
    if variant is Variant.DEFAULTS:
        # One worker (Gunicorn's sync worker, uWSGI's one process), one nginx worker, a new
        # upstream connection per request.
        overrides |= {"workers": 1, "threads": 1, "proxyWorkers": 1, "upstreamKeepalive": False}
        if pair.app_server is AppServer.MOD_WSGI:
            # WSGIDaemonProcess without options: one process of 15 threads.
            # https://modwsgi.readthedocs.io/en/master/configuration-directives/WSGIDaemonProcess.html
            overrides["threads"] = MOD_WSGI_DEFAULT_THREADS
    if variant is Variant.TLS:
        # The stack's own CA: the load generators do not verify (wrk never does), the
        # end-to-end suite checks the chain (tests/e2e/test_tls.py).
        overrides["tls"] = {"mode": "self-signed"}
    return overrides


STACK_PREFIX = "bench-"


def stack_name(*, pair: Pair, variant: Variant) -> str:
    """The stack's name on the engine (containers are django-stack-<name>-...).

    Without `_`: wrk takes the container's name as the URL's host and refuses an underscore.
    """
    return f"{STACK_PREFIX}{pair.key.replace('_', '')}-{variant.value}"


@dataclass(frozen=True)
class CellKey:
    """One measured point."""

    pair: str
    variant: str
    scenario: str
    target: str
    connections: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "variant": self.variant,
            "scenario": self.scenario,
            "target": self.target,
            "connections": self.connections,
        }


@dataclass(frozen=True)
class Timing:
    """How long each run lasts."""

    duration_s: float
    warmup_s: float
    runs: int


@dataclass(frozen=True)
class Plan:
    """Everything one benchmark invocation measures."""

    pairs: tuple[Pair, ...]
    variants: tuple[Variant, ...]
    scenarios: tuple[str, ...]
    connections: tuple[int, ...]
    """The connection sweep."""
    sweep_scenarios: tuple[str, ...]
    """Scenarios measured at every connection count; the others only at `headline`, and so
    is the tutorial defaults' direct reference (no goal compares it)."""
    headline: int
    """The connection count of the one-number comparisons."""
    timing: Timing

    def __post_init__(self) -> None:
        unknown = [s for s in self.scenarios if s not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenarios {unknown}; allowed: {', '.join(SCENARIOS)}")
        if self.headline not in self.connections:
            raise ValueError(f"headline {self.headline} is not in the sweep {self.connections}")
        if self.timing.runs < 1 or self.timing.duration_s <= 0:
            raise ValueError("need at least one run of a positive duration")

    def cells(self, *, pair: Pair, variant: Variant) -> list[CellKey]:
        """The cells of one deployment, in the order they run (none: no deployment)."""
        if variant is Variant.TLS:
            if pair not in tls_pairs(self.pairs):
                return []
            # HTTP first, then HTTPS, at the headline count: side by side on one stack.
            return [
                CellKey(pair.key, variant.value, TLS_SCENARIO.key, t.value, self.headline)
                for t in (Target.PROXY, Target.PROXY_TLS)
            ]
        cells = []
        for scenario_key in self.scenarios:
            scenario = SCENARIOS[scenario_key]
            swept = scenario_key in self.sweep_scenarios
            targets = [Target.PROXY] + ([Target.DIRECT] if scenario.direct else [])
            if scenario.variants is not None and variant not in scenario.variants:
                targets = []
            for target in targets:
                sweep = self.connections
                if scenario.connections:
                    sweep = scenario.connections
                elif not swept or (variant is Variant.DEFAULTS and target is Target.DIRECT):
                    sweep = (self.headline,)
                for connections in sweep:
                    cells.append(
                        CellKey(pair.key, variant.value, scenario_key, target.value, connections)
                    )
            for extra_variant, target, connections in scenario.extra:
                if extra_variant is variant:
                    cells.append(
                        CellKey(pair.key, variant.value, scenario_key, target.value, connections)
                    )
        return cells

    def all_cells(self) -> list[CellKey]:
        return [c for p in self.pairs for v in self.variants for c in self.cells(pair=p, variant=v)]

    def estimate_s(self, *, deploy_s: float = 50.0, per_run_overhead_s: float = 0.4) -> float:
        """A rough wall-clock estimate: deployments plus every run and its overhead."""
        timing = self.timing
        deployments = len(
            [1 for p in self.pairs for v in self.variants if self.cells(pair=p, variant=v)]
        )
        total = deployments * deploy_s
        for cell in self.all_cells():
            slow = ALL_SCENARIOS[cell.scenario].slow_clients
            if slow is None:
                total += timing.warmup_s + timing.runs * timing.duration_s
                total += (timing.runs + 1) * per_run_overhead_s
            else:
                total += timing.runs * (slow.duration_s(timing.duration_s) + per_run_overhead_s)
        return total

    def describe(self) -> Mapping[str, Any]:
        return {
            "pairs": [p.key for p in self.pairs],
            "variants": [v.value for v in self.variants],
            "scenarios": list(self.scenarios),
            "connections": list(self.connections),
            "sweep_scenarios": list(self.sweep_scenarios),
            "headline": self.headline,
            "duration_s": self.timing.duration_s,
            "warmup_s": self.timing.warmup_s,
            "runs": self.timing.runs,
        }


def parse_list(text: str) -> list[str]:
    """A comma list from the command line, blanks dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_ints(text: str) -> tuple[int, ...]:
    values = tuple(sorted({int(v) for v in parse_list(text)}))
    if not values or min(values) < 1:
        raise ValueError(f"expected positive integers, got {text!r}")
    return values


def parse_pairs(text: str) -> tuple[Pair, ...]:
    if text == "all":
        return ALL_PAIRS
    return tuple(Pair.parse(k) for k in parse_list(text))


def parse_variants(text: str) -> tuple[Variant, ...]:
    return tuple(Variant(v) for v in parse_list(text))
