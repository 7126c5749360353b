"""components/docker/django_app.py: a failed migration fails the release, replicas wait for it.

The docker provider records an attached container's exit code without failing on it, so the
program checks it; FakeCloud below answers for the migration job as the provider would.
"""

from __future__ import annotations

import pulumi
import pytest

from components.docker.django_app import MigrationError, migrated_image
from tests.support.mocks import FakeCloud, run_program
from tests.support.stack_files import stack_config

CONTAINER = "docker:index/container:Container"


class FailingMigration(FakeCloud):
    """The migration job exits 1 with a traceback, as a broken migration does (or, with
    `job="-volume-permissions"`, the volume permissions job that runs before it fails)."""

    def __init__(self, job: str = "-migrate", logs: str = "") -> None:
        super().__init__()
        self.created: list[str] = []
        self.job = job
        self.logs = logs or (
            "Applying guestbook.0002...\n"
            'django.db.utils.ProgrammingError: relation "nope" does not exist\n'
        )

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.created.append(args.name)
        resource_id, outputs = super().new_resource(args)
        if args.typ == CONTAINER and args.inputs.get("attach") and args.name.endswith(self.job):
            outputs.update(exitCode=1, containerLogs=self.logs)
        return resource_id, outputs


def test_a_successful_job_hands_the_image_on() -> None:
    assert migrated_image(job="j", image="app:1", exit_code=0, logs="OK") == "app:1"


def test_a_failed_job_raises_with_the_end_of_its_output() -> None:
    logs = "\n".join(f"line {i}" for i in range(100)) + "\nValueError: broken migration"
    with pytest.raises(MigrationError) as failure:
        migrated_image(job="django-stack-dev-migrate", image="app:1", exit_code=2, logs=logs)
    message = str(failure.value)
    assert "django-stack-dev-migrate exited with 2" in message
    assert "ValueError: broken migration" in message
    assert "line 99" in message and "line 10\n" not in message


def test_a_failed_migration_fails_the_program_and_starts_no_replica() -> None:
    mocks = FailingMigration()
    with pytest.raises(Exception, match="exited with 1") as failure:
        run_program(stack_config("dev"), stack="dev", mocks=mocks)
    assert 'relation "nope" does not exist' in str(failure.value)
    assert "django-app-migrate" in mocks.created
    assert [n for n in mocks.created if "-replica-" in n] == []


def test_a_failed_volume_permissions_job_runs_no_migration_and_starts_no_replica() -> None:
    mocks = FailingMigration(
        job="-volume-permissions", logs="chmod: changing permissions of '/srv/media/x'\n"
    )
    with pytest.raises(Exception, match="volume permissions job") as failure:
        run_program(stack_config("dev"), stack="dev", mocks=mocks)
    assert "chmod: changing permissions" in str(failure.value)
    assert "django-app-volume-permissions" in mocks.created
    assert [n for n in mocks.created if n.endswith("-migrate") or "-replica-" in n] == []
