#!/usr/bin/env bash
# Installs and starts a local Docker engine (Debian's docker.io) and builds the Debian base
# images from the Debian mirror when they are missing: debian:trixie-slim (Debian 13, the
# default baseImage) and debian:bookworm-slim (Debian 12, still supported and tested).
# Used by CI and by the README's commands on a fresh Debian machine. Idempotent.
# DJANGO_STACK_BASE_IMAGES (space-separated debian:<codename>-slim tags) narrows the list.
set -euo pipefail

DOCKER=/usr/bin/docker
log() { printf '[docker-engine] %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    log "this step needs root (apt-get, dockerd); run it with sudo"
    exit 1
  fi
}

if ! command -v dockerd >/dev/null 2>&1 || [ ! -x "$DOCKER" ]; then
  need_root
  log "installing docker.io and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

if ! "$DOCKER" info >/dev/null 2>&1; then
  need_root
  log "starting dockerd (vfs storage driver)"
  # vfs works on any filesystem, including the overlay roots of CI machines.
  nohup dockerd --storage-driver=vfs >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    sleep 1
  done
  "$DOCKER" info >/dev/null 2>&1 || { log "dockerd did not start; see /tmp/dockerd.log"; exit 1; }
fi

# The end-to-end suite runs every server pair on the default (trixie) and one on bookworm.
bases=${DJANGO_STACK_BASE_IMAGES:-debian:trixie-slim debian:bookworm-slim}
rootfs=""
trap '[ -z "$rootfs" ] || rm -rf "$rootfs"' EXIT
for base in $bases; do
  if "$DOCKER" image inspect "$base" >/dev/null 2>&1; then
    continue
  fi
  # The tag names the suite: debian:<codename>-slim.
  suite=${base#debian:}
  suite=${suite%-slim}
  case "$base" in
    debian:*-slim) ;;
    *) log "cannot build $base: only debian:<codename>-slim tags are built here"; exit 1 ;;
  esac
  need_root
  command -v debootstrap >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  log "building $base from the Debian mirror (no registry pull is needed)"
  rootfs=$(mktemp -d)
  # The same recipe the official slim image comes from: a minbase debootstrap.
  debootstrap --variant=minbase "$suite" "$rootfs" http://deb.debian.org/debian \
    >"/tmp/debootstrap-$suite.log" 2>&1 \
    || { log "debootstrap $suite failed; see /tmp/debootstrap-$suite.log"; exit 1; }
  # mktemp -d made the root 0700: the image's / must be traversable by non-root users.
  chmod 755 "$rootfs"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "$DOCKER" import - "$base" >/dev/null
  rm -rf "$rootfs"
  rootfs=""
done
log "engine ready; base images present: $bases"
