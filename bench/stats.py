"""Results of the load benchmark as data: runs, cells, medians, ratios and the goals.

Pure functions only. A run with any error (a non-2xx response, a socket error, no request at
all, or wrk failing) is rejected: it is kept and reported, never counted in a median.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.fmt import fmt_ms, fmt_rate
from bench.plan import MINIMAL, SCENARIOS, WAITING, CellKey, Target, Variant
from bench.wrk import SocketErrors, WrkResult

# The goals of issue 6, as thresholds.
PROXY_OVER_DIRECT_MIN = 0.85
TUNED_OVER_DEFAULTS_MIN = 2.0
# Issue 16: on the waiting view, where more workers and threads have something to do.
TUNED_OVER_DEFAULTS_WAITING_MIN = 3.0
STATIC_OVER_MINIMAL_MIN = 10.0
STATIC_SCENARIOS = ("static-1k", "static-100k")


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no value."""
    return statistics.median(values) if values else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


@dataclass(frozen=True)
class RunRecord:
    """One measured run: wrk's numbers, or why there are none, and what the CPUs did."""

    wrk: WrkResult | None
    rejection: str | None
    """None for an accepted run."""
    cpu: Mapping[str, float] = field(default_factory=dict)
    """CPU used per role during the run, in cores (CPU seconds / wall seconds)."""
    throttled: Mapping[str, float] = field(default_factory=dict)
    """Fraction of CFS periods in which the role's containers hit their CPU limit."""
    sockets: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """TCP socket counts (in use, TIME-WAIT) in a container's network namespace, mid-run."""
    discarded_noisy: int = 0
    """Attempts thrown away before this one because other work was using the CPUs."""

    @classmethod
    def from_wrk(cls, result: WrkResult, **extra: Any) -> RunRecord:
        return cls(wrk=result, rejection=result.rejection(), **extra)

    @classmethod
    def failed(cls, reason: str, **extra: Any) -> RunRecord:
        return cls(wrk=None, rejection=reason, **extra)

    @property
    def accepted(self) -> bool:
        return self.rejection is None and self.wrk is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "wrk": asdict(self.wrk) if self.wrk else None,
            "rejection": self.rejection,
            "cpu": dict(self.cpu),
            "throttled": dict(self.throttled),
            "sockets": {k: dict(v) for k, v in self.sockets.items()},
            "discarded_noisy": self.discarded_noisy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        wrk = None
        if data.get("wrk"):
            raw = dict(data["wrk"])
            raw["socket_errors"] = SocketErrors(**raw["socket_errors"])
            raw["percentiles_ms"] = {int(k): v for k, v in raw["percentiles_ms"].items()}
            wrk = WrkResult(**raw)
        return cls(
            wrk=wrk,
            rejection=data.get("rejection"),
            cpu=data.get("cpu", {}),
            throttled=data.get("throttled", {}),
            sockets=data.get("sockets", {}),
            discarded_noisy=data.get("discarded_noisy", 0),
        )


@dataclass(frozen=True)
class CellSummary:
    """The medians of a cell's accepted runs, and the errors of its rejected ones."""

    requests_per_s: float | None
    p50_ms: float | None
    p99_ms: float | None
    accepted: int
    runs: int
    errors: int
    """Failed requests over every run, accepted or not (accepted runs have none)."""
    rejections: tuple[str, ...]
    cpu: Mapping[str, float]
    """Median cores per role over the accepted runs."""
    throttled: Mapping[str, float]

    @property
    def measured(self) -> bool:
        return self.accepted > 0


