#!/bin/bash
# Gets the stack's certificate from the ACME server by HTTP-01 through the running proxy
# (components/render/acme.py). `--keep-until-expiring`: nothing happens while the certificate
# has the same names and is not due; certbot.timer renews it from then on, with what this
# command records in /etc/letsencrypt/renewal/ (the server, the webroot, the hook).
# https://eff-certbot.readthedocs.io/en/stable/using.html#certbot-command-line-options
set -euo pipefail
@@{ca_environment}
certbot certonly --non-interactive --agree-tos @@{account} \
  --server @@{directory} \
  --webroot --webroot-path @@{webroot} \
  --cert-name @@{cert_name} --key-type ecdsa \
  --keep-until-expiring --deploy-hook @@{deploy_hook} \
  @@{domains}
# Installs the lineage if the proxy's files are not it (certbot ran no hook: not due).
RENEWED_LINEAGE=/etc/letsencrypt/live/@@{cert_name} @@{deploy_hook}
