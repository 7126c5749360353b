"""The app server replicas: N containers running Gunicorn or uWSGI on the project's image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.choices import AppServer as AppServerKind
from components.choices import upstream_protocol
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
from components.docker.target import DockerTarget
from components.render.app_server_config import APP_DIR, APP_PORT, app_server_command
from components.server_signals import app_stop_signal, stop_grace_seconds

# Answered by the middleware the settings overlay adds (templates/django/django_stack_health.py).
HEALTH_PATH = "/_stack/health"


@dataclass(frozen=True)
class AppServerArgs:
    """Inputs of an AppServer."""

    app_server: AppServerKind
    """Gunicorn or uWSGI; its config is already in the image."""
    replicas: int
    """How many identical replicas to run."""
    image_name: pulumi.Input[str]
    """The project's image."""
    environment: pulumi.Input[list[str]]
    """Settings for the overlay (a secret: it holds the secret key and database password)."""
    data_volumes: list[docker.ContainerVolumeArgs]
    """Volumes every replica mounts (an SQLite database, the media volume)."""
    limits: Limits
    """Resources per replica."""
    after: list[pulumi.Resource]
    """What must finish before replicas start (the migration job)."""
    target: DockerTarget
    """The stack's engine-side context (names, network, base image, build dir)."""
    timeout_seconds: int = 30
    """The request timeout (`timeoutSeconds`): a stopping replica may finish its requests."""
    code_mount: Path | None = None
    """Host directory mounted over the image's code (runserver: edits reload at once)."""


def replica_alias(index: int) -> str:
    """The replica's DNS name on the private network: what the proxy's upstream lists."""
    return f"app-{index}"


def _code_mount(path: Path | None) -> list[docker.ContainerVolumeArgs]:
    if path is None:
        return []
    return [docker.ContainerVolumeArgs(host_path=str(path), container_path=APP_DIR, read_only=True)]


def _with_replica_name(environment: pulumi.Input[list[str]], host: str) -> pulumi.Output[list[str]]:
    """The environment plus the replica's name (the sample app reports it in X-Served-By)."""
    return pulumi.Output.from_input(environment).apply(
        lambda env: [*env, f"DJANGO_STACK_REPLICA={host}"]
    )


class AppServer(pulumi.ComponentResource):
    """N replicas of the app server. They publish no ports: only the proxy reaches them."""

    hosts: list[str]
    containers: list[docker.Container]

    def __init__(
        self, name: str, args: AppServerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:AppServer", name, None, opts)
        self.hosts = [replica_alias(i) for i in range(args.replicas)]
        protocol = upstream_protocol(args.app_server).value
        self.containers = [
            docker.Container(
                f"{name}-replica-{i}",
                name=f"{args.target.resource_prefix}-{host}",
                image=args.image_name,
                command=server_command(app_server_command(args.app_server), limits=args.limits),
                envs=_with_replica_name(args.environment, host),
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(name=args.target.network, aliases=[host])
                ],
                volumes=[*args.data_volumes, *_code_mount(args.code_mount)],
                healthcheck=health_check(
                    [
                        "python3",
                        "/opt/django-stack/healthcheck.py",
                        protocol,
                        str(APP_PORT),
                        HEALTH_PATH,
                        "localhost",
                    ]
                ),
                wait=True,
                wait_timeout=180,
                **stop_args(
                    Stopping(
                        signal=app_stop_signal(args.app_server),
                        grace_seconds=stop_grace_seconds(args.timeout_seconds),
                    )
                ),
                **hardened_container_args(
                    hardening=Hardening(
                        # A uid of the replica's own: its process cap is its alone.
                        user=container_user(
                            resource_prefix=args.target.resource_prefix,
                            role=ContainerRole.APP,
                            replica=i,
                        )
                    ),
                    limits=args.limits,
                    stack=args.target.stack,
                    role="app",
                ),
                opts=child(self, *args.after),
            )
            for i, host in enumerate(self.hosts)
        ]
        self.register_outputs({"hosts": self.hosts})
