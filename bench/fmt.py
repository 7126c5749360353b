"""How numbers are written in the benchmark's tables and messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def fmt_rate(value: float | None) -> str:
    """Requests per second: `12,345`, or `n/a`."""
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_ms(value: float | None) -> str:
    """A latency in the unit that keeps it readable: `850 us`, `12.3 ms`, `1.24 s`."""
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 1000:.0f} us"
    if value < 100:
        return f"{value:.1f} ms"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.2f} s"


def fmt_ratio(value: float | None) -> str:
    """A ratio: `1.23x`, or `n/a`."""
    return "n/a" if value is None else f"{value:.2f}x"


def fmt_seconds(value: float | None) -> str:
    """A duration in seconds: `0.84 s`, `3 min 12 s`."""
    if value is None:
        return "n/a"
    if value < 60:
        return f"{value:.2f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes} min {seconds:02d} s"


def machine_lines(machine: Mapping[str, Any]) -> list[str]:
    """Two lines about the machine: CPUs, memory, kernel, Docker engine."""
    return [
        f"- Machine: {machine.get('cpu_model', '?')}, {machine.get('nproc', '?')} CPUs (nproc), "
        f"{machine.get('memory_gib', 0):.1f} GiB memory; {machine.get('kernel', '?')}",
        f"- Docker engine {machine.get('docker', '?')} (storage driver "
        f"{machine.get('storage_driver', '?')}, cgroup v{machine.get('cgroup_version', '?')})",
    ]


def source_line(source: Mapping[str, Any]) -> str:
    """Which code was measured: the commit when known, and the digest of the stack's code."""
    commit = f"commit {source['commit']}, " if source.get("commit") else ""
    return f"- Code: {commit}components/templates/app digest `{source.get('digest', '?')}`"


# Results files from before the benchmark recorded its deployer: all were the harness's.
DEPLOYED_BY_UNRECORDED = (
    "the end-to-end harness (the results file does not say; every run before this was recorded "
    "was deployed by it)"
)


def deployment_line(meta: Mapping[str, Any]) -> str:
    """Which deployed the stacks under test: `pulumi up` under the real engine, or the
    harness (bench/deployment.py)."""
    timings = timing_phrase(meta.get("deployments") or {})
    took = f" ({timings})" if timings else ""
    return f"- Deployed by {meta.get('deployed_by') or DEPLOYED_BY_UNRECORDED}{took}."


def timing_phrase(timings: Mapping[str, Mapping[str, float]]) -> str:
    """`deploy 53-189 s, teardown 37-57 s per stack` over the stacks of a run ('' without any)."""
    parts = []
    for key, what in (("deploy_s", "deploy"), ("teardown_s", "teardown")):
        seen = sorted(t[key] for t in timings.values() if key in t)
        if seen:
            low, high = f"{seen[0]:.0f}", f"{seen[-1]:.0f}"
            parts.append(f"{what} {low if low == high else f'{low}-{high}'} s")
    return ", ".join(parts) + " per stack" if parts else ""
