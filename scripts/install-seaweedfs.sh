#!/usr/bin/env bash
# Builds SeaweedFS's `weed` binary, the S3-compatible server the end-to-end tests store media
# in (`media.kind: s3`), from its Go module, and prints the binary's path.
#
#   scripts/install-seaweedfs.sh     # prints e.g. ~/.cache/django-stack/seaweedfs-<version>/weed
#
# Pinned by version and cached by version under $DJANGO_STACK_CACHE (default
# ~/.cache/django-stack), as scripts/install-pulumi.sh does for the Pulumi CLI: only the first
# run on a machine pays for the build (see README, "Tests"); later runs take a second.
# Only the tests need it: a deployment's S3 endpoint is the user's own.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[seaweedfs] %s\n' "$*" >&2; }

MODULE=github.com/seaweedfs/seaweedfs
# The module has no release tags the proxy serves: this is the pseudo-version of the commit.
VERSION=v0.0.0-20261109003541-7506e5f91cd6

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
binary="$cache/seaweedfs-$VERSION/weed"
if [ -x "$binary" ]; then
  echo "$binary"
  exit 0
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain to build SeaweedFS with"; exit 1; }
log "building SeaweedFS $VERSION from its Go module (first run on this machine only)"
started=$SECONDS
work="$cache/build/seaweedfs-$VERSION"
log_file="$cache/build-seaweedfs-$VERSION.log"
mkdir -p "$cache"
rm -rf "$work" && mkdir -p "$work"
(
  # Its go.mod has a replace line, so `go install MODULE/weed@VERSION` refuses it: build the
  # downloaded module itself, with its own go.mod and go.sum.
  src=$(GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [ -d "$src" ] || { echo "go mod download gave no module directory"; exit 1; }
  cp -r "$src/." "$work/src" && chmod -R u+w "$work/src"
  cd "$work/src"
  # No cgo: a static binary that also runs in the Debian containers.
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/weed" ./weed
) >"$log_file" 2>&1 || {
  tail -20 "$log_file" >&2
  log "building SeaweedFS failed; the whole log: $log_file"
  exit 1
}
mkdir -p "$(dirname "$binary")"
mv "$work/weed" "$binary"
rm -rf "$work"
log "built $binary in $((SECONDS - started))s"
echo "$binary"
