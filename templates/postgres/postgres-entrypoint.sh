#!/bin/sh
# Initialises the cluster on the first start (user, password, database from the environment),
# then runs PostgreSQL in the foreground. The password never appears on a command line.
set -eu
: "${POSTGRES_USER:?POSTGRES_USER is required}"
: "${POSTGRES_DB:?POSTGRES_DB is required}"
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"

# A data directory of another major version (a volume made on another baseImage) cannot be
# opened by this server: say so, rather than let PostgreSQL fail on its files.
server=$(postgres -V | awk '{print $3}' | cut -d. -f1)
if [ -s "$PGDATA/PG_VERSION" ] && [ "$(cat "$PGDATA/PG_VERSION")" != "$server" ]; then
  echo "the data in $PGDATA is PostgreSQL $(cat "$PGDATA/PG_VERSION")'s; this image runs" \
    "PostgreSQL $server (from its base image): keep the baseImage the data was made with," \
    "or dump it and restore it into a new volume" >&2
  exit 1
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
    --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  echo "CREATE DATABASE \"$POSTGRES_DB\" OWNER \"$POSTGRES_USER\";" \
    | postgres --single -D "$PGDATA" -j postgres >/dev/null
  # Replicas reach the server over the stack's private network, with a password.
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$PGDATA/pg_hba.conf"
fi
unset POSTGRES_PASSWORD
exec postgres -c listen_addresses='*' -c unix_socket_directories=/tmp
