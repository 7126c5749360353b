"""End to end on a real Docker engine: every server pair, through the proxy's port.

Each pair is deployed on the default base image (Debian 13), and one pair also on Debian 12, by
running the program with the DockerEngine harness (the program's own images and containers,
for real), checked, and removed before the next pair.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator

import pytest

from components.choices import AppServer, DebianRelease, Proxy
from components.config import parse_stack_config
from components.debian import DEFAULT_RELEASE, release_image
from components.render.django_env import django_environment
from components.server_settings import media_url
from tests.e2e.checks import (
    GUESTBOOK_MIGRATIONS,
    PROJECT_NEEDS,
    RELEASE_ENTRY,
    SYSTEM_PACKAGE,
    assert_a_flood_of_requests_is_refused,
    assert_slow_clients_do_not_stall_the_rest,
    assert_spread_over,
    assert_static_from_the_proxy,
    assert_static_text_is_gzipped,
    assert_the_edge_answers_for_itself,
    assert_write_read_back,
)
from tests.e2e.conftest import Deployed, deploy_stack
from tests.e2e.engine import docker, remove_everything
from tests.e2e.http import Client
from tests.support.stack_files import PROJECT_DIR, shipped_stack_config, stack_config

pytestmark = pytest.mark.e2e

SERVERS = [AppServer.GUNICORN, AppServer.UWSGI, AppServer.MOD_WSGI]
# Every pair on the default base (Debian 13), and one on Debian 12.
CASES = [
    *((a, p, DEFAULT_RELEASE) for a, p in itertools.product(SERVERS, Proxy)),
    (AppServer.GUNICORN, Proxy.NGINX, DebianRelease.BOOKWORM),
]
# How each server's worker processes show in `ps`, and how many besides the workers.
WORKER_MARKER = {
    AppServer.GUNICORN: ("gunicorn", 1),  # one master
    AppServer.UWSGI: ("uwsgi", 1),  # one master
    # Daemon processes rename themselves "(wsgi:django)", cut to the length of "apache2".
    AppServer.MOD_WSGI: ("(wsgi:", 0),
}
REPLICAS = 2
# Each release's own Python: nothing in the templates names it.
PYTHON_VERSION = "import sys; print('%d.%d' % sys.version_info[:2])"
EXPECTED_PYTHON = {DebianRelease.TRIXIE: "3.13", DebianRelease.BOOKWORM: "3.11"}


def _case_id(app_server: AppServer, proxy: Proxy, release: DebianRelease) -> str:
    suffix = "" if release is DEFAULT_RELEASE else f"-{release.value}"
    return f"{app_server.value}-{proxy.value}{suffix}"


@pytest.fixture(scope="module", params=CASES, ids=[_case_id(*c) for c in CASES])
def stack(request: pytest.FixtureRequest, docker_engine: str) -> Iterator[Deployed]:
    app_server, proxy, release = request.param
    name = f"e2e-{_case_id(app_server, proxy, release)}"
    started = time.monotonic()
    try:
        deployed = deploy_stack(
            docker_engine,
            name,
            appServer=app_server.value,
            proxy=proxy.value,
            replicas=REPLICAS,
            baseImage=release_image(release),
            **PROJECT_NEEDS,
        )
        print(f"\n[e2e] deployed {name} in {time.monotonic() - started:.0f}s")
        yield deployed
    finally:
        remove_everything(docker_engine)


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container))[0]


def test_page_renders_data_from_postgresql(stack: Deployed) -> None:
    client = Client(stack.url)
    page = client.get("/")
    assert page.status == 200
    count = int(stack.psql("SELECT count(*) FROM guestbook_entry"))
    data = json.loads(client.get("/entries.json").body)
    assert data["count"] == count
    assert client.get("/health/db/").status == 200
    env = inspect(stack.container("app-0"))["Config"]["Env"]
    assert "DJANGO_DB_ENGINE=postgresql" in env and "DJANGO_DB_HOST=db" in env
    # The app's role owns its database and is no superuser.
    role = "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = 'django'"
    assert stack.psql(role) == "f|f|f"
    assert stack.psql(
        "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'django'"
    ) == ("django")


def test_requests_are_spread_over_every_replica(stack: Deployed) -> None:
    assert_spread_over(stack.url, {f"app-{i}" for i in range(REPLICAS)})


def test_static_files_come_from_the_proxy(stack: Deployed) -> None:
    assert_static_from_the_proxy(stack.url)
    for i in range(REPLICAS):
        logs = docker("logs", stack.container(f"app-{i}"))
        assert "site.css" not in logs


def test_static_text_is_gzipped(stack: Deployed) -> None:
    assert_static_text_is_gzipped(stack.url)


def test_the_edge_answers_for_itself(stack: Deployed) -> None:
    assert_the_edge_answers_for_itself(stack.url)


def test_slow_clients_do_not_stall_the_rest(stack: Deployed) -> None:
    assert_slow_clients_do_not_stall_the_rest(stack.url)


def test_a_write_is_read_back_on_every_replica(stack: Deployed) -> None:
    assert_write_read_back(stack.url, {f"app-{i}" for i in range(REPLICAS)}, tag=stack.name)


def test_migrations_ran_once_before_the_replicas(stack: Deployed) -> None:
    migrate = inspect(stack.container("migrate"))
    assert migrate["State"]["ExitCode"] == 0
    duplicates = stack.psql(
        "SELECT app, name FROM django_migrations GROUP BY 1, 2 HAVING count(*) > 1"
    )
    assert duplicates == ""
    recorded = stack.psql("SELECT count(*) FROM django_migrations WHERE app = 'guestbook'")
    assert recorded == str(GUESTBOOK_MIGRATIONS)
    finished = migrate["State"]["FinishedAt"]
    for i in range(REPLICAS):
        assert inspect(stack.container(f"app-{i}"))["State"]["StartedAt"] > finished


def test_the_release_has_what_the_stack_asked_for(stack: Deployed) -> None:
    """The base's own Python, the system package in every replica, the release command run
    once (after the migrations: it wrote to their table), DATABASE_URL set."""
    (release,) = [c[2] for c in CASES if f"e2e-{_case_id(*c)}" == stack.name]
    version = docker("exec", stack.container("app-0"), "python3", "-c", PYTHON_VERSION).strip()
    assert version == EXPECTED_PYTHON[release]
    for i in range(REPLICAS):
        status = docker("exec", stack.container(f"app-{i}"), "dpkg-query", "-W", SYSTEM_PACKAGE)
        assert status.startswith(SYSTEM_PACKAGE)
    entries = f"SELECT count(*) FROM guestbook_entry WHERE text = '{RELEASE_ENTRY}'"
    assert stack.psql(entries) == "1"
    env = inspect(stack.container("app-0"))["Config"]["Env"]
    (url,) = [e for e in env if e.startswith("DATABASE_URL=")]
    assert url.startswith("DATABASE_URL=postgres://django:") and url.endswith("@db:5432/django")


def _processes(container: str) -> list[tuple[int, str]]:
    """(uid, command line) of every process in the container, via the host's ps."""
    # docker top needs a pid column in what ps prints.
    out = docker("top", container, "-eo", "pid,uid,args").splitlines()[1:]
    rows = [line.split(None, 2) for line in out if line.strip()]
    return [(int(uid), args) for _, uid, args in rows]


