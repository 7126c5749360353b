"""TLS: the `tls` config, the stack's own CA (components/render/tls.py), what each proxy is
told (components/render/proxy_config.py) and how the key reaches it on both targets.

The real servers speaking TLS are in tests/unit/test_proxy_tls.py.
"""

from __future__ import annotations

import base64
import datetime
import io
import ipaddress
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from components.choices import DebianRelease, Proxy, TlsMode, UpstreamProtocol
from components.config import ConfigError, config_warnings, parse_stack_config
from components.docker.proxy_certificate import TLS_FILES
from components.render.proxy_config import ProxyTls, render_proxy_config
from components.render.tls import (
    DEFAULT_HSTS_MAX_AGE,
    TLS12_CIPHERS,
    TLS_DIR,
    certificate_names,
    check_pair,
    self_signed,
)
from tests.support.mocks import is_wire_secret, unwrap_secrets
from tests.support.prlimit import under_prlimit
from tests.support.stack_files import PROJECT_DIR
from tests.unit.test_config import parse
from tests.unit.test_proxy_config import PROTOCOLS, PROXIES, directive, nginx_block, settings
from tests.unit.test_proxy_edge import check_config
from tests.unit.test_stack import IMAGE, VOLUME, containers
from tests.unit.test_stack import deploy as deploy_docker
from tests.unit.test_vm_stack import by_id, commands, unpack
from tests.unit.test_vm_stack import deploy as deploy_vm

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.UTC)
SEED = "seed-" + "x" * 40
HOSTS = ("www.example.test", ".example.org", "127.0.0.1", "[::1]")


def material(**overrides: Any) -> Any:
    values: dict[str, Any] = {"seed": SEED, "stack": "t", "allowed_hosts": HOSTS, "now": NOW}
    return self_signed(**{**values, **overrides})


def verify(chain_pem: str, ca_pem: str, name: str, *, at: datetime.datetime = NOW) -> None:
    """What a client trusting only `ca_pem` checks of `chain_pem` for `name`."""
    leaf, *rest = x509.load_pem_x509_certificates(chain_pem.encode())
    store = Store([x509.load_pem_x509_certificate(ca_pem.encode())])
    try:
        subject: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = x509.DNSName(name)
    builder = PolicyBuilder().store(store).time(at)
    builder.build_server_verifier(subject).verify(leaf, rest)  # type: ignore[arg-type]


# --- The stack's own CA -----------------------------------------------------------------------


def test_self_signed_material_is_the_same_on_every_run() -> None:
    """No provider plugin here: the program makes it on each `up`, which must change nothing."""
    first = material()
    assert material() == first
    # A later day of the same period: the same bytes.
    assert material(now=NOW + datetime.timedelta(days=30)) == first
    assert material(seed="another-" + "y" * 40) != first
    assert check_pair(chain_pem=first.chain_pem, key_pem=first.key_pem) is None


def test_a_new_period_renews_the_certificate_under_the_same_ca_and_key() -> None:
    first = material()
    later = material(now=NOW + datetime.timedelta(days=365))
    assert later.ca_pem == first.ca_pem and later.key_pem == first.key_pem
    assert later.chain_pem != first.chain_pem
    # The old certificate is still good when its successor is made.
    verify(first.chain_pem, first.ca_pem, "www.example.test", at=NOW + datetime.timedelta(days=365))
    verify(later.chain_pem, later.ca_pem, "www.example.test", at=NOW + datetime.timedelta(days=365))


@pytest.mark.parametrize(
    "name", ["www.example.test", "example.org", "a.example.org", "127.0.0.1", "::1", "localhost"]
)
def test_the_certificate_is_for_the_stacks_hosts_and_validates_against_its_ca(name: str) -> None:
    m = material()
    verify(m.chain_pem, m.ca_pem, name)


def test_no_other_name_validates() -> None:
    m = material()
    with pytest.raises(x509.verification.VerificationError):
        verify(m.chain_pem, m.ca_pem, "evil.test")


