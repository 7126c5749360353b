"""The hardened baseline every container of the stack starts from.

Non-root user (a uid of the stack's own: components/docker/identity.py), read-only root
filesystem with tmpfs where a server must write, all Linux capabilities dropped, no privilege
escalation, memory/CPU/process limits, a restart policy, labels that say which stack and role
a container belongs to.
https://docs.docker.com/engine/security/ and the CIS Docker Benchmark, section 5.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from components.docker.provider_forms import container_cpus

LABEL_STACK = "django-stack.stack"
LABEL_ROLE = "django-stack.role"
# Processes and threads the server leaves free under the container's cap, for what Docker
# starts beside it as the same uid: the health check (one Python or curl process, every 5 s;
# it overlaps the next one when slow) and an operator's `docker exec` (a shell and a command).
EXEC_RESERVE = 32


@dataclass(frozen=True)
class Limits:
    """Resources one container may use."""

    memory_mb: int
    cpus: float
    # RLIMIT_NPROC for the container's user: pulumi-docker 5.x has no pids-limit field, and a
    # per-user process cap is the closest the provider offers against fork bombs. It holds per
    # container because each container runs as its own uid (identity.py); the server stays
    # EXEC_RESERVE below it (server_command).
    max_processes: int = 512

    def __post_init__(self) -> None:
        if self.max_processes <= 2 * EXEC_RESERVE:
            raise ValueError(
                f"max_processes={self.max_processes}: must be above {2 * EXEC_RESERVE}, "
                f"twice the {EXEC_RESERVE} left to `docker exec` and the health check"
            )


@dataclass(frozen=True)
class Hardening:
    """How one container is locked down."""

    user: str
    read_only: bool = True
    tmpfs: Mapping[str, str] = field(default_factory=lambda: {"/tmp": "rw,noexec,nosuid,size=64m"})
    cap_add: tuple[str, ...] = ()


@dataclass(frozen=True)
class Stopping:
    """How a long-running container is stopped: its server's clean-stop signal, and how long
    it has before the kill (components/server_signals.py)."""

    signal: str
    grace_seconds: int


def stop_args(stopping: Stopping) -> dict[str, Any]:
    """Keyword arguments for docker.Container that stop it cleanly.

    The docker provider's delete (a replacement, `pulumi destroy`) stops a container with
    `destroy_grace_seconds` as the timeout, 0 when it is not set: the stop signal and then at
    once SIGKILL, so a server never finished a request and PostgreSQL never shut down
    cleanly (kreuzwerker/terraform-provider-docker, resourceDockerContainerDelete).
    `destroy_grace_seconds` is stored only (not ForceNew: setting it changes no container);
    `stop_signal` and `stop_timeout` are the container's own, which `docker stop` and the
    engine's own shutdown use too (both ForceNew: set once, they replace a container once)."""
    return {
        "stop_signal": stopping.signal,
        "stop_timeout": stopping.grace_seconds,
        "destroy_grace_seconds": stopping.grace_seconds,
    }


def labels(*, stack: str, role: str) -> list[docker.ContainerLabelArgs]:
    """Labels that identify the stack and role, for `docker ps --filter label=...`."""
    return [
        docker.ContainerLabelArgs(label=LABEL_STACK, value=stack),
        docker.ContainerLabelArgs(label=LABEL_ROLE, value=role),
    ]


def hardened_container_args(
    *, hardening: Hardening, limits: Limits, stack: str, role: str
) -> dict[str, Any]:
    """Keyword arguments for docker.Container that apply the baseline."""
    return {
        "user": hardening.user,
        "read_only": hardening.read_only,
        "tmpfs": dict(hardening.tmpfs),
        "capabilities": docker.ContainerCapabilitiesArgs(
            drops=["ALL"], adds=list(hardening.cap_add)
        ),
        "security_opts": ["no-new-privileges:true"],
        "memory": limits.memory_mb,
        # Equal to memory: no swap on top of the limit.
        "memory_swap": limits.memory_mb,
        # As the provider reads it back ("1.0", not "1"): cpus is ForceNew, and any other
        # form would replace the container on every `up`.
        "cpus": container_cpus(limits.cpus),
        "ulimits": [
            docker.ContainerUlimitArgs(
                name="nproc", soft=limits.max_processes, hard=limits.max_processes
            ),
        ],
        "restart": "unless-stopped",
        "labels": labels(stack=stack, role=role),
        "log_driver": "json-file",
        "log_opts": {"max-size": "10m", "max-file": "3"},
    }


def server_command(command: list[str], *, limits: Limits) -> list[str]:
    """`command` with RLIMIT_NPROC lowered to leave EXEC_RESERVE free under the cap.

    Docker gives each `docker exec` (the health check is one) the container's own ulimits, and
    the kernel refuses a new process of a uid that already has RLIMIT_NPROC of them. A server
    that spawned up to the container's cap would leave its own health check no room, and the
    container would turn unhealthy; started under prlimit(1) (util-linux, essential in Debian)
    with a lower limit, the server and everything it forks stop EXEC_RESERVE short of the cap,
    while what `docker exec` starts still has the whole cap to count against.
    https://man7.org/linux/man-pages/man2/setrlimit.2.html (RLIMIT_NPROC)
    """
    own = limits.max_processes - EXEC_RESERVE
    return ["prlimit", f"--nproc={own}:{own}", "--", *command]


def health_check(
    test: list[str], *, interval: str = "5s", start_period: str = "20s"
) -> docker.ContainerHealthcheckArgs:
    """A Docker health check run inside the container."""
    return docker.ContainerHealthcheckArgs(
        tests=["CMD", *test], interval=interval, timeout="3s", retries=5, start_period=start_period
    )


def child(parent: pulumi.Resource, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, after `depends_on`."""
    return pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on))


def job_options(parent: pulumi.Resource, *depends_on: pulumi.Resource) -> pulumi.ResourceOptions:
    """Options for a one-shot job's container: `child`'s, and replaced by deleting it first.

    The job keeps its container name across a replacement, which Docker refuses to give two
    containers at once. When an input changes, the docker provider's diff asks for the delete
    first by itself; a replacement that no diff asked for (`pulumi up --replace`, which
    `python -m deploy up` does for a job that failed: deploy/failed_jobs.py) follows this
    option alone, and would otherwise create the new container first and fail on the name.
    """
    return pulumi.ResourceOptions(
        parent=parent, depends_on=list(depends_on), delete_before_replace=True
    )
