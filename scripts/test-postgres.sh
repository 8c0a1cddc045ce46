#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server on 127.0.0.1 for the store tests, installing Debian's
# packages first when the machine lacks them. Prints the admin URL on stdout.
#   usage: scripts/test-postgres.sh start DATA_DIR PORT | stop DATA_DIR
set -euo pipefail
action=$1
data=$2
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
# The newest server install: initdb and pg_ctl, not just the client (psql alone is no server).
bindir() { for b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do [ -x "$b/initdb" ] && [ -x "$b/pg_ctl" ] && { echo "$b"; return; }; done; }
case "$action" in
start)
  port=$3
  if [ -z "$(bindir)" ]; then
    echo "installing PostgreSQL from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    (apt-get update -qq && apt-get install -y -qq postgresql >/dev/null) >&2
    if [ -z "$(bindir)" ]; then echo "PostgreSQL's server programs (initdb, pg_ctl) are still missing" >&2; exit 1; fi
  fi
  bin=$(bindir)
  "$0" stop "$data" 2>/dev/null || true
  rm -rf "$data"
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres "$data"
  as_postgres "'$bin/initdb' -D '$data/db' -U postgres --auth=trust --no-sync -E UTF8" >/dev/null
  # fsync off: the data directory is thrown away; the store's crash safety is SQLite's and
  # PostgreSQL's transactions, which fsync does not change for a killed client. Benchmarks of
  # commits set TRIPLINE_PG_FSYNC=on, as a real server runs.
  fsync=${TRIPLINE_PG_FSYNC:-off}
  as_postgres "'$bin/pg_ctl' -D '$data/db' -l '$data/log' -w -o \"-h 127.0.0.1 -p $port -k '$data' -c fsync=$fsync -c max_connections=200\" start" >/dev/null
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  bin=$(bindir)
  [ -d "$data/db" ] && as_postgres "'$bin/pg_ctl' -D '$data/db' -m fast -w stop" >/dev/null
  ;;
esac
