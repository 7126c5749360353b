"""End to end: Django projects that are not the sample deploy unmodified, on both targets.

Each fixture under tests/fixtures, each on one target, is deployed with only appPath,
wsgiModule and (where it is not beside wsgi.py) settingsModule set, and runs on the shared
PostgreSQL with DEBUG off:

- otherproject (Docker): `startproject` as the tutorial leaves it (hard-coded SQLite, DEBUG =
  True, an insecure key), with a plain requirements.txt;
- splitsettings (VM): cookiecutter-django's layout, config/settings/{base,local,production}.py,
  requirements.txt including requirements/production.txt, which includes base.txt and
  constraints; its settings require DATABASE_URL and DJANGO_SECRET_KEY;
- uvproject (Docker): Django 6 (Python 3.12 or newer: Debian 13, the default base) declared with
  pyproject.toml and uv.lock, Pillow for its images, django.contrib.postgres added by its
  settings when DATABASE_URL names PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.choices import Platform
from components.debian import DEFAULT_RELEASE
from components.render.systemd import APP_UNIT
from tests.e2e.conftest import Deployed, build_overrides, deploy_stack, free_port
from tests.e2e.engine import docker, remove_everything
from tests.e2e.http import Client
from tests.e2e.vm_hosts import VmDeployed, deployed_on_standins
from tests.support.stack_files import PROJECT_DIR

pytestmark = pytest.mark.e2e

FIXTURES = PROJECT_DIR / "tests" / "fixtures"
Target = Deployed | VmDeployed
# Prints what Django ended up with, as JSON, in the app's own environment.
SETTINGS_PROBE = (
    "import json, os, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'debug': s.DEBUG, 'insecure_key': s.SECRET_KEY.startswith("
    "'django-insecure'), 'engine': s.DATABASES['default']['ENGINE'], "
    "'database_url': os.environ.get('DATABASE_URL', '').split('://')[0]}))"
)


@dataclass(frozen=True)
class FixtureProject:
    """A fixture project, how it is deployed, and what its pages show."""

    directory: str
    wsgi_module: str
    settings_module: str | None
    urlconf: str
    """Named by DEBUG's technical 404 page only."""
    rows: str
    """SQL whose values the home page lists."""
    css: str
    """A static file, relative to the project."""
    platforms: tuple[Platform, ...]
    checks: Callable[[Target], None] = field(default=lambda target: None)
    """What this project needs of the stack besides the common checks."""

    def overrides(self) -> dict[str, str]:
        values = {"appPath": f"tests/fixtures/{self.directory}", "wsgiModule": self.wsgi_module}
        if self.settings_module:
            values["settingsModule"] = self.settings_module
        return values


def django_python(target: Target, code: str) -> str:
    """`python -c code` with the app's environment, on the first replica or app host."""
    if isinstance(target, Deployed):
        return docker("exec", target.container("app-0"), "python3", "-c", code)
    # The unit's Environment= lines and its EnvironmentFile, as systemd gives them to it.
    script = (
        "set -a; . /etc/django-stack/django.env; "
        f'eval "export $(systemctl show --property=Environment --value {APP_UNIT})"; '
        'cd /srv/app && exec /opt/venv/bin/python -c "$0"'
    )
    return target.apps[0].run("bash", "-c", script, code)


def splitsettings_checks(target: Target) -> None:
    status = json.loads(Client(target.url).get("/status.json").body)
    # production.py, not local.py (manage.py's default), on the shared PostgreSQL.
    assert status["environment"] == "production" and status["database_vendor"] == "postgresql"
    # requirements/production.txt and what it includes are installed; local.txt is not.
    probe = (
        "import importlib.util as u, json; "
        "print(json.dumps([u.find_spec(m) is not None for m in ('psycopg', 'debug_toolbar')]))"
    )
    assert json.loads(django_python(target, probe)) == [True, False]


