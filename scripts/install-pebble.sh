#!/usr/bin/env bash
# Makes Pebble (Let's Encrypt's own ACME test server) available for the tests of
# `tls.mode: acme`: built from its Go module at a pinned version and cached by version under
# $DJANGO_STACK_CACHE (default ~/.cache/django-stack), so only the first run on a machine
# builds it (about a minute on 2 cores). Its test material, the HTTPS certificate of its own
# directory (for the names `pebble` and `localhost`) and the minica root that signed it, is
# copied from the module's test/certs/ beside the binary.
#
#   scripts/install-pebble.sh        # prints the directory holding pebble and its certs/
#
# Pebble is for tests only: its minica root's private key is public (test/certs/README.md).
# https://github.com/letsencrypt/pebble
set -euo pipefail

log() { printf '[pebble] %s\n' "$*" >&2; }

PEBBLE_MODULE=github.com/letsencrypt/pebble/v2
PEBBLE_VERSION=v2.10.3

cache=${DJANGO_STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/django-stack}
dir="$cache/pebble-$PEBBLE_VERSION"
if [ -x "$dir/pebble" ] && [ -f "$dir/certs/localhost/cert.pem" ]; then
  echo "$dir"
  exit 0
fi
command -v go >/dev/null 2>&1 || { log "no Go toolchain to build Pebble $PEBBLE_VERSION"; exit 1; }
log "building Pebble $PEBBLE_VERSION from its Go module (first run on this machine only)"
started=$SECONDS
work="$cache/build/pebble-$PEBBLE_VERSION"
rm -rf "$work" && mkdir -p "$work"
(
  # A static binary: it runs in the tests' Debian containers whatever their libc.
  CGO_ENABLED=0 GOBIN="$work" go install -trimpath "$PEBBLE_MODULE/cmd/pebble@$PEBBLE_VERSION"
  source_dir=$(cd "$work" && go mod download -json "$PEBBLE_MODULE@$PEBBLE_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  [ -d "$source_dir/test/certs/localhost" ] || { echo "no test/certs in $source_dir"; exit 1; }
  mkdir -p "$work/certs/localhost"
  cp "$source_dir/test/certs/pebble.minica.pem" "$work/certs/"
  cp "$source_dir/test/certs/localhost/cert.pem" "$source_dir/test/certs/localhost/key.pem" \
    "$work/certs/localhost/"
  chmod -R u+w,a+r "$work/certs"
) >"$cache/build-pebble-$PEBBLE_VERSION.log" 2>&1 || {
  tail -20 "$cache/build-pebble-$PEBBLE_VERSION.log" >&2
  log "building Pebble failed; the whole log: $cache/build-pebble-$PEBBLE_VERSION.log"
  exit 1
}
rm -rf "$dir" && mv "$work" "$dir"
log "built $dir/pebble in $((SECONDS - started))s"
echo "$dir"
