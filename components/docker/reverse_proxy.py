"""The reverse proxy: load balancer over the replicas, and server of the static files."""

from __future__ import annotations

import base64
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
    server_command,
)
from components.docker.identity import ContainerRole, container_user
from components.docker.images import local_image
from components.docker.target import DockerTarget
from components.render.build_context import proxy_build_context
from components.render.proxy_config import PROXY_PORT, PROXY_TLS_PORT, proxy_command
from components.render.templates import render_template
from components.tuning import proxy_sysctls

# The proxy's own liveness: any HTTP answer counts (no `curl -f`), so a proxy whose replicas
# are all down is still a healthy proxy, answering 502 until they are back.
HEALTH_URL = f"http://127.0.0.1:{PROXY_PORT}/_stack/health"
# Where the container's start writes the chain and key (the root filesystem is read-only).
TLS_DIR = "/tmp/tls"
TLS_FILES = (f"{TLS_DIR}/chain.pem", f"{TLS_DIR}/key.pem")


@dataclass(frozen=True)
class ProxyTlsArgs:
    """What the proxy serves HTTPS with."""

    chain: pulumi.Input[str]
    """The PEM certificate chain, leaf first."""
    key: pulumi.Input[str]
    """The PEM key (a secret)."""
    https_port: int
    """Host port HTTPS is published on."""


def _one_line(pem: str) -> str:
    """PEM text as one line of base64 (the start script decodes it)."""
    return base64.b64encode(pem.encode()).decode()


def tls_start_command(command: list[str]) -> list[str]:
    """`command` preceded by a shell that writes the chain and key from the environment."""
    script = render_template(
        "docker/proxy-tls-start.sh",
        {"tls_dir": TLS_DIR, "chain_file": TLS_FILES[0], "key_file": TLS_FILES[1]},
    )
    return ["sh", "-c", script, "django-stack-proxy", *command]


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
    tls: ProxyTlsArgs | None = None
    """HTTPS, or None for plain HTTP only."""


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
        ports = [
            docker.ContainerPortArgs(
                internal=PROXY_PORT, external=args.http_port, ip=args.bind_address
            )
        ]
        command = proxy_command(args.proxy)
        envs: pulumi.Output[list[str]] | None = None
        if args.tls is not None:
            ports.append(
                docker.ContainerPortArgs(
                    internal=PROXY_TLS_PORT, external=args.tls.https_port, ip=args.bind_address
                )
            )
            command = tls_start_command(command)
            # Output.all keeps secretness: with the key in it, the environment is a secret.
            envs = pulumi.Output.all(chain=args.tls.chain, key=args.tls.key).apply(
                lambda v: [
                    f"DJANGO_STACK_TLS_CHAIN={_one_line(v['chain'])}",
                    f"DJANGO_STACK_TLS_KEY={_one_line(v['key'])}",
                ]
            )
        self.container = docker.Container(
            f"{name}-server",
            name=f"{args.target.resource_prefix}-proxy",
            image=image.image_name,
            command=server_command(command, limits=args.limits),
            envs=envs,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.target.network),
                docker.ContainerNetworksAdvancedArgs(name=args.public_network),
            ],
            ports=ports,
            healthcheck=health_check(["curl", "-sS", "-o", "/dev/null", HEALTH_URL]),
            sysctls=proxy_sysctls(),
            # None rather than []: a proxy without media keeps the inputs it always had.
            volumes=args.volumes or None,
            wait=True,
            wait_timeout=120,
            **hardened_container_args(
                hardening=Hardening(
                    user=container_user(
                        resource_prefix=args.target.resource_prefix, role=ContainerRole.PROXY
                    ),
                    tmpfs={"/tmp": "rw,noexec,nosuid,size=64m,mode=1777"},
                ),
                limits=args.limits,
                stack=args.target.stack,
                role="proxy",
            ),
            opts=child(self, *args.after),
        )
        host = "localhost" if args.bind_address in ("0.0.0.0", "::") else args.bind_address
        if args.tls is None:
            self.url = pulumi.Output.from_input(f"http://{host}:{args.http_port}/")
        else:
            port = args.tls.https_port
            self.url = pulumi.Output.from_input(
                f"https://{host}/" if port == 443 else f"https://{host}:{port}/"
            )
        self.register_outputs({"url": self.url})
