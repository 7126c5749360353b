"""End to end: a release whose migration fails stops there, with the migration's error.

The sample app plus one migration that raises: `pulumi up` (the real engine) must fail with
that error in its message, and no replica of the release may exist.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi import automation as auto

from components.docker.container_spec import LABEL_ROLE, LABEL_STACK
from tests.e2e.docker_engine import engine_stack
from tests.e2e.engine import docker
from tests.support.stack_files import copy_of_the_sample_app

pytestmark = pytest.mark.e2e

BROKEN_MIGRATION = """
from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("this migration is broken on purpose (django-stack e2e)")


class Migration(migrations.Migration):
    dependencies = [("guestbook", "{latest}")]
    operations = [migrations.RunPython(fail)]
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
    with engine_stack(name, appPath=str(broken_app), replicas=2) as (stack, _):
        with pytest.raises(auto.CommandError, match="migration job") as failure:
            stack.up()
        assert "this migration is broken on purpose" in str(failure.value)
        replicas = docker(
            "ps",
            "-aq",
            "--filter",
            f"label={LABEL_STACK}={name}",
            "--filter",
            f"label={LABEL_ROLE}=app",
        ).split()
        assert replicas == []
