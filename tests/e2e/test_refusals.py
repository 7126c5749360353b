"""End to end: what a project asks of the stack and cannot have fails the deployment, with
the tool's own message, before any replica runs.

- a Debian package the base's release does not have (`systemPackages`): apt's message, from
  the app image's build;
- a release command that fails (`releaseCommands`): Django's message, from the migration
  job, after the migrations and before any replica.
"""

from __future__ import annotations

import pytest

from components.docker.django_app import MigrationError
from tests.e2e.conftest import deploy_stack
from tests.e2e.engine import EngineError, docker, remove_everything

pytestmark = pytest.mark.e2e

MISSING_PACKAGE = "no-such-package-django-stack"


def _containers(prefix: str) -> list[str]:
    listing = docker("ps", "-a", "--filter", f"name={prefix}", "--format", "{{.Names}}")
    return sorted(listing.split())


def test_an_unknown_system_package_fails_the_build_with_apts_message(docker_engine: str) -> None:
    try:
        with pytest.raises(EngineError) as failed:
            deploy_stack(docker_engine, "e2e-bad-package", systemPackages=[MISSING_PACKAGE])
        assert f"Unable to locate package {MISSING_PACKAGE}" in str(failed.value)
        assert _containers("django-stack-e2e-bad-package-app") == []
    finally:
        remove_everything(docker_engine)


def test_a_failing_release_command_fails_the_release(docker_engine: str) -> None:
    try:
        with pytest.raises(MigrationError) as failed:
            deploy_stack(
                docker_engine, "e2e-bad-release", releaseCommands=["createcachetable", "nosuch"]
            )
        message = str(failed.value)
        assert "migration job django-stack-e2e-bad-release-migrate exited with 1" in message
        assert "Unknown command: 'nosuch'" in message
        # The migrations and the first release command ran first, in order; no replica was
        # started on the failed release.
        assert "Applying guestbook.0001_initial... OK" in message
        assert message.index("django-admin createcachetable") < message.index("nosuch")
        assert _containers("django-stack-e2e-bad-release-app") == []
    finally:
        remove_everything(docker_engine)
