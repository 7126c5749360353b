"""The one-shot job that hands a stack's app volumes to the app's group, group-writable.

Each replica and the migration job runs as a uid of its own in one group (Docker:
components/docker/identity.py), so what any of them made on the volumes (the media files and
their folders, SQLite's database) must belong to that group and be group-writable. A new
volume starts that way (templates/docker/app.Dockerfile, and the settings overlay's upload
modes). A volume made by an earlier version does not: its files are 0644 and its folders
0755, made by one uid (10001, or the stack's single app uid), and the new uids could read
them but neither write SQLite's database nor store an upload in this month's folder.

So before each release's migration job a job as root (in the app's group, with only
CAP_CHOWN and CAP_FOWNER: to change the group and mode of files it does not own) fixes what
differs and nothing else: entries not in the group get it (`chgrp -h`: a symbolic link
itself, never its target), folders not group-writable and setgid become so, files not
group-readable and -writable become so. Owners and "other" bits stay as they are (the proxy
reads the media as "other"). On a volume that is already right it changes nothing.
`-xdev`: only the volume's own filesystem. It prints how many entries it changed.
"""

from __future__ import annotations

from collections.abc import Sequence

SCRIPT = """\
changed=$(
  find "$@" -xdev ! -group {group} -exec chgrp -c -h {group} {{}} +
  find "$@" -xdev -type d ! -perm -2070 -exec chmod -c g+rwxs {{}} +
  find "$@" -xdev -type f ! -perm -0060 -exec chmod -c g+rw {{}} +
)
count=$(printf '%s' "$changed" | grep -c . || true)
echo "volume permissions: $count changes for group {group} in $*"
"""


def volume_permissions_command(*, group: int, mount_points: Sequence[str]) -> list[str]:
    """The job's command: a shell that fixes `mount_points` for `group` (-e: a failing step
    fails the job, and so the release)."""
    if not mount_points:
        raise ValueError("volume_permissions_command: no mount points")
    return ["sh", "-euc", SCRIPT.format(group=group), "sh", *mount_points]