def test_certificate_names_from_allowed_hosts() -> None:
    assert certificate_names(("*", "A.test", ".b.test", "[::1]", "10.0.0.1")) == (
        ["a.test", "b.test", "*.b.test", "localhost"],
        ["::1", "10.0.0.1", "127.0.0.1"],
    )


def test_a_key_of_another_certificate_is_refused() -> None:
    m, other = material(), material(seed="another-" + "y" * 40)
    assert "does not belong" in str(check_pair(chain_pem=m.chain_pem, key_pem=other.key_pem))
    assert "not a PEM" in str(check_pair(chain_pem="nonsense", key_pem=m.key_pem))


# --- The config -------------------------------------------------------------------------------


def test_production_defaults_to_https_with_a_warning_and_dev_to_plain_http() -> None:
    prod = parse_stack_config({}, stack="x", project_dir=PROJECT_DIR)
    assert prod.tls.mode is TlsMode.SELF_SIGNED and prod.tls.https_port == 443
    assert prod.tls.hsts_max_age == DEFAULT_HSTS_MAX_AGE == 63072000
    assert any("'self-signed' on a production stack" in w for w in config_warnings(prod))
    dev = parse_stack_config({"production": "false"}, stack="x", project_dir=PROJECT_DIR)
    assert dev.tls.mode is TlsMode.OFF and not dev.tls.enabled
    assert parse("dev", tls={"mode": "self-signed"}).tls.https_port == 8443
    # YAML 1.1 reads a bare `off` as false.
    assert parse("staging", tls={"mode": False}).tls.mode is TlsMode.OFF


def test_files_take_a_path_or_pem_text_and_the_key_as_a_secret(tmp_path: Path) -> None:
    m = material()
    (tmp_path / "chain.pem").write_text(m.chain_pem)
    for certificate in (str(tmp_path / "chain.pem"), m.chain_pem):
        config = parse("dev", tls={"mode": "files", "certificate": certificate, "key": m.key_pem})
        assert config.tls.certificate == m.chain_pem
        assert config.tls.key is not None and config.tls.key.value == m.key_pem
        assert m.key_pem not in repr(config)
    other = material(seed="another-" + "y" * 40)
    with pytest.raises(ConfigError, match=r"django-stack:tls\.key: the key does not belong") as e:
        parse("dev", tls={"mode": "files", "certificate": m.chain_pem, "key": other.key_pem})
    assert other.key_pem not in str(e.value)


# --- What the proxies are told ----------------------------------------------------------------


def tls_settings(proxy: Proxy, protocol: UpstreamProtocol, **tls: Any) -> Any:
    values: dict[str, Any] = {
        "listen_port": 8443,
        "public_port": 443,
        "certificate_file": "/etc/django-stack/tls/chain.pem",
        "key_file": "/etc/django-stack/tls/key.pem",
        "hsts_max_age": 1234,
        "ocsp_stapling": False,
        **tls,
    }
    return settings(proxy, protocol, 2, tls=ProxyTls(**values), media_url="/media/")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nginx_is_told_mozillas_intermediate_profile(protocol: UpstreamProtocol) -> None:
    conf = render_proxy_config(tls_settings(Proxy.NGINX, protocol))
    assert directive(conf, "ssl_protocols") == ["TLSv1.2 TLSv1.3"]
    assert directive(conf, "ssl_ciphers") == [":".join(TLS12_CIPHERS)]
    assert directive(conf, "ssl_prefer_server_ciphers") == ["off"]
    assert directive(conf, "ssl_session_tickets") == ["off"]
    assert directive(conf, "ssl_stapling") == []
    # Debian 13's nginx: `http2 on;` on every TLS server (the default one and the app's).
    assert directive(conf, "http2") == ["on", "on"]
    assert "8443 ssl default_server" in conf
    # HSTS on the TLS server and in its locations with headers of their own, never on HTTP.
    assert conf.count('add_header Strict-Transport-Security "max-age=1234" always;') == 3
    redirect = nginx_block(conf, "location /")
    assert "return 301 https://$host$request_uri;" in redirect
    assert "Strict-Transport-Security" not in redirect
    # Only the health check is still passed on over plain HTTP.
    health = nginx_block(conf, "location = /_stack/health")
    assert "_pass" in health
    hide = "proxy_hide_header" if protocol is UpstreamProtocol.HTTP else "uwsgi_hide_header"
    assert directive(conf, hide) == ["Strict-Transport-Security"] * 2


