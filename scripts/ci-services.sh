#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis for CI and the tests: a fresh cluster in a temp dir, owned by this user (or
# by `postgres` when run as root, since initdb refuses root), listening on 127.0.0.1 only.
#
#   scripts/ci-services.sh install            apt-get the Debian packages if missing (root or sudo): PostgreSQL,
#                                             Redis, and Chromium for the console's browser tests (Playwright
#                                             drives the system's Chromium; never `playwright install`)
#   scripts/ci-services.sh start              start both; prints `export RUNAPI_SERVICES_...=...` lines
#                                             (the tests' services fixture reads them)
#   scripts/ci-services.sh restart-postgres [SECONDS_DOWN]
#   scripts/ci-services.sh stop
#
# RUNAPI_SERVICES_DIR (default /tmp/runapi-services-$UID), RUNAPI_PG_PORT (55432), RUNAPI_REDIS_PORT (56379).
set -euo pipefail

DIR="${RUNAPI_SERVICES_DIR:-/tmp/runapi-services-$(id -u)}"
PG_PORT="${RUNAPI_PG_PORT:-55432}"
REDIS_PORT="${RUNAPI_REDIS_PORT:-56379}"
PGDATA="$DIR/pgdata"

as_root() {  # run a command as root: directly, or through sudo
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

pg_bin() {
    local bin
    bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    if [ -n "$bin" ] && [ -x "$bin/$1" ]; then echo "$bin/$1"; else command -v "$1"; fi
}

as_pg() {  # initdb and postgres refuse to run as root
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
    local missing=()
    [ -n "$(pg_bin initdb || true)" ] || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    [ -x "${RUNAPI_CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
    [ ${#missing[@]} = 0 ] && return 0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

start_postgres() {
    mkdir -p "$DIR"
    chmod 755 "$DIR"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        mkdir -p "$PGDATA"
        [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
        as_pg "$(pg_bin initdb)" -D "$PGDATA" -U runapi --auth=trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log"
        # A test cluster: durability off for speed, room for many processes' pools.
        cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PGDATA'
max_connections = 500
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    fi
    if ! as_pg "$(pg_bin pg_ctl)" -D "$PGDATA" status >/dev/null 2>&1; then
        as_pg "$(pg_bin pg_ctl)" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start >/dev/null
    fi
}

start_redis() {
    mkdir -p "$DIR"
    if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
            --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" --dir "$DIR"
        for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
    fi
}

print_env() {
    cat <<ENV | tee "$DIR/env"
export RUNAPI_SERVICES_PG_URL='postgresql+asyncpg://runapi@127.0.0.1:$PG_PORT/postgres'
export RUNAPI_SERVICES_REDIS_URL='redis://127.0.0.1:$REDIS_PORT/0'
export RUNAPI_SERVICES_DIR='$DIR'
export RUNAPI_PG_PORT='$PG_PORT'
export RUNAPI_REDIS_PORT='$REDIS_PORT'
ENV
}

case "${1:-}" in
    install) install ;;
    start) start_postgres; start_redis; print_env ;;
    restart-postgres)
        as_pg "$(pg_bin pg_ctl)" -D "$PGDATA" -m fast -w stop >/dev/null
        sleep "${2:-0}"
        as_pg "$(pg_bin pg_ctl)" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start >/dev/null ;;
    stop)
        as_pg "$(pg_bin pg_ctl)" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true ;;
    *) echo "usage: $0 install|start|restart-postgres [seconds]|stop" >&2; exit 2 ;;
esac
