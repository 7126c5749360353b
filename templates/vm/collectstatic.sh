#!/bin/bash
# Collects the project's static files on the proxy host, as the app image's build does: with
# a build-only key and no database, precompresses them, then swaps the new tree in.
set -euo pipefail
next=@@{static_root}.next
rm -rf "$next" @@{static_root}.previous
install -d -o @@{user} -g @@{user} "$next"
runuser -u @@{user} -- env -i PATH=@@{venv}/bin:/usr/bin:/bin \
  PYTHONPATH=@@{overlay_dir}:@@{app_dir} PYTHONDONTWRITEBYTECODE=1 \
  DJANGO_STACK_BUILD=1 DJANGO_SETTINGS_MODULE=django_stack_settings \
  DJANGO_STACK_BASE_SETTINGS=@@{settings_module} DJANGO_STATIC_ROOT="$next" \
  DJANGO_STATIC_URL=@@{static_url} \
  @@{venv}/bin/django-admin collectstatic --noinput --verbosity 0
# A gzip copy of each text file beside it, as in the app image (the overlay's script says why).
runuser -u @@{user} -- @@{venv}/bin/python3 @@{overlay_dir}/django_stack_precompress.py "$next"
chown -R root:root "$next"
chmod -R a+rX,go-w "$next"
# One call that exchanges the trees, so a request in between finds the old tree or the new
# one, never none (nginx would answer 404, Apache 403 from its `<Directory />`): on Debian 12
# too, whose mv has no --exchange (exchange_paths.py says how).
if [ -d @@{static_root} ]; then
  @@{venv}/bin/python3 @@{overlay_dir}/exchange_paths.py "$next" @@{static_root}
  rm -rf "$next"
else
  mv "$next" @@{static_root}
fi
echo "static files of release @@{release} collected"
