"""The whole VM deployment for one stack: machines, database, app hosts, proxy.

The same renderers as the Docker target (components/docker/stack.py) decide what every server is
told; here the result goes to systemd units over SSH instead of images and containers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random

from components.certificate import stack_certificate
from components.choices import DatabaseKind, VmProvider
from components.config import Secret, StackConfig
from components.render.app_server_config import APP_PORT, render_app_server_config
from components.render.django_env import database_url, django_environment
from components.render.firewall import render_firewall
from components.render.host_names import probe_host
from components.render.media import s3_environment
from components.render.proxy_config import (
    UPSTREAM_MEMBERS_FILE,
    ProxySettings,
    render_proxy_config,
    render_upstream_members,
)
from components.render.systemd import (
    TLS_CHAIN_FILE,
    TLS_KEY_FILE,
    UPLOAD_TEMP_DIR_VM,
    environment_file,
    render_app_unit,
    render_migrate_unit,
    render_proxy_unit,
)
from components.render.vm_scripts import release_context
from components.server_settings import (
    app_server_settings,
    https_port,
    media_credentials,
    media_url,
    proxy_settings,
)
from components.tuning import app_max_processes
from components.vm.app_host import VmAppHost, VmAppHostArgs
from components.vm.database_host import VmDatabaseHost, VmDatabaseHostArgs
from components.vm.hosts import Host, VmHosts, VmHostsArgs
from components.vm.proxy_host import VmProxyHost, VmProxyHostArgs
from components.vm.rotation import ProxyRotation


@dataclass(frozen=True)
class VmStackArgs:
    """Inputs of a VmStack."""

    config: StackConfig
    """The validated stack configuration (with its `vm` part)."""


class VmStack(pulumi.ComponentResource):
    """A Django app on N app hosts behind a proxy host, on Debian machines over SSH."""

    url: pulumi.Output[str]
    tls_ca: pulumi.Output[str]

    def __init__(
        self, name: str, args: VmStackArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:VmStack", name, None, opts)
        config = args.config
        vm = config.vm
        assert vm is not None  # platform vm always has a vm config
        mine = pulumi.ResourceOptions(parent=self)
        db = config.database
        machines = VmHosts(
            f"{name}-hosts",
            VmHostsArgs(
                vm=vm,
                replicas=config.replicas,
                database_host=db.kind is DatabaseKind.POSTGRES,
                database_port=db.port,
                resource_prefix=config.resource_prefix,
                stack=config.stack,
                debian_release=config.debian_release,
                media_bucket=config.media.s3 is not None and config.media.s3.created_by_stack,
            ),
            mine,
        ).hosts

        firewalls = _firewalls(config, proxy=machines.proxy, apps=machines.apps)
        secret_key = self._secret(f"{name}-secret-key", config.secret_key, length=64)
        database_ready: list[pulumi.Resource] = []
        database_host: pulumi.Output[str | None] = pulumi.Output.from_input(db.host)
        password: pulumi.Output[str] = pulumi.Output.secret("")
        if db.kind is DatabaseKind.EXTERNAL:
            assert db.password is not None  # required by the config validation
            password = db.password.as_output()
        elif db.kind is DatabaseKind.POSTGRES:
            assert machines.database is not None
            password = self._secret(f"{name}-database-password", db.password, length=32)
            server = VmDatabaseHost(
                f"{name}-database",
                VmDatabaseHostArgs(
                    host=machines.database,
                    ssh_user=vm.ssh_user,
                    config=db,
                    debian_release=config.debian_release,
                    password=password,
                    clients=[h.private_address for h in machines.apps],
                    firewall=firewalls.database,
                ),
                pulumi.ResourceOptions.merge(mine, pulumi.ResourceOptions(protect=db.protect)),
            )
            database_ready = [server.server]
            database_host = machines.database.private_address

        s3 = config.media.s3
        # The bucket: the user's, or (EC2) the one made with the machines, in its region.
        bucket: pulumi.Output[dict[str, str | None]] = pulumi.Output.from_input({})
        if s3 is not None and machines.media_bucket is not None:
            bucket = pulumi.Output.all(
                bucket=machines.media_bucket.bucket_name, region=machines.media_bucket.region
            ).apply(lambda v: {"bucket": v["bucket"], "endpoint": None, "region": v["region"]})
        elif s3 is not None:
            bucket = pulumi.Output.from_input(
                {"bucket": s3.bucket, "endpoint": s3.endpoint, "region": s3.region}
            )

        def settings(host: str | None, media: dict[str, str | None]) -> dict[str, str]:
            env = django_environment(
                allowed_hosts=config.allowed_hosts,
                http_port=config.http_port,
                database=db,
                database_host=host,
                debug=config.debug,
                media_url=media_url(config),
                max_body_mb=config.max_body_mb,
                https_port=https_port(config),
            )
            if media:
                # Spooled on the app's data disk: the unit's private /tmp may be a tmpfs
                # (Debian 13's /tmp is one), which is memory charged to the app.
                env.update(
                    s3_environment(
                        bucket=media["bucket"] or "",
                        endpoint=media["endpoint"],
                        region=media["region"],
                        upload_temp_dir=UPLOAD_TEMP_DIR_VM,
                    )
                )
            return env

        # Output.all keeps secretness: the environment file is a secret from here on.
        env_file = pulumi.Output.all(
            host=database_host,
            secret_key=secret_key,
            password=password,
            media=bucket,
            storage=media_credentials(config),
        ).apply(
            lambda v: environment_file(
                {
                    **settings(v["host"], v["media"]),
                    "DJANGO_SECRET_KEY": v["secret_key"],
                    **({"DJANGO_DB_PASSWORD": v["password"]} if v["password"] else {}),
                    "DATABASE_URL": database_url(
                        database=db, host=v["host"], password=v["password"]
                    ),
                    **v["storage"],
                }
            )
        )

        def server_config(address: str) -> str:
            rendered = render_app_server_config(
                app_server_settings(
                    config,
                    # The unit's stdout is the journal's socket: mod_wsgi's Apache logs to
                    # syslog.
                    syslog_tag="django_stack_app",
                    # Only where the proxy reaches it: nothing else on the network can skip
                    # the proxy (the firewall is the second line).
                    bind_address=_plain(address),
                )
            )
            assert rendered is not None  # runserver is refused for the VM target
            return rendered

        ca = config.extra_ca_bundle.read_bytes() if config.extra_ca_bundle else None
        pulumi.log.info(f"the project's dependencies: {config.dependencies.description}", self)
        app_release = release_context(
            app_path=config.app_path,
            dependencies=config.dependencies,
            app_server=config.app_server,
            extra_ca_bundle=ca,
            media=config.media.kind,
        )

        def proxy_settings_for(addresses: list[str]) -> ProxySettings:
            return proxy_settings(
                config,
                upstream_hosts=list(addresses),
                worker_processes=config.proxy_workers,
                listen_port=config.http_port,
                tls_listen_port=config.tls.https_port,
                # The proxy reads the key itself in every mode (components/render/systemd.py).
                tls_files=(TLS_CHAIN_FILE, TLS_KEY_FILE),
                # The unit's stdout is the journal's socket: log through syslog instead.
                syslog_tag="django_stack_proxy",
                # Its own file, which takes one app host out of the rotation and back.
                upstream_members_file=UPSTREAM_MEMBERS_FILE,
            )

        addresses = pulumi.Output.all(*[h.private_address for h in machines.apps]).apply(
            lambda found: [str(a) for a in found]
        )
        every_host = addresses.apply(lambda a: render_upstream_members(proxy_settings_for(a)))

        def rotation(i: int) -> ProxyRotation | None:
            """A rolling release with two app hosts or more; with one, none (no host could
            serve while it restarts: it reloads gracefully in place)."""
            if len(machines.apps) < 2:
                return None
            return ProxyRotation(
                proxy_host=machines.proxy,
                proxy=config.proxy,
                without=addresses.apply(
                    lambda a: render_upstream_members(proxy_settings_for(a), out_of_rotation=[a[i]])
                ),
                every=every_host,
                wait_seconds=config.timeout_seconds + 30,
            )

        apps: list[VmAppHost] = []
        for i, host in enumerate(machines.apps):
            first = i == 0
            apps.append(
                VmAppHost(
                    f"{name}-app-{i}",
                    VmAppHostArgs(
                        host=host,
                        ssh_user=vm.ssh_user,
                        app_server=config.app_server,
                        debian_release=config.debian_release,
                        system_packages=config.system_packages,
                        release=app_release,
                        app_server_config=host.private_address.apply(server_config),
                        firewall=firewalls.app,
                        unit=render_app_unit(
                            app_server=config.app_server,
                            settings_module=config.settings_module,
                            replica=host.role,
                            memory_mb=config.memory_mb_per_replica,
                            cpus=config.cpus_per_replica,
                            timeout_seconds=config.timeout_seconds,
                            # One replica per host (components/tuning.py).
                            max_tasks=app_max_processes(
                                app_server=config.app_server,
                                replicas=1,
                                workers=config.workers,
                                threads=config.threads,
                            ),
                        ),
                        settings=env_file,
                        # Migrations run once, from the first app host, before any reload.
                        migrate_unit=render_migrate_unit(
                            settings_module=config.settings_module,
                            release_commands=config.release_commands,
                        )
                        if first
                        else None,
                        database_ready=database_ready,
                        # One host after the other (a second host means a rolling release):
                        # each after the previous one is back in the rotation, the first
                        # one's after the migrations.
                        after=[] if first else [apps[-1].ready],
                        rotation=rotation(i),
                    ),
                    mine,
                )
            )

        certificate = stack_certificate(name, config, mine)
        proxy = VmProxyHost(
            f"{name}-proxy",
            VmProxyHostArgs(
                host=machines.proxy,
                ssh_user=vm.ssh_user,
                proxy=config.proxy,
                debian_release=config.debian_release,
                system_packages=config.system_packages,
                proxy_config=addresses.apply(lambda a: render_proxy_config(proxy_settings_for(a))),
                upstream_members=every_host,
                unit=render_proxy_unit(config.proxy),
                http_port=config.http_port,
                https_port=https_port(config),
                health_host=probe_host(config.allowed_hosts),
                release=release_context(
                    app_path=config.app_path,
                    dependencies=config.dependencies,
                    app_server=None,
                    extra_ca_bundle=ca,
                ),
                settings_module=config.settings_module,
                firewall=firewalls.proxy,
                after=[a.ready for a in apps],
                tls_chain=certificate.chain if certificate else None,
                tls_key=certificate.key if certificate else None,
                acme=config.tls.acme,
            ),
            mine,
        )
        if not config.tls.enabled:
            suffix = "" if config.http_port == 80 else f":{config.http_port}"
            self.url = machines.proxy.public_address.apply(lambda a: f"http://{a}{suffix}/")
        else:
            suffix = "" if config.tls.https_port == 443 else f":{config.tls.https_port}"
            acme = config.tls.acme
            if acme is not None:
                # The ACME certificate names the site, never the machine's address.
                self.url = pulumi.Output.from_input(f"https://{acme.domains[0]}{suffix}/")
            else:
                self.url = machines.proxy.public_address.apply(lambda a: f"https://{a}{suffix}/")
        self.tls_ca = certificate.ca if certificate else pulumi.Output.from_input("")
        self.proxy_service = proxy.service
        self.register_outputs({"url": self.url, "tlsCaCertificate": self.tls_ca})

    def _secret(self, name: str, given: Secret | None, *, length: int) -> pulumi.Output[str]:
        """The configured secret, or one generated once and kept in state."""
        if given is not None:
            return given.as_output()
        generated = random.RandomPassword(
            name, length=length, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        return pulumi.Output.secret(generated.result)


def _plain(address: str) -> str:
    """An address as the servers and nft take it: IPv6 without the URL brackets."""
    return address.strip("[]")


@dataclass(frozen=True)
class _Firewalls:
    """The nftables ruleset of each role (components/render/firewall.py)."""

    proxy: pulumi.Output[str]
    app: pulumi.Output[str]
    database: pulumi.Output[str]


def _firewalls(config: StackConfig, *, proxy: Host, apps: list[Host]) -> _Firewalls:
    """HTTP(S) open on the proxy host, the app port from the proxy host only, PostgreSQL from
    the app hosts only; SSH from vm.sshAllowedFrom everywhere, and on EC2 also from the proxy
    host into the private machines it is the jump host of."""
    vm = config.vm
    assert vm is not None
    ssh_from = list(vm.ssh_allowed_from)
    jump = vm.provider is VmProvider.AWS
    tls_port = https_port(config)
    public = [config.http_port, *([tls_port] if tls_port is not None else [])]

    def inner(proxy_address: str) -> list[str]:
        return [*ssh_from, *([_plain(proxy_address)] if jump else [])]

    return _Firewalls(
        proxy=pulumi.Output.from_input(
            render_firewall(
                role="proxy", ssh_port=vm.ssh_port, ssh_from=ssh_from, public_ports=public
            )
        ),
        app=proxy.private_address.apply(
            lambda p: render_firewall(
                role="app",
                ssh_port=vm.ssh_port,
                ssh_from=inner(p),
                private_ports={APP_PORT: [_plain(p)]},
            )
        ),
        database=pulumi.Output.all(
            proxy=proxy.private_address, apps=pulumi.Output.all(*[a.private_address for a in apps])
        ).apply(
            lambda v: render_firewall(
                role="database",
                ssh_port=vm.ssh_port,
                ssh_from=inner(v["proxy"]),
                private_ports={config.database.port: [_plain(a) for a in v["apps"]]},
            )
        ),
    )
