#!/bin/bash
# Installs and loads this host's nftables ruleset (on stdin), rendered by
# components/render/firewall.py. It cannot cut the deployment off:
# - the file is checked by `nft -c` first, and loaded by one `nft -f`, a single transaction:
#   all of it applies or none of it does;
# - it is loaded only if it admits SSH from where this very session comes from (tried in a
#   network namespace of its own, which no traffic passes); otherwise the step fails, naming
#   the key to fix, with the rules in force left as they were;
# - connections already open (this one) stay admitted (`ct state established`);
# - the same ruleset again changes nothing (the table is not even reloaded).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v nft >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nftables >/dev/null
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/ruleset.nft"
nft -c -f "$work/ruleset.nft"
# $1: the session's SSH_CLIENT, given by the login shell (sudo drops it from the environment).
session="${1:-${SSH_CLIENT:-}}"
client="${session%% *}"
client="${client#::ffff:}"
if [ -n "$client" ]; then
  case "$client" in *:*) set=@@{ssh_v6} ;; *) set=@@{ssh_v4} ;; esac
  # shellcheck disable=SC2016  # expanded by the inner shell
  if ! unshare --net sh -c 'nft -f "$1" && nft get element inet @@{table} "$2" "{ $3 }"' \
    sh "$work/ruleset.nft" "$set" "$client" >/dev/null 2>&1; then
    echo "firewall not changed: this deployment's SSH comes from $client, which" \
      "django-stack:vm.sshAllowedFrom does not admit; the new rules would refuse its next" \
      "connection. Add $client (or its network) to vm.sshAllowedFrom." >&2
    exit 1
  fi
fi
if cmp -s "$work/ruleset.nft" @@{ruleset_file} && nft list table inet @@{table} >/dev/null 2>&1; then
  echo "firewall unchanged"
else
  nft -f "$work/ruleset.nft"
  install -m 0755 "$work/ruleset.nft" @@{ruleset_file}
  echo "firewall loaded"
fi
# Debian's unit loads the file at boot, before the network comes up.
systemctl enable --quiet nftables