def summarize(runs: Sequence[RunRecord]) -> CellSummary:
    """Medians over the accepted runs; errors and reasons from every run."""
    good = [r for r in runs if r.accepted and r.wrk is not None]
    roles = sorted({role for r in good for role in r.cpu})
    throttled_roles = sorted({role for r in good for role in r.throttled})
    return CellSummary(
        requests_per_s=median([r.wrk.requests_per_s for r in good if r.wrk]),
        p50_ms=median([r.wrk.p50_ms for r in good if r.wrk]),
        p99_ms=median([r.wrk.p99_ms for r in good if r.wrk]),
        accepted=len(good),
        runs=len(runs),
        errors=sum(r.wrk.errors for r in runs if r.wrk),
        rejections=tuple(r.rejection for r in runs if r.rejection),
        cpu={role: median([r.cpu[role] for r in good if role in r.cpu]) or 0.0 for role in roles},
        throttled={
            role: median([r.throttled[role] for r in good if role in r.throttled]) or 0.0
            for role in throttled_roles
        },
    )


Results = Mapping[CellKey, CellSummary]


def lookup(
    results: Results, *, pair: str, variant: str, scenario: str, target: str, connections: int
) -> CellSummary | None:
    """The summary of one cell, when it was measured."""
    summary = results.get(CellKey(pair, variant, scenario, target, connections))
    return summary if summary is not None and summary.measured else None


def rejected(results: Results, **key: Any) -> bool:
    """Whether the cell ran but every run of it was rejected (errors)."""
    summary = results.get(CellKey(**key))
    return summary is not None and not summary.measured


def rate(summary: CellSummary | None) -> float | None:
    return summary.requests_per_s if summary else None


# --- goals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One point a goal is checked at."""

    label: str
    value: float | None
    """The measured ratio (None: a side was not measured or all its runs were rejected)."""
    threshold: float
    met: bool | None
    detail: str = ""


@dataclass(frozen=True)
class Goal:
    """A goal of the issue, checked at every point measured on both sides."""

    key: str
    title: str
    checks: tuple[Check, ...]

    @property
    def met(self) -> bool | None:
        """True when every measured point meets it; None when nothing could be compared."""
        measured = [c.met for c in self.checks if c.met is not None]
        if not measured:
            return None
        return all(measured)

    def worst(self) -> Check | None:
        measured = [c for c in self.checks if c.value is not None]
        return min(measured, key=lambda c: c.value or 0.0) if measured else None


def _check(
    label: str,
    value: float | None,
    threshold: float,
    detail: str = "",
    *,
    subject_rejected: bool = False,
) -> Check:
    """A ratio against its threshold. When the side the goal is about (through the proxy,
    tuned, the static file) had every run rejected, the goal is not met there: errors are
    worse than any rate."""
    if value is None and subject_rejected:
        return Check(label, None, threshold, False, detail + " (every run rejected: errors)")
    met = None if value is None else value >= threshold
    return Check(label=label, value=value, threshold=threshold, met=met, detail=detail)


def goal_proxy_vs_direct(
    results: Results, *, pairs: Iterable[str], connections: Iterable[int]
) -> Goal:
    """Through the proxy, the minimal view reaches >= 85% of one app server's direct rate."""
    checks = []
    for pair in pairs:
        for conns in connections:
            common: dict[str, Any] = {
                "pair": pair,
                "variant": Variant.TUNED.value,
                "scenario": MINIMAL,
            }
            proxy = lookup(results, **common, target=Target.PROXY.value, connections=conns)
            direct = lookup(results, **common, target=Target.DIRECT.value, connections=conns)
            if (
                proxy is None
                and direct is None
                and not rejected(results, **common, target=Target.PROXY.value, connections=conns)
            ):
                continue
            checks.append(
                _check(
                    f"{pair}, {conns} connections",
                    ratio(rate(proxy), rate(direct)),
                    PROXY_OVER_DIRECT_MIN,
                    detail=f"{fmt_rate(rate(proxy))} vs {fmt_rate(rate(direct))} req/s",
                    subject_rejected=rejected(
                        results, **common, target=Target.PROXY.value, connections=conns
                    ),
                )
            )
    return Goal(
        key="proxy-vs-direct",
        title="Through the proxy, the minimal view reaches >= 85% of the direct rate (tuned)",
        checks=tuple(checks),
    )


