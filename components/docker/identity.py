"""Which host uid each container of a stack runs as, so that its process cap is its own.

Docker has no user namespace by default: a container's uid is the host's uid, and the nproc
ulimit Docker sets is RLIMIT_NPROC, which the kernel checks against every process of that uid
on the whole host ("the number of extant process (or, more precisely on Linux, threads) for
the real user ID of the calling process", man 2 setrlimit). pulumi-docker 5.x cannot set the
container's pids cgroup limit (its Container has no pids-limit input; the provider's schema
neither), so the cap has to come from the uid. When every stack's replicas were uid 10001,
a busy stack used up the budget of all of them: `docker exec` and the health checks of
another stack failed with "resource temporarily unavailable". When a stack's replicas shared
one uid, a runaway replica did the same to the other replicas of its own stack.

So every container of a stack runs as a uid of its own: each replica, the migration job and
the proxy. Each uid is derived from the stack's engine-side name, the role and the replica's
index alone (a hash), so the same container always gets the same uid (a second `up` changes
nothing, and adding a replica changes no other container's uid). Within a stack the uids are
distinct by construction: a candidate that an earlier container of the stack (the proxy, the
migration job, the replicas before it) already has is passed over for the next one. Between
two stacks on one engine, whose names must differ anyway, a shared uid needs two hashes to
meet in a band of 16.7 million: for two stacks of k and m containers a chance of about
k*m / 16.7 million (1 in a million for two stacks of 2 replicas).

The replicas and the migration job write the same volumes (SQLite's database and journal, the
media files and their folders, the upload spool): they share group APP_GROUP, which owns the
image's writable directories (setgid, group-writable, so what is made in them stays in the
group), and what they make there is group-writable: the settings overlay's
FILE_UPLOAD_PERMISSIONS / FILE_UPLOAD_DIRECTORY_PERMISSIONS for the media, and for SQLite an
empty database file the image makes group-writable (SQLite makes a new one 0644, whatever the
umask, and gives its journal the database file's mode). The proxy, in another group,
reads the media files as "other": they stay world-readable.

The uids come from a band systemd documents as unused by it and by its container ranges
(https://systemd.io/UIDS-GIDS/): above 1879048191 (the end of systemd-nspawn's ranges)
and far below the "foreign" range at 2147352576 and the signed 32-bit limit.
"""

from __future__ import annotations

import hashlib
from enum import Enum

# https://systemd.io/UIDS-GIDS/: 0x70000000 and up are neither regular, system, dynamic
# nor container users.
UID_BAND_START = 0x70000000
UID_BAND_SIZE = 1 << 24
# The app image's group (templates/docker/app.Dockerfile): it owns the directories the
# app writes (setgid, group-writable), whatever uid each of the stack's containers runs as.
APP_GROUP = 10001
# Debian's www-data group, kept by the proxy (it owns nothing the proxy needs; kept so that
# files the proxy creates look as they always did).
PROXY_GROUP = 33


class ContainerRole(str, Enum):
    """The kinds of a stack's containers; each container gets a uid of its own."""

    APP = "app"
    """A replica (one uid per replica index)."""
    MIGRATE = "migrate"
    """The migration job (release commands)."""
    PROXY = "proxy"


def _hashed_uid(key: str) -> int:
    digest = hashlib.sha256(key.encode()).digest()
    return UID_BAND_START + int.from_bytes(digest[:8], "big") % UID_BAND_SIZE


def _candidate(resource_prefix: str, role: ContainerRole, replica: int | None, attempt: int) -> int:
    """The `attempt`-th uid the container may take. Attempt 0 of the proxy is the uid every
    version since per-stack uids gave it, so the proxy is not replaced for this."""
    key = f"{resource_prefix}\0{role.value}"
    if replica is not None:
        key += f"\0{replica}"
    if attempt:
        key += f"\0{attempt}"
    return _hashed_uid(key)


def _first_free(
    resource_prefix: str, role: ContainerRole, replica: int | None, taken: set[int]
) -> int:
    attempt = 0
    while (uid := _candidate(resource_prefix, role, replica, attempt)) in taken:
        attempt += 1
    return uid


def container_uid(*, resource_prefix: str, role: ContainerRole, replica: int | None = None) -> int:
    """The host uid of the stack's container of `role` (and, for APP, replica index `replica`).

    The containers of a stack take their uids in a fixed order, the proxy, the migration job,
    replica 0, 1, ...: each the first of its own candidates that none before it has. So the
    uid depends on the stack's name, the role and the index only, never on how many replicas
    there are.
    """
    if (role is ContainerRole.APP) != (replica is not None):
        raise ValueError(
            f"replica={replica!r} for role {role.value!r}: an index (0 and up) is required for "
            "the app replicas, and allowed for no other role"
        )
    if replica is not None and replica < 0:
        raise ValueError(f"replica={replica}: must be 0 or more")
    taken = {_first_free(resource_prefix, ContainerRole.PROXY, None, set())}
    if role is ContainerRole.PROXY:
        return next(iter(taken))
    migrate = _first_free(resource_prefix, ContainerRole.MIGRATE, None, taken)
    if role is ContainerRole.MIGRATE:
        return migrate
    taken.add(migrate)
    assert replica is not None
    for index in range(replica + 1):
        uid = _first_free(resource_prefix, ContainerRole.APP, index, taken)
        taken.add(uid)
    return uid


def container_user(*, resource_prefix: str, role: ContainerRole, replica: int | None = None) -> str:
    """Docker's `user` value (`uid:gid`, numeric) for the stack's container of `role`."""
    group = PROXY_GROUP if role is ContainerRole.PROXY else APP_GROUP
    uid = container_uid(resource_prefix=resource_prefix, role=role, replica=replica)
    return f"{uid}:{group}"
