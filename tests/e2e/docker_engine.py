"""The program's Docker stacks under the real Pulumi engine, for the end-to-end suite.

`pulumi up` of the dev stack file (with overrides) onto the local Docker engine, through the
project's own docker and random plugins (tests/e2e/real_engine.py), as `scripts/up.sh` does
for a user: its state in a scratch backend of its own, so a second `up`, a change and
`destroy` go through the engine's diff. What the engine makes carries the program's own
stack label and names (`django-stack-<stack>-...`), not the harness's label: a stack is
cleaned up by those, before it is deployed (a run that was killed leaves its containers, which
hold the names) and after.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pulumi.automation.events import OpType

from components.docker.container_spec import LABEL_STACK
from tests.e2e.conftest import Deployed, build_overrides, free_port
from tests.e2e.engine import EngineError, docker, remove_images
from tests.e2e.real_engine import ProgramStack, program_stack
from tests.support.stack_files import stack_config

# What a Docker stack registers: containers, images, networks and volumes, and the generated
# passwords.
DOCKER_PLUGINS = ("docker", "random")


def _prefix(name: str) -> str:
    return f"django-stack-{name}-"


def stack_containers(name: str) -> list[str]:
    """The names of the containers of stack `name` that exist, running or not."""
    listed = docker("ps", "-a", "--filter", f"label={LABEL_STACK}={name}", "--format", "{{.Names}}")
    return sorted(listed.split())


def stack_networks(name: str) -> list[str]:
    listed = docker(
        "network", "ls", "--filter", f"label={LABEL_STACK}={name}", "--format", "{{.Name}}"
    )
    return sorted(listed.split())


def stack_volumes(name: str) -> list[str]:
    listed = docker("volume", "ls", "--format", "{{.Name}}")
    return sorted(v for v in listed.split() if v.startswith(_prefix(name)))


def stack_images(name: str) -> list[str]:
    listed = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}")
    return sorted(i for i in listed.split() if i.startswith(_prefix(name)))


# The stacks this run deployed: their images are removed when the run ends
# (remove_images_of_this_run), as the harness's are, so the stacks after one find the base
# layers they share in the build cache.
DEPLOYED: set[str] = set()


def remove_images_of_this_run() -> None:
    for name in sorted(DEPLOYED):
        found = stack_images(name)
        if found:
            docker("image", "rm", "-f", *found, check=False)
    DEPLOYED.clear()


def remove_stack(name: str, *, free_disk: bool = True) -> None:
    """Remove what stack `name` has on the engine (containers, networks, volumes; with
    `free_disk`, its images and the build cache too when the disk is low: remove_images); what
    cannot be removed fails the run."""
    for attempt in range(3):
        found = stack_containers(name)
        if not found:
            break
        docker("rm", "-f", "-v", *found, check=False)
        time.sleep(attempt)
    for network in stack_networks(name):
        docker("network", "rm", network, check=False)
    for volume in stack_volumes(name):
        docker("volume", "rm", "-f", volume, check=False)
    if free_disk:
        remove_images(stack_images(name))
    left = {
        "containers": stack_containers(name),
        "networks": stack_networks(name),
        "volumes": stack_volumes(name),
    }
    if any(left.values()):
        raise EngineError(f"could not remove what stack {name} left: {left}")


def dev_stack_config(port: int, overrides: Mapping[str, Any]) -> dict[str, str]:
    """The dev stack file's config on `port`, with what builds need here and `overrides`."""
    return stack_config("dev", {**build_overrides(), "httpPort": port, **overrides})


@contextmanager
def engine_stack(
    name: str, *, free_disk_after: bool = True, **overrides: Any
) -> Iterator[tuple[ProgramStack, int]]:
    """Stack `name` of the dev stack file with `overrides` on a free local port, nothing
    deployed yet; (the stack, its port). At the end it is destroyed and whatever is left
    removed."""
    remove_stack(name)
    DEPLOYED.add(name)
    port = free_port()
    stack: ProgramStack | None = None
    try:
        stack = program_stack(name, dev_stack_config(port, overrides), plugins=DOCKER_PLUGINS)
        yield stack, port
    finally:
        try:
            if stack is not None:
                try:
                    stack.destroy()
                finally:
                    stack.remove()
        finally:
            remove_stack(name, free_disk=free_disk_after)


@contextmanager
def deployed_by_engine(name: str, **overrides: Any) -> Iterator[Deployed]:
    """`pulumi preview`, then `pulumi up` of engine_stack(name, **overrides); yields the
    deployment (its `engine` for further `up`s), then destroys it."""
    started = time.monotonic()
    with engine_stack(name, **overrides) as (stack, port):
        preview = stack.stack.preview(on_output=stack.log.append)
        outputs = stack.up()
        print(f"\n[e2e] deployed {name} by `pulumi up` in {time.monotonic() - started:.0f}s")
        assert outputs["url"] == f"http://127.0.0.1:{port}/"
        yield Deployed(
            name=name,
            outputs=outputs,
            port=port,
            engine=stack,
            previewed={OpType(op).value: n for op, n in preview.change_summary.items()},
        )