def test_inside_the_containers(stack: Deployed) -> None:
    app_server = stack.app_server
    config = parse_stack_config(
        {k.split(":", 1)[1]: v for k, v in stack_config("dev").items()},
        stack="dev",
        project_dir=PROJECT_DIR,
    )
    for i in range(REPLICAS):
        name = stack.container(f"app-{i}")
        processes = _processes(name)
        assert all(uid != 0 for uid, _ in processes), processes
        marker, extra = WORKER_MARKER[app_server]
        # A health check may be running at the moment: it is not a server process.
        server = [c for _, c in processes if marker in c.lower() and "healthcheck.py" not in c]
        assert len(server) == config.workers + extra, processes
        assert inspect(name)["HostConfig"]["ReadonlyRootfs"] is True
        write = docker("exec", name, "sh", "-c", "touch /srv/app/x 2>&1; echo $?", check=False)
        assert write.strip().splitlines()[-1] != "0"
    proxy = stack.container("proxy")
    assert all(uid != 0 for uid, _ in _processes(proxy))
    assert inspect(proxy)["HostConfig"]["ReadonlyRootfs"] is True
    assert inspect(proxy)["HostConfig"]["CapDrop"] == ["ALL"]
    # The proxy's network namespace reuses TIME-WAIT ports for its upstream connections.
    tw_reuse = "/proc/sys/net/ipv4/tcp_tw_reuse"
    assert docker("exec", proxy, "cat", tw_reuse).strip() == "1"
    assert docker("exec", stack.container("app-0"), "cat", tw_reuse).strip() != "1"


def test_check_deploy_with_the_prod_settings(stack: Deployed) -> None:
    prod = parse_stack_config(
        {k.split(":", 1)[1]: v for k, v in shipped_stack_config("prod").items()},
        stack="prod",
        project_dir=PROJECT_DIR,
    )
    env = django_environment(
        allowed_hosts=prod.allowed_hosts,
        http_port=prod.http_port,
        database=prod.database,
        database_host="db",
        debug=prod.debug,
        media_url=media_url(prod),
        max_body_mb=prod.max_body_mb,
    )
    flags = [f"--env={k}={v}" for k, v in env.items()]
    flags.append("--env=DJANGO_SECRET_KEY=" + "x7" * 30)
    image = inspect(stack.container("app-0"))["Config"]["Image"]
    result = docker(
        "run",
        "--rm",
        "--network=none",
        *flags,
        image,
        "django-admin",
        "check",
        "--deploy",
        "--fail-level",
        "ERROR",
    )
    assert "ERROR" not in result


def test_failover_when_a_replica_stops(stack: Deployed) -> None:
    docker("stop", stack.container("app-1"))
    client = Client(stack.url)
    responses = [client.get("/") for _ in range(50)]
    assert [r.status for r in responses] == [200] * 50
    assert {r.served_by for r in responses} == {"app-0"}


def test_a_flood_of_requests_is_refused(stack: Deployed) -> None:
    """Last: the client is refused for a while after it (the check waits that out)."""
    assert_a_flood_of_requests_is_refused(stack.url)
