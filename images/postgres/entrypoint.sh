#!/bin/sh
# Starts as root only to hand the (root-owned, freshly mounted) volume to postgres, then runs as postgres.
set -eu
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 0700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres-entrypoint: POSTGRES_PASSWORD is empty; refusing to create a database without one" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    # Password (SCRAM) from every network; the socket inside the container trusts its own users.
    cat >"$PGDATA/pg_hba.conf" <<HBA
local all all trust
host all all 0.0.0.0/0 scram-sha-256
host all all ::/0 scram-sha-256
HBA
    if [ "$db" != postgres ]; then
        # A server on the socket only, for the first database, then stopped.
        pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
        if ! psql -h /var/run/postgresql -U "$user" -d postgres -tAc \
                "SELECT 1 FROM pg_database WHERE datname = '$(printf '%s' "$db" | sed "s/'/''/g")'" | grep -q 1; then
            createdb -h /var/run/postgresql -U "$user" -O "$user" -- "$db"
        fi
        pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "postgres-entrypoint: created database $db for $user"
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql \
    -c password_encryption=scram-sha-256 "$@"
