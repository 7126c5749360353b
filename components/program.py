"""The Pulumi program as a function: config in, stack out. `__main__.py` only calls this."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

from components.choices import Platform, VmProvider
from components.config import StackConfig, config_warnings, read_stack_config
from components.docker.stack import DockerStack, DockerStackArgs
from components.vm.stack import VmStack, VmStackArgs


def build_dir(project_dir: Path, stack: str) -> Path:
    """Where this stack's image build contexts are written (git-ignored)."""
    return project_dir / ".django-stack" / "build" / stack


def engine_options(config: StackConfig) -> pulumi.ResourceOptions | None:
    """A provider for a remote Docker engine when `dockerHost` is set; else the default."""
    if config.docker_host is None:
        return None
    provider = docker.Provider("docker-engine", host=config.docker_host)
    return pulumi.ResourceOptions(providers=[provider])


def cloud_options(config: StackConfig) -> pulumi.ResourceOptions | None:
    """An AWS provider for `vm.region` when set; else the default (AWS_REGION, profile)."""
    if config.vm is None or config.vm.provider is not VmProvider.AWS or config.vm.region is None:
        return None
    provider = aws.Provider("aws", region=config.vm.region)
    return pulumi.ResourceOptions(providers=[provider])


def run(project_dir: Path) -> dict[str, pulumi.Input[object]]:
    """Read the stack's config, declare the stack, and return the outputs to export."""
    config = read_stack_config(project_dir=project_dir)
    # In the output of every preview and up, where whoever deploys reads it.
    for warning in config_warnings(config):
        pulumi.log.warn(warning)
    stack: DockerStack | VmStack
    if config.platform is Platform.VM:
        stack = VmStack("django", VmStackArgs(config=config), cloud_options(config))
    else:
        stack = DockerStack(
            "django",
            DockerStackArgs(config=config, build_dir=build_dir(project_dir, config.stack)),
            engine_options(config),
        )
    return {
        "url": stack.url,
        # The stack's own CA when tls.mode is self-signed (trust it to browse without a
        # warning); empty otherwise.
        "tlsCaCertificate": stack.tls_ca,
        "appServer": config.app_server.value,
        "proxy": config.proxy.value,
        "replicas": config.replicas,
        "platform": config.platform.value,
    }


async def declare_stack(project_dir: Path) -> dict[str, pulumi.Input[object]]:
    """`run`, as the entry point `pulumi.run` and an inline program await: declare the
    stack, then let every registration it started get under way before the SDK waits.

    Why the turn of the event loop: a resource's registration task starts, and is recorded
    as under way, on the loop's next turn after its constructor. Right after a synchronous
    program none has, so the SDK's wait for them (pulumi 3.272, runtime/stack.py
    `wait_for_rpcs`) finds none and falls through to waiting on every unresolved Output with
    `asyncio.wait(FIRST_COMPLETED)`, again after each answer from the engine: time in
    resources x Outputs, 2,100 Outputs at 10 app hosts and 19,000 at 100
    (docs/benchmarks.md). Once they have started, it awaits each registration once.
    """
    outputs = run(project_dir)
    await asyncio.sleep(0)
    return outputs
