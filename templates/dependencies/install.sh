#!/bin/bash
# Installs a Django project's dependencies, as the project declares them, into a virtualenv:
# the same step in the app image's build stage and in a VM release (components/dependencies.py
# says which format a project uses, and which files it needs). Run from the directory that
# holds the declaration files (and nothing of the project's code), as `install.sh VENV`; the
# format (requirements, pyproject or uv) is in the file `format` beside this script.
# pip trusts PIP_CERT when it is set (an extra CA bundle); uv is given the same bundle.
set -euo pipefail
venv=$1
here=$(cd "$(dirname "$0")" && pwd)
format=$(cat "$here/format")
case "$format" in
  requirements)
    echo "django-stack: installing the project's dependencies from requirements.txt with pip"
    # One pip run for the file and its includes: hash-checking mode (--require-hashes, or
    # any --hash) then covers exactly the project's own requirements.
    "$venv/bin/pip" install -r requirements.txt
    ;;
  pyproject)
    echo "django-stack: installing the project's dependencies from pyproject.toml with pip"
    "$venv/bin/pip" install -r pyproject-dependencies.txt
    ;;
  uv)
    echo "django-stack: installing the project's dependencies from uv.lock with uv sync --frozen"
    # uv itself is a tool of this step only: installed aside, removed after.
    tools=$(mktemp -d)
    trap 'rm -rf "$tools"' EXIT
    python3 -m venv "$tools"
    "$tools/bin/pip" install --quiet -r "$here/uv-requirements.txt"
    if [ -n "${PIP_CERT:-}" ]; then export SSL_CERT_FILE="$PIP_CERT"; fi
    # Into the existing virtualenv (the app server is already there: --inexact keeps it), with
    # its Python, exactly the locked versions (--frozen: the lock is not re-resolved), without
    # the dev group or the project itself (its code runs from the app directory). Bytecode is
    # compiled now, as pip does: the image's root filesystem is read-only at run time.
    UV_PROJECT_ENVIRONMENT="$venv" "$tools/bin/uv" sync \
      --frozen --inexact --no-dev --no-install-project \
      --python "$venv/bin/python" --no-python-downloads \
      --compile-bytecode --no-cache
    ;;
  *)
    echo "install.sh: unknown dependency format '$format'" >&2
    exit 2
    ;;
esac
