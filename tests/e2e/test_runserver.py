"""End to end: Django's development server for a dev stack, with the code mounted from the host.

It answers through the proxy, serves static files itself, and reloads after a code change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Deployed, deploy_stack
from tests.e2e.engine import docker, remove_everything
from tests.e2e.http import Client
from tests.support.stack_files import PROJECT_DIR, copy_of_the_sample_app

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample app to edit: the repository's own stays as it is."""
    directory = tmp_path_factory.mktemp("runserver") / "app"
    copy_of_the_sample_app(directory)
    # The container's unprivileged user reads the mounted code.
    for path in [directory.parent, *directory.rglob("*"), directory]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    directory.parent.parent.chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def dev(docker_engine: str, code: Path) -> Iterator[Deployed]:
    try:
        yield deploy_stack(
            docker_engine, "e2e-runserver", appServer="runserver", replicas=1, appPath=str(code)
        )
    finally:
        remove_everything(docker_engine)


def test_answers_through_the_proxy(dev: Deployed) -> None:
    response = Client(dev.url).get("/")
    assert response.status == 200 and response.served_by == "app-0"


def test_static_files_come_from_django(dev: Deployed) -> None:
    response = Client(dev.url).get("/static/guestbook/site.css")
    assert response.status == 200
    assert response.body == (PROJECT_DIR / "app/guestbook/static/guestbook/site.css").read_bytes()
    # Django's static handler answered (it logs the request); the proxy's own static block,
    # which adds Cache-Control, is not in its config.
    assert "cache-control" not in response.headers
    assert "GET /static/guestbook/site.css" in docker("logs", dev.container("app-0"))


def test_reloads_after_a_code_change(dev: Deployed, code: Path) -> None:
    client = Client(dev.url)
    assert client.get("/health/").text == "ok"
    views = code / "guestbook" / "views.py"
    views.write_text(views.read_text().replace('HttpResponse("ok"', 'HttpResponse("ok, reloaded"'))
    deadline = time.monotonic() + 60
    body = ""
    while time.monotonic() < deadline:
        try:
            body = client.get("/health/").text
        except OSError:
            body = ""  # the server restarts
        if body == "ok, reloaded":
            break
        time.sleep(1)
    assert body == "ok, reloaded"
