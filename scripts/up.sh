#!/usr/bin/env bash
# The main job: set up this machine and run `pulumi up` on a stack (default: dev) with a local
# file state backend (.pulumi-state/) and the local Docker engine.
#   scripts/up.sh [STACK] [extra pulumi up arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-dev}
[ "$#" -gt 0 ] && shift

scripts/setup-host.sh

if ! command -v pulumi >/dev/null 2>&1; then
  cat >&2 <<'MSG'
[up] The Pulumi CLI is not installed, so `pulumi up` cannot run on this machine.
     Install it (https://www.pulumi.com/docs/install/), then run this command again.
     Everything else is ready: .venv, the Docker engine and the base image.
MSG
  exit 1
fi

# State in a local folder: no Pulumi Cloud account needed.
mkdir -p .pulumi-state
export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
# Secrets in the state are encrypted with a passphrase; one is made for this checkout unless
# you bring your own (PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE).
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  passphrase=.pulumi-state/passphrase
  [ -s "$passphrase" ] || (umask 077 && head -c 32 /dev/urandom | base64 > "$passphrase")
  export PULUMI_CONFIG_PASSPHRASE_FILE="$PWD/$passphrase"
fi

pulumi stack select "$stack" 2>/dev/null || pulumi stack init "$stack"
pulumi up --stack "$stack" --yes "$@"
