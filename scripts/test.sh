#!/usr/bin/env bash
# Every test: starts the throw-away PostgreSQL server the store tests need (installing it when
# missing), runs the whole workspace's tests, stops the server.
#   usage: scripts/test.sh [cargo test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d /tmp/tripline-pg.XXXXXX)
chmod 755 "$data"
port=${TRIPLINE_TEST_PG_PORT:-54329}
TRIPLINE_TEST_POSTGRES=$(scripts/test-postgres.sh start "$data" "$port")
export TRIPLINE_TEST_POSTGRES
trap 'scripts/test-postgres.sh stop "$data"; rm -rf "$data"' EXIT
cargo test --workspace --locked "$@"
