"""gixy-ng, nginx's configuration analyser, on every nginx.conf the stacks render.

Each app server x replicas x target (Docker's logs to stdout, a VM's to syslog) x media,
rendered by the same functions the program uses (components/server_settings.py,
components/render/proxy_config.py), is analysed by `gixy`. Any finding above LOW fails the
test unless it is answered where the directive is written.

The convention for an answer: a comment on one of the lines directly above the directive
gixy reports (the contiguous comment block, or the directive's own line), of the form

    # gixy <plugin>: <why this finding does not apply here>

naming the plugin gixy reports (e.g. `try_files_is_evil_too`) and giving a reason. The
answer lives in the template, beside the directive, so that whoever changes the directive
sees it; a finding nobody answered fails here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components.choices import AppServer, Proxy
from components.config import StackConfig, parse_stack_config
from components.docker.proxy_certificate import TLS_FILES
from components.render.proxy_config import render_proxy_config
from components.render.systemd import TLS_CHAIN_FILE, TLS_KEY_FILE
from components.server_settings import proxy_settings
from tests.support.stack_files import PROJECT_DIR

GIXY = Path(sys.prefix) / "bin" / "gixy"
# gixy's severities, lowest first; anything above LOW must be answered.
SEVERITIES = ("UNSPECIFIED", "LOW", "MEDIUM", "HIGH")
ANSWER = re.compile(r"^\s*#\s*gixy\s+([\w-]+):\s*\S")
VARIANTS = [
    pytest.param(
        app_server, replicas, syslog, media, id=f"{app_server.value}-{replicas}-{target}-{m}"
    )
    for app_server in AppServer
    for replicas in ((1,) if app_server is AppServer.RUNSERVER else (1, 3))
    for syslog, target in ((None, "docker"), ("django_stack_proxy", "vm"))
    for media, m in ((True, "media"), (False, "no-media"))
]


def stack(app_server: AppServer, replicas: int, media: bool) -> StackConfig:
    raw: dict[str, Any] = {"appServer": app_server.value, "replicas": replicas}
    if app_server is AppServer.RUNSERVER:
        raw["production"] = "false"
    if not media:
        raw["media"] = {"kind": "none"}
    return parse_stack_config(raw, stack="gixy", project_dir=PROJECT_DIR)


def answered(lines: list[str], line: int, plugin: str) -> bool:
    """Whether the directive at `line` (1-based) has an answer for `plugin` beside it."""
    index = line - 1
    candidates = [lines[index]]
    above = index - 1
    while above >= 0 and lines[above].strip().startswith("#"):
        candidates.append(lines[above])
        above -= 1
    for text in candidates:
        comment = text[text.index("#") :] if "#" in text else ""
        match = ANSWER.match(comment)
        if match and match.group(1) == plugin:
            return True
    return False


def test_the_answer_convention() -> None:
    lines = [
        "        # Static files.",
        "        # gixy try_files_is_evil_too: the tree is swapped by a release.",
        "        try_files $uri =404;",
        "        # gixy try_files_is_evil_too:",
        "        try_files $uri =404;",
        "        add_header X-Frame-Options DENY;  # gixy add_header_redefinition: on purpose",
    ]
    assert answered(lines, 3, "try_files_is_evil_too")
    assert not answered(lines, 3, "host_spoofing")
    # No reason given: no answer.
    assert not answered(lines, 5, "try_files_is_evil_too")
    assert answered(lines, 6, "add_header_redefinition")


@pytest.mark.parametrize(("app_server", "replicas", "syslog", "media"), VARIANTS)
def test_gixy_finds_nothing_unanswered(
    app_server: AppServer, replicas: int, syslog: str | None, media: bool, tmp_path: Path
) -> None:
    if not GIXY.exists():
        pytest.skip(f"{GIXY} is not installed (requirements-dev.txt)")
    if shutil.which("nginx", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("nginx is not installed")
    config = stack(app_server, replicas, media)
    settings = proxy_settings(
        config,
        upstream_hosts=[f"app-{i}" for i in range(replicas)],
        worker_processes="auto",
        # Each target's own TLS files (a production stack has TLS on by default).
        tls_files=TLS_FILES if syslog is None else (TLS_CHAIN_FILE, TLS_KEY_FILE),
        syslog_tag=syslog,
    )
    assert settings.proxy is Proxy.NGINX
    rendered = render_proxy_config(settings)
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered)
    result = subprocess.run(
        [str(GIXY), "-f", "json", str(conf)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    findings = json.loads(result.stdout)
    lines = rendered.splitlines()
    unanswered = [
        f"{f['severity']} {f['plugin']} at line {f['line']}: {f['summary']}\n"
        f"    {lines[f['line'] - 1].strip()}"
        for f in findings
        if SEVERITIES.index(f["severity"]) > SEVERITIES.index("LOW")
        and not answered(lines, f["line"], f["plugin"])
    ]
    assert unanswered == [], "\n".join(unanswered)
