"""The mod_wsgi replica's Apache config (templates/mod_wsgi/httpd.conf) in the real apache2."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from components.choices import AppServer
from components.render.app_server_config import (
    AppServerSettings,
    app_server_command,
    render_app_server_config,
)

MOD_WSGI = Path("/usr/lib/apache2/modules/mod_wsgi.so")


def render(**overrides: object) -> str:
    settings = {
        "app_server": AppServer.MOD_WSGI,
        "wsgi_callable": "shopfront.wsgi:application",
        "workers": 3,
        "threads": 4,
        "timeout_seconds": 25,
        **overrides,
    }
    config = render_app_server_config(AppServerSettings(**settings))  # type: ignore[arg-type]
    assert config is not None
    return config


def test_daemon_mode_with_the_configured_processes_and_threads() -> None:
    config = render()
    assert "WSGIDaemonProcess django processes=3 threads=4" in config
    assert "request-timeout=25" in config
    assert "WSGIRestrictEmbedded On" in config
    assert "WSGIScriptAlias / /srv/app/shopfront/wsgi.py process-group=django" in config
    assert "python-home=/opt/venv" in config


def mpm(config: str) -> dict[str, int]:
    directives = ("ServerLimit", "ThreadLimit", "ThreadsPerChild", "MaxRequestWorkers")
    return {
        name: int(value)
        for name, value in re.findall(r"^(\w+) (\d+)$", config, re.M)
        if name in directives
    }


@pytest.mark.parametrize(("workers", "threads"), [(3, 2), (16, 8)])
def test_one_apache_process_with_a_thread_for_every_connection(workers: int, threads: int) -> None:
    """The event MPM closes idle keep-alive connections once all its threads are busy: enough
    threads for more than 128 connections at once, and twice the daemon threads."""
    threads_of = mpm(render(workers=workers, threads=threads))
    assert threads_of["ServerLimit"] == 1
    assert threads_of["ThreadsPerChild"] >= max(256, 2 * workers * threads)
    assert threads_of["ThreadLimit"] == threads_of["ThreadsPerChild"]
    assert threads_of["MaxRequestWorkers"] == threads_of["ThreadsPerChild"]


@pytest.mark.skipif(shutil.which("apache2") is None, reason="apache2 is not installed")
@pytest.mark.parametrize("syslog_tag", [None, "django_stack_app"], ids=["stdio", "syslog"])
def test_apache_accepts_it_with_mod_wsgi_loaded(tmp_path: Path, syslog_tag: str | None) -> None:
    if not MOD_WSGI.is_file():
        pytest.skip("libapache2-mod-wsgi-py3 is not installed")
    app_dir = tmp_path / "app"
    (app_dir / "shopfront").mkdir(parents=True)
    (app_dir / "shopfront" / "wsgi.py").write_text("application = None\n")
    path = tmp_path / "mod_wsgi.conf"
    config = render(app_dir=str(app_dir), venv=str(tmp_path), syslog_tag=syslog_tag)
    # Under systemd (the VM target) stdout is a socket Apache cannot reopen by name.
    assert ("/proc/self/fd" in config) is (syslog_tag is None)
    path.write_text(config)
    command = app_server_command(AppServer.MOD_WSGI)
    assert command[:2] == ["apache2", "-f"] and command[-1] == "-DFOREGROUND"
    result = subprocess.run(
        ["apache2", "-t", "-f", str(path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "Syntax OK" in result.stderr
    modules = subprocess.run(
        ["apache2", "-M", "-f", str(path)], capture_output=True, text=True, timeout=30
    )
    assert "wsgi_module" in modules.stdout


def test_a_wrong_directive_is_refused(tmp_path: Path) -> None:
    """The check above can fail: apache2 -t rejects a broken mod_wsgi option."""
    if not MOD_WSGI.is_file() or shutil.which("apache2") is None:
        pytest.skip("apache2 with mod_wsgi is not installed")
    path = tmp_path / "broken.conf"
    path.write_text(render().replace("threads=4", "threadz=4"))
    result = subprocess.run(["apache2", "-t", "-f", str(path)], capture_output=True, text=True)
    assert result.returncode != 0
