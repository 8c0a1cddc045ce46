#!/usr/bin/env bash
# Every test: starts the throw-away PostgreSQL server the store tests need (installing it when
# missing), makes the OCSF validator's and the S3 emulator's virtualenvs, runs the whole
# workspace's tests, stops the server.
#   usage: scripts/test.sh [cargo test arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d /tmp/tripline-pg.XXXXXX)
chmod 755 "$data"
trap 'scripts/test-postgres.sh stop "$data" 2>/dev/null; rm -rf "$data"' EXIT
# The first free port from 54329: another server (a developer's, another checkout's) may be up.
port=${TRIPLINE_TEST_PG_PORT:-}
if [ -z "$port" ]; then
  for candidate in $(seq 54329 54429); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
  done
fi
TRIPLINE_TEST_POSTGRES=$(scripts/test-postgres.sh start "$data" "$port")
export TRIPLINE_TEST_POSTGRES
# The OCSF model library the OCSF output is validated with, in a virtualenv.
TRIPLINE_TEST_OCSF_PYTHON=$(scripts/test-ocsf.sh)
export TRIPLINE_TEST_OCSF_PYTHON
# moto's S3/SQS/SNS server, which the S3 tests start on 127.0.0.1, one per test.
TRIPLINE_TEST_MOTO_SERVER=$(scripts/test-moto.sh)
export TRIPLINE_TEST_MOTO_SERVER
cargo test --workspace --locked "$@"
