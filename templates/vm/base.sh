#!/bin/bash
# Prepares a Debian host for django-stack: Debian packages, the app user, directories.
# Rendered by components/render/vm_scripts.py; safe to run again (idempotent).
set -euo pipefail
@@{release_check}
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s @@{packages} >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends @@{packages} >/dev/null
fi
@@{extra_packages}
# Debian starts the packaged servers on install; the stack runs its own units instead.
for service in @@{disable_services}; do
  systemctl disable --now "$service" >/dev/null 2>&1 || true
done
id -u @@{user} >/dev/null 2>&1 \
  || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin @@{user}
install -d -m 0755 @@{config_dir} @@{overlay_dir}
install -d -m 0750 -o @@{user} -g @@{user} @@{data_dir}
# Where Django spools an upload too big for memory (media in S3): disk, not a tmpfs.
install -d -m 0700 -o @@{user} -g @@{user} @@{upload_temp_dir}
