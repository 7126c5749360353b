#!/usr/bin/env bash
# The main job: set up this machine and run `pulumi up` on a stack (default: dev) with a local
# file state backend (.pulumi-state/) and the local Docker engine.
#   scripts/up.sh [STACK] [extra `python -m deploy up` arguments, e.g. --diff]
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${1:-dev}
[ "$#" -gt 0 ] && shift

scripts/setup-host.sh
# The official CLI when installed; otherwise the offline build from Go modules (cached).
cli_dir=$(scripts/install-pulumi.sh)
online=()
# Only the official CLI fetches its own plugins; the offline build must not try: it gets the
# plugins the project builds itself (the docker one only for a stack on Docker).
if [[ "$cli_dir" == "${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}"/* ]]; then
  platform=$(sed -n 's/^ *django-stack:platform: *\([a-z]*\).*/\1/p' "stacks/Pulumi.$stack.yaml" 2>/dev/null || true)
  scripts/install-plugins.sh "$cli_dir" $([ "${platform:-docker}" = vm ] || echo docker)
else
  online=(--online)
fi

# The real engine, through the Automation API (python -m deploy): state in .pulumi-state/,
# secrets encrypted with .pulumi-state/passphrase unless PULUMI_CONFIG_PASSPHRASE is set.
exec .venv/bin/python -m deploy up "$stack" --yes --cli-dir "$cli_dir" "${online[@]}" "$@"
