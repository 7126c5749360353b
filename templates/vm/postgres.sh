#!/bin/bash
# PostgreSQL on the database host: Debian's server, listening on the private address, open
# to the app hosts only, with the stack's database and role. The password is the first line
# of stdin and is handed to psql through its environment, never on a command line.
set -euo pipefail
@@{release_check}
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -s postgresql >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
# Debian's `postgresql` depends on the release's own major version (postgresql-<major>),
# whose cluster `main` the package made: that is the server this stack configures.
version=$(dpkg-query -W -f='${Depends}' postgresql | sed -n 's/^postgresql-\([0-9][0-9]*\).*/\1/p')
conf=/etc/postgresql/$version/main
if [ -z "$version" ] || [ ! -d "$conf" ]; then
  echo "no PostgreSQL cluster 'main' of the release's version ${version:-?} ($conf)" >&2
  exit 1
fi
IFS= read -r password
before="$(cat "$conf/conf.d/django-stack.conf" 2>/dev/null || true)"
printf "listen_addresses = '*'\nport = @@{port}\n" > "$conf/conf.d/django-stack.conf"
# Only the app hosts, only this database and role, only with the password.
sed -i '/^# django-stack begin$/,/^# django-stack end$/d' "$conf/pg_hba.conf"
{
  echo "# django-stack begin"
  for address in @@{clients}; do
    echo "host @@{database} @@{role} $address scram-sha-256"
  done
  echo "# django-stack end"
} >> "$conf/pg_hba.conf"
if [ "$before" != "$(cat "$conf/conf.d/django-stack.conf")" ]; then
  systemctl restart "postgresql@$version-main"
else
  systemctl reload "postgresql@$version-main"
fi
for _ in $(seq 1 30); do runuser -u postgres -- pg_isready -q && break; sleep 1; done
DJANGO_STACK_DB_PASSWORD="$password" runuser -u postgres -- psql -q -v ON_ERROR_STOP=1 <<'SQL'
\getenv db_password DJANGO_STACK_DB_PASSWORD
SELECT 'CREATE ROLE @@{role} LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '@@{role}')
\gexec
ALTER ROLE @@{role} WITH LOGIN PASSWORD :'db_password';
SELECT 'CREATE DATABASE @@{database} OWNER @@{role}' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '@@{database}')
\gexec
SQL
echo "database @@{database} ready"
