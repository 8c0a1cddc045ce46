#!/usr/bin/env bash
# Makes the virtualenv with moto's server (from PyPI), the S3/SQS/SNS emulator the S3 and queue
# tests run against on 127.0.0.1, once per checkout, under target/. Prints the path of its
# `moto_server` on stdout; each test starts its own server on a free port.
#   usage: scripts/test-moto.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/venv.sh moto-venv 'moto[server]' 5.2.5 bin/moto_server)
echo "$venv/bin/moto_server"
