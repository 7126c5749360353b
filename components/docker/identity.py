"""Which host uid each of a stack's containers runs as, so that its process cap is its own.

Docker has no user namespace by default: a container's uid is the host's uid, and the nproc
ulimit Docker sets is RLIMIT_NPROC, which the kernel checks against every process of that uid
on the whole host ("the number of extant process (or, more precisely on Linux, threads) for
the real user ID of the calling process", man 2 setrlimit). pulumi-docker 5.x cannot set the
container's pids cgroup limit (its Container has no pids-limit input; the provider's schema
neither), so the cap has to come from the uid. When every stack's replicas were uid 10001,
a busy stack used up the budget of all of them: `docker exec` and the health checks of
another stack failed with "resource temporarily unavailable".

So each stack's app containers (replicas and the migration job) run as one uid of their own,
and its proxy as another: derived from the stack's engine-side name alone (a hash), so the
same stack always gets the same uid (a second `up` changes nothing), and two stacks on one
engine, whose names must differ anyway, get different ones.

One uid per stack rather than per replica: the replicas and the migration job write the same
volumes (SQLite's database and journal, the media files, the upload spool), so they must be
one owner, or every file would have to be group-writable under a umask set in every server.
The stack's cap is then the sum over its replicas (components/tuning.py), and within it the
servers leave room for the health check (container_spec.server_command).

The uids come from a band systemd documents as unused by it and by its container ranges
(https://systemd.io/UIDS-GIDS/): above 1879048191 (the end of systemd-nspawn's ranges)
and far below the "foreign" range at 2147352576 and the signed 32-bit limit. The app
containers keep group APP_GROUP, the group that owns the image's writable directories.
"""

from __future__ import annotations

import hashlib
from enum import Enum

# https://systemd.io/UIDS-GIDS/: 0x70000000 and up are neither regular, system, dynamic
# nor container users.
UID_BAND_START = 0x70000000
UID_BAND_SIZE = 1 << 24
# The app image's group (templates/docker/app.Dockerfile): it owns the directories the
# app writes (setgid, group-writable), whatever uid the stack's containers run as.
APP_GROUP = 10001
# Debian's www-data group, kept by the proxy (it owns nothing the proxy needs; kept so that
# files the proxy creates look as they always did).
PROXY_GROUP = 33


class ContainerRole(str, Enum):
    """The kinds of containers that get a uid of their own."""

    APP = "app"
    """Replicas and the migration job: they share the stack's volumes."""
    PROXY = "proxy"


def container_uid(*, resource_prefix: str, role: ContainerRole) -> int:
    """The host uid the stack's containers of `role` run as: the same for the same stack.

    A hash of the stack's engine-side name (unique on an engine) and the role, into a band of
    16.7 million uids: two stacks share one with a chance of about 1 in 16 million.
    """
    digest = hashlib.sha256(f"{resource_prefix}\0{role.value}".encode()).digest()
    return UID_BAND_START + int.from_bytes(digest[:8], "big") % UID_BAND_SIZE


def container_user(*, resource_prefix: str, role: ContainerRole) -> str:
    """Docker's `user` value (`uid:gid`, numeric) for the stack's containers of `role`."""
    group = APP_GROUP if role is ContainerRole.APP else PROXY_GROUP
    return f"{container_uid(resource_prefix=resource_prefix, role=role)}:{group}"
