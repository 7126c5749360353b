"""An app host out of the proxy's rotation while its server restarts, and back in after.

With two app hosts or more, a release rolls over them one at a time: the proxy host's
upstream member list is rewritten with the host marked out and the proxy reloaded
gracefully, the step waits until the requests already on their way there are done
(templates/vm/rotation.sh), the host's server restarts and passes its health check, and the
list with every host goes back. The other hosts serve meanwhile, so no request fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components.choices import Proxy
from components.render.proxy_config import UPSTREAM_MEMBERS_FILE
from components.render.systemd import PROXY_UNIT
from components.render.vm_scripts import render_rotation_script, root_files
from components.vm.hosts import Host
from components.vm.steps import remote_step


@dataclass(frozen=True)
class ProxyRotation:
    """How one app host leaves the proxy's rotation and comes back."""

    proxy_host: Host
    """The proxy's machine, where the steps run."""
    proxy: Proxy
    """nginx or Apache."""
    without: pulumi.Input[str]
    """The upstream member list with this host out of the rotation."""
    every: pulumi.Input[str]
    """The member list with every host in it (as the proxy's own step installs it)."""
    wait_seconds: int
    """How long the requests in progress may take to finish (the request timeout and more)."""


def rotation_step(
    resource_name: str,
    *,
    rotation: ProxyRotation,
    ssh_user: str,
    out: bool,
    host_label: str,
    triggers: Sequence[pulumi.Input[object]],
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource],
) -> remote.Command:
    """The step that takes the host out (`out`) or puts it back; `triggers` are the host's
    service step's own, so it runs exactly when that one does."""
    change = f"{host_label} {'out of' if out else 'back in'} the proxy's rotation"
    members = rotation.without if out else rotation.every
    return remote_step(
        resource_name,
        host=rotation.proxy_host,
        ssh_user=ssh_user,
        script=render_rotation_script(
            unit=PROXY_UNIT,
            proxy=rotation.proxy,
            change=change,
            wait_seconds=rotation.wait_seconds,
        ),
        stdin=pulumi.Output.from_input(members).apply(
            lambda text: root_files({UPSTREAM_MEMBERS_FILE: text})
        ),
        triggers=triggers,
        parent=parent,
        after=after,
    )
