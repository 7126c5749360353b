"""The proxy host of the VM target: nginx or Apache over every app host, static files local.

It runs the config the Docker target's proxy runs (the same renderer), and collects the
project's static files itself (the release is installed there for that only).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_command import remote

from components.choices import DebianRelease, Proxy
from components.config import AcmeConfig
from components.render.acme import render_acme_teardown_script
from components.render.build_context import BuildContext
from components.render.proxy_config import UPSTREAM_MEMBERS_FILE, config_file_path
from components.render.served_certificate import (
    WAIT_FOR_CERTIFICATE,
    render_wait_for_certificate,
)
from components.render.systemd import PROXY_GROUP, PROXY_UNIT, TLS_CHAIN_FILE, TLS_KEY_FILE
from components.render.vm_scripts import (
    digest,
    proxy_health_command,
    proxy_packages,
    render_base_script,
    render_collectstatic_script,
    render_service_script,
    render_teardown_script,
    root_files,
    unit_path,
)
from components.vm.acme import ACME_PACKAGES, acme_certificate_step, acme_prepare_step
from components.vm.hosts import Host
from components.vm.steps import firewall_step, release_step, remote_step, teardown_step


@dataclass(frozen=True)
class VmProxyHostArgs:
    """Inputs of a VmProxyHost."""

    host: Host
    """The machine and how SSH reaches it."""
    ssh_user: str
    """The SSH user (root, or a user with passwordless sudo)."""
    proxy: Proxy
    """nginx or Apache."""
    debian_release: DebianRelease
    """The Debian release the host must run."""
    system_packages: tuple[str, ...]
    """Debian packages the project needs (it is installed here for collectstatic)."""
    proxy_config: pulumi.Input[str]
    """The rendered config, which includes the upstream member list from its file."""
    upstream_members: pulumi.Input[str]
    """That list: every app host's private address (components/vm/rotation.py rewrites it
    during a rolling release)."""
    unit: str
    """The rendered django-stack-proxy.service."""
    http_port: int
    """The port the proxy listens on."""
    https_port: int | None
    """Its HTTPS port with TLS on (any mode), else None."""
    health_host: str
    """The Host of the health check through the proxy: one it passes on to the app."""
    release: BuildContext
    """The project, for collectstatic."""
    settings_module: str
    """The project's own settings module."""
    firewall: pulumi.Output[str]
    """The host's nftables ruleset: HTTP(S) from anywhere, SSH from the allowed networks."""
    after: list[pulumi.Resource] = field(default_factory=list)
    """What must be up before the proxy (re)loads (the app servers, back in the rotation)."""
    tls_chain: pulumi.Input[str] | None = None
    """The PEM certificate chain for HTTPS, or None for plain HTTP only."""
    tls_key: pulumi.Input[str] | None = None
    """Its PEM key (a secret)."""
    acme: AcmeConfig | None = None
    """`tls.mode: acme`: certbot gets the chain and key on the host (components/vm/acme.py)."""


class VmProxyHost(pulumi.ComponentResource):
    """The reverse proxy on its machine, supervised by systemd."""

    service: remote.Command

    def __init__(
        self, name: str, args: VmProxyHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("django-stack:index:VmProxyHost", name, None, opts)
        host, user = args.host, args.ssh_user
        base = remote_step(
            f"{name}-base",
            host=host,
            ssh_user=user,
            script=render_base_script(
                packages=proxy_packages(
                    args.proxy, [*args.system_packages, *(ACME_PACKAGES if args.acme else ())]
                ),
                # Debian starts its own nginx/apache2 on port 80 at install.
                disable_services=["nginx", "apache2", "apache-htcacheclean"],
                release=args.debian_release,
                mod_qos=args.proxy is Proxy.APACHE,
            ),
            parent=self,
        )
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
        static = remote_step(
            f"{name}-static",
            host=host,
            ssh_user=user,
            script=render_collectstatic_script(
                settings_module=args.settings_module, release=release_id
            ),
            triggers=[release_id],
            parent=self,
            after=[release],
        )
        acme_ready: list[pulumi.Resource] = []
        if args.acme is not None:
            acme_ready.append(
                acme_prepare_step(
                    f"{name}-acme-prepare",
                    host=host,
                    ssh_user=user,
                    acme=args.acme,
                    parent=self,
                    after=[base],
                )
            )
        # With TLS on (every mode), the check that the proxy serves its chain file's
        # certificate, run after each reload here and by certbot's deploy hook.
        certificate_check = (
            {
                WAIT_FOR_CERTIFICATE: render_wait_for_certificate(
                    https_port=args.https_port, server_name=args.health_host
                )
            }
            if args.https_port is not None
            else {}
        )
        # Output.all keeps secretness: with the key in them, the files are a secret (stdin).
        files = pulumi.Output.all(
            conf=args.proxy_config,
            members=args.upstream_members,
            chain=args.tls_chain,
            key=args.tls_key,
        ).apply(
            lambda v: root_files(
                {
                    config_file_path(args.proxy): v["conf"],
                    UPSTREAM_MEMBERS_FILE: v["members"],
                    unit_path(PROXY_UNIT): args.unit,
                    **certificate_check,
                    **(
                        {TLS_CHAIN_FILE: v["chain"], TLS_KEY_FILE: v["key"]}
                        if v["key"] is not None
                        else {}
                    ),
                },
                private=[TLS_KEY_FILE],
            )
        )
        self.service = remote_step(
            f"{name}-service",
            host=host,
            ssh_user=user,
            script=render_service_script(
                unit=PROXY_UNIT,
                health_check=proxy_health_command(args.http_port, host=args.health_host),
                # The proxy reads the key itself (as acme's hook leaves it), at each reload:
                # a new key or chain is a reload, never a restart.
                group_readable={TLS_KEY_FILE: PROXY_GROUP} if args.tls_key is not None else {},
                ready_check=WAIT_FOR_CERTIFICATE if certificate_check else None,
            ),
            stdin=files,
            triggers=[files.apply(digest), release_id],
            parent=self,
            after=[static, firewall, *acme_ready, *args.after],
        )
        if args.acme is not None:
            certificate = acme_certificate_step(
                f"{name}-acme-certificate",
                host=host,
                ssh_user=user,
                acme=args.acme,
                parent=self,
                after=[self.service],
            )
            # Deleted when the stack leaves acme (another tls.mode) or is destroyed.
            teardown_step(
                f"{name}-acme-teardown",
                host=host,
                ssh_user=user,
                script=render_acme_teardown_script(),
                parent=self,
                after=[certificate],
            )
        teardown_step(
            f"{name}-teardown",
            host=host,
            ssh_user=user,
            script=render_teardown_script(units=[PROXY_UNIT]),
            parent=self,
            after=[self.service],
        )
        self.register_outputs({})
