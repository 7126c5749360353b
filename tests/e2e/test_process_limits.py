"""Two stacks on one engine: one replica spawns up to its process cap under load, the rest
go on: the other stack, and the other replica of the same stack.

Issue 13, item 8: with every stack's replicas as uid 10001, RLIMIT_NPROC (the nproc ulimit)
was one budget for all of them, and a busy stack made `docker exec` and the health checks of
another fail with "resource temporarily unavailable". Here one replica of the busy stack
starts threads until the kernel refuses one (each counts as a process), with the limit its
server runs under (read from its PID 1), while a client loads that stack; meanwhile the other
stack must stay healthy and `docker exec` into it must work; the busy stack's other replica
must pass every health check and still start processes under its own server's limit; and
the runaway replica's own health checks must still start, in the room its server leaves under
its cap. On the shared uid 10001 (the code before per-stack uids) the other stack's `docker
exec` failed here with "sh: 1: Cannot fork", the issue's symptom; with one uid per stack (the
code before per-replica uids) the other replica's processes under its server's limit did.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from tests.e2e.conftest import Deployed, deploy_stack
from tests.e2e.engine import DOCKER, docker, remove_everything

pytestmark = pytest.mark.e2e

REPLICAS = 2
# Bounds of the run: threads the hog may start at most (far above any cap here), how long it
# holds them, and the load beside it (requests and seconds).
HOG_MAX_THREADS = 5000
HOG_HOLD_S = 14.0
LOAD_MAX_REQUESTS = 3000
LOAD_MAX_S = 40.0
LOAD_CLIENTS = 8
# Starts threads (each one a task of the uid, what RLIMIT_NPROC counts) until the kernel
# refuses one (EAGAIN: Python's "can't start new thread") or the bound; prints how many and
# whether it was refused, holds them, then lets them end.
HOG = """
import sys, threading, time
threading.stack_size(64 * 1024)
stop = threading.Event()
started, refused = 0, False
for _ in range(int(sys.argv[1])):
    try:
        threading.Thread(target=stop.wait, daemon=True).start()
    except RuntimeError:
        refused = True
        break
    started += 1
print(started, refused, flush=True)
time.sleep(float(sys.argv[2]))
stop.set()
"""


@pytest.fixture(scope="module")
def stacks(docker_engine: str) -> Iterator[tuple[Deployed, Deployed]]:
    try:
        # One client at hundreds of requests a second: the per-client limits would answer
        # 429 (as in the benchmark, bench/plan.py).
        no_rate_limit = {"requestsPerSecond": 0, "connectionsPerClient": 0}
        busy = deploy_stack(
            docker_engine, "e2e-nproc-busy", replicas=REPLICAS, rateLimit=no_rate_limit
        )
        calm = deploy_stack(docker_engine, "e2e-nproc-calm", replicas=REPLICAS, alongside=True)
        yield busy, calm
    finally:
        remove_everything(docker_engine)


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container))[0]


def server_nproc_limit(container: str) -> int:
    """The soft RLIMIT_NPROC of the container's PID 1 (the server), as the kernel has it."""
    limits = docker("exec", container, "cat", "/proc/1/limits")
    match = re.search(r"^Max processes\s+(\d+)\s+(\d+)", limits, re.MULTILINE)
    assert match, limits
    return int(match.group(1))


@dataclass
class Load:
    """A bounded closed loop of GETs against one URL, from a few threads."""

    url: str
    statuses: list[int | str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _client(self, deadline: float) -> None:
        while not self._stop.is_set() and time.monotonic() < deadline:
            if len(self.statuses) >= LOAD_MAX_REQUESTS:
                return
            try:
                with urllib.request.urlopen(self.url, timeout=10) as response:
                    response.read()
                    self.statuses.append(response.status)
            except urllib.error.HTTPError as e:
                self.statuses.append(e.code)
            except OSError as e:
                self.statuses.append(type(e).__name__)

    def __enter__(self) -> Load:
        deadline = time.monotonic() + LOAD_MAX_S
        self._threads = [
            threading.Thread(target=self._client, args=(deadline,)) for _ in range(LOAD_CLIENTS)
        ]
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)


