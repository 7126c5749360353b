"""End to end: a release whose migration fails stops there, with the migration's error.

The sample app plus one migration that raises until a table exists, as a migration fails on
something outside the app (a database not ready yet): `pulumi up` (the real engine) must fail
with that error in its message, and no replica of the release may exist. Once the cause is
gone, a plain `up` still fails (the engine recorded the job as created, with its exit code),
and `python -m deploy up` (deploy/failed_jobs.py) runs the job again and starts the release.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi import automation as auto

from components.docker.container_spec import LABEL_ROLE, LABEL_STACK
from deploy import failed_jobs
from tests.e2e.conftest import Deployed
from tests.e2e.docker_engine import engine_stack
from tests.e2e.engine import docker
from tests.e2e.http import Client
from tests.support.stack_files import copy_of_the_sample_app

pytestmark = pytest.mark.e2e

BROKEN_MIGRATION = """
from django.db import migrations


def fail_until_allowed(apps, schema_editor):
    if "e2e_migration_allowed" not in schema_editor.connection.introspection.table_names():
        raise RuntimeError("this migration is broken on purpose (django-stack e2e)")


class Migration(migrations.Migration):
    dependencies = [("guestbook", "{latest}")]
    operations = [migrations.RunPython(fail_until_allowed)]
"""


@pytest.fixture(scope="module")
def broken_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("broken") / "app"
    copy_of_the_sample_app(directory)
    migrations = directory / "guestbook" / "migrations"
    # After the app's last migration: a second leaf would fail as a conflict instead.
    latest = max(p.stem for p in migrations.glob("0*.py"))
    (migrations / "9999_broken.py").write_text(BROKEN_MIGRATION.replace("{latest}", latest))
    return directory


def test_a_failed_migration_fails_the_deployment_and_starts_no_replica(
    docker_engine: str, broken_app: Path
) -> None:
    name = "e2e-broken-migration"
    with engine_stack(name, appPath=str(broken_app), replicas=2) as (stack, port):
        with pytest.raises(auto.CommandError, match="migration job") as failure:
            stack.up()
        assert "this migration is broken on purpose" in str(failure.value)
        assert _replicas(name) == []

        # The cause goes away; the job's inputs are the same.
        Deployed(name=name, outputs={}, port=port).psql("CREATE TABLE e2e_migration_allowed ()")
        with pytest.raises(auto.CommandError, match="migration job"):
            stack.up()
        assert _replicas(name) == []
        (job,) = failed_jobs.failed_jobs_of(stack.stack)
        assert job.endswith("::django-app-migrate")

        failed_jobs.up(stack.stack, on_output=stack.log.append)
        assert failed_jobs.failed_jobs_of(stack.stack) == []
        assert len(_replicas(name)) == 2
        assert Client(f"http://127.0.0.1:{port}/").get("/").status == 200


def _replicas(stack: str) -> list[str]:
    """Stack `stack`'s replica containers, running or not."""
    stack_label, role = f"label={LABEL_STACK}={stack}", f"label={LABEL_ROLE}=app"
    return docker("ps", "-aq", "--filter", stack_label, "--filter", role).split()
