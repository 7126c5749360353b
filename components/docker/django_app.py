"""The Django project as the stack ships it: its image, its settings, its migrations.

The image holds the project (unmodified), a virtualenv with its dependencies (as the project
declares them: components/dependencies.py) and the chosen app server, the settings overlay,
and the static files collected at build time. Migrations (and the stack's release commands)
run once, in a one-shot container, before any replica starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.choices import AppServer, MediaKind
from components.config import Secret
from components.dependencies import Dependencies
from components.docker.container_spec import (
    Hardening,
    Limits,
    child,
    hardened_container_args,
    job_options,
    server_command,
)
from components.docker.identity import ContainerRole, container_user
from components.docker.images import image_tag, local_image
from components.docker.target import DockerTarget
from components.docker.volume_permissions import volume_permissions_job
from components.render.app_server_config import server_packages
from components.render.build_context import app_build_context
from components.render.django_env import env_list
from components.render.release import release_container_command

SQLITE_DIR = "/var/lib/django-stack"
# How much of a failed migration's output the error repeats: the end holds the traceback.
MIGRATION_LOG_LINES = 40


class MigrationError(Exception):
    """The migration job of a release exited non-zero: nothing of the release may start."""


def migrated_image(*, job: str, image: str, exit_code: int | None, logs: str | None) -> str:
    """`image`, once the migration job `job` has succeeded; raises with its output if not.

    The docker provider waits for an attached container and records its exit code, but does
    not fail on a non-zero one: the check is the program's.
    """
    if exit_code in (None, 0):
        return image
    tail = "\n".join((logs or "").rstrip().splitlines()[-MIGRATION_LOG_LINES:])
    raise MigrationError(
        f"the migration job {job} exited with {exit_code}; no replica of this release was "
        f"started. Its output ends:\n{tail or '(no output)'}"
    )


@dataclass(frozen=True)
class DjangoAppArgs:
    """Inputs of a DjangoApp."""

    app_path: Path
    """The Django project directory."""
    dependencies: Dependencies
    """How the project declares its dependencies."""
    settings_module: str
    """The project's own settings module, imported by the overlay."""
    app_server: AppServer
    """The server installed into the image."""
    system_packages: tuple[str, ...]
    """Debian packages the project needs, in both stages of the image."""
    app_server_config: str | None
    """The server's rendered config file (None: runserver has none)."""
    settings_env: Mapping[str, str]
    """Non-secret settings (hosts, database location) for the overlay."""
    media: MediaKind
    """Where uploads go: with s3 the image also gets django-storages and boto3."""
    storage_credentials: pulumi.Input[Mapping[str, str]]
    """The S3 access key pair's variables (a secret), or none."""
    secret_key: Secret | None
    """Django's SECRET_KEY; generated once and kept in state when absent."""
    database_password: pulumi.Input[str]
    """The database password (a secret)."""
    database_url: pulumi.Input[str]
    """DATABASE_URL, with the password in it (a secret)."""
    release_commands: tuple[tuple[str, ...], ...]
    """manage.py commands run after migrate, in the same one-shot job."""
    database_ready: list[pulumi.Resource]
    """Resources that must exist before migrations run."""
    sqlite_volume: pulumi.Input[str] | None
    """Named volume holding an SQLite database, when that is the database."""
    media_mounts: list[docker.ContainerVolumeArgs]
    """The media volume, when there is one: data migrations may touch uploaded files too."""
    extra_ca_bundle: Path | None
    """CA certificates trusted while building only (intercepting proxies)."""
    limits: Limits
    """Resources for the migration job."""
    target: DockerTarget
    """The stack's engine-side context (names, network, base image, build dir)."""


