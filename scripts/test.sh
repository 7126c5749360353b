#!/usr/bin/env bash
# The test command: sets up the machine (scripts/setup-host.sh --test, the Pulumi CLI via
# scripts/install-pulumi.sh, the project's own command and random plugins via
# scripts/build-own-plugins.sh, the docker plugin via scripts/build-docker-provider.sh, Pebble
# via scripts/install-pebble.sh, SeaweedFS via
# scripts/install-seaweedfs.sh), then runs every test:
# unit tests under Pulumi mocks, the rendered configs in the real servers, the program under
# the real Pulumi engine, and the end-to-end suite on the local Docker engine. Extra
# arguments go to pytest.
# DJANGO_STACK_REQUIRE_E2E=1 (CI sets it) turns any skipped test into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

phase_started=$SECONDS
phase() {
  printf '\n[test] %s (previous phase %ss, %ss so far)\n' "$*" "$((SECONDS - phase_started))" \
    "$SECONDS" >&2
  phase_started=$SECONDS
}

# The Go builds are CPU-bound and need nothing the host set-up installs, which is network- and
# disk-bound (apt, pip, debootstrap of the base images): they run in the background meanwhile.
# One after another, so that each finds the packages of the ones before in the Go build cache
# (the command plugin reuses most of the CLI's, the random plugin all but its own package): the
# Pulumi CLI, our command and random plugins (one Go module, one build), the docker plugin (it
# shares pkg/v3, sdk/v3, gRPC and protobuf with the CLI, at the CLI's versions), Pebble,
# and SeaweedFS (the S3 server of the media.kind s3 end-to-end test). Each one's messages and
# time are printed once the set-up is done, and a failed one fails the run.
go_builds=$(mktemp -d)
go_pid=""
# If the run stops early (a failed set-up, ^C), the builds stop too: their process group
# (set -m gives the background job one of its own) is ended.
trap '[ -z "$go_pid" ] || kill -- "-$go_pid" 2>/dev/null || true; rm -rf "$go_builds"' EXIT
go_build() { # NAME SCRIPT [ARG...]: runs SCRIPT; its stdout (a path) goes to $go_builds/NAME
  local started=$SECONDS status=0
  "${@:2}" >"$go_builds/$1" 2>>"$go_builds/log" || status=$?
  printf '[test] %s: %ss, exit %s\n' "${*:2}" "$((SECONDS - started))" "$status" >>"$go_builds/log"
  return "$status"
}
set -m
(
  go_build pulumi-dir scripts/install-pulumi.sh &&
    go_build command-plugin scripts/build-own-plugins.sh command &&
    go_build random-plugin scripts/build-own-plugins.sh random &&
    go_build docker-plugin scripts/build-docker-provider.sh &&
    go_build pebble-dir scripts/install-pebble.sh &&
    go_build seaweedfs scripts/install-seaweedfs.sh
) &
go_pid=$!
set +m

phase "setting up the host (the Go builds run in the background meanwhile)"
scripts/setup-host.sh --test

phase "the Go builds: the Pulumi CLI, the command, random and docker plugins (tests/engine/test_*_plugin.py; every stack under the engine), Pebble (tls.mode acme's end-to-end test), SeaweedFS (media.kind s3's)"
go_status=0
wait "$go_pid" || go_status=$?
go_pid=""
cat "$go_builds/log" >&2
[ "$go_status" = 0 ] || { echo "[test] a Go build failed (exit $go_status)" >&2; exit 1; }
DJANGO_STACK_PULUMI_DIR=$(cat "$go_builds/pulumi-dir")
DJANGO_STACK_COMMAND_PLUGIN=$(cat "$go_builds/command-plugin")
DJANGO_STACK_RANDOM_PLUGIN=$(cat "$go_builds/random-plugin")
DJANGO_STACK_DOCKER_PLUGIN=$(cat "$go_builds/docker-plugin")
DJANGO_STACK_PEBBLE_DIR=$(cat "$go_builds/pebble-dir")
export DJANGO_STACK_PULUMI_DIR DJANGO_STACK_COMMAND_PLUGIN DJANGO_STACK_RANDOM_PLUGIN \
  DJANGO_STACK_DOCKER_PLUGIN DJANGO_STACK_PEBBLE_DIR

phase "lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy components deploy tests/support tests/e2e tests/engine

phase "pytest"
set +e
.venv/bin/python -m pytest tests "$@"
status=$?
set -e
# pytest's 5 means no test ran at all: never a pass.
[ "$status" = 5 ] && { echo "[test] no test ran" >&2; exit 1; }
phase "done (pytest exit $status)"
exit "$status"
