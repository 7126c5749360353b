"""How the load benchmark deploys a stack under test, and takes it down again.

By `pulumi up` under the real engine (the Automation API, a scratch file backend, the
project's own docker and random plugins: tests/e2e/docker_engine.py) when the CLI and those
plugins are here, found as the end-to-end suite finds them (tests/support/pulumi_tools.py);
else by the end-to-end harness (tests/e2e/deploy.py), which carries out the program's
resources itself. Either way the stack's containers are `django-stack-<stack>-<role>` on the
networks `django-stack-<stack>-public` and `-private`, which is all the benchmark reads.

Taking down: first the benchmark's own containers (its run id's label), which sit on the
stack's networks (a network with a container attached cannot be removed, so `pulumi
destroy` would fail), then the stack: `pulumi destroy`, then whatever is left with the
program's stack label (docker_engine.engine_stack), or everything of the run id (harness).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pulumi import automation as auto

from tests.e2e.conftest import build_overrides, free_port
from tests.e2e.deploy import deploy
from tests.e2e.docker_engine import DOCKER_PLUGINS, engine_stack
from tests.e2e.engine import EngineError, remove_everything
from tests.support.pulumi_tools import missing_tools


class Deployer(enum.Enum):
    ENGINE = "engine"
    HARNESS = "harness"


@dataclass(frozen=True)
class DeploymentMethod:
    """Who deploys this invocation's stacks, and why not the engine when it is the harness."""

    deployer: Deployer
    missing: tuple[str, ...] = ()

    def describe(self) -> str:
        """One sentence for the report: what deployed the stacks under test."""
        if self.deployer is Deployer.ENGINE:
            return (
                "`pulumi up` under the real engine (Automation API, a file state backend, the "
                "project's own docker and random plugins), `pulumi destroy` after each"
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


def _engine_failure(error: auto.CommandError) -> EngineError:
    """A failed `pulumi up`/`destroy` as the EngineError the benchmark notes and goes on
    after; the end of its output, which says which resource failed and why."""
    return EngineError(f"pulumi failed: {str(error)[-3000:]}")


@contextmanager
def deployed(
    method: DeploymentMethod, *, name: str, overrides: Mapping[str, Any], run_id: str
) -> Iterator[None]:
    """Stack `name` of the dev stack file with `overrides` (on a free port), deployed; taken
    down at the end, with everything of `run_id` (the benchmark's own containers)."""
    if method.deployer is Deployer.HARNESS:
        try:
            deploy(
                stack_file="dev",
                stack_name=name,
                overrides={**build_overrides(), "httpPort": free_port(), **overrides},
                run_id=run_id,
            )
            yield
        finally:
            remove_everything(run_id)
        return
    try:
        with engine_stack(name, **overrides) as (stack, _port):
            try:
                try:
                    stack.up()
                except auto.CommandError as error:
                    raise _engine_failure(error) from None
                yield
            finally:
                remove_everything(run_id)
    except auto.CommandError as error:  # `pulumi destroy`: what it left is removed by label
        raise _engine_failure(error) from None
