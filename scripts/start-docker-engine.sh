#!/usr/bin/env bash
# Installs and starts a local Docker engine (Debian's docker.io) and builds the
# debian:bookworm-slim base image from the Debian mirror when it is missing.
# Used by CI and by the README's commands on a fresh Debian machine. Idempotent.
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

base=${DJANGO_STACK_BASE_IMAGE:-debian:bookworm-slim}
if ! "$DOCKER" image inspect "$base" >/dev/null 2>&1; then
  need_root
  command -v debootstrap >/dev/null 2>&1 || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  log "building $base from the Debian mirror (no registry pull is needed)"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  # The same recipe the official slim image comes from: a minbase debootstrap.
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/tmp/debootstrap.log 2>&1
  # mktemp -d made the root 0700: the image's / must be traversable by non-root users.
  chmod 755 "$rootfs"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "$DOCKER" import - "$base" >/dev/null
fi
log "engine ready; base image $base present"
