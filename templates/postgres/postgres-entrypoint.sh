#!/bin/sh
# The database container's entrypoint: on every start, makes sure the stack's app role and its
# database exist (idempotently, as templates/vm/postgres.sh does on a VM), then runs
# PostgreSQL in the foreground. Extra arguments go to the server (the tests pick a port).
#
# Least privilege: the app role is a plain role (NOSUPERUSER NOCREATEDB NOCREATEROLE) that
# owns its database, which is all Django's migrations need. The superuser is `postgres`, with
# no password at all: it logs in only through the server's socket inside this container, by
# peer authentication (the container's own `postgres` account), as Debian's packaged server
# does on a VM. So no password of a superuser exists anywhere, and the replicas and the
# migration job hold only the app role's. The password never appears on a command line.
set -eu
: "${APP_DB_USER:?APP_DB_USER is required}"
: "${APP_DB_NAME:?APP_DB_NAME is required}"
: "${APP_DB_PASSWORD:?APP_DB_PASSWORD is required}"

# A data directory of another major version (a volume made on another baseImage) cannot be
# opened by this server: say so, rather than let PostgreSQL fail on its files.
server=$(postgres -V | awk '{print $3}' | cut -d. -f1)
if [ -s "$PGDATA/PG_VERSION" ] && [ "$(cat "$PGDATA/PG_VERSION")" != "$server" ]; then
  echo "the data in $PGDATA is PostgreSQL $(cat "$PGDATA/PG_VERSION")'s; this image runs" \
    "PostgreSQL $server (from its base image): keep the baseImage the data was made with," \
    "or dump it and restore it into a new volume" >&2
  exit 1
fi

newline='
'
for value in "$APP_DB_USER" "$APP_DB_NAME" "$APP_DB_PASSWORD"; do
  case $value in
    *"$newline"*) echo "APP_DB_USER, APP_DB_NAME and APP_DB_PASSWORD may not hold a newline" >&2; exit 1 ;;
  esac
done
# A value as an SQL string literal (standard_conforming_strings: only ' is special).
literal() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
# SQL run in single-user mode: no server listening, no authentication; the session is the
# bootstrap superuser's, whatever its name (which differs between old and new volumes).
# With -j a statement ends with a semicolon and an empty line.
single_user() { postgres --single -D "$PGDATA" -j postgres; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initdb --username=postgres --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
fi

user=$(literal "$APP_DB_USER")
database=$(literal "$APP_DB_NAME")
# The role: created once, then told its attributes and password on every start (a changed
# databasePassword takes effect with the new container).
#
# A volume made before this scheme (by the old entrypoint: `initdb --username=<app user>`)
# has the app role as its bootstrap superuser, which PostgreSQL cannot demote ("The bootstrap
# user must have the SUPERUSER attribute"). Such a volume keeps working as it did: its role
# keeps its superuser and gets its password set again, and the log says so with a WARNING.
# To move it to a plain role, dump the database and restore it into a new volume.
single_user >/dev/null <<SQL
SET django_stack.app_user = $user;

SET django_stack.app_password = $(literal "$APP_DB_PASSWORD");

DO \$django_stack\$
DECLARE
  role_name text := current_setting('django_stack.app_user');
  password text := current_setting('django_stack.app_password');
  role_oid oid;
BEGIN
  SELECT oid INTO role_oid FROM pg_roles WHERE rolname = role_name;
  IF role_oid IS NULL THEN
    EXECUTE format('CREATE ROLE %I', role_name);
  END IF;
  IF role_oid = 10 THEN
    RAISE WARNING 'django-stack: role % is this volume''s bootstrap superuser (made before the app role was a plain one) and stays a superuser; dump and restore into a new volume to drop that', role_name;
    EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', role_name, password);
  ELSE
    EXECUTE format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', role_name, password);
  END IF;
END
\$django_stack\$;

SQL
# The database, owned by the role (which is what gives it CREATE on the public schema, no
# longer granted to everyone by the server): created when missing, which no transaction or
# DO block can do.
present=$(single_user <<SQL
SELECT 'django-stack-present' AS found FROM pg_database WHERE datname = $database;

SQL
)
case $present in
  *'"django-stack-present"'*) ;;
  *) printf 'CREATE DATABASE "%s" OWNER "%s";\n\n' \
       "$(printf '%s' "$APP_DB_NAME" | sed 's/"/""/g')" \
       "$(printf '%s' "$APP_DB_USER" | sed 's/"/""/g')" | single_user >/dev/null ;;
esac

# Replicas reach the server over the stack's private network, with the password, for this
# database and role only; the superuser never over the network (it has no password either).
# First in the file, as the first line that matches decides; rewritten on every start, so it
# follows a changed name. (An old volume keeps its `host all all` line below it.)
hba="$PGDATA/pg_hba.conf"
{
  echo "# django-stack begin"
  echo "host all postgres all reject"
  echo "host \"$APP_DB_NAME\" \"$APP_DB_USER\" all scram-sha-256"
  echo "# django-stack end"
  sed '/^# django-stack begin$/,/^# django-stack end$/d' "$hba"
} > "$hba.new"
mv "$hba.new" "$hba"
unset APP_DB_PASSWORD
exec postgres -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