def goal_tuned_vs_defaults(
    results: Results,
    *,
    pairs: Iterable[str],
    connections: Iterable[int],
    scenario: str = MINIMAL,
    threshold: float = TUNED_OVER_DEFAULTS_MIN,
) -> Goal:
    """Tuned beats the tutorial defaults by >= `threshold` on `scenario` (the minimal view:
    2x), with no worse p99."""
    checks = []
    for pair in pairs:
        for conns in connections:
            common: dict[str, Any] = {
                "pair": pair,
                "scenario": scenario,
                "target": Target.PROXY.value,
                "connections": conns,
            }
            tuned = lookup(results, **common, variant=Variant.TUNED.value)
            defaults = lookup(results, **common, variant=Variant.DEFAULTS.value)
            tuned_rejected = rejected(results, **common, variant=Variant.TUNED.value)
            if tuned is None and defaults is None and not tuned_rejected:
                continue
            speedup = ratio(rate(tuned), rate(defaults))
            p99_ok = (
                None
                if tuned is None or defaults is None
                else (tuned.p99_ms or 0.0) <= (defaults.p99_ms or 0.0)
            )
            check = _check(
                f"{pair}, {conns} connections",
                speedup,
                threshold,
                detail=(
                    f"{fmt_rate(rate(tuned))} vs {fmt_rate(rate(defaults))} req/s; "
                    f"p99 {fmt_ms(tuned.p99_ms if tuned else None)} vs "
                    f"{fmt_ms(defaults.p99_ms if defaults else None)}"
                ),
                subject_rejected=tuned_rejected,
            )
            if check.met and p99_ok is False:
                check = Check(
                    check.label, check.value, check.threshold, False, check.detail + " (p99 worse)"
                )
            checks.append(check)
    if scenario == MINIMAL:
        key, view = "tuned-vs-defaults", "the minimal view"
    else:
        key, view = f"tuned-vs-defaults-{scenario}", f"the {SCENARIOS[scenario].title}"
    return Goal(
        key=key,
        title=f"Tuned beats tutorial defaults by >= {threshold:g}x on {view}, p99 no worse",
        checks=tuple(checks),
    )


def goal_static_vs_minimal(
    results: Results, *, pairs: Iterable[str], connections: Iterable[int]
) -> Goal:
    """Static files through the proxy reach >= 10x the minimal view's rate (tuned)."""
    checks = []
    for pair in pairs:
        for conns in connections:
            common: dict[str, Any] = {
                "pair": pair,
                "variant": Variant.TUNED.value,
                "target": Target.PROXY.value,
                "connections": conns,
            }
            minimal = lookup(results, **common, scenario=MINIMAL)
            for scenario in STATIC_SCENARIOS:
                static = lookup(results, **common, scenario=scenario)
                static_rejected = rejected(results, **common, scenario=scenario)
                if static is None and not static_rejected:
                    continue
                checks.append(
                    _check(
                        f"{pair}, {scenario}, {conns} connections",
                        ratio(rate(static), rate(minimal)),
                        STATIC_OVER_MINIMAL_MIN,
                        detail=f"{fmt_rate(rate(static))} vs {fmt_rate(rate(minimal))} req/s",
                        subject_rejected=static_rejected,
                    )
                )
    return Goal(
        key="static-vs-minimal",
        title="Static files through the proxy reach >= 10x the minimal view's rate (tuned)",
        checks=tuple(checks),
    )


def evaluate_goals(
    results: Results, *, pairs: Sequence[str], connections: Sequence[int]
) -> list[Goal]:
    """Every goal of the issue over the measured results."""
    return [
        goal_proxy_vs_direct(results, pairs=pairs, connections=connections),
        goal_tuned_vs_defaults(results, pairs=pairs, connections=connections),
        goal_static_vs_minimal(results, pairs=pairs, connections=connections),
        goal_tuned_vs_defaults(
            results,
            pairs=pairs,
            connections=SCENARIOS[WAITING].connections,
            scenario=WAITING,
            threshold=TUNED_OVER_DEFAULTS_WAITING_MIN,
        ),
    ]
