"""`tls.mode: acme` on the proxy host: the two steps around the proxy's own (certbot).

`prepare` runs before the proxy (re)starts: the client's files, the webroot, a placeholder
certificate the first time (the proxy needs one to start, and the ACME server validates
through the running proxy), Debian's certbot.timer. `certificate` runs after the proxy
answers: certbot gets the certificate by HTTP-01 and its deploy hook installs it and reloads
the proxy. What they run is rendered in components/render/acme.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_command import remote

from components.config import AcmeConfig
from components.render.acme import (
    render_acme_files,
    render_acme_obtain_script,
    render_acme_prepare_script,
)
from components.render.vm_scripts import digest, root_files
from components.vm.hosts import Host
from components.vm.steps import remote_step

# The ACME client's Debian package (its certbot.timer renews twice a day).
ACME_PACKAGES = ("certbot",)


def acme_prepare_step(
    resource_name: str,
    *,
    host: Host,
    ssh_user: str,
    acme: AcmeConfig,
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource],
) -> remote.Command:
    """The client's files and the placeholder certificate, before the proxy starts."""
    files = root_files(render_acme_files(ca_bundle=acme.ca_bundle))
    return remote_step(
        resource_name,
        host=host,
        ssh_user=ssh_user,
        script=render_acme_prepare_script(),
        stdin=files,
        triggers=[digest(files)],
        parent=parent,
        after=after,
    )


def acme_certificate_step(
    resource_name: str,
    *,
    host: Host,
    ssh_user: str,
    acme: AcmeConfig,
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource],
) -> remote.Command:
    """certbot certonly through the running proxy (a no-op while the certificate is good)."""
    return remote_step(
        resource_name,
        host=host,
        ssh_user=ssh_user,
        script=render_acme_obtain_script(
            directory=acme.directory,
            email=acme.email,
            domains=acme.domains,
            ca_bundle=acme.ca_bundle is not None,
        ),
        # Again when the CA to trust changes (the script alone does not show it).
        triggers=[digest(acme.ca_bundle or "")],
        parent=parent,
        after=after,
    )
