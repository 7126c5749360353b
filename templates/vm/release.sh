#!/bin/bash
# Installs one release of the Django project: reads a base64 tar.gz on stdin (the project,
# its dependency declaration, the settings overlay, the server requirements and, optionally,
# an extra CA bundle), fills the virtualenv and swaps the code in. Rendered by
# components/render/vm_scripts.py.
set -euo pipefail
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
base64 -d | tar -xz -C "$work"
[ -x @@{venv}/bin/pip ] || python3 -m venv @@{venv}
export PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -s "$work/extra-ca.crt" ]; then
  # Trusted by pip and uv only, for this run: the bundle is deleted with $work on exit.
  cat /etc/ssl/certs/ca-certificates.crt "$work/extra-ca.crt" > "$work/ca.pem"
  export PIP_CERT="$work/ca.pem"
fi
# The server first, then the project's own dependencies, in runs of their own: a project's
# hash-checking mode (--require-hashes) applies to its files only.
if [ -s "$work/server-requirements.txt" ]; then
  @@{venv}/bin/pip install --quiet -r "$work/server-requirements.txt"
fi
(cd "$work/@@{dependencies_dir}/project" && bash ../install.sh @@{venv})
install -m 0644 "$work"/overlay/* @@{overlay_dir}/
rm -rf @@{app_dir}.next @@{app_dir}.previous
cp -a "$work/project" @@{app_dir}.next
chown -R root:root @@{app_dir}.next
chmod -R a+rX,go-w @@{app_dir}.next
python3 -m compileall -q @@{app_dir}.next @@{overlay_dir} >/dev/null || true
if [ -d @@{app_dir} ]; then mv @@{app_dir} @@{app_dir}.previous; fi
mv @@{app_dir}.next @@{app_dir}
rm -rf @@{app_dir}.previous
echo "release @@{release} installed"
