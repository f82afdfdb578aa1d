#!/bin/sh
# Starts as root only to hand the (root-owned, freshly mounted) volume to redis, then runs as redis.
set -eu
if [ "$(id -u)" = 0 ]; then
    mkdir -p /data
    chown redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
if [ -z "${REDIS_PASSWORD:-}" ]; then
    echo "redis-entrypoint: REDIS_PASSWORD is empty; refusing to serve without one" >&2
    exit 1
fi
# The configuration comes on stdin, so that the password is on no command line (ps, /proc).
escaped="$(printf '%s' "$REDIS_PASSWORD" | sed 's/\\/\\\\/g; s/"/\\"/g')"
exec redis-server - "$@" <<CONF
port 6379
bind * -::*
protected-mode no
dir /data
appendonly yes
requirepass "$escaped"
CONF
