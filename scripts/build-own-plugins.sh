#!/usr/bin/env bash
# Builds the project's own resource plugins (scripts/own-plugins/, our code, one Go module on
# the Pulumi Go SDK's provider gRPC interface), each standing in for the one resource the
# program uses of a provider whose own Go module the Go module proxy refuses (issue 11):
# - pulumi-resource-command: command:remote:Command (docs/engine-spike-command.md);
# - pulumi-resource-random: random:index/randomPassword:RandomPassword (docs/engine-own-random.md).
# Both share go.mod/go.sum and the Go build cache, so the second costs only its own package and
# a link. scripts/test.sh builds them for tests/engine/test_command_plugin.py and
# test_random_plugin.py. (scripts/build-random-provider.sh is the other random: the real
# terraform-provider-random bridged, minutes to build, not in CI.)
#
#   scripts/build-own-plugins.sh command|random             # prints the path of that plugin's binary
#   scripts/build-own-plugins.sh command|random --if-built  # the path if built already, else exit 1
#
# A run builds both plugins. They are cached under $DJANGO_STACK_CACHE (default
# ~/.cache/django-stack) by the versions they answer as and a digest of the module's sources
# (go.mod and go.sum pin every module), as install-pulumi.sh does: only the first run after a
# change pays for the build. Install one for the engine with
#   pulumi plugin install resource random "$VERSION" --file "$(scripts/build-own-plugins.sh random)"
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[own-plugins] %s\n' "$*" >&2; }

want=${1:-}
case "$want" in
  command | random) ;;
  *) log "usage: $0 command|random [--if-built]"; exit 2 ;;
esac

# The versions the Python SDKs ask the engine for (requirements.txt's pulumi-command and
# pulumi-random): each plugin answers as the release it stands in for.
version_of() { sed -n "s/^pulumi-$1==\([0-9.]*\).*/\1/p" requirements.txt; }
COMMAND_VERSION=$(version_of command)
RANDOM_VERSION=$(version_of random)
sources=$PWD/scripts/own-plugins
# The Go SDK version (the CLI's, scripts/install-pulumi.sh, so the two share the module and
# build caches) and the rest are pinned in go.mod/go.sum; the digest covers every file of the
# module, with its path.
digest=$(cd "$sources" && find . -type f | LC_ALL=C sort | while read -r f; do
  printf '%s\n' "$f"
  cat "$f"
done | sha256sum | cut -c1-12)

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
key="command-v$COMMAND_VERSION-random-v$RANDOM_VERSION-src-$digest"
bin_dir="$cache/own-plugins-$key"
binary="$bin_dir/pulumi-resource-$want"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
if [ "${2:-}" = "--if-built" ]; then
  log "not built yet for these sources ($binary): run scripts/build-own-plugins.sh $want"
  exit 1
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain to build the plugins"; exit 1; }

work="$cache/build/own-plugins-$key"
build_log="$cache/build-own-plugins-$key.log"
log "building the command ($COMMAND_VERSION) and random ($RANDOM_VERSION) plugins from Go modules (first run for these sources)"
started=$SECONDS
rm -rf "$work" && mkdir -p "$work"
(
  cd "$sources"
  # -mod=readonly: the modules are exactly go.sum's, nothing is resolved anew. No cgo, as
  # Pulumi's own plugin releases. go.mod holds the versions the CLI's build resolves
  # (scripts/install-pulumi.sh) and the flags and tags are its own, so every package the two
  # share (sdk/v3, gRPC, protobuf, OpenTelemetry) is one entry in the Go build cache: built
  # after the CLI, only the plugins' own packages compile. One `go build` a plugin, since each
  # sets its own main.Version; the second finds every shared package in the build cache.
  for plugin in command:"$COMMAND_VERSION" random:"$RANDOM_VERSION"; do
    name=${plugin%%:*}
    CGO_ENABLED=0 go build -mod=readonly -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X main.Version=${plugin#*:}" \
      -o "$work/pulumi-resource-$name" "./cmd/pulumi-resource-$name"
    echo "built pulumi-resource-$name at ${SECONDS}s"
  done
) >"$build_log" 2>&1 || {
  tail -20 "$build_log" >&2
  log "building the plugins failed; the whole log: $build_log"
  exit 1
}
mkdir -p "$bin_dir"
mv "$work"/pulumi-resource-* "$bin_dir/"
rm -rf "$work"
log "built $bin_dir in $((SECONDS - started))s"
echo "$binary"
