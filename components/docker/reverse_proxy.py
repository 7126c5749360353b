"""The reverse proxy: load balancer over the replicas, and server of the static files."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.choices import Proxy
from components.docker.container_spec import (
    Hardening,
    Limits,
    child,
    hardened_container_args,
    health_check,
)
from components.docker.images import local_image
from components.docker.target import DockerTarget
from components.render.build_context import proxy_build_context
from components.render.proxy_config import PROXY_PORT, proxy_command
from components.tuning import proxy_sysctls

# The proxy's own liveness: any HTTP answer counts (no `curl -f`), so a proxy whose replicas
# are all down is still a healthy proxy, answering 502 until they are back.
HEALTH_URL = f"http://127.0.0.1:{PROXY_PORT}/_stack/health"


@dataclass(frozen=True)
class ReverseProxyArgs:
    """Inputs of a ReverseProxy."""

    proxy: Proxy
    """nginx or Apache."""
    proxy_config: str
    """The rendered config, listing every replica."""
    app_image: pulumi.Input[str]
    """The app image: its collected static files are copied into the proxy image."""
    app_image_tag: str
    """The app image's tag, known before the build, so the proxy's tag follows it."""
    public_network: pulumi.Input[str]
    """Network the published port lives on."""
    http_port: int
    """Host port the proxy is published on."""
    bind_address: str
    """Host address the port is bound to (127.0.0.1 keeps it local)."""
    limits: Limits
    """Resources for the proxy."""
    after: list[pulumi.Resource]
    """What must be up before the proxy starts (the replicas it resolves by name)."""
    volumes: list[docker.ContainerVolumeArgs]
    """What it serves besides its image's static files (the media volume, read-only)."""
    target: DockerTarget
    """The stack's engine-side context (names, network, base image, build dir)."""


class ReverseProxy(pulumi.ComponentResource):
    """One proxy container, the only container of the stack with a published port."""

    url: pulumi.Output[str]
    container: docker.Container

    def __init__(
        self, name: str, args: ReverseProxyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:ReverseProxy", name, None, opts)
        context = proxy_build_context(
            proxy=args.proxy, proxy_config=args.proxy_config, app_image=args.app_image_tag
        )
        image = local_image(
            f"{name}-image",
            repository=f"{args.target.resource_prefix}-{args.proxy.value}",
            context=context,
            build_dir=args.target.build_dir,
            build_args={"BASE_IMAGE": args.target.base_image, "APP_IMAGE": args.app_image},
            opts=child(self),
        )
        self.container = docker.Container(
            f"{name}-server",
            name=f"{args.target.resource_prefix}-proxy",
            image=image.image_name,
            command=proxy_command(args.proxy),
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.target.network),
                docker.ContainerNetworksAdvancedArgs(name=args.public_network),
            ],
            ports=[
                docker.ContainerPortArgs(
                    internal=PROXY_PORT, external=args.http_port, ip=args.bind_address
                )
            ],
            healthcheck=health_check(["curl", "-sS", "-o", "/dev/null", HEALTH_URL]),
            sysctls=proxy_sysctls(),
            # None rather than []: a proxy without media keeps the inputs it always had.
            volumes=args.volumes or None,
            wait=True,
            wait_timeout=120,
            **hardened_container_args(
                hardening=Hardening(
                    user="www-data",
                    tmpfs={"/tmp": "rw,noexec,nosuid,size=64m,mode=1777"},
                ),
                limits=args.limits,
                stack=args.target.stack,
                role="proxy",
            ),
            opts=child(self, *args.after),
        )
        host = "localhost" if args.bind_address in ("0.0.0.0", "::") else args.bind_address
        self.url = pulumi.Output.from_input(f"http://{host}:{args.http_port}/")
        self.register_outputs({"url": self.url})
