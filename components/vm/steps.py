"""One remote step: a script run as root on a host over SSH, its data on stdin."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi_command import remote

from components.render.build_context import BuildContext
from components.render.vm_scripts import (
    as_root,
    bundle,
    digest,
    render_firewall_script,
    render_release_script,
)
from components.vm.hosts import Host


def remote_step(
    resource_name: str,
    *,
    host: Host,
    ssh_user: str,
    script: pulumi.Input[str],
    stdin: pulumi.Input[str] | None = None,
    triggers: Sequence[pulumi.Input[object]] = (),
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource] = (),
    ssh_client: bool = False,
) -> remote.Command:
    """A `remote.Command` whose text is the script; data (and secrets) go on stdin only.
    With `ssh_client`, the script gets the session's SSH_CLIENT as $1 (vm_scripts.as_root).

    `triggers` are content digests of what the step depends on beyond its own script and
    stdin (a changed release re-runs the reload), so an unchanged input means nothing runs.
    No `environment` is used: remote variables need sshd's AcceptEnv.
    """
    command = pulumi.Output.from_input(script).apply(
        lambda s: as_root(s, ssh_user=ssh_user, ssh_client=ssh_client)
    )
    return remote.Command(
        resource_name,
        connection=host.connection,
        create=command,
        update=command,
        stdin=stdin,
        triggers=list(triggers),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )


def teardown_step(
    resource_name: str,
    *,
    host: Host,
    ssh_user: str,
    script: str,
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource],
) -> remote.Command:
    """A step that runs only when it is deleted (`pulumi destroy`, or the host leaving the
    stack): `script` then stops what the steps `after` started.

    It has no `create` and no triggers, so nothing runs when it is made or when its script
    changes (an update in place), and it is never replaced: a replacement would run the old
    step's delete after the new release started. Made after `after`, so it is deleted before
    them."""
    return remote.Command(
        resource_name,
        connection=host.connection,
        delete=as_root(script, ssh_user=ssh_user),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(after)),
    )


def release_step(
    resource_name: str,
    *,
    host: Host,
    ssh_user: str,
    release: BuildContext,
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource] = (),
) -> remote.Command:
    """Unpack a release (the project and the stack's files) on a host, once per content."""
    release_id = release.digest()
    return remote_step(
        resource_name,
        host=host,
        ssh_user=ssh_user,
        script=render_release_script(release=release_id),
        stdin=bundle(release.files),
        triggers=[release_id],
        parent=parent,
        after=after,
    )


def firewall_step(
    resource_name: str,
    *,
    host: Host,
    ssh_user: str,
    ruleset: pulumi.Output[str],
    parent: pulumi.Resource,
    after: Sequence[pulumi.Resource] = (),
) -> remote.Command:
    """Load a host's nftables ruleset (components/render/firewall.py), before its services
    listen; the script refuses a ruleset that would shut this deployment's SSH out."""
    return remote_step(
        resource_name,
        host=host,
        ssh_user=ssh_user,
        script=render_firewall_script(),
        stdin=ruleset,
        triggers=[ruleset.apply(digest)],
        parent=parent,
        after=after,
        ssh_client=True,
    )
