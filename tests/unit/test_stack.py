"""components/stack.py and its components under Pulumi mocks: the graph for every choice."""

from __future__ import annotations

import itertools
import logging
import os
import re
from pathlib import Path
from typing import Any

import pytest

from components.choices import AppServer, Proxy
from components.config import ConfigError
from components.docker.container_spec import EXEC_RESERVE, Limits
from components.docker.django_app import SQLITE_DIR
from components.docker.volume_permissions import VolumePermissionsError, checked_image
from components.render.media import MEDIA_FILES, MEDIA_MOUNT, UPLOAD_TEMP_DIR
from components.tuning import apache_event_processes, replica_processes
from tests.support.mocks import ProgramRun, is_wire_secret, run_program, unwrap_secrets
from tests.support.prlimit import under_prlimit
from tests.support.stack_files import (
    PROJECT_DIR,
    copy_of_the_sample_app,
    shipped_stack_config,
    stack_config,
    stack_names,
)
from tests.unit.test_vm_stack import plain_outside_secrets

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
IMAGE = "docker:index/image:Image"
PRODUCTION_SERVERS = [a for a in AppServer if a is not AppServer.RUNSERVER]
MATRIX = list(itertools.product(PRODUCTION_SERVERS, Proxy, (1, 3)))


def deploy(stack: str = "dev", *, preview: bool = False, **overrides: Any) -> ProgramRun:
    return run_program(stack_config(stack, overrides), stack=stack, preview=preview)


def containers(run: ProgramRun, role: str) -> list:
    return [
        c
        for c in run.of_type(CONTAINER)
        if {"label": "django-stack.role", "value": role} in c.inputs["labels"]
    ]


@pytest.mark.parametrize("stack", stack_names())
@pytest.mark.parametrize("preview", [False, True], ids=["up", "preview"])
def test_every_stack_file_evaluates(stack: str, preview: bool) -> None:
    run = run_program(shipped_stack_config(stack), stack=stack, preview=preview)
    # An EC2 proxy's address is only known once the instance exists: unknown in a preview.
    if not (preview and run.outputs["platform"] == "vm"):
        # Production stacks serve HTTPS; dev stays on plain HTTP (the README's URL).
        scheme = "http://" if stack == "dev" else "https://"
        assert run.outputs["url"].startswith(scheme), run.outputs["url"]
    if run.outputs["platform"] == "vm":
        replicas = len(run.of_type("django-stack:index:VmAppHost"))
    else:
        replicas = len(containers(run, "app"))
    assert run.outputs["replicas"] == replicas


