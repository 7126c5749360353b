#!/usr/bin/env bash
# The former name of `scripts/build-own-plugins.sh command` (the command plugin now shares its
# Go module with the project's own random plugin): kept for the callers of the old name, such
# as tests/e2e/real_engine.py's plugin lookup.
#
#   scripts/build-command-provider.sh [--if-built]
set -euo pipefail
exec "$(dirname "$0")/build-own-plugins.sh" command "$@"
