"""Where the CPU went during a run: per container from its cgroup, and the machine's total.

Docker puts each container in its own cgroup; its CPU counter (cgroup v1 `cpuacct.usage`,
v2 `cpu.stat usage_usec`) read before and after a run gives the cores it used, and
`nr_throttled / nr_periods` how often it hit its `--cpus` limit. /proc/stat gives the
machine's busy time, so whatever else ran (another stack, a build) shows up as "others".
`/proc/<pid>/net/sockstat` of a container's process is `ss -s` for its network namespace.
https://docs.kernel.org/admin-guide/cgroup-v1/cpuacct.html
https://docs.kernel.org/scheduler/sched-bwc.html
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
USER_HZ = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ContainerCpu:
    """A container's CPU counters at one moment."""

    usage_ns: int
    periods: int = 0
    throttled: int = 0


@dataclass(frozen=True)
class Snapshot:
    """Counters of some containers and of the machine, at one moment."""

    at: float
    containers: Mapping[str, ContainerCpu] = field(default_factory=dict)
    host_busy_s: float = 0.0
    docker_total_ns: int | None = None
    """Every container's CPU together (the engine's parent cgroup), when readable."""
    engine_s: float = 0.0
    """CPU time of the engine's own processes (dockerd, containerd): image builds run there."""


def parse_proc_stat_busy(stat: str) -> float:
    """Busy CPU seconds since boot from /proc/stat's `cpu` line (all but idle and iowait)."""
    for line in stat.splitlines():
        if line.startswith("cpu "):
            ticks = [int(v) for v in line.split()[1:]]
            # user nice system idle iowait irq softirq steal [guest guest_nice: already in user]
            busy = sum(ticks[:8]) - ticks[3] - ticks[4]
            return busy / USER_HZ
    raise ValueError("no cpu line in /proc/stat")


def parse_key_values(text: str) -> dict[str, int]:
    """`name value` lines (cgroup cpu.stat) as a dict."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def parse_sockstat(text: str) -> dict[str, int]:
    """The TCP line of /proc/net/sockstat: `inuse`, `orphan`, `tw` (TIME-WAIT), `alloc`."""
    for line in text.splitlines():
        if line.startswith("TCP:"):
            words = line.split()[1:]
            return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}
    return {}


def read_container(container_id: str, root: Path = CGROUP_ROOT) -> ContainerCpu | None:
    """A container's counters (cgroupfs driver, v1 or v2), or None when it has no cgroup."""
    v1_usage = root / "cpuacct" / "docker" / container_id / "cpuacct.usage"
    if v1_usage.exists():
        stat = parse_key_values(_read(root / "cpu" / "docker" / container_id / "cpu.stat"))
        return ContainerCpu(
            usage_ns=int(_read(v1_usage) or 0),
            periods=stat.get("nr_periods", 0),
            throttled=stat.get("nr_throttled", 0),
        )
    for v2 in (
        root / "system.slice" / f"docker-{container_id}.scope",
        root / "docker" / container_id,
    ):
        if (v2 / "cpu.stat").exists():
            stat = parse_key_values(_read(v2 / "cpu.stat"))
            return ContainerCpu(
                usage_ns=stat.get("usage_usec", 0) * 1000,
                periods=stat.get("nr_periods", 0),
                throttled=stat.get("nr_throttled", 0),
            )
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def parse_process_cpu_s(stat: str) -> float:
    """utime + stime of a /proc/<pid>/stat line, in seconds."""
    # The command name (field 2) may hold spaces; fields after its ")" are positional.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / USER_HZ


ENGINE_PROCESSES = ("dockerd", "containerd")


def engine_pids() -> list[int]:
    """Process ids of the Docker engine's own daemons."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _read(entry / "comm").strip() in ENGINE_PROCESSES:
            pids.append(int(entry.name))
    return pids


def _docker_total_ns(root: Path = CGROUP_ROOT) -> int | None:
    text = _read(root / "cpuacct" / "docker" / "cpuacct.usage").strip()
    return int(text) if text.isdigit() else None


def snapshot(container_ids: Iterable[str], engine: Iterable[int] = ()) -> Snapshot:
    """Read every container's counters, the engine's and the machine's busy time now."""
    containers = {}
    for cid in container_ids:
        counters = read_container(cid)
        if counters is not None:
            containers[cid] = counters
    engine_s = 0.0
    for pid in engine:
        text = _read(Path(f"/proc/{pid}/stat"))
        if text:
            engine_s += parse_process_cpu_s(text)
    return Snapshot(
        at=time.monotonic(),
        containers=containers,
        host_busy_s=parse_proc_stat_busy(Path("/proc/stat").read_text()),
        docker_total_ns=_docker_total_ns(),
        engine_s=engine_s,
    )


def cores_by_role(
    before: Snapshot, after: Snapshot, roles: Mapping[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Cores used per role between two snapshots, and the throttled fraction per role.

    `roles` maps container id -> role; containers of one role add up. "others" is the
    machine's busy time that none of these containers used (never below 0): other work, but
    also the kernel's packet processing for these containers' own traffic, which no cgroup is
    charged with. "engine" is the Docker daemons' share of it: they copy every line the
    containers log (access logs, one or more per request) and run other people's builds.
    "foreign" is only what is surely someone else's: other containers and image build steps.
    """
    wall = after.at - before.at
    if wall <= 0:
        return {}, {}
    cores: dict[str, float] = {}
    periods: dict[str, int] = {}
    throttled: dict[str, int] = {}
    for cid, role in roles.items():
        if cid not in before.containers or cid not in after.containers:
            continue
        a, b = before.containers[cid], after.containers[cid]
        cores[role] = cores.get(role, 0.0) + (b.usage_ns - a.usage_ns) / 1e9 / wall
        periods[role] = periods.get(role, 0) + (b.periods - a.periods)
        throttled[role] = throttled.get(role, 0) + (b.throttled - a.throttled)
    host = (after.host_busy_s - before.host_busy_s) / wall
    mine = sum(cores.values())
    cores["others"] = max(0.0, host - mine)
    cores["host"] = host
    cores["engine"] = (after.engine_s - before.engine_s) / wall
    if before.docker_total_ns is not None and after.docker_total_ns is not None:
        foreign = (after.docker_total_ns - before.docker_total_ns) / 1e9 / wall - mine
        cores["foreign"] = max(0.0, foreign)
    fractions = {role: throttled[role] / periods[role] for role in periods if periods[role] > 0}
    return cores, fractions


def sockstat_of_pid(pid: int) -> dict[str, int]:
    """TCP socket counts in the network namespace of process `pid` (`ss -s`)."""
    return parse_sockstat(_read(Path(f"/proc/{pid}/net/sockstat")))