@pytest.mark.parametrize(
    ("app_server", "proxy", "replicas"),
    MATRIX,
    ids=[f"{a.value}-{p.value}-{n}" for a, p, n in MATRIX],
)
def test_matrix_builds_the_expected_graph(
    app_server: AppServer, proxy: Proxy, replicas: int
) -> None:
    run = deploy(appServer=app_server.value, proxy=proxy.value, replicas=replicas)

    apps = containers(run, "app")
    assert len(apps) == replicas
    marker = {AppServer.MOD_WSGI: "mod_wsgi.conf"}.get(app_server, app_server.value)
    assert all(marker in " ".join(c.inputs["command"]) for c in apps)

    # The proxy's config lists every replica, in the protocol of the app server.
    (proxy_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    rendered = (Path(proxy_image.inputs["build"]["context"]) / "proxy.conf").read_text()
    scheme = "uwsgi://" if (proxy, app_server) == (Proxy.APACHE, AppServer.UWSGI) else ""
    for i in range(replicas):
        assert f"{scheme}app-{i}:8000" in rendered
    assert rendered.count("app-") == replicas
    assert f"app-{replicas}:" not in rendered

    # Only the proxy publishes a port.
    published = [c.name for c in run.of_type(CONTAINER) if c.inputs.get("ports")]
    assert published == ["django-proxy-server"]

    # Migrations run once, after the database is up and before any replica starts.
    (migrate,) = containers(run, "migrate")
    (database,) = containers(run, "database")
    assert database.urn in migrate.dependencies
    assert all(migrate.urn in c.dependencies for c in apps)
    (proxy_container,) = containers(run, "proxy")
    assert all(c.urn in proxy_container.dependencies for c in apps)


def test_children_are_parented_to_their_components() -> None:
    run = deploy()
    (top,) = run.of_type("django-stack:index:DjangoStack")
    for registration in run.registrations:
        if registration is top:
            continue
        parent = run.by_urn(registration.parent)
        assert not parent.custom, f"{registration.name} is parented to a custom resource"
        assert registration.name.startswith(top.name), registration.name
    components = {r.typ for r in run.registrations if not r.custom}
    assert components == {
        "django-stack:index:DjangoStack",
        "django-stack:index:Database",
        "django-stack:index:DjangoApp",
        "django-stack:index:AppServer",
        "django-stack:index:ReverseProxy",
        "django-stack:index:MediaStorage",
    }


@pytest.mark.parametrize("given", [True, False], ids=["configured", "generated"])
def test_secrets_stay_secret_into_the_container_env(given: bool) -> None:
    secrets = {"secretKey": "k" * 50, "databasePassword": "p" * 20} if given else {}
    run = deploy(**secrets)
    for container in containers(run, "app") + containers(run, "migrate"):
        envs = container.inputs["envs"]
        assert is_wire_secret(envs), container.name
        values = unwrap_secrets(envs)
        assert any(v.startswith("DJANGO_SECRET_KEY=") and len(v) > 40 for v in values)
        assert any(v.startswith("DJANGO_DB_PASSWORD=") and len(v) > 19 for v in values)
    (database,) = containers(run, "database")
    assert is_wire_secret(database.inputs["envs"])
    assert any(e.startswith("APP_DB_PASSWORD=") for e in unwrap_secrets(database.inputs["envs"]))


def test_no_secret_is_written_into_a_build_context() -> None:
    run = deploy(secretKey="unique-secret-key-value-0123456789", databasePassword="unique-db-pw-98")
    for image in run.of_type(IMAGE):
        for path in Path(image.inputs["build"]["context"]).rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                assert b"unique-secret-key-value" not in content and b"unique-db-pw" not in content


@pytest.mark.parametrize("role", ["app", "proxy", "database", "migrate"])
def test_only_the_proxy_reuses_time_wait_ports(role: str) -> None:
    for container in containers(deploy(), role):
        sysctls = container.inputs.get("sysctls") or {}
        expected = {"net.ipv4.tcp_tw_reuse": "1"} if role == "proxy" else {}
        assert sysctls == expected


@pytest.mark.parametrize("role", ["app", "proxy", "database", "migrate"])
def test_containers_are_hardened(role: str) -> None:
    for container in containers(deploy(), role):
        inputs = container.inputs
        assert inputs["user"] not in ("", "root", "0", "0:0")
        assert inputs["readOnly"] is True
        assert inputs["capabilities"]["drops"] == ["ALL"]
        assert "no-new-privileges:true" in inputs["securityOpts"]
        assert inputs["memory"] > 0 and inputs["memorySwap"] == inputs["memory"]
        assert float(inputs["cpus"]) > 0
        (nproc,) = [u for u in inputs["ulimits"] if u["name"] == "nproc"]
        assert nproc["soft"] == nproc["hard"]
        if role == "proxy":
            # Apache's threads count as processes: room for all of them, twice over.
            per_child, children = apache_event_processes(replicas=2, workers=3, threads=2)
            assert nproc["soft"] >= 2 * per_child * children
        else:
            assert nproc["soft"] == 512  # the floor: 2 replicas x 3 workers x 2 threads
        assert "/tmp" in inputs["tmpfs"]
        if role == "migrate":
            assert inputs["restart"] == "no" and inputs["attach"] is True
        else:
            assert inputs["restart"] == "unless-stopped"
            assert inputs["healthcheck"]["tests"][0] == "CMD" and inputs["wait"] is True


# Each long-running container's clean stop: the server's own graceful-stop signal, and time to
# finish (the request timeout, 30 s by default, plus 10; PostgreSQL 60 s for its checkpoint).
CLEAN_STOPS = {
    (AppServer.GUNICORN, Proxy.NGINX): {"app": "SIGTERM", "proxy": "SIGQUIT"},
    (AppServer.UWSGI, Proxy.APACHE): {"app": "SIGTERM", "proxy": "SIGWINCH"},
    (AppServer.MOD_WSGI, Proxy.NGINX): {"app": "SIGWINCH", "proxy": "SIGQUIT"},
}


@pytest.mark.parametrize(("app_server", "proxy"), list(CLEAN_STOPS), ids=lambda v: v.value)
def test_servers_stop_cleanly_with_time_to_finish(app_server: AppServer, proxy: Proxy) -> None:
    run = deploy(appServer=app_server.value, proxy=proxy.value, timeoutSeconds=45)
    expected = {**CLEAN_STOPS[(app_server, proxy)], "database": "SIGINT"}
    for role, signal in expected.items():
        grace = 60 if role == "database" else 55
        for container in containers(run, role):
            inputs = container.inputs
            assert inputs["stopSignal"] == signal, (role, container.name)
            # The provider's delete waits destroyGraceSeconds (0 when unset: at once SIGKILL).
            assert inputs["destroyGraceSeconds"] == inputs["stopTimeout"] == grace, role
    # The one-shot migration job runs attached: the provider does not stop it.
    (migrate,) = containers(run, "migrate")
    assert "destroyGraceSeconds" not in migrate.inputs


def test_the_tls_watcher_passes_the_proxys_stop_signal_on() -> None:
    for proxy, name in ((Proxy.NGINX, "QUIT"), (Proxy.APACHE, "WINCH")):
        (front,) = containers(deploy(proxy=proxy.value, tls={"mode": "self-signed"}), "proxy")
        script = front.inputs["command"][2]
        assert f"trap 'kill -{name} \"$server\" 2>/dev/null' {name}" in script
        assert front.inputs["stopSignal"] == f"SIG{name}"


def test_a_production_database_is_protected_and_a_dev_one_is_not() -> None:
    def protected(run: ProgramRun) -> dict[str, bool]:
        return {r.name: r.protect for r in run.registrations if "database" in r.name}

    dev = protected(deploy())
    assert dev and not any(dev.values()), dev
    production = protected(deploy("staging"))
    # The component and everything in it: the server, its volume, the generated password.
    assert {"django-database-server", "django-database-data"} <= set(production)
    assert all(production.values()), production
    unprotected = protected(deploy("staging", database={"protect": False}))
    assert not any(unprotected.values()), unprotected
    # Nothing else of the stack is protected.
    others = [
        r.name for r in deploy("staging").registrations if r.protect and "database" not in r.name
    ]
    assert others == []


def _uid(container: Any) -> int:
    uid, _, _ = container.inputs["user"].partition(":")
    return int(uid)


def test_each_container_runs_as_a_uid_of_its_own() -> None:
    """RLIMIT_NPROC counts a uid's processes host-wide: a container's cap holds only for a uid
    no other container runs as, of another stack or of its own (issue 13, item 8)."""
    dev, other = deploy("dev"), run_program(stack_config("dev", {}), stack="dev-2")
    again = deploy("dev")
    for run in (dev, other):
        apps = containers(run, "app") + containers(run, "migrate")
        (proxy,) = containers(run, "proxy")
        # Each replica and the migration job a uid of its own, all in the group that owns the
        # image's writable dirs (they share the volumes) ...
        assert len(apps) == 3 and len({_uid(c) for c in apps}) == 3
        assert all(c.inputs["user"].endswith(":10001") for c in apps)
        # ... the proxy another uid, and none of them is a uid that anything else runs as.
        assert _uid(proxy) not in {_uid(c) for c in apps} and proxy.inputs["user"].endswith(":33")
        for uid in (_uid(proxy), *(_uid(c) for c in apps)):
            assert 0x70000000 <= uid < 0x70000000 + (1 << 24)
    dev_uids, other_uids = (
        {_uid(c) for r in ("app", "migrate", "proxy") for c in containers(run, r)}
        for run in (dev, other)
    )
    assert len(dev_uids) == 4 and not dev_uids & other_uids
    # The same stack, the same uids: a second `up` changes no container.
    # (By name: the replicas' resources may register in either order.)
    assert {c.name: c.inputs["user"] for c in dev.of_type(CONTAINER)} == {
        c.name: c.inputs["user"] for c in again.of_type(CONTAINER)
    }


@pytest.mark.parametrize("role", ["app", "proxy", "migrate"])
@pytest.mark.parametrize("app_server", PRODUCTION_SERVERS)
def test_servers_leave_room_under_the_cap_for_the_health_check(
    role: str, app_server: AppServer
) -> None:
    """`docker exec` (the health check) counts against the same cap as the server: the server
    starts with a lower one, so it can never take the last slots."""
    for container in containers(deploy(appServer=app_server.value), role):
        (nproc,) = [u for u in container.inputs["ulimits"] if u["name"] == "nproc"]
        own, command = under_prlimit(container.inputs["command"])
        assert own == nproc["hard"] - EXEC_RESERVE
        assert command and command[0] != "prlimit"


def test_a_cap_without_room_for_the_health_check_is_refused() -> None:
    with pytest.raises(ValueError, match="max_processes=64"):
        Limits(memory_mb=256, cpus=1.0, max_processes=64)


def test_replicas_publish_nothing_and_sit_on_the_internal_network() -> None:
    run = deploy(replicas=3)
    (private,) = [
        n for n in run.of_type("docker:index/network:Network") if n.inputs.get("internal")
    ]
    for container in containers(run, "app"):
        assert not container.inputs.get("ports")
        assert [n["name"] for n in container.inputs["networksAdvanced"]] == [private.inputs["name"]]


def test_image_tags_follow_content() -> None:
    first = {i.name: i.inputs["imageName"] for i in deploy().of_type(IMAGE)}
    again = {i.name: i.inputs["imageName"] for i in deploy().of_type(IMAGE)}
    changed = {i.name: i.inputs["imageName"] for i in deploy(workers=7).of_type(IMAGE)}
    assert first == again
    # A new worker count changes the app server config inside the app image, and so the proxy
    # image (which copies the app's static files) too; the database image stays.
    assert changed["django-app-image"] != first["django-app-image"]
    assert changed["django-proxy-image"] != first["django-proxy-image"]
    assert changed["django-database-image"] == first["django-database-image"]


def test_image_tags_follow_the_base_image() -> None:
    """Another base is another image, though no file of the context changed: every tag moves,
    or the containers would keep running what the old tag named."""
    trixie = {
        i.name: i.inputs["imageName"] for i in deploy(baseImage="debian:trixie-slim").of_type(IMAGE)
    }
    bookworm = {
        i.name: i.inputs["imageName"]
        for i in deploy(baseImage="debian:bookworm-slim").of_type(IMAGE)
    }
    assert set(trixie) == set(bookworm)
    for name, tag in trixie.items():
        assert bookworm[name] != tag, name


def test_extra_ca_goes_into_the_build_stage_only(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    run = deploy(extraCaBundle=str(bundle))
    (app_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("app-image")]
    context = Path(app_image.inputs["build"]["context"])
    assert (context / "extra-ca.crt").read_text() == bundle.read_text()
    dockerfile = (context / "Dockerfile").read_text()
    final_stage = dockerfile.split("\nFROM ")[-1]
    assert "extra-ca" in dockerfile.split("\nFROM ")[1]
    assert "extra-ca" not in final_stage and "/etc/ssl" not in final_stage


def test_sqlite_single_replica_shares_a_volume_with_the_migration() -> None:
    run = deploy(replicas=1, database={"kind": "sqlite"})
    assert not containers(run, "database")
    (volume,) = [v for v in run.of_type(VOLUME) if v.name.endswith("-sqlite")]
    for container in containers(run, "app") + containers(run, "migrate"):
        assert container.inputs["volumes"][0]["volumeName"] == volume.inputs["name"]


@pytest.mark.parametrize(
    ("overrides", "mount_points"),
    [
        ({"media": {"kind": "volume"}}, [MEDIA_MOUNT]),
        (
            {"replicas": 1, "database": {"kind": "sqlite"}, "media": {"kind": "volume"}},
            [SQLITE_DIR, MEDIA_MOUNT],
        ),
    ],
    ids=["media", "sqlite-and-media"],
)
def test_a_job_hands_the_app_volumes_to_the_apps_group_before_the_migration(
    overrides: dict[str, Any], mount_points: list[str]
) -> None:
    """Volumes made by an earlier version (one uid for all) must become the group's before
    the replicas, each a uid of its own, write them (components/render/volume_permissions.py)."""
    run = deploy(**overrides)
    (job,) = containers(run, "volume-permissions")
    (migrate,) = containers(run, "migrate")
    inputs = job.inputs
    # Root in the app's group, with the two capabilities chgrp and chmod of others' files
    # need, and otherwise the baseline.
    assert inputs["user"] == "0:10001"
    assert inputs["capabilities"] == {"drops": ["ALL"], "adds": ["CHOWN", "FOWNER"]}
    assert inputs["readOnly"] is True and "no-new-privileges:true" in inputs["securityOpts"]
    assert inputs["attach"] is True and inputs["restart"] == "no"
    assert not inputs.get("ports")
    # The volumes the migration job and the replicas write, at the same places, and the job
    # works on exactly those.
    assert inputs["volumes"] == migrate.inputs["volumes"]
    assert [v["containerPath"] for v in inputs["volumes"]] == mount_points
    assert inputs["command"][:2] == ["sh", "-euc"] and inputs["command"][3:] == [
        "sh",
        *mount_points,
    ]
    # The release's own image: it runs again with every release, before the migration job.
    assert inputs["image"] == migrate.inputs["image"]
    assert migrate.inputs["image"].startswith("django-stack-dev-app:")


def test_without_app_volumes_there_is_no_volume_permissions_job() -> None:
    assert not containers(deploy(media={"kind": "none"}), "volume-permissions")


def test_a_failed_volume_permissions_job_stops_the_release() -> None:
    assert checked_image(job="j", image="img", exit_code=0, logs="") == "img"
    with pytest.raises(VolumePermissionsError, match=r"(?s)j exited with 1.*chmod: changing"):
        checked_image(job="j", image="img", exit_code=1, logs="chmod: changing mode of 'x'")


def test_external_database_creates_no_database_container() -> None:
    run = deploy(database={"kind": "external", "host": "db.internal"}, databasePassword="pw")
    assert not containers(run, "database")
    env = unwrap_secrets(containers(run, "app")[0].inputs["envs"])
    assert "DJANGO_DB_HOST=db.internal" in env
    assert "DJANGO_DB_PASSWORD=pw" in env


def test_remote_engine_gets_its_own_provider() -> None:
    run = deploy(dockerHost="ssh://deploy@docker.example.com")
    (provider,) = run.of_type("pulumi:providers:docker")
    assert provider.inputs["host"] == "ssh://deploy@docker.example.com"


def test_csrf_trusted_origins_carry_the_published_port() -> None:
    env = unwrap_secrets(containers(deploy(httpPort=8123), "app")[0].inputs["envs"])
    (origins,) = [e for e in env if e.startswith("DJANGO_CSRF_TRUSTED_ORIGINS=")]
    assert "http://localhost:8123" in origins and "http://127.0.0.1:8123" in origins
    env80 = unwrap_secrets(containers(deploy(httpPort=80), "app")[0].inputs["envs"])
    assert any(e.startswith("DJANGO_CSRF_TRUSTED_ORIGINS=http://localhost,") for e in env80)


def test_tutorial_defaults_can_be_chosen() -> None:
    """The benchmark's baseline: one sync worker, one nginx worker, no upstream keepalive."""
    run = deploy(workers=1, threads=1, proxyWorkers=1, upstreamKeepalive=False)
    images = {i.name: Path(i.inputs["build"]["context"]) for i in run.of_type(IMAGE)}
    gunicorn = (images["django-app-image"] / "app-server" / "gunicorn.conf.py").read_text()
    assert 'worker_class = "sync"' in gunicorn and "workers = 1\n" in gunicorn
    nginx = (images["django-proxy-image"] / "proxy.conf").read_text()
    assert "worker_processes 1;" in nginx and "keepalive 8" not in nginx
    assert "        keepalive " not in nginx


def test_mod_wsgi_replicas_run_apache_in_daemon_mode() -> None:
    run = deploy(appServer="mod_wsgi", proxy="nginx", workers=4, threads=3)
    (app_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("app-image")]
    assert "libapache2-mod-wsgi-py3" in app_image.inputs["build"]["args"]["SERVER_PACKAGES"]
    conf = (Path(app_image.inputs["build"]["context"]) / "app-server" / "mod_wsgi.conf").read_text()
    assert "WSGIDaemonProcess django processes=4 threads=3" in conf
    assert "WSGIScriptAlias / /srv/app/config/wsgi.py" in conf
    # nginx talks HTTP to Apache replicas.
    (proxy_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    assert (
        "proxy_pass http://django_app"
        in (Path(proxy_image.inputs["build"]["context"]) / "proxy.conf").read_text()
    )


def test_mod_wsgi_replicas_may_run_every_apache_thread_of_their_own() -> None:
    """RLIMIT_NPROC counts the uid's processes host-wide; each replica is a uid of its own, so
    the cap covers one replica's threads, twice over, and no more."""
    run = deploy(appServer="mod_wsgi", proxy="nginx", replicas=6, workers=4, threads=3)
    (app_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("app-image")]
    conf = (Path(app_image.inputs["build"]["context"]) / "app-server" / "mod_wsgi.conf").read_text()
    (front_threads,) = {int(n) for n in re.findall(r"^ThreadsPerChild (\d+)$", conf, re.M)}
    per_replica = replica_processes(app_server=AppServer.MOD_WSGI, workers=4, threads=3)
    assert per_replica >= front_threads + 4 * 3
    for role in ("app", "migrate"):
        for container in containers(run, role):
            (nproc,) = [u for u in container.inputs["ulimits"] if u["name"] == "nproc"]
            assert nproc["soft"] == max(512, 2 * per_replica)


def test_runserver_mounts_the_code_and_django_serves_static() -> None:
    run = deploy(appServer="runserver", replicas=1)
    (replica,) = containers(run, "app")
    assert "runserver" in replica.inputs["command"]
    mounts = [v for v in replica.inputs["volumes"] if v.get("hostPath")]
    assert mounts == [
        {"hostPath": str(PROJECT_DIR / "app"), "containerPath": "/srv/app", "readOnly": True}
    ]
    (proxy_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    conf = (Path(proxy_image.inputs["build"]["context"]) / "proxy.conf").read_text()
    assert "location /static/" not in conf and "alias /srv/static" not in conf


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"replicas": 2}, "'runserver' with replicas 2"),
        ({"replicas": 1, "production": True}, "production is true"),
        ({"replicas": 1, "dockerHost": "ssh://x@y"}, "needs the local Docker engine"),
    ],
)
def test_runserver_is_refused_outside_a_single_replica_dev_stack(
    overrides: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        deploy(appServer="runserver", **overrides)
    assert expected in str(error.value)


def test_proxy_gets_two_cpus_and_one_nginx_worker_each() -> None:
    """docs/benchmarks.md: at one CPU the proxy was throttled serving static files."""
    run = deploy()
    (proxy,) = containers(run, "proxy")
    assert proxy.inputs["cpus"] == "2.0"
    (proxy_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    conf = (Path(proxy_image.inputs["build"]["context"]) / "proxy.conf").read_text()
    assert "worker_processes 2;" in conf
    (apache,) = [i for i in deploy(proxy="apache").of_type(IMAGE) if i.name.endswith("proxy-image")]
    httpd = (Path(apache.inputs["build"]["context"]) / "proxy.conf").read_text()
    assert "EnableSendfile On" in httpd and "env=!static_file" in httpd


def proxy_conf(run: ProgramRun) -> str:
    (proxy_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    return (Path(proxy_image.inputs["build"]["context"]) / "proxy.conf").read_text()


def media_volume(run: ProgramRun) -> Any:
    (volume,) = [v for v in run.of_type(VOLUME) if v.name.endswith("-media-volume")]
    return volume


def media_mounts(container: Any) -> list[dict[str, Any]]:
    return [v for v in container.inputs.get("volumes") or [] if v["containerPath"] == MEDIA_MOUNT]


@pytest.mark.parametrize("proxy", list(Proxy))
def test_one_media_volume_rw_in_every_replica_and_ro_in_the_proxy(proxy: Proxy) -> None:
    run = deploy("staging", proxy=proxy.value, replicas=3)
    volume = media_volume(run)
    assert volume.inputs["name"] == "django-stack-staging-media"
    assert run.by_urn(volume.parent).typ == "django-stack:index:MediaStorage"
    writers = containers(run, "app") + containers(run, "migrate")
    assert len(writers) == 4
    for container in writers:
        assert media_mounts(container) == [
            {"volumeName": "django-stack-staging-media", "containerPath": MEDIA_MOUNT}
        ], container.name
        env = unwrap_secrets(container.inputs["envs"])
        assert f"DJANGO_MEDIA_ROOT={MEDIA_FILES}" in env
        assert "DJANGO_MEDIA_URL=/media/" in env
        # Spooled uploads go to the volume, not to the 64 MB /tmp tmpfs.
        assert f"DJANGO_FILE_UPLOAD_TEMP_DIR={UPLOAD_TEMP_DIR}" in env
        assert UPLOAD_TEMP_DIR.startswith(MEDIA_MOUNT + "/")
    (front,) = containers(run, "proxy")
    assert media_mounts(front) == [
        {"volumeName": "django-stack-staging-media", "containerPath": MEDIA_MOUNT, "readOnly": True}
    ]
    assert not containers(run, "database")[0].inputs["volumes"][0]["volumeName"].endswith("media")
    # The proxy serves what the replicas store, under the URL Django builds.
    assert f"{MEDIA_FILES}/" in proxy_conf(run)


def test_the_media_volume_survives_releases_and_destroy(tmp_path: Path) -> None:
    changed = tmp_path / "app"
    copy_of_the_sample_app(changed)
    with (changed / "guestbook" / "views.py").open("a") as views:
        views.write("\n# a release\n")
    first, release = deploy(), deploy(appPath=str(changed))
    images = [{i.name: i.inputs["imageName"] for i in r.of_type(IMAGE)} for r in (first, release)]
    assert images[0]["django-app-image"] != images[1]["django-app-image"]
    # Same volume, same mounts: nothing about it changes with the code.
    volumes = [
        sorted((v.name, v.inputs["name"]) for v in r.of_type(VOLUME)) for r in (first, release)
    ]
    assert volumes[0] == volumes[1]
    for role in ("app", "migrate", "proxy"):
        before = [media_mounts(c) for c in containers(first, role)]
        assert before == [media_mounts(c) for c in containers(release, role)] != []
    # `pulumi destroy` leaves it (and its files) on the engine unless told otherwise.
    assert media_volume(first).retain_on_delete is True
    given_up = deploy(media={"kind": "volume", "retainOnDelete": False})
    assert media_volume(given_up).retain_on_delete is False


def test_without_media_there_is_no_volume_and_production_is_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        run = deploy("staging", media={"kind": "none"})
    # The database's, and the proxy's TLS volume (staging has TLS on).
    assert [v.name for v in run.of_type(VOLUME)] == [
        "django-database-data",
        "django-proxy-certificate-volume",
    ]
    for role in ("app", "migrate", "proxy"):
        assert all(media_mounts(c) == [] for c in containers(run, role))
    env = unwrap_secrets(containers(run, "app")[0].inputs["envs"])
    assert not any(e.startswith(("DJANGO_MEDIA_", "DJANGO_FILE_UPLOAD_TEMP")) for e in env)
    assert MEDIA_FILES not in proxy_conf(run)
    assert "media.kind is 'none' on a production stack" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        deploy("staging")
    assert "media.kind" not in caplog.text


def test_upload_limits_line_up_with_the_proxys_body_limit() -> None:
    run = deploy(maxBodyMb=40)
    assert "client_max_body_size 40m;" in proxy_conf(run)
    env = unwrap_secrets(containers(run, "app")[0].inputs["envs"])
    assert f"DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE={40 * 1024 * 1024}" in env
    assert "DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE=2621440" in env
    apache = proxy_conf(deploy(proxy="apache", maxBodyMb=40))
    assert f"LimitRequestBody {40 * 1024 * 1024}" in apache


def test_the_app_image_makes_the_media_folders_for_a_new_volume() -> None:
    """Docker copies a mount point's folders and owner into a new volume: the image's decide."""
    (app_image,) = [i for i in deploy().of_type(IMAGE) if i.name.endswith("app-image")]
    final_stage = (Path(app_image.inputs["build"]["context"]) / "Dockerfile").read_text()
    final_stage = final_stage.split("\nFROM ")[-1]
    # Owned by the group every stack's app uid runs in (components/docker/identity.py),
    # group-writable and setgid; the media files readable by the proxy's uid too.
    assert f"install -d -o root -g 10001 -m 2775 {MEDIA_MOUNT} {MEDIA_FILES}" in final_stage
    assert f"install -d -o root -g 10001 -m 2770 {SQLITE_DIR} {UPLOAD_TEMP_DIR}" in final_stage
    # The SQLite database: the migration job and the replica are two uids of that group, and
    # SQLite would make a new file writable by its maker alone.
    (sqlite,) = [c for c in containers(deploy(database={"kind": "sqlite"}, replicas=1), "app")]
    database = next(e for e in unwrap_secrets(sqlite.inputs["envs"]) if "DB_NAME=" in e)
    assert database == f"DJANGO_DB_NAME={SQLITE_DIR}/db.sqlite3"
    assert f"install -o root -g 10001 -m 0660 /dev/null {SQLITE_DIR}/db.sqlite3" in final_stage


def test_dependencies_install_from_their_declaration_before_the_code_arrives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        run = deploy()
    (app_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("app-image")]
    context = Path(app_image.inputs["build"]["context"])
    assert (context / "dependencies" / "format").read_text() == "requirements\n"
    assert (context / "dependencies" / "project" / "requirements.txt").read_bytes() == (
        PROJECT_DIR / "app" / "requirements.txt"
    ).read_bytes()
    assert os.access(context / "dependencies" / "install.sh", os.X_OK)
    dockerfile = (context / "Dockerfile").read_text()
    build_stage, final_stage = dockerfile.split("\nFROM ")[1:]
    install = "RUN cd /tmp/dependencies/project && ../install.sh /opt/venv"
    # In the build stage, after the server's requirements, from the declaration files only.
    assert install in build_stage and "COPY dependencies/ /tmp/dependencies/" in build_stage
    assert build_stage.index("server-requirements") < build_stage.index(install)
    instructions = [line for line in build_stage.splitlines() if not line.startswith("#")]
    assert "project" not in "\n".join(instructions).replace("dependencies/project", "")
    # The code comes last, in the final stage.
    assert "source=project" in final_stage
    # The deployment says which declaration it installs.
    assert "the project's dependencies: requirements.txt, installed with pip" in caplog.text


def test_a_code_change_leaves_the_dependency_files_alone(tmp_path: Path) -> None:
    """The dependency layer's inputs are the declaration files: a new view changes the image
    tag (a new release) but not one byte of what the install step sees."""
    app = tmp_path / "app"
    copy_of_the_sample_app(app)

    def contexts() -> tuple[str, dict[str, bytes]]:
        run = deploy(appPath=str(app))
        (image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("app-image")]
        root = Path(image.inputs["build"]["context"])
        files = {
            p.relative_to(root).as_posix(): p.read_bytes()
            for p in (root / "dependencies").rglob("*")
            if p.is_file()
        }
        return image.inputs["imageName"], files

    before = contexts()
    (app / "guestbook" / "views.py").write_text(
        (app / "guestbook" / "views.py").read_text() + "\n# a change\n"
    )
    after = contexts()
    assert after[0] != before[0]
    assert "dependencies/project/requirements.txt" in after[1]
    assert after[1] == before[1]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "DATABASE_URL=postgres://django:" + "r" * 32 + "@db:5432/django"),
        (
            {
                "database": {"kind": "external", "host": "db.internal", "port": 6432},
                "databasePassword": "p@ss/word-0042",
            },
            "DATABASE_URL=postgres://django:p%40ss%2Fword-0042@db.internal:6432/django",
        ),
        (
            {"replicas": 1, "database": {"kind": "sqlite"}},
            "DATABASE_URL=sqlite:////var/lib/django-stack/db.sqlite3",
        ),
    ],
    ids=["postgres", "external", "sqlite"],
)
def test_database_url_reaches_every_django_process_as_a_secret(
    overrides: dict[str, Any], expected: str
) -> None:
    run = deploy(**overrides)
    for container in containers(run, "app") + containers(run, "migrate"):
        envs = container.inputs["envs"]
        assert is_wire_secret(envs), container.name
        assert expected in unwrap_secrets(envs), container.name
    # Nowhere outside a secret: not in another input, not in an output (but the generated
    # password's own, which the provider marks secret and these mocks cannot).
    password = expected.partition(":")[2].partition("@")[0].rpartition(":")[2]
    if password:
        for registration in run.registrations:
            own = registration.typ == "random:index/randomPassword:RandomPassword"
            for value in (registration.inputs, {} if own else registration.outputs):
                assert password not in plain_outside_secrets(value), registration.name


