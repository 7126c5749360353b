#!/bin/bash
# Installs a service's rendered files (a base64 tar.gz on stdin, paths relative to /) and
# brings the service to them gracefully: a changed unit restarts it, anything else (config,
# code, settings) is a `systemctl reload`. Then waits until it answers.
set -euo pipefail
unit=/etc/systemd/system/@@{unit}
before="$(sha256sum "$unit" 2>/dev/null || true)"
base64 -d | tar -xz -C / --no-same-owner --no-overwrite-dir
after="$(sha256sum "$unit")"
systemctl daemon-reload
systemctl enable --quiet @@{unit}
if [ "$before" != "$after" ] || ! systemctl is-active --quiet @@{unit}; then
  systemctl restart @@{unit}
else
  systemctl reload @@{unit}
fi
for _ in $(seq 1 @@{wait_seconds}); do
  if @@{health_check} >/dev/null 2>&1; then
    echo "@@{unit} is up"
    exit 0
  fi
  sleep 1
done
echo "@@{unit} did not answer within @@{wait_seconds}s" >&2
journalctl -u @@{unit} -n 40 --no-pager >&2 || true
exit 1
