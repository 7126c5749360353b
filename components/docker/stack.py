"""The whole deployment for one stack: networks, database, app, replicas, proxy.

This is where the renderers meet the components: configs are rendered here from the stack's
choices and handed to thin components that turn them into resources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.certificate import stack_certificate
from components.choices import AppServer as AppServerKind
from components.choices import DatabaseKind, MediaKind
from components.config import DatabaseConfig, StackConfig
from components.docker.app_server import AppServer, AppServerArgs
from components.docker.container_spec import LABEL_STACK, Limits
from components.docker.database import DATABASE_ALIAS, Database, DatabaseArgs
from components.docker.django_app import DjangoApp, DjangoAppArgs
from components.docker.media import MediaStorage, MediaStorageArgs
from components.docker.proxy_certificate import TLS_FILES
from components.docker.reverse_proxy import ProxyTlsArgs, ReverseProxy, ReverseProxyArgs
from components.docker.target import DockerTarget
from components.render.app_server_config import render_app_server_config
from components.render.django_env import database_url, django_environment
from components.render.media import UPLOAD_TEMP_DIR, s3_environment
from components.render.proxy_config import render_proxy_config
from components.server_settings import (
    app_server_settings,
    https_port,
    media_credentials,
    media_url,
    proxy_settings,
)
from components.tuning import app_max_processes, proxy_max_processes


@dataclass(frozen=True)
class DockerStackArgs:
    """Inputs of a DockerStack."""

    config: StackConfig
    """The validated stack configuration."""
    build_dir: Path
    """Where image build contexts are written."""


def database_host(config: DatabaseConfig) -> str | None:
    """The host name replicas use for the database."""
    if config.kind is DatabaseKind.POSTGRES:
        return DATABASE_ALIAS
    return config.host


class DockerStack(pulumi.ComponentResource):
    """A Django app on N app server replicas behind a reverse proxy, on Docker."""

    url: pulumi.Output[str]
    tls_ca: pulumi.Output[str]

    def __init__(
        self, name: str, args: DockerStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:DjangoStack", name, None, opts)
        config = args.config
        prefix = config.resource_prefix
        mine = pulumi.ResourceOptions(parent=self)
        label = [docker.NetworkLabelArgs(label=LABEL_STACK, value=config.stack)]
        # Replicas and the database live on an internal network: no route to the outside,
        # nothing published. Only the proxy also joins the public one. With media in S3 the
        # replicas must reach the bucket's endpoint, which is outside the stack: the network
        # then routes out (still nothing published).
        private = docker.Network(
            f"{name}-private",
            name=f"{prefix}-private",
            internal=config.media.kind is not MediaKind.S3,
            labels=label,
            opts=mine,
        )
        public = docker.Network(f"{name}-public", name=f"{prefix}-public", labels=label, opts=mine)
        target = DockerTarget(
            stack=config.stack,
            resource_prefix=prefix,
            network=private.name,
            base_image=config.base_image,
            build_dir=args.build_dir,
        )
        replica_limits = Limits(
            memory_mb=config.memory_mb_per_replica,
            cpus=config.cpus_per_replica,
            # Per replica: each replica (and the migration job) is a uid of its own.
            max_processes=app_max_processes(
                app_server=config.app_server,
                replicas=1,
                workers=config.workers,
                threads=config.threads,
            ),
        )

        database = Database(
            f"{name}-database",
            DatabaseArgs(
                target=target,
                config=config.database,
            ),
            pulumi.ResourceOptions.merge(
                mine, pulumi.ResourceOptions(protect=config.database.protect)
            ),
        )
        media = (
            MediaStorage(
                f"{name}-media", MediaStorageArgs(config=config.media, target=target), mine
            )
            if config.media.kind in (MediaKind.VOLUME, MediaKind.S3)
            else None
        )
        s3 = config.media.s3
        app = DjangoApp(
            f"{name}-app",
            DjangoAppArgs(
                target=target,
                app_path=config.app_path,
                dependencies=config.dependencies,
                settings_module=config.settings_module,
                app_server=config.app_server,
                system_packages=config.system_packages,
                app_server_config=render_app_server_config(app_server_settings(config)),
                settings_env={
                    **django_environment(
                        allowed_hosts=config.allowed_hosts,
                        http_port=config.http_port,
                        database=config.database,
                        database_host=database_host(config.database),
                        debug=config.debug,
                        media_url=media_url(config),
                        max_body_mb=config.max_body_mb,
                        https_port=https_port(config),
                    ),
                    **(
                        s3_environment(
                            bucket=s3.bucket or "",
                            endpoint=s3.endpoint,
                            region=s3.region,
                            upload_temp_dir=UPLOAD_TEMP_DIR,
                        )
                        if s3 is not None
                        else {}
                    ),
                },
                media=config.media.kind,
                storage_credentials=media_credentials(config),
                secret_key=config.secret_key,
                database_password=database.password,
                # An apply on the secret password: the URL is a secret too.
                database_url=database.password.apply(
                    lambda password: database_url(
                        database=config.database,
                        host=database_host(config.database),
                        password=password,
                    )
                ),
                release_commands=config.release_commands,
                database_ready=database.ready,
                sqlite_volume=database.volume_name
                if config.database.kind is DatabaseKind.SQLITE
                else None,
                media_mounts=[media.app_mount] if media else [],
                extra_ca_bundle=config.extra_ca_bundle,
                limits=replica_limits,
            ),
            mine,
        )
        servers = AppServer(
            f"{name}-server",
            AppServerArgs(
                target=target,
                app_server=config.app_server,
                replicas=config.replicas,
                image_name=app.migrated_image_name,
                environment=app.environment,
                data_volumes=app.data_volumes,
                limits=replica_limits,
                after=[app.migration],
                timeout_seconds=config.timeout_seconds,
                code_mount=config.app_path
                if config.app_server is AppServerKind.RUNSERVER
                else None,
            ),
            mine,
        )
        certificate = stack_certificate(name, config, mine)
        proxy = ReverseProxy(
            f"{name}-proxy",
            ReverseProxyArgs(
                target=target,
                proxy=config.proxy,
                proxy_config=render_proxy_config(
                    proxy_settings(
                        config,
                        upstream_hosts=servers.hosts,
                        # nginx's "auto" counts the machine's CPUs, not the container's limit.
                        worker_processes=str(math.ceil(config.proxy_cpus))
                        if config.proxy_workers == "auto"
                        else config.proxy_workers,
                        tls_files=TLS_FILES,
                    )
                ),
                app_image=app.image_name,
                app_image_tag=app.image_tag,
                public_network=public.name,
                http_port=config.http_port,
                bind_address=config.bind_address,
                limits=Limits(
                    memory_mb=256,
                    cpus=config.proxy_cpus,
                    max_processes=proxy_max_processes(
                        replicas=config.replicas, workers=config.workers, threads=config.threads
                    ),
                ),
                after=list(servers.containers),
                volumes=[media.proxy_mount] if media and media.proxy_mount else [],
                tls=ProxyTlsArgs(
                    chain=certificate.chain,
                    key=certificate.key,
                    https_port=config.tls.https_port,
                )
                if certificate
                else None,
                timeout_seconds=config.timeout_seconds,
            ),
            mine,
        )
        self.url = proxy.url
        # The stack's own CA (self-signed), for clients to trust; empty otherwise.
        self.tls_ca = certificate.ca if certificate else pulumi.Output.from_input("")
        self.register_outputs({"url": self.url, "tlsCaCertificate": self.tls_ca})