def test_system_packages_go_into_both_stages_of_the_app_image() -> None:
    plain = deploy()
    run = deploy(systemPackages=["libjpeg62-turbo", "libpq-dev"])
    (app_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("app-image")]
    assert app_image.inputs["build"]["args"]["SYSTEM_PACKAGES"] == "libjpeg62-turbo libpq-dev"
    dockerfile = (Path(app_image.inputs["build"]["context"]) / "Dockerfile").read_text()
    for stage in dockerfile.split("\nFROM ")[1:]:
        assert 'ARG SYSTEM_PACKAGES=""' in stage
        install = stage[stage.index("RUN apt-get update") :]
        assert "${SYSTEM_PACKAGES}" in install[: install.index("rm -rf /var/lib/apt/lists")]
    # Other packages are another image: every container of the app moves to it.
    (before,) = [i for i in plain.of_type(IMAGE) if i.name.endswith("app-image")]
    assert before.inputs["imageName"] != app_image.inputs["imageName"]


def test_release_commands_run_in_the_migration_job_after_migrate() -> None:
    run = deploy(releaseCommands=["createcachetable", "loaddata 'seed data.json'"])
    (migrate,) = containers(run, "migrate")
    assert under_prlimit(migrate.inputs["command"])[1] == [
        "sh",
        "-exc",
        "django-admin migrate --noinput\n"
        "django-admin createcachetable\n"
        "django-admin loaddata 'seed data.json'",
    ]
    # Still the one job before every replica, failing the deployment when it fails.
    assert migrate.inputs["attach"] is True and migrate.inputs["restart"] == "no"
    assert all(migrate.urn in c.dependencies for c in containers(run, "app"))


