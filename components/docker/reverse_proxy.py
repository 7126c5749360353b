"""The reverse proxy: load balancer over the replicas, and server of the static files."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.choices import Proxy
from components.docker.container_spec import (
    Hardening,
    Limits,
    Stopping,
    child,
    hardened_container_args,
    health_check,
    server_command,
    stop_args,
)
from components.docker.identity import ContainerRole, container_user
from components.docker.images import local_image
from components.docker.proxy_certificate import (
    ProxyCertificate,
    ProxyCertificateArgs,
    watch_command,
)
from components.docker.target import DockerTarget
from components.render.build_context import proxy_build_context
from components.render.proxy_config import (
    PROXY_PORT,
    PROXY_TLS_PORT,
    config_file_path,
    proxy_command,
)
from components.render.tls import TLS_DIR
from components.server_signals import PROXY_SIGNALS, stop_grace_seconds
from components.tuning import proxy_sysctls

# The proxy's own liveness: any HTTP answer counts (no `curl -f`), so a proxy whose replicas
# are all down is still a healthy proxy, answering 502 until they are back.
HEALTH_URL = f"http://127.0.0.1:{PROXY_PORT}/_stack/health"


@dataclass(frozen=True)
class ProxyTlsArgs:
    """What the proxy serves HTTPS with."""

    chain: pulumi.Input[str]
    """The PEM certificate chain, leaf first."""
    key: pulumi.Input[str]
    """The PEM key (a secret)."""
    https_port: int
    """Host port HTTPS is published on."""


def tls_watch_command(proxy: Proxy, command: list[str]) -> list[str]:
    """`command` under the shell that reloads the proxy when its certificate files change.
    The config test loads the certificates as a reload would (`nginx -t`; `apache2 -t`, which
    the watcher runs after its own check that the key is the certificate's)."""
    config = config_file_path(proxy)
    test = (
        ["nginx", "-t", "-q", "-c", config]
        if proxy is Proxy.NGINX
        else ["apache2", "-t", "-f", config]
    )
    return watch_command(server=command, config_test=test, signals=PROXY_SIGNALS[proxy])


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
    timeout_seconds: int = 30
    """The app's request timeout: a stopping proxy lets the requests it passed on finish."""


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
        proxy_name = f"{args.target.resource_prefix}-proxy"
        ports = [
            docker.ContainerPortArgs(
                internal=PROXY_PORT, external=args.http_port, ip=args.bind_address
            )
        ]
        command = server_command(proxy_command(args.proxy), limits=args.limits)
        volumes = list(args.volumes)
        after = list(args.after)
        self.certificate: ProxyCertificate | None = None
        if args.tls is not None:
            ports.append(
                docker.ContainerPortArgs(
                    internal=PROXY_TLS_PORT, external=args.tls.https_port, ip=args.bind_address
                )
            )
            # Nothing of the certificate in the proxy's inputs (all ForceNew): a volume the
            # certificate job writes, and a start that reloads when the files change.
            self.certificate = ProxyCertificate(
                f"{name}-certificate",
                ProxyCertificateArgs(
                    chain=args.tls.chain,
                    key=args.tls.key,
                    image=image.image_name,
                    proxy_host=proxy_name,
                    limits=args.limits,
                    target=args.target,
                ),
                child(self),
            )
            command = tls_watch_command(args.proxy, command)
            volumes.append(
                docker.ContainerVolumeArgs(
                    volume_name=self.certificate.volume.name,
                    container_path=TLS_DIR,
                    read_only=True,
                )
            )
            # On the first `up` the files are there before the proxy starts.
            after.append(self.certificate.job)
        self.container = docker.Container(
            f"{name}-server",
            name=proxy_name,
            image=image.image_name,
            command=command,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=args.target.network),
                docker.ContainerNetworksAdvancedArgs(name=args.public_network),
            ],
            ports=ports,
            healthcheck=health_check(["curl", "-sS", "-o", "/dev/null", HEALTH_URL]),
            sysctls=proxy_sysctls(),
            # None rather than []: a proxy without media keeps the inputs it always had.
            volumes=volumes or None,
            wait=True,
            wait_timeout=120,
            # A graceful stop: proxied requests in flight may take the app's request timeout.
            **stop_args(
                Stopping(
                    signal=PROXY_SIGNALS[args.proxy].stop,
                    grace_seconds=stop_grace_seconds(args.timeout_seconds),
                )
            ),
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
            opts=child(self, *after),
        )
        host = "localhost" if args.bind_address in ("0.0.0.0", "::") else args.bind_address
        if args.tls is None:
            self.url = pulumi.Output.from_input(f"http://{host}:{args.http_port}/")
        else:
            port = args.tls.https_port
            self.url = pulumi.Output.from_input(
                f"https://{host}/" if port == 443 else f"https://{host}:{port}/"
            )
        # The certificate job's check fails the deployment when the proxy did not take it.
        self.register_outputs(
            {
                "url": self.url,
                **({"certificate": self.certificate.installed} if self.certificate else {}),
            }
        )
