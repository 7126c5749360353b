"""components/render/systemd.py and vm_scripts.py: units, env files and scripts as plain data."""

from __future__ import annotations

import itertools
import shlex
import shutil
import subprocess

import pytest

from components.choices import AppServer, DebianRelease, Proxy
from components.render.systemd import (
    environment_file,
    exec_line,
    render_app_unit,
    render_migrate_unit,
    render_proxy_unit,
)
from components.render.vm_scripts import (
    bundle,
    release_check,
    render_postgres_script,
    render_rotation_script,
)
from tests.support.mocks import unwrap_secrets
from tests.support.systemd_security import MAX_EXPOSURE, overall_exposure
from tests.unit.test_vm_stack import CASES, commands, deploy

SERVERS = [AppServer.GUNICORN, AppServer.UWSGI, AppServer.MOD_WSGI]


@pytest.mark.parametrize("app_server", SERVERS, ids=[s.value for s in SERVERS])
def test_app_unit_reloads_gracefully(app_server: AppServer) -> None:
    unit = render_app_unit(
        app_server=app_server,
        settings_module="config.settings",
        replica="app-1",
        memory_mb=768,
        cpus=1.5,
        timeout_seconds=30,
        max_tasks=777,
    )
    signal = "USR1" if app_server is AppServer.MOD_WSGI else "HUP"
    assert f"ExecReload=/bin/kill -{signal} $MAINPID" in unit
    assert "User=app" in unit and "NoNewPrivileges=yes" in unit
    assert "MemoryMax=768M" in unit and "CPUQuota=150%" in unit and "TasksMax=777" in unit
    assert "EnvironmentFile=/etc/django-stack/django.env" in unit
    assert "ExecStart=/" in unit  # absolute paths only


def test_runserver_has_no_unit() -> None:
    with pytest.raises(ValueError, match="runserver"):
        render_app_unit(
            app_server=AppServer.RUNSERVER,
            settings_module="config.settings",
            replica="app-0",
            memory_mb=512,
            cpus=1,
            timeout_seconds=30,
            max_tasks=512,
        )


@pytest.mark.parametrize("proxy", list(Proxy), ids=[p.value for p in Proxy])
def test_proxy_unit_binds_low_ports_without_root(proxy: Proxy) -> None:
    unit = render_proxy_unit(proxy)
    assert "User=www-data" in unit and "Group=www-data" in unit
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in unit
    assert "ExecReload=/bin/kill -" in unit
    # The key is read by the proxy at each reload, never a copy made at the unit's start
    # (which would make a new key a restart).
    assert "LoadCredential" not in unit and "@@" not in unit


def test_exec_line_quotes_words_with_spaces() -> None:
    assert exec_line(["/usr/sbin/nginx", "-g", "daemon off;"]) == '/usr/sbin/nginx -g "daemon off;"'


def test_environment_file_escapes_what_systemd_would_expand() -> None:
    text = environment_file({"B": 'a"b$c`d\\e', "A": "plain"})
    assert text == 'A="plain"\nB="a\\"b\\$c\\`d\\\\e"\n'
    with pytest.raises(ValueError):
        environment_file({"X": "two\nlines"})
    with pytest.raises(ValueError):
        environment_file({"NOT-A-NAME": "x"})


def test_bundles_are_deterministic() -> None:
    files = {"b.txt": b"2", "a.sh": b"1"}
    assert bundle(files) == bundle(dict(reversed(files.items())))
    assert bundle(files) != bundle({**files, "b.txt": b"3"})


def test_postgres_names_must_be_plain_identifiers() -> None:
    trixie = DebianRelease.TRIXIE
    with pytest.raises(ValueError, match="identifier"):
        render_postgres_script(
            database="x'; DROP", role="django", port=5432, clients=["10.0.0.1"], release=trixie
        )
    script = render_postgres_script(
        database="django", role="django", port=5432, clients=["10.0.0.1", "fd00::1"], release=trixie
    )
    assert "10.0.0.1/32" in script and "fd00::1/128" in script


def test_postgres_is_the_releases_own() -> None:
    """Debian's `postgresql` metapackage, its cluster found from what it depends on."""
    script = render_postgres_script(
        database="django",
        role="django",
        port=5432,
        clients=["10.0.0.1"],
        release=DebianRelease.BOOKWORM,
    )
    assert "install -y -qq --no-install-recommends postgresql >" in script
    assert "dpkg-query -W -f='${Depends}' postgresql" in script
    assert 'systemctl restart "postgresql@$version-main"' in script
    assert "VERSION_CODENAME" in script and "!= bookworm" in script


