"""deploy/failed_jobs.py: which containers of an exported state are jobs that failed."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.failed_jobs import CONTAINER_TYPE, failed_jobs

PREFIX = "urn:pulumi:dev::django-stack::django-stack:index:Stack$docker:index/container:Container::"


def container(name: str, **outputs: Any) -> dict[str, Any]:
    return {"urn": PREFIX + name, "type": CONTAINER_TYPE, "outputs": outputs}


JOB = {"attach": True, "mustRun": False}
SERVER = {"attach": False, "mustRun": True}


def test_a_job_that_exited_non_zero_is_run_again() -> None:
    resources = [
        container("django-app-volume-permissions", **JOB, exitCode=0),
        container("django-app-migrate", **JOB, exitCode=1),
        container("django-proxy-tls-3f2a", **JOB, exitCode=3),
    ]
    assert failed_jobs(resources) == [
        PREFIX + "django-app-migrate",
        PREFIX + "django-proxy-tls-3f2a",
    ]


@pytest.mark.parametrize(
    "resource",
    [
        container("django-app-migrate", **JOB, exitCode=0),
        # Not run yet (a preview's), or recorded by an older provider without the code.
        container("django-app-migrate", **JOB),
        # A server that stopped is the engine's to restart (must_run), not a job.
        container("django-server-replica-0", **SERVER, exitCode=137),
        # The old job of a replacement still waiting for its deletion.
        {**container("django-app-migrate", **JOB, exitCode=1), "delete": True},
        {"urn": "urn:x::docker:index/image:Image::app", "type": "docker:index/image:Image"},
    ],
    ids=["succeeded", "no-exit-code", "server", "pending-delete", "not-a-container"],
)
def test_everything_else_is_left_as_it_is(resource: dict[str, Any]) -> None:
    assert failed_jobs([resource]) == []
