"""components/vm/ under Pulumi mocks: the VM target's graph for both host sources.

Every case of tests/unit/cases/vm_stacks.json is deployed (given hosts and EC2), and checked
for the order of the remote steps, the proxy's upstreams, the firewall and the secrets.
"""

from __future__ import annotations

import base64
import io
import json
import shlex
import subprocess
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from components.choices import Proxy
from components.render.proxy_config import UPSTREAM_MEMBERS_FILE, config_file_name
from components.render.systemd import APP_UNIT, MIGRATE_UNIT, PROXY_UNIT, UNIT_DIR
from components.render.vm_scripts import digest
from tests.support.mocks import (
    AMI_ID,
    SECRET_SIG,
    FakeCloud,
    ProgramRun,
    Registration,
    is_wire_secret,
    run_program,
    unwrap_secrets,
)
from tests.support.stack_files import stack_config

CASES = json.loads((Path(__file__).parent / "cases" / "vm_stacks.json").read_text())
COMMAND = "command:remote:Command"
SG = "aws:ec2/securityGroup:SecurityGroup"
INSTANCE = "aws:ec2/instance:Instance"
# A syntactically plausible key whose body is unique enough to search the wire for.
KEY_BODY = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQUNIQUE"
PRIVATE_KEY = (
    f"-----BEGIN OPENSSH PRIVATE KEY-----\n{KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n"
)
SECRET_KEY = "unique-django-secret-key-value-0123456789-abcdefghijklmnop"


def deploy(
    case: dict[str, Any], *, preview: bool = False, mocks: FakeCloud | None = None, **extra: Any
) -> ProgramRun:
    overrides = {
        "platform": "vm",
        "sshPrivateKey": PRIVATE_KEY,
        "secretKey": SECRET_KEY,
        **case["overrides"],
        **extra,
    }
    return run_program(stack_config("dev", overrides), stack="dev", preview=preview, mocks=mocks)


def by_id(case_id: str) -> dict[str, Any]:
    (case,) = [c for c in CASES if c["id"] == case_id]
    return case


def commands(run: ProgramRun) -> dict[str, Registration]:
    return {c.name: c for c in run.of_type(COMMAND)}


def waits_for(steps: dict[str, Registration], later: str, earlier: str) -> bool:
    """Whether step `later` runs only after step `earlier`, directly or through other steps."""
    by_urn = {c.urn: c for c in steps.values()}
    seen: set[str] = set()
    todo = list(steps[later].dependencies)
    while todo:
        urn = todo.pop()
        if urn == steps[earlier].urn:
            return True
        if urn not in seen and urn in by_urn:
            seen.add(urn)
            todo.extend(by_urn[urn].dependencies)
    return False


def command_texts(command: Registration) -> str:
    """What a step runs: its create command, and its delete command (`pulumi destroy`)."""
    return "\n".join(
        unwrap_secrets(command.inputs[k]) for k in ("create", "delete") if k in command.inputs
    )