def test_replicas_accept_every_body_the_proxy_passes() -> None:
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE is the proxy's body limit (maxBodyMb, in MiB)."""
    for given, expected in ((None, 10 * 1024 * 1024), (25, 25 * 1024 * 1024)):
        run = deploy() if given is None else deploy(maxBodyMb=given)
        env = unwrap_secrets(containers(run, "app")[0].inputs["envs"])
        assert f"DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE={expected}" in env


@pytest.mark.parametrize("proxy", list(Proxy))
def test_the_proxy_and_django_share_the_hosts_and_the_body_limit(proxy: Proxy) -> None:
    """allowedHosts and maxBodyMb reach both: the proxy answers the rest itself."""
    hosts = ["www.example.com", ".example.org"]
    run = deploy(proxy=proxy.value, allowedHosts=hosts, maxBodyMb=25)
    (proxy_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    conf = (Path(proxy_image.inputs["build"]["context"]) / "proxy.conf").read_text()
    if proxy is Proxy.NGINX:
        assert "server_name www.example.com .example.org;" in conf
        assert "client_max_body_size 25m;" in conf and "return 421;" in conf
    else:
        assert "ServerName www.example.com" in conf
        assert "ServerAlias example.org *.example.org" in conf
        assert f"LimitRequestBody {25 * 1024 * 1024}" in conf and 'Redirect 421 "/"' in conf
    env = unwrap_secrets(containers(run, "app")[0].inputs["envs"])
    assert "DJANGO_ALLOWED_HOSTS=www.example.com,.example.org" in env


def test_the_app_connects_as_a_plain_role_and_no_superuser_password_exists() -> None:
    """The database container is told the app role's name, database and password only; the
    replicas and the migration job connect as that role, and the image's entrypoint makes it
    a plain one, leaving the superuser without a password (tests/unit/
    test_postgres_entrypoint.py runs that entrypoint)."""
    run = deploy(databasePassword="app-role-password-42", database={"user": "shop", "name": "s"})
    (database,) = containers(run, "database")
    db_env = dict(e.split("=", 1) for e in unwrap_secrets(database.inputs["envs"]))
    assert db_env == {
        "APP_DB_USER": "shop",
        "APP_DB_NAME": "s",
        "APP_DB_PASSWORD": "app-role-password-42",
    }
    for container in containers(run, "app") + containers(run, "migrate"):
        env = dict(e.split("=", 1) for e in unwrap_secrets(container.inputs["envs"]))
        assert (env["DJANGO_DB_USER"], env["DJANGO_DB_PASSWORD"]) == (
            "shop",
            "app-role-password-42",
        ), container.name
        assert env["DATABASE_URL"].startswith("postgres://shop:app-role-password-42@")
        assert not [k for k in env if k.startswith(("POSTGRES", "APP_DB_", "PG"))], container.name
    (image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("database-image")]
    entrypoint = (Path(image.inputs["build"]["context"]) / "postgres-entrypoint.sh").read_text()
    assert "NOSUPERUSER NOCREATEDB NOCREATEROLE" in entrypoint
    assert "initdb --username=postgres" in entrypoint and "--pwfile" not in entrypoint


@pytest.mark.parametrize("proxy", list(Proxy))
def test_rate_limits_reach_the_proxy_and_apache_gets_mod_qos(proxy: Proxy) -> None:
    run = deploy(proxy=proxy.value, rateLimit={"requestsPerSecond": 7, "connectionsPerClient": 9})
    (proxy_image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    context = Path(proxy_image.inputs["build"]["context"])
    conf = (context / "proxy.conf").read_text()
    if proxy is Proxy.NGINX:
        assert "rate=7r/s" in conf and "limit_conn django_stack_connections 9;" in conf
        assert not (context / "install-mod-qos.sh").exists()
    else:
        assert "QS_SrvMaxConnPerIP 9" in conf and "QS_ClientEventLimitCount 170 10" in conf
        # The image installs mod_qos with the script the VM hosts run too.
        dockerfile = (context / "Dockerfile").read_text()
        assert "sh /tmp/install-mod-qos.sh" in dockerfile
        assert "libapache2-mod-qos" in (context / "install-mod-qos.sh").read_text()
