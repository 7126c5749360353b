#!/bin/bash
# Run when the stack stops using tls.mode acme (another mode, or `pulumi destroy`): the
# lineage certbot renews is deleted with the stack's drop-in for certbot.service, the client's
# files and the challenge webroot, so no renewal is left to run a hook for a proxy that no
# longer uses it. Debian's certbot.timer stays (without a lineage it renews nothing).
set -euo pipefail
if [ -e /etc/letsencrypt/renewal/@@{cert_name}.conf ]; then
  certbot delete --non-interactive --cert-name @@{cert_name}
fi
rm -rf @@{drop_in} @@{acme_dir} @@{webroot}
systemctl daemon-reload
echo "ACME lineage @@{cert_name} removed"
