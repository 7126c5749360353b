#!/bin/bash
# Writes the app's environment file (it holds the secret key and the database password) from
# stdin, readable by root and the app only. Nothing of it is printed.
set -euo pipefail
umask 077
target=@@{env_file}
cat > "$target.new"
chown root:@@{user} "$target.new"
chmod 0640 "$target.new"
mv "$target.new" "$target"
