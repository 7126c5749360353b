#!/bin/bash
# Runs Django's migrations once, as a oneshot unit with the app's environment (the unit is a
# base64 tar.gz on stdin, paths relative to /).
set -euo pipefail
base64 -d | tar -xz -C / --no-same-owner --no-overwrite-dir
systemctl daemon-reload
if ! systemctl start @@{unit}; then
  journalctl -u @@{unit} -n 60 --no-pager >&2 || true
  exit 1
fi
echo "migrations applied (release @@{release})"
