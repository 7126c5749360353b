#!/bin/bash
# Prepares the proxy host for `tls.mode: acme` before the proxy (re)starts
# (components/render/acme.py): certbot's deploy hook, its certbot.service drop-in and the ACME
# server's CA (a base64 tar.gz on stdin, paths relative to /), the webroot the proxy serves
# on plain HTTP, Debian's certbot.timer. The proxy's config needs a certificate to start, and
# the ACME server validates through the running proxy, so until the first one exists a
# placeholder (self-signed, one day) stands in; certbot's hook replaces it.
set -euo pipefail
base64 -d | tar -xz -C / --no-same-owner --no-overwrite-dir
install -d -m 0755 @@{webroot}
if [ -s @@{server_ca} ]; then
  # Added to the system's CAs, not instead of them (an intercepting proxy's CA may be there).
  cat /etc/ssl/certs/ca-certificates.crt @@{server_ca} > @@{ca_bundle}.new
  mv -f @@{ca_bundle}.new @@{ca_bundle}
fi
if [ ! -s @@{chain_file} ] || [ ! -s @@{key_file} ]; then
  install -d -m 0755 "$(dirname @@{chain_file})"
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 1 -subj "/CN=django-stack placeholder until the ACME certificate" \
    -keyout @@{key_file} -out @@{chain_file} 2>/dev/null)
  chmod 0644 @@{chain_file}
  chgrp @@{proxy_group} @@{key_file} && chmod 0640 @@{key_file}
  echo "django-stack: a placeholder certificate until the ACME server issues one"
fi
systemctl daemon-reload
systemctl enable --quiet --now certbot.timer
