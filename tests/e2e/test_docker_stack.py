"""End to end on a real Docker engine: every server pair, through the proxy's port.

Each pair is deployed on the default base image (Debian 13), and one pair also on Debian 12,
by `pulumi up` under the real Pulumi engine (the project's own docker and random plugins),
checked, and destroyed before the next pair. The first two pairs, Gunicorn + nginx (the dev
stack's) and uWSGI + Apache (staging's), also go through what a user does next, each
asserting on what the engine did: the preview before the first `up`, a second `up` that
changes nothing, a one-line change of the app, replicas 2 -> 3 -> 2, the state's secrets, and
`pulumi destroy`.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pulumi import automation as auto

from components.choices import AppServer, DebianRelease, Proxy
from components.config import parse_stack_config
from components.debian import DEFAULT_RELEASE, release_image
from components.render.django_env import django_environment
from components.server_settings import media_url
from components.server_signals import DATABASE_STOP_SIGNAL, PROXY_SIGNALS, app_stop_signal
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
from tests.e2e.conftest import Deployed
from tests.e2e.docker_engine import (
    deployed_by_engine,
    stack_containers,
    stack_networks,
    stack_volumes,
)
from tests.e2e.engine import docker
from tests.e2e.http import Client
from tests.e2e.media_checks import (
    Uploaded,
    assert_an_upload_is_served_for_every_replica,
    assert_each_replica_writes_what_another_stored,
    assert_the_release_kept_the_uploads,
    leave_the_volume_as_one_uid_did,
    mark_a_release,
    media_volume,
    replica_images,
    upload_two,
    volume_created,
)
from tests.e2e.real_engine import ProgramStack
from tests.support.stack_files import (
    PROJECT_DIR,
    copy_of_the_sample_app,
    shipped_stack_config,
    stack_config,
)

pytestmark = pytest.mark.e2e

SERVERS = [AppServer.GUNICORN, AppServer.UWSGI, AppServer.MOD_WSGI]
# The pairs that also go through the lifecycle tests come first: pytest groups the tests of a
# module-scoped parametrized fixture by the parameter's index, so the lifecycle tests' cases
# must have the same indices in both lists to share one deployment each.
LIFECYCLE_CASES = [
    (AppServer.GUNICORN, Proxy.NGINX, DEFAULT_RELEASE),
    (AppServer.UWSGI, Proxy.APACHE, DEFAULT_RELEASE),
]
# Every pair on the default base (Debian 13), and one on Debian 12.
CASES = [
    *LIFECYCLE_CASES,
    *(
        (a, p, DEFAULT_RELEASE)
        for a, p in itertools.product(SERVERS, Proxy)
        if (a, p, DEFAULT_RELEASE) not in LIFECYCLE_CASES
    ),
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


def _case_ids(cases: list[tuple[AppServer, Proxy, DebianRelease]]) -> list[str]:
    return [_case_id(*c) for c in cases]


EVERY_PAIR = pytest.mark.parametrize("stack", CASES, ids=_case_ids(CASES), indirect=True)
LIFECYCLE = pytest.mark.parametrize(
    "stack", LIFECYCLE_CASES, ids=_case_ids(LIFECYCLE_CASES), indirect=True
)
# One pair per proxy, the dev and staging pairs: the uploaded files' checks
# (tests/e2e/media_checks.py), and the slow and flooding clients, which the proxy alone answers
# (tests/unit/test_proxy_edge.py and test_proxy_limits.py run those for each proxy and upstream
# protocol in the real servers).
ONE_PER_PROXY_CASES = LIFECYCLE_CASES
ONE_PER_PROXY = pytest.mark.parametrize(
    "stack", ONE_PER_PROXY_CASES, ids=_case_ids(ONE_PER_PROXY_CASES), indirect=True
)


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, docker_engine: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    app_server, proxy, release = request.param
    name = f"e2e-{_case_id(app_server, proxy, release)}"
    # The app from a copy of its own, which the app-change test edits.
    app = tmp_path_factory.mktemp(name) / "app"
    copy_of_the_sample_app(app)
    with deployed_by_engine(
        name,
        appPath=str(app),
        appServer=app_server.value,
        proxy=proxy.value,
        replicas=REPLICAS,
        baseImage=release_image(release),
        **PROJECT_NEEDS,
    ) as deployed:
        yield deployed


@pytest.fixture(scope="module")
def uploaded(stack: Deployed) -> Uploaded:
    return upload_two(stack)


def inspect(container: str) -> dict:
    return json.loads(docker("inspect", container))[0]


@EVERY_PAIR
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


@EVERY_PAIR
def test_requests_are_spread_over_every_replica(stack: Deployed) -> None:
    assert_spread_over(stack.url, {f"app-{i}" for i in range(REPLICAS)})


@EVERY_PAIR
def test_static_files_come_from_the_proxy(stack: Deployed) -> None:
    assert_static_from_the_proxy(stack.url)
    for i in range(REPLICAS):
        logs = docker("logs", stack.container(f"app-{i}"))
        assert "site.css" not in logs


@EVERY_PAIR
def test_static_text_is_gzipped(stack: Deployed) -> None:
    assert_static_text_is_gzipped(stack.url)


@EVERY_PAIR
def test_the_edge_answers_for_itself(stack: Deployed) -> None:
    assert_the_edge_answers_for_itself(stack.url)


@ONE_PER_PROXY
def test_slow_clients_do_not_stall_the_rest(stack: Deployed) -> None:
    assert_slow_clients_do_not_stall_the_rest(stack.url)


@EVERY_PAIR
def test_a_write_is_read_back_on_every_replica(stack: Deployed) -> None:
    assert_write_read_back(stack.url, {f"app-{i}" for i in range(REPLICAS)}, tag=stack.name)


@EVERY_PAIR
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


@EVERY_PAIR
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


@EVERY_PAIR
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
    # Each server's own clean stop, which `docker stop` and the provider's delete send.
    stops = {"proxy": PROXY_SIGNALS[stack.proxy].stop, "db": DATABASE_STOP_SIGNAL}
    for role, signal in {"app-0": app_stop_signal(app_server), **stops}.items():
        assert inspect(stack.container(role))["Config"]["StopSignal"] == signal, role
    proxy = stack.container("proxy")
    assert all(uid != 0 for uid, _ in _processes(proxy))
    assert inspect(proxy)["HostConfig"]["ReadonlyRootfs"] is True
    assert inspect(proxy)["HostConfig"]["CapDrop"] == ["ALL"]
    # The proxy's network namespace reuses TIME-WAIT ports for its upstream connections.
    tw_reuse = "/proc/sys/net/ipv4/tcp_tw_reuse"
    assert docker("exec", proxy, "cat", tw_reuse).strip() == "1"
    assert docker("exec", stack.container("app-0"), "cat", tw_reuse).strip() != "1"


@EVERY_PAIR
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


# Before the lifecycle tests: the app change's release, next, is also the uploads' release.
@ONE_PER_PROXY
def test_an_upload_to_one_replica_is_served_for_every_replica(uploaded: Uploaded) -> None:
    assert_an_upload_is_served_for_every_replica(uploaded)


@ONE_PER_PROXY
def test_each_replica_stores_beside_and_replaces_what_another_stored(stack: Deployed) -> None:
    assert_each_replica_writes_what_another_stored(stack)


def _started(name: str) -> dict[str, tuple[str, str]]:
    """Each container of stack `name` -> (its id, when it started)."""
    details = {c: inspect(c) for c in stack_containers(name)}
    return {c: (d["Id"], d["State"]["StartedAt"]) for c, d in details.items()}


def _engine(stack: Deployed) -> ProgramStack:
    assert stack.engine is not None, "deployed by the harness, not the engine"
    return stack.engine


@LIFECYCLE
def test_the_preview_listed_what_up_created(stack: Deployed) -> None:
    created = [t for t in _engine(stack).resource_types() if not t.startswith("pulumi:providers:")]
    assert stack.previewed == {"create": len(created)}


@LIFECYCLE
def test_a_second_up_changes_nothing(stack: Deployed) -> None:
    before = _started(stack.name)
    assert _engine(stack).up_steps(expect_no_changes=True) == {}
    assert _started(stack.name) == before


# What a change of the app code changes: the app image and the proxy's (it holds the static
# files), and every container made from them; not the database, its volume, the networks or
# the generated secrets.
APP_RELEASE = {
    "django-app-image",
    "django-proxy-image",
    "django-app-migrate",
    "django-app-volume-permissions",
    *(f"django-server-replica-{i}" for i in range(REPLICAS)),
    "django-proxy-server",
}
# What a third replica adds and takes away again: itself, and the proxy, whose configuration
# (in its image) lists the replicas.
THIRD_REPLICA = {"django-server-replica-2", "django-proxy-image", "django-proxy-server"}
# The one-line change of the app code: what /health/db/ answers.
OLD_LINE = 'HttpResponse("db ok", content_type="text/plain")'
NEW_LINE = 'HttpResponse("db ok, release two", content_type="text/plain")'


@contextmanager
def _a_release_with_uploads(stack: Deployed, request: pytest.FixtureRequest) -> Iterator[None]:
    """On the pairs with the uploads' checks: the media volume as an older version left it
    (one uid's) and a template change before the release, and every upload kept after it."""
    if request.node.callspec.params["stack"] not in ONE_PER_PROXY_CASES:
        yield
        return
    uploaded: Uploaded = request.getfixturevalue("uploaded")
    created = volume_created(media_volume(stack))
    images = replica_images(stack)
    leave_the_volume_as_one_uid_did(stack)
    mark_a_release(Path(_engine(stack).stack.get_config("django-stack:appPath").value))
    yield
    assert_the_release_kept_the_uploads(uploaded, images_before=images, created=created)


@LIFECYCLE
def test_an_app_change_leaves_the_database_alone(
    stack: Deployed, request: pytest.FixtureRequest
) -> None:
    """A one-line change of the app code, by `pulumi up`; on the dev and staging pairs also
    a release onto a media volume that an older version left owned by one uid."""
    engine = _engine(stack)
    database = stack.container("db")
    db_before = _started(stack.name)[database]
    volume = f"django-stack-{stack.name}-pgdata"
    volume_before = json.loads(docker("volume", "inspect", volume))[0]["CreatedAt"]
    written = f"written-before-the-change-{time.time_ns()}"
    assert Client(stack.url).post_form("/", {"text": written}).status in (200, 302)

    views = Path(engine.stack.get_config("django-stack:appPath").value) / "guestbook" / "views.py"
    code = views.read_text()
    assert code.count(OLD_LINE) == 1
    views.write_text(code.replace(OLD_LINE, NEW_LINE))
    with _a_release_with_uploads(stack, request):
        planned = engine.preview()
        done = engine.up_steps()

    # The preview named what the `up` then did: new images, and the containers made from them
    # replaced (delete-before-replace under their fixed names: issue 12); nothing of the
    # database.
    assert set(planned) == set(done) == APP_RELEASE, done
    assert all("replace" in done[f"django-server-replica-{i}"] for i in range(REPLICAS))
    assert _started(stack.name)[database] == db_before
    assert json.loads(docker("volume", "inspect", volume))[0]["CreatedAt"] == volume_before
    assert stack.psql(f"SELECT count(*) FROM guestbook_entry WHERE text = '{written}'") == "1"
    client = Client(stack.url)
    answers = [client.get("/health/db/") for _ in range(20)]
    assert {(r.status, r.text) for r in answers} == {(200, "db ok, release two")}
    assert {r.served_by for r in answers} == {f"app-{i}" for i in range(REPLICAS)}


@LIFECYCLE
def test_replicas_two_three_two(stack: Deployed) -> None:
    engine = _engine(stack)
    before = _started(stack.name)
    engine.set_config("replicas", "3")
    planned = engine.preview()
    done = engine.up_steps()
    assert planned == done and set(done) == THIRD_REPLICA, done
    assert done["django-server-replica-2"] == {"create"}
    three = _started(stack.name)
    assert_spread_over(stack.url, {f"app-{i}" for i in range(3)})

    engine.set_config("replicas", str(REPLICAS))
    done = engine.up_steps()
    assert set(done) == THIRD_REPLICA and done["django-server-replica-2"] == {"delete"}, done
    after = _started(stack.name)
    assert_spread_over(stack.url, {f"app-{i}" for i in range(REPLICAS)})
    for i in range(REPLICAS):
        replica = stack.container(f"app-{i}")
        assert three[replica] == before[replica] == after[replica]
    assert stack.container("app-2") in three and stack.container("app-2") not in after
    assert (
        three[stack.container("db")]
        == after[stack.container("db")]
        == before[stack.container("db")]
    )


@LIFECYCLE
def test_the_state_holds_the_secrets_only_encrypted(stack: Deployed) -> None:
    env = dict(e.split("=", 1) for e in inspect(stack.container("app-0"))["Config"]["Env"])
    database_password = env["DATABASE_URL"].split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    secrets = {
        "DJANGO_SECRET_KEY": env["DJANGO_SECRET_KEY"],
        "the database password": database_password,
    }
    assert all(len(v) >= 32 for v in secrets.values())
    state = _engine(stack).state_text()
    leaked = [what for what, value in secrets.items() if value in state]
    assert leaked == []


@EVERY_PAIR
def test_failover_when_a_replica_stops(stack: Deployed) -> None:
    docker("stop", stack.container("app-1"))
    client = Client(stack.url)
    responses = [client.get("/") for _ in range(50)]
    assert [r.status for r in responses] == [200] * 50
    assert {r.served_by for r in responses} == {"app-0"}


@ONE_PER_PROXY
def test_a_flood_of_requests_is_refused(stack: Deployed) -> None:
    """Last: the client is refused for a while after it (the check waits that out)."""
    assert_a_flood_of_requests_is_refused(stack.url)


@LIFECYCLE
def test_destroy_leaves_no_container_or_network(stack: Deployed) -> None:
    """Last: `pulumi destroy`; the volumes that the stack's settings retain stay."""
    engine = _engine(stack)
    config = parse_stack_config(
        {k.split(":", 1)[1]: v.value for k, v in engine.stack.get_all_config().items()},
        stack=stack.name,
        project_dir=PROJECT_DIR,
    )
    volumes = stack_volumes(stack.name)
    # A protected database (a production stack's default) makes the destroy's preview refuse
    # (`python -m deploy destroy` runs it first), so nothing is touched, until the stack is
    # told otherwise.
    engine.set_config("database", json.dumps({"protect": True}))
    assert engine.up_steps() == {}
    before = _started(stack.name)
    with pytest.raises(auto.CommandError, match="protected"):
        engine.stack.preview_destroy(on_output=engine.log.append)
    assert _started(stack.name) == before
    engine.set_config("database", json.dumps({"protect": False}))
    engine.up()
    # What the provider's delete does first (a stop with the grace period): PostgreSQL is
    # asked for its fast shutdown and completes it; no kill.
    database = stack.container("db")
    docker("stop", database)
    assert inspect(database)["State"]["ExitCode"] == 0
    logs = subprocess.run(
        ["docker", "logs", "--tail", "40", database], capture_output=True, text=True, check=True
    )
    shutdown = logs.stdout + logs.stderr
    assert "received fast shutdown request" in shutdown, shutdown[-2000:]
    assert "database system is shut down" in shutdown, shutdown[-2000:]
    engine.destroy()
    assert stack_containers(stack.name) == []
    assert stack_networks(stack.name) == []
    assert [t for t in engine.resource_types() if not t.startswith("pulumi:providers:")] == []
    kept = stack_volumes(stack.name)
    print(f"\n[e2e] {stack.name}: volumes {volumes}, kept after destroy {kept}")
    assert (f"django-stack-{stack.name}-pgdata" in kept) is config.database.retain_on_delete
