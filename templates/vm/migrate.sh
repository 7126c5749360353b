#!/bin/bash
# Runs Django's migrations, then the stack's release commands, once, as a oneshot unit with
# the app's environment (the unit is a base64 tar.gz on stdin, paths relative to /); the
# first command that fails fails this step, so no app server reloads onto the release.
set -euo pipefail
base64 -d | tar -xz -C / --no-same-owner --no-overwrite-dir
systemctl daemon-reload
if ! systemctl start @@{unit}; then
  journalctl -u @@{unit} -n 60 --no-pager >&2 || true
  exit 1
fi
echo "migrations and release commands done (release @@{release})"
