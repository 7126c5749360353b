#!/bin/bash
# Run by `pulumi destroy`, and when a host leaves the stack (a shorter vm.appHosts): stops
# and removes the services the stack runs on this host, so nothing of it answers any more (an
# acme stack's certificate lineage has a step of its own: templates/acme/teardown.sh).
# Kept on purpose: the data (PostgreSQL and its database on the database host, uploaded
# files), the Debian packages, the releases on disk, and the firewall (removing it would
# open the host; `nft delete table inet django_stack` does that by hand). Safe to run again.
set -euo pipefail
for unit in @@{units}; do
  # A unit that was never installed (a step that failed) is nothing to stop.
  if systemctl cat "$unit" >/dev/null 2>&1; then
    systemctl disable --now --quiet "$unit"
  fi
done
rm -f @@{files}
systemctl daemon-reload
echo "stopped and removed: @@{units}"