def test_nginx_of_debian_12_says_http2_on_the_listen_line_and_ports_reach_the_redirect() -> None:
    conf = render_proxy_config(
        tls_settings(
            Proxy.NGINX, UpstreamProtocol.HTTP, nginx_http2_directive=False, public_port=8444
        )
    )
    assert directive(conf, "http2") == []
    assert "listen 8443 ssl http2;" in conf
    assert "return 301 https://$host:8444$request_uri;" in conf


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_apache_is_told_mozillas_intermediate_profile(protocol: UpstreamProtocol) -> None:
    conf = render_proxy_config(tls_settings(Proxy.APACHE, protocol))
    assert directive(conf, "SSLProtocol") == ["-all +TLSv1.2 +TLSv1.3"]
    assert directive(conf, "SSLCipherSuite") == [":".join(TLS12_CIPHERS)]
    assert directive(conf, "SSLHonorCipherOrder") == ["off"]
    assert directive(conf, "SSLSessionTickets") == ["off"]
    assert directive(conf, "Protocols") == ["h2 http/1.1"]
    assert directive(conf, "SSLUseStapling") == []
    assert directive(conf, "Listen") == ["8080", "8443"]
    # The unknown-host answer on both ports, the app on TLS only.
    assert directive(conf, "SSLEngine") == ["on", "on"]
    assert directive(conf, "RequestHeader set X-Forwarded-Proto") == ['"http"', '"https"']
    assert 'RewriteRule "^" "https://%{SERVER_NAME}%{REQUEST_URI}" [R=301,L]' in conf
    assert 'Header always set Strict-Transport-Security "max-age=1234"' in conf


