#!/usr/bin/env bash
# Prepares a Debian machine for this project: the Python virtualenv (.venv) with the pinned
# requirements, and, with --test, the real servers the tests run (nginx, apache2, PostgreSQL;
# SeaweedFS for S3 is built from Go modules by scripts/test.sh, with the other Go builds),
# the ssh client (for the VM end-to-end tests) plus a running Docker engine with the Debian
# base images: debian:trixie-slim (the default), and debian:bookworm-slim too with --test.
# Idempotent: steps that are already done are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: $*; run this as root (sudo) or install them"
    exit 1
  fi
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then apt_install python3-venv; fi
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
requirements=requirements.txt
[ "$with_tests" = 1 ] && requirements=requirements-dev.txt
stamp=".venv/.installed-$(sha256sum "$requirements" requirements.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing $requirements into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi

if [ "$with_tests" = 1 ]; then
  missing=()
  command -v nginx >/dev/null 2>&1 || missing+=(nginx)
  command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || missing+=(apache2)
  [ -f /usr/lib/apache2/modules/mod_wsgi.so ] || missing+=(libapache2-mod-wsgi-py3)
  # The VM end-to-end tests reach their stand-in machines with the ssh client.
  { command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1; } \
    || missing+=(openssh-client)
  # The command plugin's engine test (tests/engine/test_command_plugin.py) runs its own sshd.
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  # The VM firewall's ruleset is checked and loaded (in a namespace of the tests' own) by the
  # real nft; the VM units are scored by `systemd-analyze security --offline=yes`.
  [ -x /usr/sbin/nft ] || command -v nft >/dev/null 2>&1 || missing+=(nftables)
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
  fi
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} from Debian"
    apt_install "${missing[@]}"
  fi
  # mod_qos, which the Apache proxy's per-client limits need: the proxy image's own script
  # (on Debian 12 it comes from bookworm-backports; the script says why).
  if ! dpkg-query -W -f='${Version}' libapache2-mod-qos 2>/dev/null | grep -q . \
    || { grep -q bookworm /etc/os-release && ! dpkg-query -W -f='${Version}' libapache2-mod-qos | grep -q bpo12; }; then
    [ "$(id -u)" = 0 ] || { log "mod_qos missing: run this as root (sudo)"; exit 1; }
    log "installing libapache2-mod-qos"
    sh templates/apache/install-mod-qos.sh
  fi
fi

# A deployment needs the default base; the tests also run a pair on Debian 12.
if [ "$with_tests" != 1 ]; then
  export DJANGO_STACK_BASE_IMAGES=${DJANGO_STACK_BASE_IMAGES:-debian:trixie-slim}
fi
scripts/start-docker-engine.sh
