#!/usr/bin/env bash
# Start/stop a throwaway PostgreSQL (Debian's package) on 127.0.0.1 and a free port.
#   url=$(bash tests/pg_throwaway.sh start)   # prints postgresql://arena@127.0.0.1:PORT/arena
#   bash tests/pg_throwaway.sh stop
# ARENA_PG_SETTINGS adds server settings, e.g. "-c shared_buffers=1GB" (benchmarks/store.py's
# figures: a table of 1M battles is larger than the default 128MB of shared buffers)
set -euo pipefail
DIR=${ARENA_PG_DIR:-/tmp/arena-pg}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$BIN" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-}" in
  start)
    as_pg "$BIN/pg_ctl" -D "$DIR/data" stop -m immediate >/dev/null 2>&1 || true
    rm -rf "$DIR"; mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$BIN/initdb" -D "$DIR/data" -U arena --auth=trust >/dev/null
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w \
      -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=on ${ARENA_PG_SETTINGS:-}" start >/dev/null
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U arena arena
    echo "postgresql://arena@127.0.0.1:$PORT/arena"
    ;;
  stop)
    as_pg "$BIN/pg_ctl" -D "$DIR/data" stop -m fast >/dev/null && rm -rf "$DIR"
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
