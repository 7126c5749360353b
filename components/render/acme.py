"""`tls.mode: acme` on the VM target's proxy host: certbot's files and scripts, as plain data.

Debian's certbot (its package, its `certbot.timer`) gets and renews the certificate by
HTTP-01 with `--webroot`: the proxy serves the challenge directory on its plain-HTTP port
before its redirect (templates/<proxy>/redirect.conf), so nothing but the proxy ever listens
on port 80 and a renewal never stops it. One client for both proxies: Apache's own mod_md
(in Debian's apache2) would also renew, but it activates a new certificate only at the next
graceful restart, which it leaves to someone else, and it keeps the certificate in a store of
its own that the rendered config (the same as for `files`) would have to name.

certbot's deploy hook (templates/acme/deploy-hook.sh) copies the lineage into the files the
proxy reads in every TLS mode (components/render/systemd.py: TLS_CHAIN_FILE, TLS_KEY_FILE),
the key the proxy group's to read (0640 root:www-data) as in `files` and `self-signed`,
reloads the proxy gracefully and waits until it serves the new certificate
(components/render/served_certificate.py). A renewal, with a new key each time as certbot
makes by default, is a graceful reload, the first certificate replacing the placeholder
included.

https://eff-certbot.readthedocs.io/en/stable/using.html#webroot
https://eff-certbot.readthedocs.io/en/stable/using.html#renewing-certificates
https://www.rfc-editor.org/rfc/rfc8555#section-8.3
"""

from __future__ import annotations

import ipaddress
import shlex

from components.render.served_certificate import WAIT_FOR_CERTIFICATE
from components.render.systemd import PROXY_GROUP, PROXY_UNIT, TLS_CHAIN_FILE, TLS_KEY_FILE
from components.render.templates import render_template

LETS_ENCRYPT_DIRECTORY = "https://acme-v02.api.letsencrypt.org/directory"
# What the proxy serves under /.well-known/acme-challenge/ on plain HTTP (certbot writes the
# tokens into <webroot>/.well-known/acme-challenge/).
ACME_WEBROOT = "/var/www/django-stack-acme"
# The client's own files (the hook, the CA bundle for a private ACME server).
ACME_DIR = "/etc/django-stack/acme"
DEPLOY_HOOK = f"{ACME_DIR}/deploy-hook.sh"
# The given CA certificates, and the bundle certbot trusts: the system's plus those.
ACME_SERVER_CA = f"{ACME_DIR}/acme-server-ca.pem"
ACME_CA_BUNDLE = f"{ACME_DIR}/ca-bundle.pem"
# The lineage's name under /etc/letsencrypt/live/.
CERT_NAME = "django-stack"
# systemd reads this drop-in for Debian's certbot.service, which certbot.timer starts.
CERTBOT_DROP_IN = "/etc/systemd/system/certbot.service.d/django-stack.conf"


def acme_domains(allowed_hosts: tuple[str, ...]) -> tuple[str, ...]:
    """The DNS names of a certificate that HTTP-01 can validate for these ALLOWED_HOSTS.

    `.example.com` gives `example.com` only: a wildcard needs DNS-01. `*`, IP addresses and
    `localhost` are left out (no public CA validates them over HTTP-01)."""
    names: list[str] = []
    for host in (h.lower() for h in allowed_hosts):
        name = host[1:] if host.startswith(".") else host
        if name in ("*", "localhost") or name.endswith(".localhost") or "." not in name:
            continue
        try:
            ipaddress.ip_address(name.strip("[]"))
            continue
        except ValueError:
            pass
        names.append(name)
    return tuple(dict.fromkeys(names))


def render_acme_files(*, ca_bundle: str | None) -> dict[str, str]:
    """The files the proxy host's ACME client needs, by absolute path."""
    environment = (
        f"# certbot (Python requests) trusts this bundle for the ACME server.\n"
        f"Environment=REQUESTS_CA_BUNDLE={ACME_CA_BUNDLE}\n"
        if ca_bundle
        else ""
    )
    return {
        DEPLOY_HOOK: render_template(
            "acme/deploy-hook.sh",
            {
                "chain_file": TLS_CHAIN_FILE,
                "key_file": TLS_KEY_FILE,
                "unit": PROXY_UNIT,
                "proxy_group": PROXY_GROUP,
                "wait_for_certificate": WAIT_FOR_CERTIFICATE,
            },
        ),
        CERTBOT_DROP_IN: render_template("acme/certbot-service.conf", {"environment": environment}),
        ACME_SERVER_CA: ca_bundle or "",
    }


def render_acme_prepare_script() -> str:
    """Installs the client's files (a bundle on stdin), the webroot, a placeholder
    certificate when there is none yet, and turns on Debian's certbot.timer."""
    return render_template(
        "acme/prepare.sh",
        {
            "webroot": ACME_WEBROOT,
            "server_ca": ACME_SERVER_CA,
            "ca_bundle": ACME_CA_BUNDLE,
            "chain_file": TLS_CHAIN_FILE,
            "key_file": TLS_KEY_FILE,
            "proxy_group": PROXY_GROUP,
        },
    )


def render_acme_obtain_script(
    *, directory: str, email: str | None, domains: tuple[str, ...], ca_bundle: bool
) -> str:
    """certbot certonly for `domains` (a no-op while the certificate is not due), then the
    deploy hook once more, which installs the lineage if the proxy's files differ."""
    if not domains:
        raise ValueError("an ACME certificate needs at least one DNS name")
    account = f"--email {shlex.quote(email)}" if email else "--register-unsafely-without-email"
    return render_template(
        "acme/obtain.sh",
        {
            "ca_environment": f"export REQUESTS_CA_BUNDLE={ACME_CA_BUNDLE}" if ca_bundle else "",
            "account": account,
            "directory": shlex.quote(directory),
            "webroot": ACME_WEBROOT,
            "cert_name": CERT_NAME,
            "deploy_hook": DEPLOY_HOOK,
            "domains": " ".join(f"-d {shlex.quote(d)}" for d in domains),
        },
    )


def render_acme_teardown_script() -> str:
    """What runs when a stack's proxy host stops using acme (another mode, or destroy)."""
    return render_template(
        "acme/teardown.sh",
        {
            "cert_name": CERT_NAME,
            "drop_in": CERTBOT_DROP_IN,
            "acme_dir": ACME_DIR,
            "webroot": ACME_WEBROOT,
        },
    )
