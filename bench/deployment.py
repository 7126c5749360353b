"""How the load benchmark deploys a stack under test, and takes it down again.

By `pulumi up` under the real engine (the Automation API, a scratch file backend, the
project's own docker and random plugins: tests/e2e/docker_engine.py) when the CLI and those
plugins are here, found as the end-to-end suite finds them (tests/support/pulumi_tools.py);
else by the end-to-end harness (tests/e2e/deploy.py), which carries out the program's
resources itself. Either way the stack's containers are `django-stack-<stack>-<role>` on the
networks `django-stack-<stack>-public` and `-private`, which is all the benchmark reads.

Taking down (Deployments): first the benchmark's own containers (its run id's label), which
sit on the stack's networks (a network with a container attached cannot be removed, so
`pulumi destroy` would fail), then the stack: under the engine `pulumi destroy`, then
whatever is left with the program's stack label (docker_engine.engine_stack), while the next
stack deploys; under the harness everything of the run id, at once. Before a run, whatever
killed runs left of the benchmark's stacks is removed by that label (remove_leftover_stacks).
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from bench.own_cli import wait_for_own_cli
from bench.plan import STACK_PREFIX
from components.docker.container_spec import LABEL_STACK
from tests.e2e.conftest import build_overrides, free_port
from tests.e2e.deploy import deploy
from tests.e2e.docker_engine import DOCKER_PLUGINS, engine_stack, remove_stack
from tests.e2e.engine import EngineError, docker, remove_everything
from tests.e2e.real_engine import ProgramStack
from tests.support.pulumi_tools import missing_tools


class Deployer(enum.Enum):
    ENGINE = "engine"
    HARNESS = "harness"


# Seconds per stack, for the plan's estimate: a deployment with the images built (the same
# chain of containers either way, each waited on until healthy), and a take-down. Measured on
# the 2-core machine of docs/benchmarks.md (2026-12-02, another session's work beside it):
# `pulumi up` 53 s, `pulumi destroy` 37-57 s, which stops each container cleanly in
# dependency order; the harness's `docker rm -f` of everything at once takes a few seconds.
DEPLOY_S = 50.0
ENGINE_TEARDOWN_S = 40.0


@dataclass(frozen=True)
class DeploymentMethod:
    """Who deploys this invocation's stacks, and why not the engine when it is the harness."""

    deployer: Deployer
    missing: tuple[str, ...] = ()

    def estimate_s(self, deployments: int) -> float:
        """Seconds `deployments` stacks take to deploy and take down, besides their runs:
        under the engine only the last take-down is not hidden behind the next deployment."""
        last_teardown = ENGINE_TEARDOWN_S if self.deployer is Deployer.ENGINE and deployments else 0
        return deployments * DEPLOY_S + last_teardown

    def describe(self) -> str:
        """One sentence for the report: what deployed the stacks under test."""
        if self.deployer is Deployer.ENGINE:
            return (
                "`pulumi up` under the real engine (Automation API, a file state backend, the "
                "project's own docker and random plugins), each stack's `pulumi destroy` while "
                "the next one deploys"
            )
        why = f" ({'; '.join(self.missing)})" if self.missing else ""
        return (
            "the end-to-end harness (tests/e2e/engine.py carries out the program's resources "
            f"itself), not the real engine{why}"
        )


def choose_method(missing: Sequence[str]) -> DeploymentMethod:
    """The engine when nothing it needs is missing, else the harness, saying what was."""
    if not missing:
        return DeploymentMethod(Deployer.ENGINE)
    return DeploymentMethod(Deployer.HARNESS, tuple(missing))


def method_here() -> DeploymentMethod:
    """The method this machine allows: the engine when its CLI and plugins are here."""
    return choose_method(missing_tools(DOCKER_PLUGINS))


def leftover_stacks() -> list[str]:
    """The benchmark's stacks that have containers or networks on the engine, by the
    program's stack label: before a run starts, what a killed run left (only one benchmark
    uses the engine at a time)."""
    found: set[str] = set()
    for kind in ("ps -a", "network ls"):
        listing = docker(
            *kind.split(),
            "--filter",
            f"label={LABEL_STACK}",
            "--format",
            f'{{{{.Label "{LABEL_STACK}"}}}}',
            check=False,
        )
        found.update(v for v in listing.split() if v.startswith(STACK_PREFIX))
    return sorted(found)


def remove_leftover_stacks() -> list[str]:
    """Remove what killed runs left (containers, networks, volumes, by label and name);
    the names of the stacks removed."""
    names = leftover_stacks()
    for name in names:
        remove_stack(name)
    return names


