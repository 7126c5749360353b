#!/bin/bash
# certbot's deploy hook on the proxy host, rendered by django-stack (components/render/acme.py):
# runs after each certificate certbot gets (RENEWED_LINEAGE is its directory). Copies the
# chain and key where the proxy reads them and tells the proxy: a graceful reload when the key
# is the one it started with (a renewal: certbot --reuse-key), a restart when the key is new
# (the unit hands the key to the proxy as a credential, copied only at start). Files equal to
# the installed ones change nothing.
# https://eff-certbot.readthedocs.io/en/stable/using.html#renewing-certificates
set -euo pipefail
lineage=${RENEWED_LINEAGE:?certbot sets RENEWED_LINEAGE}
chain=@@{chain_file}
key=@@{key_file}
if cmp -s "$lineage/fullchain.pem" "$chain" && cmp -s "$lineage/privkey.pem" "$key"; then
  exit 0
fi
install -d -m 0755 "$(dirname "$chain")"
new_key=1
cmp -s "$lineage/privkey.pem" "$key" && new_key=0
# Each file replaced in one rename, so the proxy never reads half of one.
install -m 0644 "$lineage/fullchain.pem" "$chain.new" && mv -f "$chain.new" "$chain"
install -m 0600 "$lineage/privkey.pem" "$key.new" && mv -f "$key.new" "$key"
if [ "$new_key" = 1 ]; then
  systemctl restart @@{unit}
  echo "django-stack: installed a certificate with a new key; restarted @@{unit}"
else
  systemctl reload-or-restart @@{unit}
  echo "django-stack: installed a renewed certificate; reloaded @@{unit}"
fi
