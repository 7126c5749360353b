#!/bin/bash
# Waits until the proxy serves the certificate in @@{chain_file}, rendered by django-stack
# (components/render/served_certificate.py). `systemctl reload` only sends the proxy its
# signal: nginx and Apache re-read the files and start new workers after it has returned, so
# whoever must know that a new certificate is live (the proxy's step of `up`, certbot's
# deploy hook) waits here. Compares the SHA-256 fingerprint of the leaf the HTTPS port sends
# for @@{server_name} with the file's first certificate; gives up after @@{wait_seconds}s.
# https://nginx.org/en/docs/control.html  https://httpd.apache.org/docs/2.4/stopping.html#graceful
set -euo pipefail
chain=@@{chain_file}
want="$(openssl x509 -in "$chain" -noout -fingerprint -sha256)"
served=""
deadline=$((SECONDS + @@{wait_seconds}))
while :; do
  served="$(timeout 5 openssl s_client -connect 127.0.0.1:@@{https_port} \
    -servername @@{server_name} </dev/null 2>/dev/null \
    | openssl x509 -noout -fingerprint -sha256 2>/dev/null || true)"
  if [ "$served" = "$want" ]; then
    exit 0
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    break
  fi
  sleep 0.5
done
echo "django-stack: port @@{https_port} still serves ${served:-no certificate}," \
  "not the certificate of $chain ($want), @@{wait_seconds}s after the proxy's reload" >&2
exit 1
