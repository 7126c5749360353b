"""One deployed stack under test: its containers, the load generators beside it, wrk runs.

The stack is deployed by bench/deployment.py (`pulumi up`, or the end-to-end harness); only
the program's names are read from it (`django-stack-<stack>-<role>`, its networks, the
replicas' aliases). The benchmark adds, on the same engine and under its own run id (so
`remove_everything(run_id)` removes them, before the stack is destroyed):

- two load generator containers from bench/docker/wrk.Dockerfile, pinned with `--cpuset-cpus`:
  one on the stack's public network, which loads the proxy as a client would (without the
  host's published port and its userland proxy in the way), and one on the private network,
  which loads one app server directly;
- for uWSGI, which speaks the uwsgi protocol to the proxy, one extra app server from the same
  image, the same rendered uwsgi.ini and the same limits as a replica, plus an HTTP/1.1
  keep-alive socket (`--http11-socket :8001`): the direct reference. Gunicorn's reference is
  replica app-0 itself, which already speaks HTTP on port 8000.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import cpu
from bench.plan import (
    ALL_SCENARIOS,
    BULK_BYTES,
    REPLICAS,
    CellKey,
    Pair,
    SlowClients,
    Target,
    Timing,
    Variant,
)
from bench.stats import RunRecord
from bench.wrk import WrkParseError, parse_wrk, wrk_command
from components.choices import AppServer
from components.render.proxy_config import PROXY_PORT, PROXY_TLS_PORT
from tests.e2e.engine import DOCKER, LABEL, EngineError, docker

HERE = Path(__file__).resolve().parent
TOOLS_DOCKERFILE = HERE / "docker" / "wrk.Dockerfile"
SLOW_READER = HERE / "slow_reader.py"
TOOLS_LABEL = "bench-tools"
DIRECT_UWSGI_PORT = 8001
# HTTP/1.0-style: one connection per request, which the server closes, as the proxy's uwsgi
# connections are. The header lets wrk reconnect instead of counting a read error. Not
# --http11-socket: its keep-alive connection holds a worker thread, so beyond processes x
# threads connections the others wait for socket-timeout (4 s) and fail.
# https://uwsgi-docs.readthedocs.io/en/latest/HTTP.html
DIRECT_UWSGI_SOCKET = ("--http-socket", f"0.0.0.0:{DIRECT_UWSGI_PORT}")
DIRECT_UWSGI_EXTRA = ("--add-header", "Connection: close")
DIRECT_UWSGI_ALIAS = "bench-direct"
# Extra seconds a wrk run may take beyond -d before it is killed: start-up, connection
# set-up and the final requests (each bounded by wrk's --timeout).
RUN_GRACE_S = 20.0
# Entries in the guestbook, so the realistic view renders a full page (it shows 20).
SEED_ENTRIES = 50


@dataclass
class NoiseBudget:
    """Seconds the whole invocation may still spend repeating runs disturbed by other work."""

    seconds: float


class StackGoneError(RuntimeError):
    """A container of the stack under test disappeared or stopped (removed by someone else)."""


def tools_image(base_image: str = "debian:bookworm-slim") -> str:
    """Build the load generator image once (tagged by its Dockerfile); return its tag."""
    content = TOOLS_DOCKERFILE.read_bytes()
    tag = f"django-stack-bench-wrk:{hashlib.sha256(content).hexdigest()[:12]}"
    if docker("image", "ls", "-q", tag).strip() == "":
        docker(
            "build",
            "--quiet",
            "--tag",
            tag,
            "--label",
            f"{LABEL}={TOOLS_LABEL}",
            "--build-arg",
            f"BASE_IMAGE={base_image}",
            "--file",
            str(TOOLS_DOCKERFILE),
            str(TOOLS_DOCKERFILE.parent),
            env={"DOCKER_BUILDKIT": "1"},
            timeout=600,
        )
    return tag


def _inspect(name: str) -> dict:
    try:
        return json.loads(docker("inspect", name, timeout=30))[0]
    except EngineError as error:
        raise StackGoneError(f"container {name} is gone: {error}") from error


@dataclass
class StackUnderTest:
    """A deployed stack plus the benchmark's own containers beside it."""

    name: str
    pair: Pair
    variant: Variant
    run_id: str
    load_cpus: str
    tools: str
    roles: dict[str, str] = field(default_factory=dict)
    """container id -> role (proxy, app, db, load, ...), for CPU accounting."""
    pids: dict[str, int] = field(default_factory=dict)
    """role -> a process id in that container's network namespace (socket counts)."""
    engine: list[int] = field(default_factory=cpu.engine_pids)
    """The engine's daemons, whose CPU is reported apart (log copying, builds)."""

    @property
    def prefix(self) -> str:
        return f"django-stack-{self.name}"

    def container(self, role: str) -> str:
        return f"{self.prefix}-{role}"

    @property
    def load_public(self) -> str:
        return self.container("bench-load-public")

    @property
    def load_private(self) -> str:
        return self.container("bench-load-private")

    @property
    def direct_container(self) -> str:
        return self.container("bench-direct")

    def base_url(self, target: Target) -> str:
        if target is Target.PROXY:
            return f"http://{self.container('proxy')}:{PROXY_PORT}"
        if target is Target.PROXY_TLS:
            return f"https://{self.container('proxy')}:{PROXY_TLS_PORT}"
        if self.pair.app_server is AppServer.UWSGI:
            return f"http://{DIRECT_UWSGI_ALIAS}:{DIRECT_UWSGI_PORT}"
        return "http://app-0:8000"

    def load_container(self, target: Target) -> str:
        return self.load_private if target is Target.DIRECT else self.load_public

    # --- set-up -----------------------------------------------------------------------

    def attach(self, *, replicas: int) -> None:
        """Find the stack's containers, start the load generators, seed the database."""
        for role in ["proxy", "db", *(f"app-{i}" for i in range(replicas))]:
            details = _inspect(self.container(role))
            self.roles[details["Id"]] = "app" if role.startswith("app-") else role
            self.pids[role] = int(details["State"]["Pid"])
        for name, network in (
            (self.load_public, f"{self.prefix}-public"),
            (self.load_private, f"{self.prefix}-private"),
        ):
            container_id = docker(
                "run",
                "--detach",
                "--name",
                name,
                "--label",
                f"{LABEL}={self.run_id}",
                "--network",
                network,
                "--cpuset-cpus",
                self.load_cpus,
                # A client that opens one connection per request (the uWSGI reference) would
                # otherwise run out of ports within a minute: each closed connection holds
                # its port in TIME-WAIT for 60 s (28k ports / 60 s = ~470 connections/s).
                # https://docs.kernel.org/networking/ip-sysctl.html#tcp-variables
                "--sysctl",
                "net.ipv4.tcp_tw_reuse=1",
                "--sysctl",
                "net.ipv4.ip_local_port_range=1024 65535",
                "--read-only",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges:true",
                self.tools,
                # Bounded: the container ends by itself even if nobody removes it.
                "sleep",
                "3600",
            ).strip()
            self.roles[container_id] = "load"
        if self.pair.app_server is AppServer.UWSGI:
            self._start_direct_uwsgi()
        self._seed()

    def _start_direct_uwsgi(self) -> None:
        """One more uWSGI app server, like app-0 but also speaking HTTP/1.1 on port 8001."""
        replica = _inspect(self.container("app-0"))
        config, host = replica["Config"], replica["HostConfig"]
        # Only what the program set on the replica (secret key, database); the image's own
        # environment comes with the image.
        image_env = set(
            json.loads(
                docker("image", "inspect", "--format", "{{json .Config.Env}}", config["Image"])
            )
        )
        env = {}
        for item in config["Env"]:
            if item not in image_env:
                key, _, value = item.partition("=")
                env[key] = value
        env["DJANGO_STACK_REPLICA"] = DIRECT_UWSGI_ALIAS
        # Values travel in the docker CLI's environment, never on its command line.
        env_flags = [flag for key in sorted(env) for flag in ("--env", key)]
        tmpfs = [
            flag
            for path, opts in (host.get("Tmpfs") or {}).items()
            for flag in ("--tmpfs", f"{path}:{opts}")
        ]
        ulimits = [
            flag
            for u in host.get("Ulimits") or []
            for flag in ("--ulimit", f"{u['Name']}={u['Soft']}:{u['Hard']}")
        ]
        container_id = docker(
            "run",
            "--detach",
            "--name",
            self.direct_container,
            "--label",
            f"{LABEL}={self.run_id}",
            "--network",
            f"{self.prefix}-private",
            "--network-alias",
            DIRECT_UWSGI_ALIAS,
            "--user",
            config["User"],
            "--read-only",
            *tmpfs,
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges:true",
            "--cpus",
            f"{host['NanoCpus'] / 1e9:g}",
            "--memory",
            str(host["Memory"]),
            "--memory-swap",
            str(host["MemorySwap"]),
            *ulimits,
            *env_flags,
            config["Image"],
            *config["Cmd"],
            *DIRECT_UWSGI_SOCKET,
            *DIRECT_UWSGI_EXTRA,
            env=env,
        ).strip()
        self.roles[container_id] = "app"
        self.pids["direct"] = int(_inspect(self.direct_container)["State"]["Pid"])
        deadline = time.monotonic() + 90
        url = f"{self.base_url(Target.DIRECT)}/health/"
        while time.monotonic() < deadline:
            status, _ = self.fetch(self.load_private, url)
            if status == 200:
                return
            time.sleep(1)
        raise EngineError(f"the direct uWSGI server never answered 200 on {url}")

    def _seed(self) -> None:
        script = (
            "from guestbook.models import Entry\n"
            f"missing = {SEED_ENTRIES} - Entry.objects.count()\n"
            "Entry.objects.bulk_create("
            "[Entry(text=f'benchmark entry {i}') for i in range(max(0, missing))])\n"
        )
        docker("exec", self.container("app-0"), "django-admin", "shell", "-c", script, timeout=120)

    # --- checks and runs ----------------------------------------------------------------

    def fetch(self, load_container: str, url: str) -> tuple[int, int]:
        """(status, body bytes) of one GET from inside a load generator container.

        HTTPS unverified (`-k`), as wrk does not verify either: the stack's own CA is not in
        the load generator, and the chain is the end-to-end suite's to check.
        """
        result = subprocess.run(
            [
                DOCKER,
                "exec",
                load_container,
                "curl",
                *(["-k"] if url.startswith("https://") else []),
                "-s",
                "-o",
                "/dev/null",
                "--max-time",
                "10",
                "-H",
                "Host: localhost",
                "-w",
                "%{http_code} %{size_download}",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        try:
            status, size = result.stdout.split()
            return int(status), int(size)
        except ValueError:
            return 0, 0

    def preflight(self, cells: Sequence[CellKey]) -> None:
        """Each URL the cells load (and what their slow readers read) answers exactly 200
        (not a redirect) with the expected body, once."""
        checks: dict[tuple[Target, str], int | None] = {}
        for key in cells:
            scenario = ALL_SCENARIOS[key.scenario]
            target = Target(key.target)
            checks[(target, scenario.path)] = scenario.expected_bytes
            if scenario.slow_clients is not None:
                checks[(target, scenario.slow_clients.path)] = BULK_BYTES
        for (target, path), expected in checks.items():
            url = self.base_url(target) + path
            status, size = self.fetch(self.load_container(target), url)
            if status != 200 or (expected is not None and size != expected):
                raise EngineError(
                    f"pre-flight {url}: status {status}, {size} bytes "
                    f"(expected 200{f', {expected} bytes' if expected else ''})"
                )

    def check_alive(self) -> None:
        """Raise StackGoneError when a container of the stack no longer runs."""
        for cid in self.roles:
            state = docker("inspect", "--format", "{{.State.Running}}", cid, check=False).strip()
            if state != "true":
                raise StackGoneError(f"container {cid[:12]} of {self.name} is not running")

    def wrk(self, key: CellKey, duration_s: float) -> tuple[str, str | None]:
        """One bounded wrk run; (output, None) or (partial output, why it failed)."""
        target = Target(key.target)
        argv = wrk_command(
            url=self.base_url(target) + ALL_SCENARIOS[key.scenario].path,
            connections=key.connections,
            duration_s=duration_s,
        )
        limit = duration_s + RUN_GRACE_S
        command = [
            DOCKER,
            "exec",
            self.load_container(target),
            "timeout",
            "-k",
            "5",
            f"{limit:g}",
            *argv,
        ]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=limit + 30)
        except subprocess.TimeoutExpired:
            return "", f"wrk did not finish within {limit + 30:g} s"
        if result.returncode != 0:
            return result.stdout, f"wrk exited {result.returncode}: {result.stderr.strip()[-300:]}"
        return result.stdout, None

    def measure(
        self,
        key: CellKey,
        timing: Timing,
        *,
        noise_cores: float,
        noise_retries: int,
        budget: NoiseBudget,
    ) -> list[RunRecord]:
        """A warm-up run, then `timing.runs` measured runs of one cell.

        The machine is shared: a run during which other work used more than `noise_cores`
        is discarded and run again once that work has calmed down, at most `noise_retries`
        times and while the invocation's budget lasts (the last attempt is kept, and the CPU
        the other work used shows in the report).
        """
        self.check_alive()
        if ALL_SCENARIOS[key.scenario].slow_clients is None:
            self.wrk(key, timing.warmup_s)
            self.drain(key)
        runs = []
        for _ in range(timing.runs):
            for attempt in range(noise_retries + 1):
                started = time.monotonic()
                run = self._measured_run(key, timing.duration_s)
                self.drain(key)
                quiet = run.cpu.get("foreign", 0.0) <= noise_cores
                if quiet or attempt == noise_retries or budget.seconds <= 0:
                    break
                wait_until_quiet(self.roles, self.engine, limit_cores=noise_cores, max_wait_s=20)
                self.check_alive()
                budget.seconds -= time.monotonic() - started
            runs.append(replace(run, discarded_noisy=attempt))
        return runs

    def drain(self, key: CellKey) -> None:
        """For a scenario that drains (`Scenario.drain`): one request per replica, each
        queued behind what the last run left, so the next run starts on idle servers."""
        scenario = ALL_SCENARIOS[key.scenario]
        if not scenario.drain:
            return
        target = Target(key.target)
        for _ in range(REPLICAS if target is Target.PROXY else 1):
            self.fetch(self.load_container(target), self.base_url(target) + scenario.path)

    def start_slow_readers(self, key: CellKey, slow: SlowClients, run_s: float) -> subprocess.Popen:
        """Start the slow readers in the load container (bounded: they end by themselves)."""
        target = Target(key.target)
        url = urlsplit(self.base_url(target))
        argv = [
            DOCKER,
            "exec",
            "-i",
            self.load_container(target),
            "python3",
            "-",
            "--host",
            url.hostname or "",
            "--port",
            str(url.port),
            "--path",
            slow.path,
            "--clients",
            str(slow.clients),
            "--rate",
            str(slow.rate_bytes_per_s),
            "--rcvbuf",
            str(slow.rcvbuf),
            "--duration",
            f"{slow.duration_s(run_s):g}",
        ]
        with SLOW_READER.open("rb") as script:
            return subprocess.Popen(
                argv, stdin=script, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )

    def _measured_run(self, key: CellKey, duration_s: float) -> RunRecord:
        slow = ALL_SCENARIOS[key.scenario].slow_clients
        readers = self.start_slow_readers(key, slow, duration_s) if slow else None
        if slow:
            time.sleep(slow.settle_s)
        sockets: dict[str, dict[str, int]] = {}
        sampler = threading.Timer(duration_s / 2, self._sample_sockets, args=(key, sockets))
        before = cpu.snapshot(self.roles, self.engine)
        sampler.start()
        output, failure = self.wrk(key, duration_s)
        sampler.cancel()
        after = cpu.snapshot(self.roles, self.engine)
        cores, throttled = cpu.cores_by_role(before, after, self.roles)
        extra: dict[str, Any] = {"cpu": cores, "throttled": throttled, "sockets": sockets}
        slow_seen: dict[str, Any] = {}
        if readers is not None and slow is not None:
            slow_seen = _slow_readers_result(readers, timeout_s=slow.duration_s(duration_s) + 30)
            extra["slow"] = slow_seen
        if failure:
            return RunRecord.failed(failure, **extra)
        try:
            result = parse_wrk(output)
        except WrkParseError as error:
            return RunRecord.failed(str(error), **extra)
        if slow is None:
            return RunRecord.from_wrk(result, **extra)
        del extra["slow"]
        return RunRecord.beside_slow_clients(result, slow=slow_seen, clients=slow.clients, **extra)

    def _sample_sockets(self, key: CellKey, into: dict[str, dict[str, int]]) -> None:
        roles = ["app-0"] if key.target == Target.DIRECT.value else ["proxy", "app-0"]
        if key.target == Target.DIRECT.value and "direct" in self.pids:
            roles = ["direct"]
        for role in roles:
            into[role] = cpu.sockstat_of_pid(self.pids[role])


def _slow_readers_result(readers: subprocess.Popen, *, timeout_s: float) -> dict[str, Any]:
    """The slow readers' JSON, or {"error": ...} when they failed (the run is then rejected:
    they opened no connection it can count)."""
    try:
        out, err = readers.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        readers.kill()
        readers.communicate()
        return {"error": f"slow readers did not end within {timeout_s:g} s"}
    if readers.returncode != 0:
        return {"error": f"slow readers exited {readers.returncode}: {err.decode()[-300:]}"}
    try:
        return dict(json.loads(out))
    except ValueError:
        return {"error": f"slow readers printed no JSON: {out.decode()[-300:]!r}"}


def foreign_cores(
    roles: Mapping[str, str], engine: Sequence[int], *, seconds: float = 2.0
) -> float:
    """Cores other containers (and image build steps) use, over `seconds`."""
    before = cpu.snapshot(roles, engine)
    time.sleep(seconds)
    after = cpu.snapshot(roles, engine)
    cores, _ = cpu.cores_by_role(before, after, roles)
    return cores.get("foreign", 0.0)


def wait_until_quiet(
    roles: Mapping[str, str], engine: Sequence[int], *, limit_cores: float, max_wait_s: float
) -> float:
    """Wait (bounded) until foreign work uses less than `limit_cores`; return what it used."""
    deadline = time.monotonic() + max_wait_s
    used = foreign_cores(roles, engine)
    while used > limit_cores and time.monotonic() < deadline:
        time.sleep(3)
        used = foreign_cores(roles, engine)
    return used
