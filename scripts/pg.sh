#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite and the benchmarks.
#
#   scripts/pg.sh start [DIR]   installs PostgreSQL from Debian's packages when missing, creates a cluster in DIR
#                               (default: a new temporary directory) owned by an unprivileged user (PostgreSQL
#                               refuses to run as root), starts it on a free port of 127.0.0.1 and prints
#                               `export KAIROS_TEST_DATABASE_URL=postgres://...` and `export KAIROS_PG_DIR=...`
#   scripts/pg.sh stop DIR      stops that cluster and removes DIR
#   scripts/pg.sh down DIR      stops the server but keeps the cluster (a database outage, for tests)
#   scripts/pg.sh up DIR        starts it again on the same port
#
# KAIROS_PG_DURABLE=1 keeps PostgreSQL's durable defaults (fsync, synchronous_commit: for benchmarks); otherwise
# the cluster trades durability for speed (fsync off), which only a throwaway test cluster may do.
set -euo pipefail

PG_USER=kairos-pg

bindir() {
  if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
    return
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u "$PG_USER" -- "$@"
  else
    "$@"
  fi
}

start() {
  local bin dir port
  bin=$(bindir || true)
  if [ -z "$bin" ]; then
    echo "installing PostgreSQL from Debian's packages..." >&2
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
    # Debian starts a system cluster on 5432; the tests use their own.
    bin=$(bindir)
  fi
  if [ "$(id -u)" = 0 ] && ! id "$PG_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
  fi
  dir=${1:-$(mktemp -d /tmp/kairos-pg.XXXXXX)}
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown "$PG_USER" "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  local opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=400 -c shared_buffers=256MB"
  if [ "${KAIROS_PG_DURABLE:-0}" != 1 ]; then
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  echo "$opts" > "$dir/options"
  as_owner "$bin/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/log" -w start >/dev/null
  echo "export KAIROS_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
  echo "export KAIROS_PG_DIR=$dir"
}

stop() {
  local dir=${1:?usage: scripts/pg.sh stop DIR}
  local bin
  bin=$(bindir)
  if [ -d "$dir/data" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir"
}

down() {
  local dir=${1:?usage: scripts/pg.sh down DIR}
  as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
}

up() {
  local dir=${1:?usage: scripts/pg.sh up DIR}
  as_owner "$(bindir)/pg_ctl" -D "$dir/data" -o "$(cat "$dir/options")" -l "$dir/log" -w start >/dev/null
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  down) shift; down "$@" ;;
  up) shift; up "$@" ;;
  *) echo "usage: scripts/pg.sh start [DIR] | stop DIR | down DIR | up DIR" >&2; exit 2 ;;
esac
