#!/bin/bash
# PostgreSQL on the database host: Debian's server, listening on the private address, open
# to the app hosts only, with the stack's database and role. The password is the first line
# of stdin and is handed to psql through its environment, never on a command line.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v pg_ctlcluster >/dev/null || [ ! -d /etc/postgresql/15/main ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
fi
IFS= read -r password
conf=/etc/postgresql/15/main
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
  systemctl restart postgresql@15-main
else
  systemctl reload postgresql@15-main
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
