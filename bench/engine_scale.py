"""The program at scale under the real Pulumi engine: `pulumi preview` of a VM stack on given
hosts with N app hosts, and of the Docker stack with N replicas (issue 16, item 4).

A preview needs no machine: the command plugin answers Check and Diff without connecting, so
the hosts are documentation addresses (RFC 5737) that nothing answers. Nor does it need a
Docker engine: the docker plugin plans images, containers and networks without contacting
one (seen with strace, 2026-12-02), and DOCKER_HOST points at a socket that does not exist, so
the bench cannot touch a shared engine even if that changed (the preview would fail). Each
count gets a stack of its own (the project's own plugins, a scratch backend); the first
preview warms the program's imports and the plugins, the median of the next `runs` counts.
Besides wall time, the CPU of the engine and its plugins (this process's children) and of
this process (the program and the Automation API) say on which side the time goes.
Previews run as `python -m deploy preview` runs them (deploy.workspace.checkpoints_skipped).
"""

from __future__ import annotations

import ipaddress
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.workspace import checkpoints_skipped
from tests.e2e.real_engine import VM_PLUGINS, program_stack
from tests.support.stack_files import PLACEHOLDER_SECRETS, stack_config

# The goal: 100 app hosts cost at most 12x the time of 10.
RATIO_GOAL = 12.0
_TEST_NETS = [ipaddress.ip_network(n) for n in ("198.51.100.0/24", "203.0.113.0/24")]


def documentation_hosts(count: int) -> list[str]:
    """`count` distinct addresses from the documentation networks (at most 508)."""
    addresses = [str(a) for net in _TEST_NETS for a in net.hosts()]
    if count > len(addresses):
        raise ValueError(f"at most {len(addresses)} app hosts")
    return addresses[:count]


def vm_stack_config(app_hosts: int) -> dict[str, str]:
    """The dev stack file on `app_hosts` given hosts (placeholder SSH key: nothing connects)."""
    return stack_config(
        "dev",
        {
            "platform": "vm",
            "replicas": app_hosts,
            "vm": {
                "provider": "hosts",
                "sshUser": "admin",
                "proxyHost": "192.0.2.10",
                "appHosts": documentation_hosts(app_hosts),
                "databaseHost": "192.0.2.20",
                "sshAllowedFrom": ["192.0.2.0/24"],
            },
            **PLACEHOLDER_SECRETS,
        },
    )


def docker_stack_config(replicas: int) -> dict[str, str]:
    """The dev stack file with `replicas` app containers."""
    return stack_config("dev", {"replicas": replicas})


@dataclass(frozen=True)
class Scaled:
    """One stack to preview at several sizes."""

    title: str
    """What the count is the number of, for the table."""
    config: Callable[[int], dict[str, str]]
    plugins: Collection[str]
    secret_keys: Collection[str] = ()
    env: Mapping[str, str] | None = None


VM_SCALED = Scaled(
    title="VM app hosts",
    config=vm_stack_config,
    plugins=VM_PLUGINS,
    secret_keys=("django-stack:sshPrivateKey",),
)
DOCKER_SCALED = Scaled(
    title="Docker replicas",
    config=docker_stack_config,
    plugins=("docker", "random", "command"),
    # No engine there (see the module's docstring).
    env={"DOCKER_HOST": (Path(tempfile.gettempdir()) / "no-docker-engine.sock").as_uri()},
)


@dataclass(frozen=True)
class PreviewTiming:
    wall_s: float
    engine_cpu_s: float
    program_cpu_s: float
    resources: int


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def time_previews(scaled: Scaled, count: int, *, runs: int) -> list[PreviewTiming]:
    """One warm-up preview, then `runs` timed ones, of a new stack of `scaled` at `count`."""
    stack = program_stack(
        f"bench-scale-{count}",
        scaled.config(count),
        secret_keys=scaled.secret_keys,
        plugins=scaled.plugins,
    )
    workspace = stack.stack.workspace
    workspace.env_vars = {**workspace.env_vars, **(scaled.env or {})}
    timings = []
    try:
        for run in range(runs + 1):
            children, own = _cpu(resource.RUSAGE_CHILDREN), _cpu(resource.RUSAGE_SELF)
            started = time.perf_counter()
            with checkpoints_skipped(stack.stack):
                result = stack.stack.preview(on_output=stack.log.append)
            timing = PreviewTiming(
                wall_s=time.perf_counter() - started,
                engine_cpu_s=_cpu(resource.RUSAGE_CHILDREN) - children,
                program_cpu_s=_cpu(resource.RUSAGE_SELF) - own,
                resources=sum(result.change_summary.values()),
            )
            if run:
                timings.append(timing)
    finally:
        stack.remove()
    return timings


def summarize(results: dict[int, list[PreviewTiming]]) -> dict[str, Any]:
    """Medians per count, and the largest count's wall time over the smallest's."""
    rows: dict[int, dict[str, Any]] = {
        n: {
            "resources": timings[0].resources,
            "wall_s": statistics.median(t.wall_s for t in timings),
            "engine_cpu_s": statistics.median(t.engine_cpu_s for t in timings),
            "program_cpu_s": statistics.median(t.program_cpu_s for t in timings),
            "runs_wall_s": [round(t.wall_s, 2) for t in timings],
        }
        for n, timings in sorted(results.items())
    }
    low, high = min(rows), max(rows)
    return {
        "rows": rows,
        "ratio": rows[high]["wall_s"] / rows[low]["wall_s"],
        "counts": (low, high),
    }


def print_summary(title: str, summary: dict[str, Any]) -> None:
    print(f"{title} | resources | preview wall (median) | engine+plugins CPU | program CPU")
    for n, row in summary["rows"].items():
        print(
            f"{n:>{len(title)}} | {row['resources']:>9} | {row['wall_s']:>8.2f} s"
            f" {row['runs_wall_s']} | {row['engine_cpu_s']:>8.2f} s"
            f" | {row['program_cpu_s']:>8.2f} s"
        )
    low, high = summary["counts"]
    print(f"{high} {title} take {summary['ratio']:.1f}x the preview time of {low}")
    if (low, high) == (10, 100):
        met = "met" if summary["ratio"] <= RATIO_GOAL else "NOT met"
        print(f"goal: at most {RATIO_GOAL:.0f}x: {met}")


def run_engine_scale_bench(*, counts: tuple[int, ...], runs: int) -> int:
    for scaled in (VM_SCALED, DOCKER_SCALED):
        summary = summarize({n: time_previews(scaled, n, runs=runs) for n in counts})
        print_summary(scaled.title, summary)
        print()
    return 0