def unpack(stdin: str) -> dict[str, str]:
    """The files of a base64 tar.gz bundle sent on a command's stdin."""
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(stdin)), mode="r:gz") as tar:
        return {
            m.name: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


def plain_outside_secrets(value: Any) -> str:
    """Every wire value that is not inside a secret wrapper, as one text."""
    if is_wire_secret(value):
        return ""
    if isinstance(value, dict):
        return " ".join(plain_outside_secrets(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(plain_outside_secrets(v) for v in value)
    return str(value)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_remote_steps_run_in_order(case: dict[str, Any]) -> None:
    run = deploy(case)
    steps = commands(run)
    n = case["app_hosts"]
    assert run.outputs["platform"] == "vm" and run.outputs["replicas"] == n
    for i in range(n):
        for step in ("base", "release", "settings", "service"):
            assert f"django-app-{i}-{step}" in steps
    # Migrations once, from the first app host, after its release and settings (and the
    # database), before any app server (re)loads.
    migrations = [name for name in steps if name.endswith("-migrate")]
    assert migrations == ["django-app-0-migrate"]
    migrate = steps["django-app-0-migrate"]
    assert {steps["django-app-0-release"].urn, steps["django-app-0-settings"].urn} <= set(
        migrate.dependencies
    )
    if case["database_host"]:
        assert steps["django-database-postgres"].urn in migrate.dependencies
    else:
        assert "django-database-postgres" not in steps
    for i in range(n):
        assert waits_for(steps, f"django-app-{i}-service", "django-app-0-migrate")
    # The proxy collects static files and (re)loads after every app server is up.
    proxy = steps["django-proxy-service"]
    assert steps["django-proxy-static"].urn in proxy.dependencies
    assert all(
        waits_for(steps, "django-proxy-service", f"django-app-{i}-service") for i in range(n)
    )
    # Every child hangs off a component of the VM target.
    components = {r.typ for r in run.registrations if not r.custom}
    assert {
        "django-stack:index:VmStack",
        "django-stack:index:VmHosts",
        "django-stack:index:VmAppHost",
        "django-stack:index:VmProxyHost",
    } <= components
    assert not run.of_type("docker:index/container:Container")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_proxy_upstream_lists_every_app_host(case: dict[str, Any]) -> None:
    run = deploy(case)
    proxy = Proxy(case["overrides"]["proxy"])
    files = unpack(unwrap_secrets(commands(run)["django-proxy-service"].inputs["stdin"]))
    conf = files[f"etc/django-stack/{config_file_name(proxy)}"]
    # The members come from a file of their own in the same bundle (rewritten by a release).
    assert UPSTREAM_MEMBERS_FILE in conf
    members = files[UPSTREAM_MEMBERS_FILE.lstrip("/")]
    expected = case["upstreams"]
    if expected is None:  # EC2: the instances' private addresses
        apps = [i for i in run.of_type(INSTANCE) if "-app-" in i.name]
        expected = [f"{a.outputs['privateIp']}:8000" for a in apps]
    assert len(expected) == case["app_hosts"]
    for upstream in expected:
        assert upstream in members
    marker = "        server " if proxy is Proxy.NGINX else "    BalancerMember "
    assert members.count(marker) == case["app_hosts"]
    assert " down;" not in members and "status=+D" not in members
    # The same renderer as Docker, told to listen on the stack's port.
    assert f"listen {case['overrides'].get('httpPort', 8000)}" in conf.lower()
    assert "etc/systemd/system/django-stack-proxy.service" in files
    # Under systemd stdout is the journal's socket, which nginx/Apache cannot reopen by name.
    assert "/dev/stdout" not in conf and "/proc/self/fd" not in conf


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_secrets_stay_secret(case: dict[str, Any]) -> None:
    run = deploy(case)
    db_password = case["overrides"].get("databasePassword", "r" * 32)
    for registration in run.registrations:
        visible = plain_outside_secrets(registration.inputs)
        assert KEY_BODY not in visible, registration.name
        assert SECRET_KEY not in visible, registration.name
        assert db_password not in visible, registration.name
    for name, command in commands(run).items():
        connection = command.inputs["connection"]
        assert is_wire_secret(connection) or is_wire_secret(connection["privateKey"]), name
        # The command text never carries data: that goes on stdin.
        assert "DJANGO_SECRET_KEY" not in command_texts(command)
        assert "environment" not in command.inputs, name
    steps = commands(run)
    for i in range(case["app_hosts"]):
        settings = steps[f"django-app-{i}-settings"].inputs["stdin"]
        assert is_wire_secret(settings)
        assert f'DJANGO_SECRET_KEY="{SECRET_KEY}"' in unwrap_secrets(settings)
        assert f'DJANGO_DB_PASSWORD="{db_password}"' in unwrap_secrets(settings)
        # The platforms' variable, beside the overlay's, in the same secret file.
        host = case["overrides"].get("database", {}).get("host")
        if host is None:
            host = case["overrides"]["vm"].get("databaseHost")
        if host is None:  # EC2: the database instance's private address
            (db,) = [i for i in run.of_type(INSTANCE) if i.name.endswith("-database")]
            host = db.outputs["privateIp"]
        url = f'DATABASE_URL="postgres://django:{quote(db_password, safe="")}@{host}:5432/django"'
        assert url in unwrap_secrets(settings)
    if case["database_host"]:
        assert is_wire_secret(steps["django-database-postgres"].inputs["stdin"])
    # A secret never reaches a command's visible text through a trigger either.
    assert SECRET_SIG not in json.dumps(steps["django-app-0-release"].inputs["triggers"])


@pytest.mark.parametrize("case_id", ["aws-gunicorn-nginx", "aws-mod_wsgi-apache"])
def test_aws_firewall_opens_only_http_to_the_world(case_id: str) -> None:
    case = by_id(case_id)
    cidr = case["overrides"]["vm"]["sshAllowedCidr"]
    run = deploy(case)
    groups = {g.name.removeprefix("django-hosts-"): g for g in run.of_type(SG)}
    assert set(groups) == {"proxy-sg", "app-sg", "database-sg"}
    proxy_rules = groups["proxy-sg"].inputs["ingress"]
    world = sorted(r["fromPort"] for r in proxy_rules if "0.0.0.0/0" in r.get("cidrBlocks", []))
    assert world == [80, 443]
    (ssh,) = [r for r in proxy_rules if r["fromPort"] == 22]
    assert ssh["cidrBlocks"] == [cidr] and not ssh.get("ipv6CidrBlocks")
    proxy_sg_id = groups["proxy-sg"].outputs.get("id") or "django-hosts-proxy-sg-id"
    app_sg_id = "django-hosts-app-sg-id"
    for rule in groups["app-sg"].inputs["ingress"]:
        assert not rule.get("cidrBlocks") and rule["securityGroups"] == [proxy_sg_id]
    assert sorted(r["fromPort"] for r in groups["app-sg"].inputs["ingress"]) == [22, 8000]
    db_rules = {r["fromPort"]: r for r in groups["database-sg"].inputs["ingress"]}
    assert db_rules[5432]["securityGroups"] == [app_sg_id]
    assert db_rules[22]["securityGroups"] == [proxy_sg_id]
    assert all(not r.get("cidrBlocks") for r in db_rules.values())


@pytest.mark.parametrize(
    ("extra", "ami_name"),
    [
        ({}, "debian-13-amd64-*"),
        ({"debianRelease": "bookworm"}, "debian-12-amd64-*"),
        ({"baseImage": "debian:bookworm-slim"}, "debian-12-amd64-*"),
    ],
    ids=["default-trixie", "debianRelease-bookworm", "baseImage-bookworm"],
)
def test_aws_instances_come_from_the_chosen_releases_ami(
    extra: dict[str, str], ami_name: str
) -> None:
    cloud = FakeCloud()
    run = deploy(by_id("aws-gunicorn-nginx"), mocks=cloud, **extra)
    (lookup,) = [c for c in cloud.calls if c.token == "aws:ec2/getAmi:getAmi"]
    assert lookup.args["owners"] == ["136693071363"]
    assert {"name": "name", "values": [ami_name]} in lookup.args["filters"]
    instances = run.of_type(INSTANCE)
    assert len(instances) == 4  # proxy, two app hosts, database
    for instance in instances:
        assert instance.inputs["ami"] == AMI_ID
        assert instance.inputs["metadataOptions"]["httpTokens"] == "required"
    (key_pair,) = run.of_type("aws:ec2/keyPair:KeyPair")
    assert key_pair.inputs["publicKey"].startswith("ssh-ed25519 ")
    (provider,) = run.of_type("pulumi:providers:aws")
    assert provider.inputs["region"] == "eu-west-1"


def test_aws_private_hosts_are_reached_through_the_proxy() -> None:
    run = deploy(by_id("aws-gunicorn-nginx"))
    proxy_ip = next(i for i in run.of_type(INSTANCE) if i.name.endswith("-proxy"))
    public = proxy_ip.outputs["publicIp"]
    for name, command in commands(run).items():
        connection = unwrap_secrets(command.inputs["connection"])
        # The rotation steps of an app host run on the proxy host.
        if name.startswith("django-proxy-") or name.endswith("-rotation"):
            assert connection["host"] == public and not connection.get("proxy")
        else:
            assert connection["host"].startswith("10.0.1.")
            assert connection["proxy"]["host"] == public
    assert run.outputs["url"] == f"http://{public}/"


def test_aws_preview_evaluates_with_unknown_addresses() -> None:
    run = deploy(by_id("aws-gunicorn-nginx"), preview=True)
    assert len(run.of_type(COMMAND)) > 0 and run.outputs["url"] is None


def test_unchanged_config_changes_no_trigger_and_a_new_one_reloads_only() -> None:
    case = by_id("hosts-gunicorn-nginx")

    def triggers(**extra: Any) -> dict[str, Any]:
        return {
            n: unwrap_secrets(c.inputs.get("triggers"))
            for n, c in commands(deploy(case, **extra)).items()
        }

    first, again, more_workers = triggers(), triggers(), triggers(workers=9)
    assert first == again
    # A new worker count is a new gunicorn.conf.py: the services reload, nothing reinstalls.
    assert more_workers["django-app-0-release"] == first["django-app-0-release"]
    assert more_workers["django-app-0-migrate"] == first["django-app-0-migrate"]
    assert more_workers["django-app-0-service"] != first["django-app-0-service"]
    files = unpack(
        unwrap_secrets(commands(deploy(case, workers=9))["django-app-0-service"].inputs["stdin"])
    )
    assert "workers = 9\n" in files["etc/django-stack/gunicorn.conf.py"]
    assert (
        "ExecReload=/bin/kill -HUP $MAINPID" in files["etc/systemd/system/django-stack-app.service"]
    )


def test_the_app_unit_may_run_every_thread_of_its_server() -> None:
    """TasksMax counts threads: mod_wsgi's Apache front alone has 256 at least."""
    for case_id, front in (("hosts-gunicorn-nginx", 0), ("aws-mod_wsgi-apache", 256)):
        steps = commands(deploy(by_id(case_id), workers=16, threads=8))
        files = unpack(unwrap_secrets(steps["django-app-0-service"].inputs["stdin"]))
        unit = files["etc/systemd/system/django-stack-app.service"]
        (tasks_max,) = [int(line[9:]) for line in unit.splitlines() if line.startswith("TasksMax=")]
        # Every worker's threads, twice (a graceful reload runs old and new workers at once).
        assert tasks_max >= max(512, 2 * (front + 16 * (8 + 1)))


def test_new_settings_restart_the_app_server_and_nothing_else_does() -> None:
    """systemd reads EnvironmentFile= at start only: new settings need a restart."""
    steps = commands(deploy(by_id("hosts-gunicorn-nginx")))
    app = unwrap_secrets(steps["django-app-0-service"].inputs["create"])
    assert (
        "sha256sum /etc/systemd/system/django-stack-app.service /etc/django-stack/django.env" in app
    )
    proxy = unwrap_secrets(steps["django-proxy-service"].inputs["create"])
    assert "sha256sum /etc/systemd/system/django-stack-proxy.service)" in proxy
    assert "django.env" not in proxy


def test_extra_ca_goes_to_pip_only(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nMIIBunique\n-----END CERTIFICATE-----\n")
    run = deploy(by_id("hosts-gunicorn-nginx"), extraCaBundle=str(bundle))
    release = commands(run)["django-app-0-release"]
    assert unpack(unwrap_secrets(release.inputs["stdin"]))["extra-ca.crt"] == bundle.read_text()
    script = unwrap_secrets(release.inputs["create"])
    assert "PIP_CERT" in script and 'rm -rf "$work"' in script
    for name, command in commands(run).items():
        if not name.endswith("-release"):
            assert "MIIBunique" not in json.dumps(unwrap_secrets(command.inputs)), name


@pytest.mark.parametrize("release", ["trixie", "bookworm"])
def test_every_host_checks_it_runs_the_stacks_release(release: str) -> None:
    """A host of another release would get another Python and PostgreSQL: its first step
    stops there (the base step, or the database host's only one)."""
    steps = commands(deploy(by_id("hosts-gunicorn-nginx"), debianRelease=release))
    first_steps = [n for n in steps if n.endswith(("-base", "-postgres"))]
    assert len(first_steps) == 3 + 1 + 1  # three app hosts, the proxy host, the database host
    for name in first_steps:
        script = unwrap_secrets(steps[name].inputs["create"])
        assert f'"$os_codename" != {release} ]' in script, name
        assert script.index("os_codename") < script.index("apt-get"), name


def test_the_release_installs_the_project_as_it_declares_its_dependencies() -> None:
    steps = commands(deploy(by_id("hosts-gunicorn-nginx")))
    for name in ("django-app-0-release", "django-proxy-release"):
        files = unpack(unwrap_secrets(steps[name].inputs["stdin"]))
        assert files["dependencies/format"] == "requirements\n"
        assert files["dependencies/project/requirements.txt"] == "Django==5.2.19\n"
        assert "dependencies/install.sh" in files
        script = unwrap_secrets(steps[name].inputs["create"])
        # The server's requirements and the project's are separate pip runs, so a project's
        # hash-checking mode covers its own files only.
        assert '-r "$work/server-requirements.txt" -r' not in script
        assert 'cd "$work/dependencies/project" && bash ../install.sh /opt/venv' in script


def test_system_packages_reach_the_app_and_proxy_hosts_only() -> None:
    steps = commands(deploy(by_id("hosts-gunicorn-nginx"), systemPackages=["libjpeg62-turbo"]))
    for name, command in steps.items():
        script = command_texts(command)
        if name.endswith("-base"):
            assert "libjpeg62-turbo" in script, name
        else:
            assert "libjpeg62-turbo" not in script, name


def test_release_commands_run_once_from_the_first_app_host_after_migrate() -> None:
    steps = commands(deploy(by_id("hosts-gunicorn-nginx"), releaseCommands=["createcachetable"]))
    files = unpack(unwrap_secrets(steps["django-app-0-migrate"].inputs["stdin"]))
    unit = files["etc/systemd/system/django-stack-migrate.service"]
    starts = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert starts == [
        "ExecStart=/opt/venv/bin/django-admin migrate --noinput",
        "ExecStart=/opt/venv/bin/django-admin createcachetable",
    ]
    assert [n for n in steps if n.endswith("-migrate")] == ["django-app-0-migrate"]


@pytest.mark.parametrize("case_id", ["hosts-gunicorn-nginx", "hosts-uwsgi-apache-external-db"])
def test_the_proxy_and_django_share_the_hosts_and_the_body_limit(case_id: str) -> None:
    """allowedHosts and maxBodyMb reach the proxy host and the app hosts alike, and the
    proxy's health check asks for a host it passes on (any other it answers itself)."""
    case = by_id(case_id)
    steps = commands(deploy(case, allowedHosts=[".example.org", "www.example.com"], maxBodyMb=25))
    proxy = Proxy(case["overrides"]["proxy"])
    service = steps["django-proxy-service"]
    conf = unpack(unwrap_secrets(service.inputs["stdin"]))[
        f"etc/django-stack/{config_file_name(proxy)}"
    ]
    names = {
        Proxy.NGINX: "server_name .example.org www.example.com;",
        Proxy.APACHE: "ServerAlias *.example.org www.example.com",
    }[proxy]
    assert names in conf
    limit = {Proxy.NGINX: "client_max_body_size 25m;", Proxy.APACHE: "LimitRequestBody 26214400"}
    assert limit[proxy] in conf
    health = unwrap_secrets(service.inputs["create"])
    assert "/_stack/health example.org" in health and " localhost" not in health
    env = unwrap_secrets(steps["django-app-0-settings"].inputs["stdin"])
    assert 'DJANGO_ALLOWED_HOSTS=".example.org,www.example.com"' in env
    assert 'DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE="26214400"' in env


@pytest.mark.parametrize(
    ("case_id", "qos"),
    [("hosts-gunicorn-nginx", False), ("hosts-uwsgi-apache-external-db", True)],
)
def test_an_apache_proxy_host_gets_mod_qos_and_its_limits(case_id: str, qos: bool) -> None:
    """mod_qos (Apache's per-client limits) on the proxy host, from the proxy image's own
    script; the limits set in rateLimit reach the rendered config."""
    run = deploy(by_id(case_id), rateLimit={"requestsPerSecond": 7, "burst": 3})
    steps = commands(run)
    base = unwrap_secrets(steps["django-proxy-base"].inputs["create"])
    assert ("libapache2-mod-qos" in base) is qos
    assert ("bookworm-backports" in base) is qos
    checked = subprocess.run(["bash", "-n"], input=base, text=True, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    proxy = Proxy(by_id(case_id)["overrides"]["proxy"])
    files = unpack(unwrap_secrets(steps["django-proxy-service"].inputs["stdin"]))
    conf = files[f"etc/django-stack/{config_file_name(proxy)}"]
    if qos:
        assert "QS_ClientEventLimitCount 73 10 django_stack_request" in conf
    else:
        assert "rate=7r/s" in conf and "burst=3 nodelay" in conf


def _private_addresses(run: ProgramRun, case: dict[str, Any]) -> dict[str, str]:
    """Each role's private address: the config's (given hosts) or the instance's (EC2)."""
    vm = case["overrides"]["vm"]
    if vm["provider"] == "aws":
        return {
            i.name.rsplit("-", 1)[-1] if "-app-" not in i.name else "app-" + i.name[-1]: i.outputs[
                "privateIp"
            ]
            for i in run.of_type(INSTANCE)
        }

    def private(host: Any) -> str:
        value = host if isinstance(host, str) else host.get("privateAddress", host["address"])
        return str(value).strip("[]")

    roles = {"proxy": private(vm["proxyHost"])}
    roles.update({f"app-{i}": private(h) for i, h in enumerate(vm["appHosts"])})
    if "databaseHost" in vm:
        roles["database"] = private(vm["databaseHost"])
    return roles


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_each_host_is_firewalled_before_its_servers_listen(case: dict[str, Any]) -> None:
    run = deploy(case)
    steps = commands(run)
    addresses = _private_addresses(run, case)
    proxy = addresses["proxy"]
    aws = case["overrides"]["vm"]["provider"] == "aws"
    vm = case["overrides"]["vm"]
    allowed = {vm["sshAllowedCidr"]} if aws else {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
    for i in range(case["app_hosts"]):
        app = steps[f"django-app-{i}-firewall"]
        assert waits_for(steps, f"django-app-{i}-service", f"django-app-{i}-firewall")
        assert steps[f"django-app-{i}-base"].urn in app.dependencies
        ruleset = app.inputs["stdin"]
        assert "policy drop;" in ruleset
        assert f"tcp dport 8000 ip saddr {{ {proxy}/32 }} accept" in ruleset
        ssh_line = ruleset.split("set ssh_v4")[1].split("\n")[0]
        ssh_v4 = set(ssh_line.split("elements = { ")[1].split(" }")[0].split(", "))
        assert allowed <= ssh_v4
        # On EC2 the proxy host is the private machines' jump host.
        assert (f"{proxy}/32" in ssh_v4) is aws
        assert 'step "$SSH_CLIENT"' in app.inputs["create"]
        # The app server listens on that host's private address alone.
        files = unpack(unwrap_secrets(steps[f"django-app-{i}-service"].inputs["stdin"]))
        (config,) = [v for k, v in files.items() if k.startswith("etc/django-stack/")]
        address = addresses[f"app-{i}"]
        listen = f"[{address}]:8000" if ":" in address else f"{address}:8000"
        assert listen in config and "0.0.0.0" not in config
        health = unwrap_secrets(steps[f"django-app-{i}-service"].inputs["create"])
        assert f"healthcheck.py {'uwsgi' if 'uwsgi' in case['id'] else 'http'} 8000" in health
        assert f"localhost {address}" in health
    edge = steps["django-proxy-firewall"]
    assert edge.urn in steps["django-proxy-service"].dependencies
    port = case["overrides"].get("httpPort", 8000)
    assert f"    tcp dport {port} accept\n" in edge.inputs["stdin"]
    assert "tcp dport 8000" not in edge.inputs["stdin"] or port == 8000
    if case["database_host"]:
        database = steps["django-database-firewall"]
        assert database.urn in steps["django-database-postgres"].dependencies
        apps = sorted(f"{addresses[f'app-{i}']}/32" for i in range(case["app_hosts"]))
        assert f"tcp dport 5432 ip saddr {{ {', '.join(apps)} }} accept" in database.inputs["stdin"]
    else:
        assert "django-database-firewall" not in steps


# --- `pulumi destroy` ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_destroy_stops_the_services_of_each_app_and_proxy_host(case: dict[str, Any]) -> None:
    """Each app host and the proxy host get a step that runs only on delete (destroy, or the
    host leaving the stack), made after the service it stops so the engine deletes it first,
    never replaced (no triggers) and running nothing when made (no create, no update). The
    database host has none: its data stays."""
    steps = commands(deploy(case))
    teardowns = {name: c for name, c in steps.items() if name.endswith("-teardown")}
    hosts = [f"django-app-{i}" for i in range(case["app_hosts"])] + ["django-proxy"]
    assert sorted(teardowns) == sorted(f"{h}-teardown" for h in hosts)
    for host in hosts:
        teardown = teardowns[f"{host}-teardown"]
        assert not {"create", "update", "triggers"} & set(teardown.inputs), host
        assert steps[f"{host}-service"].urn in teardown.dependencies, host
        assert teardown.inputs["connection"] == steps[f"{host}-service"].inputs["connection"]
    for i in range(case["app_hosts"]):
        script = command_texts(teardowns[f"django-app-{i}-teardown"])
        assert f"for unit in {APP_UNIT} {MIGRATE_UNIT}; do" in script
        assert f"{UNIT_DIR}/{APP_UNIT}" in script
    proxy = command_texts(teardowns["django-proxy-teardown"])
    assert f"for unit in {PROXY_UNIT}; do" in proxy and f"{UNIT_DIR}/{PROXY_UNIT}" in proxy
    assert "certbot" not in proxy and "postgres" not in proxy


def test_a_protected_database_hosts_steps_are_protected_and_nothing_else() -> None:
    """`database.protect` (a production stack's default): `pulumi destroy` and a replacement
    of the database host's steps fail instead of running."""
    case = CASES[0]
    for protect in (True, False):
        run = deploy(case, database={"protect": protect})
        (host,) = run.of_type("django-stack:index:VmDatabaseHost")
        database = sorted(
            r.name for r in run.registrations if r.urn == host.urn or r.parent == host.urn
        )
        assert len(database) > 1, database
        protected = sorted(r.name for r in run.registrations if r.protect)
        assert protected == (database if protect else []), protected


# --- A release rolls over the app hosts one at a time (components/vm/rotation.py) -----------


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_a_release_rolls_over_the_app_hosts_one_at_a_time(case: dict[str, Any]) -> None:
    """Each host: out of the proxy's rotation, its server restarted, back in; the next host
    only after that, the proxy's own step after the last; the rotation steps run on the proxy
    host exactly when the host's service step does (the same triggers)."""
    run = deploy(case)
    steps = commands(run)
    addresses = _private_addresses(run, case)
    n = case["app_hosts"]
    proxy_connection = unwrap_secrets(steps["django-proxy-service"].inputs["connection"])
    members = unpack(unwrap_secrets(steps["django-proxy-service"].inputs["stdin"]))[
        UPSTREAM_MEMBERS_FILE.lstrip("/")
    ]
    for i in range(n):
        out, service, back = (f"django-app-{i}-{s}" for s in RELEASE_STEPS)
        assert steps[out].urn in steps[service].dependencies
        assert steps[service].urn in steps[back].dependencies
        assert waits_for(steps, out, f"django-app-{i}-release")
        assert not waits_for(steps, out, service) and not waits_for(steps, service, back)
        if i > 0:
            # Not before the previous host is back: never two hosts out at once.
            assert steps[f"django-app-{i - 1}-back-in-rotation"].urn in steps[out].dependencies
            assert not waits_for(steps, f"django-app-{i - 1}-service", out)
        else:
            assert waits_for(steps, out, "django-app-0-migrate")
        # The service step's triggers and its script: they run whenever it runs.
        triggers = [
            *unwrap_secrets(steps[service].inputs["triggers"]),
            digest(shlex.split(unwrap_secrets(steps[service].inputs["create"]))[-1]),
        ]
        for step in (out, back):
            assert unwrap_secrets(steps[step].inputs["connection"]) == proxy_connection
            assert unwrap_secrets(steps[step].inputs["triggers"]) == triggers
            text = command_texts(steps[step])
            assert f"unit={PROXY_UNIT}\n" in text and 'systemctl reload "$unit"' in text
        # Out: this host marked, no other; back: the proxy's own list, every host in.
        without = unpack(unwrap_secrets(steps[out].inputs["stdin"]))
        lines = without[UPSTREAM_MEMBERS_FILE.lstrip("/")].splitlines()
        marked = [line for line in lines if line.endswith((" down;", " status=+D"))]
        assert len(lines) == n and len(marked) == 1
        address = addresses[f"app-{i}"]
        assert (f"[{address}]:8000" if ":" in address else f"{address}:8000") in marked[0]
        back_files = unpack(unwrap_secrets(steps[back].inputs["stdin"]))
        assert back_files == {UPSTREAM_MEMBERS_FILE.lstrip("/"): members}
        # Out of the rotation the server restarts: no old worker answers once it is back.
        assert "[ yes = yes ]" in command_texts(steps[service])
    assert steps[f"django-app-{n - 1}-back-in-rotation"].urn in (
        steps["django-proxy-service"].dependencies
    )


RELEASE_STEPS = ("out-of-rotation", "service", "back-in-rotation")


def test_one_app_host_reloads_in_place_with_no_rotation() -> None:
    """With one app host nothing could serve while it restarts: no rotation step, and its
    server reloads gracefully (restarting only for a new unit or new settings), as before."""
    case = by_id("hosts-uwsgi-apache-external-db")
    vm = {**case["overrides"]["vm"], "appHosts": case["overrides"]["vm"]["appHosts"][:1]}
    steps = commands(deploy(case, vm=vm, replicas=1))
    assert [name for name in steps if "rotation" in name] == []
    assert "[ no = yes ]" in command_texts(steps["django-app-0-service"])
    assert steps["django-app-0-service"].urn in steps["django-proxy-service"].dependencies