@pytest.mark.parametrize("proxy", PROXIES)
def test_ocsp_stapling_only_when_asked(proxy: Proxy) -> None:
    conf = render_proxy_config(tls_settings(proxy, UpstreamProtocol.HTTP, ocsp_stapling=True))
    name = "ssl_stapling" if proxy is Proxy.NGINX else "SSLUseStapling"
    assert directive(conf, name) in (["on"], ["On"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("proxy", PROXIES)
@pytest.mark.parametrize("stapling", [False, True], ids=["self-signed", "files"])
@pytest.mark.parametrize("hosts", [("localhost", ".example.test"), ("*", "localhost")])
def test_binary_accepts_the_tls_config(
    proxy: Proxy,
    protocol: UpstreamProtocol,
    stapling: bool,
    hosts: tuple[str, ...],
    tmp_path: Path,
) -> None:
    m = material()
    (tmp_path / "chain.pem").write_text(m.chain_pem)
    (tmp_path / "key.pem").write_text(m.key_pem)
    tls = ProxyTls(
        listen_port=8443,
        public_port=443,
        certificate_file=str(tmp_path / "chain.pem"),
        key_file=str(tmp_path / "key.pem"),
        hsts_max_age=60,
        ocsp_stapling=stapling,
        # The nginx installed here is Debian 12's (1.22).
        nginx_http2_directive=False,
    )
    conf = render_proxy_config(settings(proxy, protocol, 2, allowed_hosts=hosts, tls=tls))
    check_config(proxy, conf, tmp_path)


# --- Wiring: Docker ---------------------------------------------------------------------------


def installed_files(job: Any, workdir: Path) -> tuple[str, str]:
    """Run the certificate job's command as its container would (its volume moved to
    `workdir`, no proxy to resolve: a first `up`), and look at what it left: the pair the
    proxy reads through `current`, each file's mode, and nothing else in the volume."""
    command = job.inputs["command"]
    assert command[:2] == ["sh", "-c"]
    script = command[2].replace(TLS_DIR, str(workdir))
    workdir.mkdir()
    env = dict(e.split("=", 1) for e in unwrap_secrets(job.inputs["envs"]))
    result = subprocess.run(
        ["sh", "-c", script, *command[3:]],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no proxy is running yet" in result.stdout
    current = workdir / "current"
    assert current.is_symlink() and sorted(p.name for p in workdir.iterdir()) == sorted(
        ["current", current.readlink().name]
    )
    chain, key = (Path(f.replace(TLS_DIR, str(workdir))) for f in TLS_FILES)
    assert (chain.stat().st_mode & 0o777, key.stat().st_mode & 0o777) == (0o644, 0o640)
    return chain.read_text(), key.read_text()


def test_docker_proxy_publishes_https_and_the_job_gets_the_key_as_a_secret(
    tmp_path: Path,
) -> None:
    run = deploy_docker(tls={"mode": "self-signed"}, httpsPort=8449)
    assert run.outputs["url"] == "https://127.0.0.1:8449/"
    (proxy,) = containers(run, "proxy")
    ports = {(p["internal"], p["external"], p["ip"]) for p in proxy.inputs["ports"]}
    assert ports == {(8080, 8000, "127.0.0.1"), (8443, 8449, "127.0.0.1")}
    # The proxy has nothing of the certificate: its TLS volume, read-only, and a watcher.
    assert proxy.inputs.get("envs") is None
    (job,) = containers(run, "certificate")
    (tls_mount,) = [v for v in proxy.inputs["volumes"] if v["containerPath"] == TLS_DIR]
    (job_mount,) = job.inputs["volumes"]
    assert tls_mount == {**job_mount, "readOnly": True}
    assert proxy.inputs["command"][:2] == ["sh", "-c"]
    assert under_prlimit(proxy.inputs["command"][4:])[1][:2] == ["nginx", "-c"]
    # It starts after the job has written the files (the first `up`).
    assert job.urn in proxy.dependencies
    # The job runs as the proxy's uid and group, once, in the proxy's image.
    assert job.inputs["user"] == proxy.inputs["user"]
    assert job.inputs["image"] == proxy.inputs["image"]
    assert job.inputs["attach"] is True and job.inputs["restart"] == "no"
    assert is_wire_secret(job.inputs["envs"])
    chain, key = installed_files(job, tmp_path / "volume")
    assert key.startswith("-----BEGIN PRIVATE KEY-----")
    # The CA is an output to trust; it is public, and so is the chain.
    ca = run.outputs["tlsCaCertificate"]
    assert ca.startswith("-----BEGIN CERTIFICATE-----")
    verify(chain, ca, "localhost", at=datetime.datetime.now(datetime.UTC))
    # Nothing of the key in any image's build context (those are digested into state).
    body = key.splitlines()[1]
    for image in run.of_type(IMAGE):
        for path in Path(image.inputs["build"]["context"]).rglob("*"):
            if path.is_file():
                assert body.encode() not in path.read_bytes(), path


def test_a_new_certificate_changes_the_job_alone() -> None:
    """What `up` with new files compares: every container input is ForceNew in the docker
    provider, so the proxy and the replicas must get byte-identical inputs."""
    pairs = [material(seed=f"the-users-own-{n}-" + "z" * 40) for n in (1, 2)]
    runs = [
        deploy_docker(tls={"mode": "files", "certificate": m.chain_pem, "key": m.key_pem})
        for m in pairs
    ]
    first, second = ({r.name: r for r in run.registrations} for run in runs)
    assert first.keys() == second.keys()
    (job,) = [name for name, r in first.items() if r in containers(runs[0], "certificate")]
    for name in first:
        if name != job:
            assert first[name].inputs == second[name].inputs, name
            # The same set: the SDK sends them in no fixed order (seen differ under load).
            assert sorted(first[name].dependencies) == sorted(second[name].dependencies), name
    assert len(containers(runs[0], "app")) == 2
    old, new = first[job].inputs, second[job].inputs
    assert old["name"] != new["name"]
    assert old["envs"] != new["envs"]
    for inputs, pair in zip((old, new), pairs, strict=True):
        assert is_wire_secret(inputs["envs"])
        envs = unwrap_secrets(inputs["envs"])
        key_line = f"DJANGO_STACK_TLS_KEY={base64.b64encode(pair.key_pem.encode()).decode()}"
        assert key_line in envs
        # The name is the chain's digest, never the key's.
        assert pair.key_pem.splitlines()[1] not in json.dumps(unwrap_secrets(inputs["name"]))


def test_docker_proxy_config_and_django_are_told_https() -> None:
    run = deploy_docker(tls={"mode": "self-signed"}, httpsPort=8449)
    (image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    conf = (Path(image.inputs["build"]["context"]) / "proxy.conf").read_text()
    assert f"ssl_certificate_key {TLS_DIR}/current/key.pem;" in conf
    assert "return 301 https://$host:8449$request_uri;" in conf
    for container in containers(run, "app") + containers(run, "migrate"):
        env = unwrap_secrets(container.inputs["envs"])
        assert "DJANGO_HTTPS=1" in env
        (origins,) = [e for e in env if e.startswith("DJANGO_CSRF_TRUSTED_ORIGINS=")]
        assert origins.split("=", 1)[1].split(",") == [
            "https://localhost:8449",
            "https://127.0.0.1:8449",
        ]


def test_a_second_run_gives_the_proxy_the_same_inputs() -> None:
    """What a second `up` compares: the same seed in state gives the same containers, the
    certificate job too (it runs again only for another certificate)."""
    for role in ("proxy", "certificate"):
        first, second = (
            containers(deploy_docker(tls={"mode": "self-signed"}), role)[0] for _ in range(2)
        )
        assert unwrap_secrets(first.inputs) == unwrap_secrets(second.inputs), role


def test_files_mode_serves_the_users_certificate_with_stapling(tmp_path: Path) -> None:
    m = material(seed="the-users-own-" + "z" * 40)
    run = deploy_docker(tls={"mode": "files", "certificate": m.chain_pem, "key": m.key_pem})
    (job,) = containers(run, "certificate")
    assert installed_files(job, tmp_path / "volume") == (m.chain_pem, m.key_pem)
    assert run.outputs["tlsCaCertificate"] == ""
    (image,) = [i for i in run.of_type(IMAGE) if i.name.endswith("proxy-image")]
    conf = (Path(image.inputs["build"]["context"]) / "proxy.conf").read_text()
    assert directive(conf, "ssl_stapling") == ["on"]


def test_plain_http_stacks_are_unchanged() -> None:
    run = deploy_docker()
    (proxy,) = containers(run, "proxy")
    assert proxy.inputs.get("envs") is None and len(proxy.inputs["ports"]) == 1
    # No TLS volume, no certificate job.
    assert containers(run, "certificate") == [] and run.of_type(VOLUME) == [
        v for v in run.of_type(VOLUME) if not v.name.endswith("certificate-volume")
    ]
    assert [v["containerPath"] for v in proxy.inputs["volumes"]] == ["/srv/media"]
    assert under_prlimit(proxy.inputs["command"])[1][0] == "nginx"
    assert run.outputs["url"] == "http://127.0.0.1:8000/"
    env = unwrap_secrets(containers(run, "app")[0].inputs["envs"])
    assert not any(e.startswith("DJANGO_HTTPS=") for e in env)


# --- Wiring: VM -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["self-signed", "files"])
def test_vm_proxy_reads_its_key_itself_and_a_new_one_is_a_reload(mode: str) -> None:
    case = by_id("hosts-gunicorn-nginx")
    tls: dict[str, Any] = {"mode": mode}
    if mode == "files":
        pair = material(seed="files-" + "y" * 40)
        tls.update(certificate=pair.chain_pem, key=pair.key_pem)
    run = deploy_vm(case, tls=tls, httpPort=80, httpsPort=443)
    assert run.outputs["url"] == "https://203.0.113.10/"
    service = commands(run)["django-proxy-service"]
    assert is_wire_secret(service.inputs["stdin"])
    stdin = unwrap_secrets(service.inputs["stdin"])
    files = unpack(stdin)
    assert files["etc/django-stack/tls/key.pem"].startswith("-----BEGIN PRIVATE KEY-----")
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(stdin)), mode="r:gz") as tar:
        modes = {m.name: m.mode for m in tar.getmembers()}
    # Root's alone in the bundle, then the proxy group's to read, before the reload.
    assert modes["etc/django-stack/tls/key.pem"] == 0o600
    assert modes["etc/django-stack/tls/chain.pem"] == 0o644
    script = unwrap_secrets(service.inputs["create"])
    group_line = (
        "chgrp www-data /etc/django-stack/tls/key.pem && chmod 0640 /etc/django-stack/tls/key.pem"
    )
    assert group_line in script
    assert script.index(group_line) < script.index("systemctl reload django-stack-proxy")
    # The unit takes no credential (copied at start only): the proxy reads the key file.
    unit = files["etc/systemd/system/django-stack-proxy.service"]
    assert "LoadCredential" not in unit and "User=www-data" in unit
    conf = files["etc/django-stack/nginx.conf"]
    assert directive(conf, "ssl_certificate_key") == ["/etc/django-stack/tls/key.pem"]
    assert "listen 443 ssl;" in conf and "listen 80;" in conf
    # A new key or chain is a reload: what restarts the proxy is its unit alone.
    (restart_on,) = [line for line in script.splitlines() if "sha256sum" in line]
    assert restart_on == 'current="$(sha256sum /etc/systemd/system/django-stack-proxy.service)"'
    # After the reload, the step waits until the proxy serves the installed certificate.
    wait = files["etc/django-stack/tls/wait-for-certificate.sh"]
    assert "s_client -connect 127.0.0.1:443" in wait and "-servername localhost" in wait
    assert "/etc/django-stack/tls/wait-for-certificate.sh || exit 1" in script
    settings_env = unwrap_secrets(commands(run)["django-app-0-settings"].inputs["stdin"])
    assert 'DJANGO_HTTPS="1"' in settings_env


def test_a_plain_http_vm_proxy_has_no_certificate_check() -> None:
    run = deploy_vm(by_id("hosts-gunicorn-nginx"))
    service = commands(run)["django-proxy-service"]
    files = unpack(unwrap_secrets(service.inputs["stdin"]))
    assert not any(path.startswith("etc/django-stack/tls/") for path in files)
    assert "wait-for-certificate" not in unwrap_secrets(service.inputs["create"])


def test_vm_release_picks_the_nginx_form_of_its_debian() -> None:
    case = by_id("hosts-gunicorn-nginx")
    for release, http2 in ((DebianRelease.BOOKWORM, []), (DebianRelease.TRIXIE, ["on", "on"])):
        run = deploy_vm(case, tls={"mode": "self-signed"}, debianRelease=release.value)
        files = unpack(unwrap_secrets(commands(run)["django-proxy-service"].inputs["stdin"]))
        assert directive(files["etc/django-stack/nginx.conf"], "http2") == http2


def test_bad_tls_cases_are_in_the_data_driven_list() -> None:
    cases = json.loads((Path(__file__).parent / "cases" / "bad_config.json").read_text())
    assert {c["id"] for c in cases if c["id"].startswith(("tls-", "https-", "hsts-"))} >= {
        "tls-acme-on-docker",
        "tls-unknown-mode",
        "tls-files-no-key",
    }