def uvproject_checks(target: Target) -> None:
    client = Client(target.url)
    about = json.loads(client.get("/about.json").body)
    assert about["django"].startswith("6.")
    assert tuple(int(n) for n in about["python"].split(".")[:2]) >= (3, 12)
    # Its settings saw DATABASE_URL name PostgreSQL before they were imported.
    assert about["postgres_app"] is True
    # A lookup of django.contrib.postgres (pg_trgm, made by its migration) answers.
    found = client.get("/?q=harbour+at+dawn")
    assert found.status == 200
    assert "Harbor at dawn" in found.text and "Pine forest in snow" not in found.text
    # Pillow draws.
    badge = client.get("/photos/1/badge.png")
    assert badge.status == 200 and badge.headers["content-type"] == "image/png"
    assert badge.body.startswith(b"\x89PNG\r\n\x1a\n")
    # The lock's versions, and not its dev group.
    probe = (
        "import importlib.util as u, json; "
        "print(json.dumps([u.find_spec(m) is not None "
        "for m in ('PIL', 'dj_database_url', 'pytest')]))"
    )
    assert json.loads(django_python(target, probe)) == [True, True, False]


PROJECTS = [
    FixtureProject(
        directory="otherproject",
        wsgi_module="shopfront.wsgi",
        settings_module=None,
        urlconf="shopfront.urls",
        rows="SELECT name FROM catalog_product",
        css="catalog/static/catalog/shop.css",
        platforms=(Platform.DOCKER,),
    ),
    FixtureProject(
        directory="splitsettings",
        wsgi_module="config.wsgi",
        settings_module="config.settings.production",
        urlconf="config.urls",
        rows="SELECT headline FROM newsroom_article",
        css="newsroom/static/newsroom/newsroom.css",
        platforms=(Platform.VM,),
        checks=splitsettings_checks,
    ),
    FixtureProject(
        directory="uvproject",
        wsgi_module="gallery_site.wsgi",
        settings_module=None,
        urlconf="gallery_site.urls",
        rows="SELECT title FROM photos_photo",
        css="photos/static/photos/gallery.css",
        platforms=(Platform.DOCKER,),
        checks=uvproject_checks,
    ),
]
# Each project on one target, both targets in all: the declaration files are read by one
# installer (templates/dependencies/install.sh) on both, and the sample app runs every server
# pair on both (test_docker_stack.py, test_vm_stack.py).
CASES = [(p, platform) for p in PROJECTS for platform in p.platforms]


def _case_id(project: FixtureProject, platform: Platform) -> str:
    return project.directory + ("-vm" if platform is Platform.VM else "")


@dataclass(frozen=True)
class DeployedProject:
    project: FixtureProject
    target: Target


@pytest.fixture(scope="module", params=CASES, ids=[_case_id(*c) for c in CASES])
def other(request: pytest.FixtureRequest, docker_engine: str) -> Iterator[DeployedProject]:
    project, platform = request.param
    name = f"e2e-{_case_id(project, platform)}"
    if platform is Platform.VM:
        with deployed_on_standins(
            run_id=docker_engine,
            name=name,
            release=DEFAULT_RELEASE,
            port=free_port(),
            overrides={**build_overrides(), **project.overrides()},
        ) as deployed:
            yield DeployedProject(project, deployed)
        return
    try:
        yield DeployedProject(
            project, deploy_stack(docker_engine, name, replicas=2, **project.overrides())
        )
    finally:
        remove_everything(docker_engine)


def test_page_reads_the_shared_postgresql(other: DeployedProject) -> None:
    page = Client(other.target.url).get("/")
    assert page.status == 200
    rows = other.target.psql(other.project.rows).splitlines()
    assert rows and all(row in page.text for row in rows)


def test_debug_is_off_and_the_database_is_the_stacks(other: DeployedProject) -> None:
    missing = Client(other.target.url).get("/no-such-page/")
    assert missing.status == 404
    # DEBUG's technical 404 page names the URLconf; the production one does not.
    assert other.project.urlconf not in missing.text
    settings = json.loads(django_python(other.target, SETTINGS_PROBE))
    assert settings == {
        "debug": False,
        "insecure_key": False,
        "engine": "django.db.backends.postgresql",
        "database_url": "postgres",
    }


def test_static_files_come_from_the_proxy(other: DeployedProject) -> None:
    css = Path(FIXTURES / other.project.directory / other.project.css)
    response = Client(other.target.url).get("/static/" + other.project.css.split("/static/")[1])
    assert response.status == 200 and response.body == css.read_bytes()


def test_what_the_project_needs_of_its_own(other: DeployedProject) -> None:
    other.project.checks(other.target)
