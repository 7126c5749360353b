"""The database every replica shares: a PostgreSQL container, or an existing server.

The container's app role (`database.user`) is a plain role that owns its database; the
replicas and the migration job connect as it, and nothing outside the container can act as
the superuser (templates/postgres/postgres-entrypoint.sh).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.choices import DatabaseKind
from components.config import DatabaseConfig
from components.docker.container_spec import (
    Hardening,
    Limits,
    Stopping,
    child,
    hardened_container_args,
    health_check,
    stop_args,
)
from components.docker.images import local_image
from components.docker.target import DockerTarget
from components.render.build_context import database_build_context
from components.server_signals import DATABASE_STOP_SIGNAL

DATABASE_ALIAS = "db"
DATA_DIR = "/var/lib/postgresql/data"
# How long PostgreSQL has to shut down before it is killed: a fast shutdown ends at once but
# for its checkpoint, which a busy server may take a while to write.
STOP_GRACE_SECONDS = 60


@dataclass(frozen=True)
class DatabaseArgs:
    """Inputs of a Database."""

    config: DatabaseConfig
    """Kind, name, user and (optional) password from the stack config."""
    target: DockerTarget
    """The stack's engine-side context (names, network, base image, build dir)."""


class Database(pulumi.ComponentResource):
    """Django's database, and the connection details replicas use."""

    host: pulumi.Output[str]
    password: pulumi.Output[str]
    volume_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:Database", name, None, opts)
        config = args.config
        self.password = pulumi.Output.secret("")
        self.volume_name = pulumi.Output.from_input("")
        self.host = pulumi.Output.from_input(config.host or DATABASE_ALIAS)
        self.ready: list[pulumi.Resource] = []

        if config.kind is DatabaseKind.SQLITE:
            # One replica and the migration job share the file through a named volume.
            volume = docker.Volume(
                f"{name}-sqlite",
                name=f"{args.target.resource_prefix}-sqlite",
                opts=pulumi.ResourceOptions.merge(
                    child(self), pulumi.ResourceOptions(retain_on_delete=config.retain_on_delete)
                ),
            )
            self.volume_name = volume.name
            self.ready = [volume]
        elif config.kind is DatabaseKind.EXTERNAL:
            assert config.password is not None  # required by the config validation
            self.password = config.password.as_output()
        else:
            self.password = self._postgres(name, args)

        self.register_outputs(
            {"host": self.host, "password": self.password, "volume_name": self.volume_name}
        )

    def _postgres(self, name: str, args: DatabaseArgs) -> pulumi.Output[str]:
        config = args.config
        if config.password is not None:
            password = config.password.as_output()
        else:
            generated = random.RandomPassword(
                f"{name}-password", length=32, special=False, opts=child(self)
            )
            password = pulumi.Output.secret(generated.result)
        image = local_image(
            f"{name}-image",
            repository=f"{args.target.resource_prefix}-postgres",
            context=database_build_context(),
            build_dir=args.target.build_dir,
            build_args={"BASE_IMAGE": args.target.base_image},
            opts=child(self),
        )
        # Kept on `pulumi destroy` unless database.retainOnDelete is false (a production stack's
        # default): a re-created stack finds its data again, as Docker's volume create hands
        # back the existing volume of that name, and the entrypoint sets the new password.
        # https://www.pulumi.com/docs/iac/concepts/options/retainondelete/
        volume = docker.Volume(
            f"{name}-data",
            name=f"{args.target.resource_prefix}-pgdata",
            opts=pulumi.ResourceOptions.merge(
                child(self), pulumi.ResourceOptions(retain_on_delete=config.retain_on_delete)
            ),
        )
        container = docker.Container(
            f"{name}-server",
            name=f"{args.target.resource_prefix}-db",
            image=image.image_name,
            # Only the app role's name, database and password: the entrypoint makes the role a
            # plain one that owns the database, and the superuser has no password at all
            # (templates/postgres/postgres-entrypoint.sh, also what an existing volume gets).
            envs=[
                f"APP_DB_USER={config.user}",
                f"APP_DB_NAME={config.name}",
                pulumi.Output.concat("APP_DB_PASSWORD=", password),
            ],
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(
                    name=args.target.network, aliases=[DATABASE_ALIAS]
                )
            ],
            volumes=[docker.ContainerVolumeArgs(volume_name=volume.name, container_path=DATA_DIR)],
            healthcheck=health_check(
                ["pg_isready", "-h", "127.0.0.1", "-U", config.user, "-d", config.name],
                start_period="30s",
            ),
            wait=True,
            wait_timeout=120,
            # A clean ("fast") shutdown whenever the server stops, with time for its checkpoint.
            **stop_args(Stopping(signal=DATABASE_STOP_SIGNAL, grace_seconds=STOP_GRACE_SECONDS)),
            # PostgreSQL writes its socket and lock files to /tmp; the data dir is a volume.
            **hardened_container_args(
                hardening=Hardening(user="postgres"),
                limits=Limits(memory_mb=512, cpus=1.0),
                stack=args.target.stack,
                role="database",
            ),
            opts=child(self),
        )
        self.ready = [container]
        return password
