#!/bin/bash
# certbot's deploy hook on the proxy host, rendered by django-stack (components/render/acme.py):
# runs after each certificate certbot gets (RENEWED_LINEAGE is its directory). Copies the
# chain and key where the proxy reads them and reloads the proxy gracefully: the proxy reads
# the key file itself (readable by its group), so a reload picks up a new key as well as a new
# chain. Then waits until the proxy serves it (the reload takes effect after systemctl has
# returned). Files equal to the installed ones change nothing but are checked the same way, so
# a run after a failed reload does not report success while the proxy sends another.
# https://eff-certbot.readthedocs.io/en/stable/using.html#renewing-certificates
set -euo pipefail
lineage=${RENEWED_LINEAGE:?certbot sets RENEWED_LINEAGE}
chain=@@{chain_file}
key=@@{key_file}
if cmp -s "$lineage/fullchain.pem" "$chain" && cmp -s "$lineage/privkey.pem" "$key"; then
  exec @@{wait_for_certificate}
fi
install -d -m 0755 "$(dirname "$chain")"
# Each file replaced in one rename, so the proxy never reads half of one; reloaded after both.
install -m 0640 -g @@{proxy_group} "$lineage/privkey.pem" "$key.new" && mv -f "$key.new" "$key"
install -m 0644 "$lineage/fullchain.pem" "$chain.new" && mv -f "$chain.new" "$chain"
systemctl reload-or-restart @@{unit}
@@{wait_for_certificate}
echo "django-stack: installed the certificate of $lineage; @@{unit} serves it"