class DjangoApp(pulumi.ComponentResource):
    """The project's image, its runtime environment, and its migrations."""

    image_name: pulumi.Output[str]
    migrated_image_name: pulumi.Output[str]
    image_tag: str
    environment: pulumi.Output[list[str]]
    migration: docker.Container

    def __init__(
        self, name: str, args: DjangoAppArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:DjangoApp", name, None, opts)
        pulumi.log.info(f"the project's dependencies: {args.dependencies.description}", self)
        context = app_build_context(
            app_path=args.app_path,
            dependencies=args.dependencies,
            app_server=args.app_server,
            app_server_config=args.app_server_config,
            extra_ca_bundle=args.extra_ca_bundle.read_bytes() if args.extra_ca_bundle else None,
            media=args.media,
        )
        repository = f"{args.target.resource_prefix}-app"
        build_args = {
            "BASE_IMAGE": args.target.base_image,
            "SETTINGS_MODULE": args.settings_module,
            "SERVER_PACKAGES": server_packages(args.app_server),
            "SYSTEM_PACKAGES": " ".join(args.system_packages),
        }
        image = local_image(
            f"{name}-image",
            repository=repository,
            context=context,
            build_dir=args.target.build_dir,
            build_args=build_args,
            opts=child(self),
        )
        self.image_name = image.image_name
        self.image_tag = image_tag(repository=repository, context=context, build_args=build_args)

        if args.secret_key is not None:
            secret_key = args.secret_key.as_output()
        else:
            generated = random.RandomPassword(f"{name}-secret-key", length=64, opts=child(self))
            secret_key = pulumi.Output.secret(generated.result)

        plain = env_list(args.settings_env)
        self.environment = pulumi.Output.all(
            secret_key=secret_key,
            password=args.database_password,
            url=args.database_url,
            storage=args.storage_credentials,
        ).apply(
            lambda s: [
                *plain,
                f"DJANGO_SECRET_KEY={s['secret_key']}",
                f"DJANGO_DB_PASSWORD={s['password']}",
                f"DATABASE_URL={s['url']}",
                *env_list(s["storage"]),
            ]
        )
        # Output.all keeps secretness: the whole environment is a secret from here on.

        self.data_volumes: list[docker.ContainerVolumeArgs] = [
            *(
                [
                    docker.ContainerVolumeArgs(
                        volume_name=args.sqlite_volume, container_path=SQLITE_DIR
                    )
                ]
                if args.sqlite_volume is not None
                else []
            ),
            *args.media_mounts,
        ]
        # A volume made by an earlier version (one uid for all) is handed to the app's group
        # first, or the replicas' uids could not write it (components/render/volume_permissions.py).
        migration_image: pulumi.Input[str] = self.image_name
        if self.data_volumes:
            migration_image = volume_permissions_job(
                f"{name}-volume-permissions",
                target=args.target,
                image_name=self.image_name,
                volumes=self.data_volumes,
                mount_points=[str(v.container_path) for v in self.data_volumes],
                parent=self,
                after=args.database_ready,
            )
        job = f"{args.target.resource_prefix}-migrate"
        self.migration = docker.Container(
            f"{name}-migrate",
            name=job,
            image=migration_image,
            command=server_command(
                release_container_command(args.release_commands), limits=args.limits
            ),
            envs=self.environment,
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=args.target.network)],
            volumes=self.data_volumes,
            # A one-shot job: run to completion, and fail the deployment if it fails.
            attach=True,
            logs=True,
            must_run=False,
            **{
                **hardened_container_args(
                    # A uid of the job's own, in the replicas' group: it writes the volumes
                    # they use (SQLite's file), group-writable (components/docker/identity.py).
                    hardening=Hardening(
                        user=container_user(
                            resource_prefix=args.target.resource_prefix,
                            role=ContainerRole.MIGRATE,
                        )
                    ),
                    limits=args.limits,
                    stack=args.target.stack,
                    role="migrate",
                ),
                "restart": "no",
            },
            opts=job_options(self, *args.database_ready),
        )
        # The replicas run this name: they cannot start before the check passed, and never
        # when it failed. (Unknown in a preview that creates the job: it has not run yet.)
        self.migrated_image_name = pulumi.Output.all(
            image=self.image_name,
            exit_code=self.migration.exit_code,
            logs=self.migration.container_logs,
        ).apply(lambda v: migrated_image(job=job, **v))
        self.register_outputs({"image_name": self.image_name})
