"""One app host of the VM target: packages, the release in a venv, settings, the app server.

The steps run in order over SSH; the first app host also runs the migrations, before any app
server is (re)loaded. With one app host, a changed release, config or settings ends in a
graceful reload; with more, the host is out of the proxy's rotation meanwhile and its server
restarts (components/vm/rotation.py), one host after the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import sha256

import pulumi
from pulumi_command import remote

from components.choices import AppServer, DebianRelease
from components.render.app_server_config import config_file_path
from components.render.build_context import BuildContext
from components.render.systemd import APP_UNIT, ENV_FILE, MIGRATE_UNIT
from components.render.vm_scripts import (
    app_health_command,
    app_packages,
    digest,
    render_base_script,
    render_migrate_script,
    render_service_script,
    render_settings_script,
    render_teardown_script,
    root_files,
    unit_path,
)
from components.vm.hosts import Host
from components.vm.rotation import ProxyRotation, rotation_step
from components.vm.steps import firewall_step, release_step, remote_step, teardown_step


@dataclass(frozen=True)
class VmAppHostArgs:
    """Inputs of a VmAppHost."""

    host: Host
    """The machine and how SSH reaches it."""
    ssh_user: str
    """The SSH user (root, or a user with passwordless sudo)."""
    app_server: AppServer
    """Gunicorn, uWSGI or mod_wsgi."""
    debian_release: DebianRelease
    """The Debian release the host must run."""
    system_packages: tuple[str, ...]
    """Debian packages the project needs."""
    release: BuildContext
    """The project, overlay and requirements to install."""
    app_server_config: pulumi.Input[str]
    """The server's rendered config (the same renderer as the Docker target), listening on
    the host's private address."""
    firewall: pulumi.Output[str]
    """The host's nftables ruleset: the app port from the proxy host only."""
    unit: str
    """The rendered django-stack-app.service."""
    settings: pulumi.Output[str]
    """The environment file (a secret: it holds the secret key and database password)."""
    migrate_unit: str | None = None
    """The rendered migration unit: set on the one host that runs the migrations."""
    database_ready: list[pulumi.Resource] = field(default_factory=list)
    """What must be done before migrations run (the database host)."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must be done before this app server (re)loads (the migrations; in a rolling
    release, the previous host back in the rotation)."""
    rotation: ProxyRotation | None = None
    """With two app hosts or more: how this one leaves the proxy's rotation while its server
    restarts. None (one app host): a graceful reload, in the rotation."""


class VmAppHost(pulumi.ComponentResource):
    """The app server on one machine, supervised by systemd."""

    service: remote.Command
    migration: remote.Command | None
    ready: remote.Command
    """The last step of a release here: the host back in the rotation (or its service)."""

    def __init__(
        self, name: str, args: VmAppHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:VmAppHost", name, None, opts)
        host, user = args.host, args.ssh_user
        base_script = render_base_script(
            packages=app_packages(args.app_server, args.system_packages),
            disable_services=["apache2"] if args.app_server is AppServer.MOD_WSGI else [],
            release=args.debian_release,
        )
        base = remote_step(
            f"{name}-base", host=host, ssh_user=user, script=base_script, parent=self
        )
        # The firewall is up before the app server first listens.
        firewall = firewall_step(
            f"{name}-firewall",
            host=host,
            ssh_user=user,
            ruleset=args.firewall,
            parent=self,
            after=[base],
        )
        release_id = args.release.digest()
        release = release_step(
            f"{name}-release",
            host=host,
            ssh_user=user,
            release=args.release,
            parent=self,
            after=[base],
        )
        # A digest of the secret settings, itself a secret (Output.apply keeps secretness).
        settings_id = args.settings.apply(lambda s: sha256(s.encode()).hexdigest()[:16])
        settings = remote_step(
            f"{name}-settings",
            host=host,
            ssh_user=user,
            script=render_settings_script(),
            stdin=args.settings,
            parent=self,
            after=[base],
        )
        self.migration = None
        if args.migrate_unit is not None:
            self.migration = remote_step(
                f"{name}-migrate",
                host=host,
                ssh_user=user,
                script=render_migrate_script(unit=MIGRATE_UNIT, release=release_id),
                stdin=root_files({unit_path(MIGRATE_UNIT): args.migrate_unit}),
                triggers=[release_id, settings_id],
                parent=self,
                after=[release, settings, *args.database_ready],
            )
        files = pulumi.Output.from_input(args.app_server_config).apply(
            lambda config: root_files(
                {config_file_path(args.app_server): config, unit_path(APP_UNIT): args.unit}
            )
        )
        script = host.private_address.apply(
            lambda address: render_service_script(
                unit=APP_UNIT,
                # The server listens on the private address only, so it is asked there.
                health_check=app_health_command(args.app_server, address=address.strip("[]")),
                # New settings (a rotated secret) need a new process, not a reload.
                restart_on=[ENV_FILE],
                # Out of the rotation, a restart harms no request and leaves no old worker.
                always_restart=args.rotation is not None,
            )
        )
        # A new release or new settings reload the server even when its files are equal.
        triggers = [files.apply(digest), release_id, settings_id]
        before = [
            release,
            settings,
            firewall,
            *([self.migration] if self.migration else []),
            *args.after,
        ]
        rotation = args.rotation
        # The rotation steps run whenever the service step does: on its triggers, and on a
        # new script of its own (a new version of this project), which runs it too.
        rotation_triggers = [*triggers, script.apply(digest)]
        if rotation is not None:
            before = [
                rotation_step(
                    f"{name}-out-of-rotation",
                    rotation=rotation,
                    ssh_user=user,
                    out=True,
                    host_label=host.role,
                    triggers=rotation_triggers,
                    parent=self,
                    after=before,
                )
            ]
        self.service = remote_step(
            f"{name}-service",
            host=host,
            ssh_user=user,
            script=script,
            stdin=files,
            triggers=triggers,
            parent=self,
            after=before,
        )
        self.ready = self.service
        if rotation is not None:
            self.ready = rotation_step(
                f"{name}-back-in-rotation",
                rotation=rotation,
                ssh_user=user,
                out=False,
                host_label=host.role,
                triggers=rotation_triggers,
                parent=self,
                after=[self.service],
            )
        teardown_step(
            f"{name}-teardown",
            host=host,
            ssh_user=user,
            script=render_teardown_script(units=[APP_UNIT, MIGRATE_UNIT]),
            parent=self,
            after=[self.service],
        )
        self.register_outputs({})
