#!/usr/bin/env bash
# Builds the project's own `command` resource plugin (scripts/command-provider/, our code): the
# one resource of pulumi-command the VM target uses, command:remote:Command, written on the
# Pulumi Go SDK's provider gRPC interface with golang.org/x/crypto/ssh. pulumi-command's own
# provider module, and pulumi-go-provider it is built on, are refused by the Go module proxy
# (issue 11), hence this. scripts/test.sh builds it for tests/engine/test_command_plugin.py; the
# program's VM stacks do not run under it yet (docs/engine-spike-command.md).
#
#   scripts/build-command-provider.sh             # prints the path of the plugin binary
#   scripts/build-command-provider.sh --if-built  # the path if it is built already, else exit 1
#
# Cached under $DJANGO_STACK_CACHE (default ~/.cache/django-stack) by the version it answers as
# and a digest of its sources (go.mod and go.sum pin every module), as install-pulumi.sh does:
# only the first run after a change pays for the build. Install it for the engine with
#   pulumi plugin install resource command "$PLUGIN_VERSION" --file "$(scripts/build-command-provider.sh)"
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[command-provider] %s\n' "$*" >&2; }

# The version the Python SDK asks the engine for (requirements.txt's pulumi-command).
PLUGIN_VERSION=$(sed -n 's/^pulumi-command==\([0-9.]*\).*/\1/p' requirements.txt)
sources=$PWD/scripts/command-provider
# The Go SDK version (the CLI's, scripts/install-pulumi.sh, so the two share the module and
# build caches) and the rest are pinned in go.mod/go.sum; the digest covers them.
digest=$(cd "$sources" && cat go.mod go.sum ./*.go schema.json | sha256sum | cut -c1-12)

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
key="v$PLUGIN_VERSION-src-$digest"
bin_dir="$cache/pulumi-resource-command-$key"
binary="$bin_dir/pulumi-resource-command"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if [ "${1:-}" = "--if-built" ]; then
  log "not built yet for these sources ($binary): run scripts/build-command-provider.sh"
  exit 1
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain to build the plugin"; exit 1; }

work="$cache/build/pulumi-resource-command-$key"
build_log="$cache/build-pulumi-resource-command-$key.log"
log "building the command plugin $PLUGIN_VERSION from Go modules (first run for these sources)"
started=$SECONDS
rm -rf "$work" && mkdir -p "$work"
(
  cd "$sources"
  # -mod=readonly: the modules are exactly go.sum's, nothing is resolved anew. No cgo, as
  # Pulumi's own plugin releases.
  CGO_ENABLED=0 go build -mod=readonly -trimpath \
    -ldflags "-s -w -X main.Version=$PLUGIN_VERSION" -o "$work/pulumi-resource-command" .
) >"$build_log" 2>&1 || {
  tail -20 "$build_log" >&2
  log "building the command plugin failed; the whole log: $build_log"
  exit 1
}
mkdir -p "$bin_dir"
mv "$work/pulumi-resource-command" "$binary"
rm -rf "$work"
log "built $binary in $((SECONDS - started))s"
echo "$binary"
