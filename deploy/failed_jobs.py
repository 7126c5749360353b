"""The one-shot jobs of a Docker stack that failed last time, run again by the next `up`.

A job (the migration, the volume permissions, the certificate: an attached container with
`must_run` false) is a container that the docker provider runs to completion and records
with its exit code; it does not fail on a non-zero one, so the program does, and `up` stops
before anything that needs the job (components/docker/django_app.py). The engine has then
recorded the job as created, with that exit code: a later `up` with the same inputs finds
nothing to change in it, never runs it again, and fails on the recorded code each time. So
after a transient failure (the database not ready, a network error in a release command),
fixing the cause is not enough: the job needs `pulumi up --replace <its URN>`. `python -m
deploy up` and `preview` pass that for every job whose recorded exit code is not 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi import automation as auto

CONTAINER_TYPE = "docker:index/container:Container"


def is_failed_job(resource: Mapping[str, Any]) -> bool:
    """Whether an exported resource is a job container whose recorded exit code is not 0."""
    if resource.get("type") != CONTAINER_TYPE or resource.get("delete"):
        return False
    outputs = resource.get("outputs") or {}
    is_job = outputs.get("attach") is True and outputs.get("mustRun") is False
    return is_job and outputs.get("exitCode") not in (None, 0)


def failed_jobs(resources: Iterable[Mapping[str, Any]]) -> list[str]:
    """The URNs of the failed jobs among a stack's exported resources, in the state's order."""
    return [r["urn"] for r in resources if is_failed_job(r)]


def failed_jobs_of(stack: auto.Stack) -> list[str]:
    """The failed jobs in `stack`'s current state (none for a new stack)."""
    deployment = stack.export_stack().deployment or {}
    return failed_jobs(deployment.get("resources") or [])


def replacing_failed_jobs(stack: auto.Stack, options: dict[str, Any]) -> dict[str, Any]:
    """`options` for an `up` or `preview` of `stack`, with every job that failed last time
    added to `replace`; says which, through `on_output` (or print), when there are any."""
    again = failed_jobs_of(stack)
    if not again:
        return options
    say = options.get("on_output") or print
    say(f"running again the jobs that failed last time: {', '.join(again)}")
    return {**options, "replace": [*options.get("replace", []), *again]}


def up(stack: auto.Stack, **options: Any) -> auto.UpResult:
    """`stack.up(**options)`, replacing every job that failed last time."""
    return stack.up(**replacing_failed_jobs(stack, options))


def preview(stack: auto.Stack, **options: Any) -> auto.PreviewResult:
    """`stack.preview(**options)`, with the jobs that `up` would run again replaced."""
    return stack.preview(**replacing_failed_jobs(stack, options))
