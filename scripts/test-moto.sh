#!/usr/bin/env bash
# Makes the virtualenv with moto's server (from PyPI), the S3/SQS/SNS emulator the S3 and queue
# tests run against on 127.0.0.1, once per checkout, under target/. Prints the path of its
# `moto_server` on stdout; each test starts its own server on a free port.
#   usage: scripts/test-moto.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/moto-venv
version=5.2.5
if ! [ -x "$venv/bin/moto_server" ] || [ "$(cat "$venv/.version" 2>/dev/null)" != "$version" ]; then
  echo "installing moto[server] $version into $venv" >&2
  rm -rf "$venv"
  mkdir -p target
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$version" >&2
  echo "$version" > "$venv/.version"
fi
echo "$PWD/$venv/bin/moto_server"
