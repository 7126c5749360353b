"""The check that the VM proxy serves the certificate of its chain file (all TLS modes).

A graceful reload is asynchronous: `systemctl reload` returns once the signal is sent, and
nginx or Apache take the new chain and key a moment later. The proxy's step of `up`
(templates/vm/service.sh) and certbot's deploy hook (templates/acme/deploy-hook.sh) both run
this one script after their reload, so neither reports a certificate as installed while the
proxy still sends the old one (an ACME run once served the placeholder right after `up`).
"""

from __future__ import annotations

import shlex

from components.render.app_server_config import CONFIG_DIR
from components.render.systemd import TLS_CHAIN_FILE
from components.render.templates import render_template

# Installed with the proxy's files by its step (components/vm/proxy_host.py).
WAIT_FOR_CERTIFICATE = f"{CONFIG_DIR}/tls/wait-for-certificate.sh"
# Long enough for Apache's graceful restart on a busy host (each old child finishes its
# requests first, but new ones start at once), short enough to fail a step visibly.
WAIT_SECONDS = 30


def render_wait_for_certificate(
    *,
    https_port: int,
    server_name: str,
    wait_seconds: int = WAIT_SECONDS,
    chain_file: str = TLS_CHAIN_FILE,
) -> str:
    """The script: exit 0 once 127.0.0.1:`https_port` sends (for SNI `server_name`) the leaf
    of `chain_file`, else 1 with both fingerprints after `wait_seconds`."""
    return render_template(
        "vm/wait-for-certificate.sh",
        {
            "chain_file": shlex.quote(chain_file),
            "https_port": https_port,
            "server_name": shlex.quote(server_name),
            "wait_seconds": wait_seconds,
        },
    )
