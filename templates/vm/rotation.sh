#!/bin/bash
# Takes one app host out of the proxy's rotation, or puts it back: installs the upstream
# group's member list from stdin (a base64 tar.gz, paths relative to /), reloads the proxy
# gracefully, and waits until every worker process the proxy had before the reload is gone.
# nginx's old workers, and Apache's old children after a graceful restart, finish the
# requests they have in progress and then exit, while the new ones (already running with the
# new list) take every new connection: once the old ones are gone, no request is on its way
# to a host taken out, and nothing is sent there any more.
# https://nginx.org/en/docs/control.html#reconfiguration
# https://httpd.apache.org/docs/2.4/stopping.html#graceful
# Rendered by components/render/vm_scripts.py.
set -euo pipefail
unit=@@{unit}
if ! systemctl is-active --quiet "$unit"; then
  # A first deploy: the proxy starts later, with every host in the rotation.
  cat >/dev/null
  echo "$unit is not running: no rotation to change (@@{change})"
  exit 0
fi
# The proxy's worker processes now: its main process's children named as it is (a piped
# logger is a child too, and stays across reloads).
workers() {
  local stat pid comm state ppid
  for stat in /proc/[0-9]*/stat; do
    read -r pid comm state ppid _ <"$stat" 2>/dev/null || continue
    if [ "$ppid" = "$1" ] && [ "$comm" = "(@@{worker})" ]; then echo "$pid"; fi
  done
}
main="$(systemctl show --property=MainPID --value "$unit")"
before="$(workers "$main")"
if [ -z "$before" ]; then
  # Nothing to wait for would prove nothing: refuse rather than guess.
  echo "no worker process of $unit (main process $main) was found: @@{change} is not done" >&2
  exit 1
fi
base64 -d | tar -xz -C / --no-same-owner --no-overwrite-dir
systemctl reload "$unit"
left="$before"
for tenths in $(seq 1 @@{wait_tenths}); do
  left=""
  for pid in $before; do
    if kill -0 "$pid" 2>/dev/null; then left="$left $pid"; fi
  done
  if [ -z "$left" ]; then
    echo "@@{change}: the $(echo $before | wc -w) workers from before the reload" \
      "exited within $((tenths / 10)).$((tenths % 10))s"
    exit 0
  fi
  sleep 0.1
done
echo "the proxy's workers from before the reload (${left# }) did not finish within" \
  "@@{wait_seconds}s: @@{change} is not done" >&2
journalctl -u "$unit" -n 20 --no-pager >&2 || true
exit 1
