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


class Target(str, Enum):
    """Where the load goes."""

    PROXY = "proxy"  # the stack's reverse proxy, as a client reaches it
    DIRECT = "direct"  # one app server alone, over HTTP: the reference


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
    drain: bool = False
    """Wait after each run until the requests it left queued are served. wrk stops with
    every connection's request in flight; a sync worker still serves each of those, though
    nobody waits for it, and at 20 ms a request 128 of them keep 2 sync workers busy for
    1.3-1.7 s, most of the next 2 s run (seen: 26 req/s at 128 connections, 75 at 32)."""


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
    return overrides


def stack_name(*, pair: Pair, variant: Variant) -> str:
    """The stack's name on the engine (containers are django-stack-<name>-...).

    Without `_`: wrk takes the container's name as the URL's host and refuses an underscore.
    """
    return f"bench-{pair.key.replace('_', '')}-{variant.value}"


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
        """The cells of one deployment, in the order they run."""
        cells = []
        for scenario_key in self.scenarios:
            scenario = SCENARIOS[scenario_key]
            swept = scenario_key in self.sweep_scenarios
            targets = [Target.PROXY] + ([Target.DIRECT] if scenario.direct else [])
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
        return cells

    def all_cells(self) -> list[CellKey]:
        return [c for p in self.pairs for v in self.variants for c in self.cells(pair=p, variant=v)]

    def estimate_s(self, *, deploy_s: float = 50.0, per_run_overhead_s: float = 0.4) -> float:
        """A rough wall-clock estimate: deployments plus every run and its overhead."""
        per_cell = self.timing.warmup_s + self.timing.runs * self.timing.duration_s
        per_cell += (self.timing.runs + 1) * per_run_overhead_s
        deployments = len(self.pairs) * len(self.variants)
        return deployments * deploy_s + len(self.all_cells()) * per_cell

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