def _os_release() -> dict[str, str]:
    with open("/etc/os-release") as f:
        pairs = (line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        return {k: v.strip('"') for k, v in pairs}


@pytest.mark.skipif(
    shutil.which("bash") is None or _os_release().get("ID") != "debian",
    reason="needs bash on a Debian host",
)
def test_release_check_stops_on_a_host_of_another_release() -> None:
    """Run for real on this (Debian) machine: its own release passes, the other one stops."""
    here = DebianRelease(_os_release()["VERSION_CODENAME"])
    (other,) = [r for r in DebianRelease if r is not here]
    ok = subprocess.run(["bash", "-euc", release_check(here)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(["bash", "-euc", release_check(other)], capture_output=True, text=True)
    assert refused.returncode == 1
    assert f"not Debian {other.value} ({other.version})" in refused.stderr
    assert "django-stack:debianRelease" in refused.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("case", "preview"),
    list(itertools.product(CASES, [False])),
    ids=[c["id"] for c in CASES],
)
def test_every_remote_script_is_valid_bash(case: dict, preview: bool) -> None:
    scripts = [
        (name, unwrap_secrets(command.inputs[k]))
        for name, command in commands(deploy(case, preview=preview)).items()
        for k in ("create", "delete")
        if k in command.inputs
    ]
    for name, text in scripts:
        # `sudo -n bash -c '<script>' [step "$SSH_CLIENT"]`: check the command line, then the
        # script inside it.
        result = subprocess.run(["bash", "-n", "-c", text], capture_output=True, text=True)
        assert result.returncode == 0, (name, result.stderr)
        words = shlex.split(text)
        inner = words[words.index("-c") + 1]
        assert inner.startswith("#!/bin/bash\n") and "set -euo pipefail" in inner, name
        check = subprocess.run(["bash", "-n"], input=inner, capture_output=True, text=True)
        assert check.returncode == 0, (name, check.stderr)


def test_exec_line_keeps_percent_and_dollar_literal() -> None:
    """systemd expands %-specifiers and $VARIABLES in command lines: doubled, they stay."""
    line = exec_line(["/opt/venv/bin/django-admin", "shell", "-c", "print('100%', '$HOME')"])
    assert line == "/opt/venv/bin/django-admin shell -c \"print('100%%', '$$HOME')\""
    assert exec_line(["echo", "50%"]) == "echo 50%%"


def test_migrate_unit_runs_the_release_commands_after_migrate() -> None:
    unit = render_migrate_unit(
        settings_module="config.settings",
        release_commands=[("createcachetable",), ("loaddata", "seed data.json")],
    )
    starts = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    assert starts == [
        "ExecStart=/opt/venv/bin/django-admin migrate --noinput",
        "ExecStart=/opt/venv/bin/django-admin createcachetable",
        'ExecStart=/opt/venv/bin/django-admin loaddata "seed data.json"',
    ]
    assert "Type=oneshot" in unit
    default = render_migrate_unit(settings_module="config.settings")
    assert [line for line in default.splitlines() if line.startswith("ExecStart=")] == starts[:1]


def _units() -> dict[str, str]:
    units = {
        f"app-{s.value}.service": render_app_unit(
            app_server=s,
            settings_module="config.settings",
            replica="app-0",
            memory_mb=512,
            cpus=1,
            timeout_seconds=30,
            max_tasks=64,
        )
        for s in SERVERS
    }
    units["migrate.service"] = render_migrate_unit(settings_module="config.settings")
    for proxy in Proxy:
        # One unit with TLS on or off: the proxy reads its key file itself.
        units[f"proxy-{proxy.value}.service"] = render_proxy_unit(proxy)
    return units


@pytest.mark.parametrize("name", sorted(_units()))
def test_every_unit_scores_at_most_the_exposure_bar_offline(name: str, tmp_path) -> None:
    """`systemd-analyze security --offline=yes` on the rendered file (the e2e suite scores the
    units loaded on the stand-in hosts too, with their release's systemd)."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is needed (Debian's systemd package)")
    path = tmp_path / name
    path.write_text(_units()[name])
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(path)],
        capture_output=True,
        text=True,
    )
    assert overall_exposure(result.stdout)[name] <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize("proxy", list(Proxy), ids=[p.value for p in Proxy])
def test_the_rotation_waits_for_the_proxys_own_workers_a_bounded_time(proxy: Proxy) -> None:
    """Out of (or back in) the rotation: the proxy's workers are its main process's children
    of its own name (a piped logger is a child too, and outlives reloads); the wait ends."""
    script = render_rotation_script(
        unit="django-stack-proxy.service", proxy=proxy, change="app-1 out", wait_seconds=40
    )
    worker = {Proxy.NGINX: "nginx", Proxy.APACHE: "apache2"}[proxy]
    assert f'[ "$comm" = "({worker})" ]' in script
    assert "for tenths in $(seq 1 400); do" in script and '"40s: app-1 out is not done"' in script
    assert script.index("before=") < script.index("base64 -d") < script.index("systemctl reload")
    assert "no worker process of $unit" in script  # nothing to wait for is refused
    assert subprocess.run(["bash", "-n", "-c", script], check=False).returncode == 0
    with pytest.raises(ValueError, match="wait_seconds"):
        render_rotation_script(unit="u", proxy=proxy, change="x", wait_seconds=0)