def pulumi_error_summary(message: str, *, limit: int = 1500) -> str:
    """What a failed `pulumi` command says went wrong: its `error:` lines (the diagnostics
    name the resource and the provider's reason), else the end of its output."""
    errors: list[str] = []
    heading = ""
    for line in message.splitlines():
        text = line.strip()
        if text.startswith("error:"):
            # Under "Diagnostics:" each resource's errors follow a `type (name):` line.
            found = f"{heading} {text}" if heading else text
            if found not in errors:
                errors.append(found)
        else:
            heading = text if text.endswith("):") else ""
    return ("; ".join(errors) or message.strip())[-limit:]


def _engine_failure(error: auto.CommandError) -> EngineError:
    """A failed `pulumi up`/`destroy` as the EngineError the benchmark notes and goes on
    after."""
    return EngineError(f"pulumi failed: {pulumi_error_summary(str(error))}")


@dataclass
class Deployments:
    """This invocation's stacks under test, deployed one at a time by `method`.

    Under the engine a stack's `pulumi destroy` (about 40 s here: each container is stopped
    cleanly, in dependency order) runs while the next stack deploys, and ends before that
    one's runs begin (`settle`), so no run shares the machine with it. The harness removes a
    stack at once (`docker rm -f`), so there it is done in line.
    """

    method: DeploymentMethod
    run_id: str
    log_dir: Path
    """Each engine stack's `pulumi` output goes to <log_dir>/<stack>.pulumi.log."""
    notes: list[str]
    """Where a failed teardown is noted (the run goes on: what it left is removed by label)."""
    timings: dict[str, dict[str, float]] = field(default_factory=dict)
    """stack -> deploy_s, teardown_s."""
    _pending: threading.Thread | None = None
    _pending_name: str | None = None

    @contextmanager
    def deployed(self, *, name: str, overrides: Mapping[str, Any]) -> Iterator[None]:
        """Stack `name` of the dev stack file with `overrides` (on a free port), deployed;
        at the end the run's own containers are removed and the stack taken down."""
        if self.method.deployer is Deployer.HARNESS:
            with self._by_harness(name, overrides):
                yield
            return
        if self._pending_name == name:  # a redeployment: its predecessor must be gone first
            self.settle()
        started = time.monotonic()
        teardown = ExitStack()
        stack: ProgramStack | None = None
        try:
            # No image or build cache removal when it is taken down: that runs in a thread
            # while the next stack builds, and a `builder prune` racing a build crashed
            # dockerd 20.10 (BuildKit's cache manager, stop 21's note).
            stack, _port = teardown.enter_context(
                engine_stack(name, free_disk_after=False, **overrides)
            )
            try:
                stack.up()
            except auto.CommandError as error:
                raise _engine_failure(error) from None
            except KeyboardInterrupt:
                # The CLI goes on after the wait for it was interrupted (bench/own_cli.py).
                left = wait_for_own_cli()
                if left:
                    self.notes.append(f"{name}: pulumi (pid {left}) still running after 120 s")
                raise
            self.timings[name] = {"deploy_s": time.monotonic() - started}
            yield
        finally:
            # The benchmark's own containers sit on the stack's networks, which `pulumi
            # destroy` could not remove with them attached. Removed here, in line: the next
            # stack's carry the same run id.
            try:
                remove_everything(self.run_id)
            finally:
                self._start_teardown(name, teardown, stack)

    @contextmanager
    def _by_harness(self, name: str, overrides: Mapping[str, Any]) -> Iterator[None]:
        started = time.monotonic()
        try:
            deploy(
                stack_file="dev",
                stack_name=name,
                overrides={**build_overrides(), "httpPort": free_port(), **overrides},
                run_id=self.run_id,
            )
            self.timings[name] = {"deploy_s": time.monotonic() - started}
            yield
        finally:
            started = time.monotonic()
            remove_everything(self.run_id)
            self.timings.setdefault(name, {})["teardown_s"] = time.monotonic() - started

    def _start_teardown(self, name: str, teardown: ExitStack, stack: ProgramStack | None) -> None:
        """`pulumi destroy` of `name`, then what is left with its label, in a thread."""
        self.settle()

        def run() -> None:
            started = time.monotonic()
            try:
                teardown.close()
            except Exception as error:  # noted, not raised: the thread has no caller
                self.notes.append(f"{name}: teardown: {str(error)[-400:]}")
            finally:
                took = time.monotonic() - started
                self.timings.setdefault(name, {})["teardown_s"] = took
                print(f"{name}: taken down in {took:.0f} s", flush=True)
                if stack is not None:
                    (self.log_dir / f"{name}.pulumi.log").write_text("\n".join(stack.log) + "\n")

        self._pending = threading.Thread(target=run, name=f"teardown-{name}")
        self._pending_name = name
        self._pending.start()

    def settle(self) -> None:
        """Wait until the stack being taken down is gone."""
        if self._pending is not None:
            self._pending.join()
        self._pending = None
        self._pending_name = None
