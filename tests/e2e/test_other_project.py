"""End to end: a Django project that is not the sample deploys unmodified.

tests/fixtures/otherproject hard-codes SQLite, DEBUG = True and an insecure key; only appPath
and wsgiModule are set, and it runs on the shared PostgreSQL with DEBUG off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Deployed, deploy_stack
from tests.e2e.engine import docker, remove_everything
from tests.e2e.http import Client
from tests.support.stack_files import PROJECT_DIR

pytestmark = pytest.mark.e2e

FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "otherproject"


@pytest.fixture(scope="module")
def other(docker_engine: str) -> Iterator[Deployed]:
    try:
        yield deploy_stack(
            docker_engine,
            "e2e-other",
            appPath="tests/fixtures/otherproject",
            wsgiModule="shopfront.wsgi",
            replicas=2,
        )
    finally:
        remove_everything(docker_engine)


def test_page_reads_the_shared_postgresql(other: Deployed) -> None:
    page = Client(other.url).get("/")
    assert page.status == 200
    rows = other.psql("SELECT name FROM catalog_product").split()
    assert rows and all(name in page.text for name in rows)


def test_debug_is_off_and_the_insecure_key_is_replaced(other: Deployed) -> None:
    missing = Client(other.url).get("/no-such-page/")
    assert missing.status == 404
    # DEBUG's technical 404 page names the URLconf; the production one does not.
    assert "shopfront.urls" not in missing.text
    settings = docker(
        "exec",
        other.container("app-0"),
        "python3",
        "-c",
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.SECRET_KEY.startswith('django-insecure'), "
        "s.DATABASES['default']['ENGINE']]))",
    )
    assert json.loads(settings) == [False, False, "django.db.backends.postgresql"]


def test_static_files_come_from_the_proxy(other: Deployed) -> None:
    css = FIXTURE / "catalog" / "static" / "catalog" / "shop.css"
    response = Client(other.url).get("/static/catalog/shop.css")
    assert response.status == 200 and response.body == css.read_bytes()