def exec_works(container: str, *, under_nproc: int | None = None) -> tuple[bool, str]:
    """Whether an operator's `docker exec` works: a shell that starts a command (a fork as
    the container's uid, where a uid at its limit fails), as the health checks do; with
    `under_nproc`, under that RLIMIT_NPROC (a server's own, lower than the container's)."""
    limit = [] if under_nproc is None else ["prlimit", f"--nproc={under_nproc}:{under_nproc}", "--"]
    result = subprocess.run(
        [DOCKER, "exec", container, *limit, "sh", "-c", "ls / >/dev/null && echo ok"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout.strip() == "ok", result.stderr.strip()


# What a health check says when Docker could not start it, or it could not fork, for want of
# room under RLIMIT_NPROC (seen on the shared uid: "/bin/sh: 1: Cannot fork").
NO_ROOM = ("cannot fork", "resource temporarily unavailable", "can't start new thread")


def could_not_start(run: dict) -> bool:
    return run["ExitCode"] == -1 or any(s in run["Output"].lower() for s in NO_ROOM)


def health(container: str) -> dict:
    return inspect(container)["State"]["Health"]


def test_each_container_runs_as_a_uid_of_its_own(
    stacks: tuple[Deployed, Deployed],
) -> None:
    users = {
        f"{stack.name}/{role}": inspect(stack.container(role))["Config"]["User"]
        for stack in stacks
        for role in ("app-0", "app-1", "migrate", "proxy")
    }
    uids = {name: user.split(":")[0] for name, user in users.items()}
    # Every replica, migration job and proxy of both stacks: eight uids.
    assert len(set(uids.values())) == 8, users
    for stack in stacks:
        # One group for what shares the stack's volumes: the replicas and the migration job.
        groups = {users[f"{stack.name}/{r}"].split(":")[1] for r in ("app-0", "app-1", "migrate")}
        assert groups == {"10001"}, users
    # Processes run as that uid, as the host sees them.
    for stack in stacks:
        for role in ("app-0", "app-1", "proxy"):
            top = docker("top", stack.container(role), "-eo", "pid,uid").splitlines()[1:]
            assert {line.split()[1] for line in top} == {uids[f"{stack.name}/{role}"]}


def test_a_replica_at_its_process_cap_leaves_the_rest_alone(
    stacks: tuple[Deployed, Deployed],
) -> None:
    busy, calm = stacks
    hog_in = busy.container("app-0")
    server_limit = server_nproc_limit(hog_in)
    cap = next(u["Soft"] for u in inspect(hog_in)["HostConfig"]["Ulimits"] if u["Name"] == "nproc")
    # The server runs below the container's cap: room for what `docker exec` starts.
    assert server_limit < cap
    with Load(busy.url) as load:
        time.sleep(2)  # the load is under way
        # In the replica, with the limit its server runs under: as a server gone wild would.
        as_the_server = ["prlimit", f"--nproc={server_limit}:{server_limit}", "--"]
        bounds = [str(HOG_MAX_THREADS), str(HOG_HOLD_S)]
        hog = subprocess.Popen(
            [DOCKER, "exec", hog_in, *as_the_server, "python3", "-c", HOG, *bounds],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert hog.stdout is not None
            started, refused = hog.stdout.readline().split()
            held_from = time.time()
            # The hog stopped because the kernel refused a task, not at its own bound: the
            # busy stack's uid is at the server's limit now.
            assert refused == "True" and 0 < int(started) < HOG_MAX_THREADS, started
            failures: list[str] = []
            checks = 0
            calm_statuses: list[int] = []
            while time.time() - held_from < HOG_HOLD_S - 2:
                for container in [calm.container(f"app-{i}") for i in range(REPLICAS)] + [
                    calm.container("proxy"),
                    # The busy stack's other replica: `docker exec` has the room left to it.
                    busy.container("app-1"),
                ]:
                    ok, error = exec_works(container)
                    checks += 1
                    if not ok:
                        failures.append(f"{container}: {error}")
                # The busy stack's other replica can still start processes under its own
                # server's limit, as its server does (a worker restarted, a thread added):
                # its uid is not the runaway one's.
                ok, error = exec_works(busy.container("app-1"), under_nproc=server_limit)
                checks += 1
                if not ok:
                    failures.append(f"{busy.container('app-1')} as its server: {error}")
                with urllib.request.urlopen(calm.url, timeout=10) as response:
                    calm_statuses.append(response.status)
                time.sleep(0.5)
            assert not failures, failures
            assert checks >= 10 and set(calm_statuses) == {200}, calm_statuses
            # Health checks that ran while the hog held its threads. The calm stack's and the
            # busy stack's other replica's: every one passed. The runaway replica's: every one
            # started (the room under its cap), though its result is its server's to give: the
            # hog holds that replica's whole server budget, and a request that needs a new
            # thread (Gunicorn's gthread pool starts its threads lazily) may fail there, as it
            # would in a server gone wild.
            for container in [
                *(calm.container(f"app-{i}") for i in range(REPLICAS)),
                *(busy.container(f"app-{i}") for i in range(REPLICAS)),
            ]:
                state = health(container)
                during = [
                    run
                    for run in state["Log"]
                    if _epoch(run["Start"]) >= held_from - 0.5
                    and _epoch(run["Start"]) < held_from + HOG_HOLD_S
                ]
                assert during, (container, state["Log"])
                assert not [run for run in during if could_not_start(run)], (container, during)
                if container != hog_in:
                    assert all(run["ExitCode"] == 0 for run in during), (container, during)
                    assert state["Status"] == "healthy", (container, state)
        finally:
            hog.wait(timeout=HOG_HOLD_S + 60)
    assert hog.returncode == 0, hog.stderr.read() if hog.stderr else ""
    # The load reached the busy stack (bounded in count and time); it drives, it is not the
    # subject: the busy stack may refuse some requests while the hog holds its budget.
    assert load.statuses and len(load.statuses) <= LOAD_MAX_REQUESTS + LOAD_CLIENTS
    assert load.statuses.count(200) > 0, set(map(str, load.statuses))


def _epoch(timestamp: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds, a zone) as seconds since the epoch."""
    head, _, rest = timestamp.partition(".")
    fraction = re.match(r"\d*", rest)
    zone = rest[fraction.end() :] if fraction else ""
    zone = "+00:00" if zone in ("Z", "") else zone
    digits = (fraction.group(0) if fraction else "")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{head}.{digits}{zone}").timestamp()
