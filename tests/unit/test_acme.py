"""`tls.mode: acme` (components/render/acme.py, components/vm/acme.py): the config, what the
proxy host is given, and in what order, under Pulumi's mocks. The real servers' side is in
tests/unit/test_proxy_acme.py; certbot against Pebble in tests/e2e/test_acme.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components.choices import TlsMode
from components.config import ConfigError
from components.render.acme import (
    ACME_CA_BUNDLE,
    CERTBOT_DROP_IN,
    DEPLOY_HOOK,
    LETS_ENCRYPT_DIRECTORY,
    acme_domains,
    render_acme_obtain_script,
)
from components.render.systemd import TLS_CHAIN_FILE, TLS_KEY_FILE
from components.render.tls import self_signed
from tests.support.mocks import unwrap_secrets
from tests.unit.test_config import parse
from tests.unit.test_gixy import GIXY, SEVERITIES, answered
from tests.unit.test_proxy_config import directive, nginx_block
from tests.unit.test_tls import NOW
from tests.unit.test_vm_stack import by_id, commands, unpack
from tests.unit.test_vm_stack import deploy as deploy_vm

DOMAIN = "shop.example.com"
VM: dict[str, Any] = {
    "platform": "vm",
    "vm": {
        "provider": "hosts",
        "proxyHost": "10.0.0.2",
        "appHosts": ["10.0.0.3", "10.0.0.4"],
        "databaseHost": "10.0.0.5",
    },
    "sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n",
}
CA = self_signed(seed="acme-ca-seed-" + "e" * 30, stack="t", allowed_hosts=("x.test",), now=NOW)


def test_acme_domains_are_the_names_http01_can_validate() -> None:
    hosts = (DOMAIN, ".Example.org", "127.0.0.1", "[::1]", "localhost", "*", "intranet")
    assert acme_domains(hosts) == (DOMAIN, "example.org")
    assert acme_domains(("*", "localhost")) == ()


def test_acme_config_defaults_to_lets_encrypt_and_keeps_the_keys() -> None:
    config = parse("dev", **VM, allowedHosts=[DOMAIN, "127.0.0.1"], tls={"mode": "acme"})
    assert config.tls.mode is TlsMode.ACME and config.tls.acme is not None
    assert config.tls.acme.directory == LETS_ENCRYPT_DIRECTORY
    assert (config.tls.acme.email, config.tls.acme.ca_bundle) == (None, None)
    assert config.tls.acme.domains == (DOMAIN,)
    given = parse(
        "dev",
        **VM,
        allowedHosts=[DOMAIN],
        tls={
            "mode": "acme",
            "acmeDirectory": "https://ca.internal:14000/dir",
            "acmeEmail": "ops@example.com",
            "acmeCaBundle": CA.ca_pem,
        },
    )
    assert given.tls.acme is not None
    assert given.tls.acme.directory == "https://ca.internal:14000/dir"
    assert given.tls.acme.email == "ops@example.com"
    assert given.tls.acme.ca_bundle == CA.ca_pem


def test_acme_is_refused_on_docker_before_any_resource() -> None:
    with pytest.raises(ConfigError, match=r"tls\.mode: 'acme' is not allowed with .*'docker'"):
        parse("staging", tls={"mode": "acme"})


def acme_run(**tls: Any) -> Any:
    return deploy_vm(
        by_id("hosts-gunicorn-nginx"),
        allowedHosts=[DOMAIN, "127.0.0.1"],
        tls={"mode": "acme", **tls},
    )


def test_the_proxy_host_gets_certbot_a_placeholder_and_the_certificate_in_order() -> None:
    run = acme_run(acmeEmail="ops@example.com", acmeDirectory="https://ca.internal/dir")
    steps = commands(run)
    base, prepare = steps["django-proxy-base"], steps["django-proxy-acme-prepare"]
    service, obtain = steps["django-proxy-service"], steps["django-proxy-acme-certificate"]
    assert " certbot " in base.inputs["create"]
    # The client and a placeholder before the proxy starts; the certificate once it answers.
    assert base.urn in prepare.dependencies
    assert prepare.urn in service.dependencies
    assert service.urn in obtain.dependencies
    assert "openssl req -x509" in prepare.inputs["create"]
    assert "systemctl enable --quiet --now certbot.timer" in prepare.inputs["create"]
    script = obtain.inputs["create"]
    for part in (
        "certbot certonly --non-interactive --agree-tos --email ops@example.com",
        "--server https://ca.internal/dir",
        "--webroot --webroot-path /var/www/django-stack-acme",
        f"--deploy-hook {DEPLOY_HOOK}",
        f"-d {DOMAIN}",
    ):
        assert part in script, part
    assert "-d 127.0.0.1" not in script
    # The service's bundle never carries TLS files: certbot's hook owns them. The proxy reads
    # the key itself (a reload takes a renewed one), no credential copied at start.
    files = unpack(unwrap_secrets(service.inputs["stdin"]))
    assert not {TLS_CHAIN_FILE.lstrip("/"), TLS_KEY_FILE.lstrip("/")} & set(files)
    unit = files["etc/systemd/system/django-stack-proxy.service"]
    assert "LoadCredential" not in unit
    conf = files["etc/django-stack/nginx.conf"]
    assert directive(conf, "ssl_certificate_key") == [TLS_KEY_FILE]
    assert TLS_KEY_FILE not in service.inputs["create"]  # never a restart for a new key
    assert re.search(r"listen \d+ ssl;", conf)
    assert directive(conf, "ssl_stapling") == []
    redirect = nginx_block(conf, "location ^~ /.well-known/acme-challenge/")
    assert directive(redirect, "root") == ["/var/www/django-stack-acme"]
    # The dev stack's HTTPS port; the URL names the certificate's name, not the host.
    assert run.outputs["url"] == f"https://{DOMAIN}:8443/"
    assert run.outputs["tlsCaCertificate"] == ""


def test_a_private_acme_servers_ca_is_trusted_by_certbot_and_its_timer() -> None:
    steps = commands(acme_run(acmeCaBundle=CA.ca_pem))
    files = unpack(steps["django-proxy-acme-prepare"].inputs["stdin"])
    assert files["etc/django-stack/acme/acme-server-ca.pem"] == CA.ca_pem
    assert f"Environment=REQUESTS_CA_BUNDLE={ACME_CA_BUNDLE}" in files[CERTBOT_DROP_IN[1:]]
    assert (
        f"export REQUESTS_CA_BUNDLE={ACME_CA_BUNDLE}"
        in (steps["django-proxy-acme-certificate"].inputs["create"])
    )
    hook = files[DEPLOY_HOOK[1:]]
    assert "systemctl reload-or-restart django-stack-proxy.service" in hook
    assert 'install -m 0640 -g www-data "$lineage/privkey.pem" "$key.new"' in hook
    # After the reload, and when the files are already the lineage's, the hook waits until
    # the proxy serves the certificate: the script the proxy's own step installs and runs.
    wait = "/etc/django-stack/tls/wait-for-certificate.sh"
    reload_at = hook.index("systemctl reload-or-restart")
    assert hook.index(wait, reload_at) > reload_at
    assert f"  exec {wait}\n" in hook
    service = commands(acme_run())["django-proxy-service"]
    service_files = unpack(unwrap_secrets(service.inputs["stdin"]))
    assert "-servername shop.example.com" in service_files[wait[1:]]
    assert f"{wait} || exit 1" in service.inputs["create"]
    plain = unpack(commands(acme_run())["django-proxy-acme-prepare"].inputs["stdin"])
    assert "REQUESTS_CA_BUNDLE" not in plain[CERTBOT_DROP_IN[1:]]
    assert "--register-unsafely-without-email" in render_acme_obtain_script(
        directory=LETS_ENCRYPT_DIRECTORY, email=None, domains=(DOMAIN,), ca_bundle=False
    )


def test_apache_serves_the_challenge_before_its_redirect() -> None:
    case = by_id("hosts-uwsgi-apache-external-db")
    run = deploy_vm(case, allowedHosts=[DOMAIN], tls={"mode": "acme"})
    files = unpack(unwrap_secrets(commands(run)["django-proxy-service"].inputs["stdin"]))
    conf = files["etc/django-stack/httpd.conf"]
    (redirect,) = [v for v in conf.split("<VirtualHost ")[1:] if "R=301" in v]
    assert 'RewriteCond "%{REQUEST_URI}" "!^/\\.well\\-known/acme\\-challenge/"' in redirect
    assert (
        'Alias "/.well-known/acme-challenge/" '
        '"/var/www/django-stack-acme/.well-known/acme-challenge/"'
    ) in redirect


def test_gixy_finds_nothing_unanswered_in_the_acme_nginx_conf(tmp_path: Path) -> None:
    if not GIXY.exists():
        pytest.skip(f"{GIXY} is not installed (requirements-dev.txt)")
    service = commands(acme_run())["django-proxy-service"]
    rendered = unpack(unwrap_secrets(service.inputs["stdin"]))["etc/django-stack/nginx.conf"]
    conf = tmp_path / "nginx.conf"
    conf.write_text(rendered)
    result = subprocess.run(
        [str(GIXY), "-f", "json", str(conf)], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip(), result.stderr
    lines = rendered.splitlines()
    unanswered = [
        f"{f['severity']} {f['plugin']} at line {f['line']}: {lines[f['line'] - 1].strip()}"
        for f in json.loads(result.stdout)
        if SEVERITIES.index(f["severity"]) > SEVERITIES.index("LOW")
        and not answered(lines, f["line"], f["plugin"])
    ]
    assert unanswered == [], "\n".join(unanswered)


def test_leaving_acme_deletes_the_lineage_on_the_proxy_host() -> None:
    """A step of its own, deleted when the stack leaves acme (another tls.mode) or is
    destroyed: no renewal is left to run a deploy hook for a proxy that no longer uses it."""
    run = deploy_vm(by_id("hosts-gunicorn-nginx"), allowedHosts=[DOMAIN], tls={"mode": "acme"})
    steps = commands(run)
    teardown = steps["django-proxy-acme-teardown"]
    assert not {"create", "update", "triggers"} & set(teardown.inputs)
    assert steps["django-proxy-acme-certificate"].urn in teardown.dependencies
    script = unwrap_secrets(teardown.inputs["delete"])
    assert "certbot delete --non-interactive --cert-name django-stack" in script
    assert "certbot.service.d/django-stack.conf" in script
    assert "certbot" not in unwrap_secrets(steps["django-proxy-teardown"].inputs["delete"])
    files = commands(deploy_vm(by_id("hosts-gunicorn-nginx"), tls={"mode": "self-signed"}))
    assert "django-proxy-acme-teardown" not in files
