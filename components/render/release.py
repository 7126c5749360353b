"""What runs once per release, before any app server (re)loads: Django's migrations, then the
stack's `releaseCommands` (such as `createcachetable`), in order, each a `manage.py` command
run with `django-admin` and the app's environment. The first that fails fails the release,
and no app server moves to it.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

MIGRATE = ("migrate", "--noinput")


def release_commands(extra: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    """Every command of a release, as `django-admin` arguments: migrate first."""
    return [MIGRATE, *(tuple(argv) for argv in extra)]


def release_container_command(extra: Sequence[Sequence[str]]) -> list[str]:
    """The migration container's command: `django-admin migrate` alone, or a shell that runs
    every release command in turn, printing each (-x) and stopping at the first failure (-e),
    whose exit status fails the container and so the deployment."""
    if not extra:
        return ["django-admin", *MIGRATE]
    script = "\n".join(shlex.join(["django-admin", *argv]) for argv in release_commands(extra))
    return ["sh", "-exc", script]
