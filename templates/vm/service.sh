#!/bin/bash
# Installs a service's rendered files (a base64 tar.gz on stdin, paths relative to /) and
# brings the service to them: a changed unit or environment file restarts it (systemd reads
# EnvironmentFile= only when it starts the process; a reload signal keeps the old values),
# anything else (config, code, the proxy's TLS chain and key) is a graceful `systemctl reload`,
# unless the service is always restarted (an app host the proxy sends nothing to meanwhile).
# Then waits until it answers (and, for a proxy with TLS, serves the installed certificate).
set -euo pipefail
state_dir=@@{state_dir}
state="$state_dir/@@{unit}.sha256"
install -d -m 0700 "$state_dir"
base64 -d | tar -xz -C / --no-same-owner --no-overwrite-dir
@@{group_readable}
# What the running process was started with, compared with what it was last started with.
current="$(sha256sum @@{restart_on})"
systemctl daemon-reload
systemctl enable --quiet @@{unit}
if [ @@{always_restart} = yes ] || [ "$current" != "$(cat "$state" 2>/dev/null || true)" ] \
  || ! systemctl is-active --quiet @@{unit}; then
  rm -f "$state"
  systemctl restart @@{unit}
else
  systemctl reload @@{unit}
fi
for _ in $(seq 1 @@{wait_seconds}); do
  if @@{health_check} >/dev/null 2>&1; then
    @@{ready_check}
    # Recorded only once it answers: a failed start is restarted by the next run.
    printf '%s\n' "$current" > "$state"
    echo "@@{unit} is up"
    exit 0
  fi
  sleep 1
done
echo "@@{unit} did not answer within @@{wait_seconds}s" >&2
journalctl -u @@{unit} -n 40 --no-pager >&2 || true
exit 1
