"""The database host of the VM target: the release's PostgreSQL, open to the app hosts only."""

from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256

import pulumi
from pulumi_command import remote

from components.choices import DebianRelease
from components.config import DatabaseConfig
from components.render.vm_scripts import render_postgres_script
from components.vm.hosts import Host
from components.vm.steps import firewall_step, remote_step


@dataclass(frozen=True)
class VmDatabaseHostArgs:
    """Inputs of a VmDatabaseHost."""

    host: Host
    """The machine and how SSH reaches it."""
    ssh_user: str
    """The SSH user (root, or a user with passwordless sudo)."""
    config: DatabaseConfig
    """Database name, role and port."""
    debian_release: DebianRelease
    """The Debian release the host must run (its PostgreSQL is the release's)."""
    password: pulumi.Output[str]
    """The role's password (a secret), sent on stdin."""
    clients: list[pulumi.Output[str]]
    """The app hosts' private addresses: the only clients pg_hba.conf lets in."""
    firewall: pulumi.Output[str]
    """The host's nftables ruleset: PostgreSQL from the app hosts only."""


class VmDatabaseHost(pulumi.ComponentResource):
    """PostgreSQL with the stack's database and role."""

    server: remote.Command

    def __init__(
        self, name: str, args: VmDatabaseHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:VmDatabaseHost", name, None, opts)
        config = args.config
        script = pulumi.Output.all(*args.clients).apply(
            lambda clients: render_postgres_script(
                database=config.name,
                role=config.user,
                port=config.port,
                clients=[str(c) for c in clients],
                release=args.debian_release,
            )
        )
        # Before PostgreSQL listens on every interface (pg_hba.conf is the second line).
        firewall = firewall_step(
            f"{name}-firewall",
            host=args.host,
            ssh_user=args.ssh_user,
            ruleset=args.firewall,
            parent=self,
        )
        self.server = remote_step(
            f"{name}-postgres",
            host=args.host,
            ssh_user=args.ssh_user,
            script=script,
            stdin=args.password.apply(lambda p: p + "\n"),
            # A new password must reach the server; its digest stays a secret too.
            triggers=[args.password.apply(lambda p: sha256(p.encode()).hexdigest()[:16])],
            parent=self,
            after=[firewall],
        )
        self.register_outputs({})
