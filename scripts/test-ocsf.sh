#!/usr/bin/env bash
# Makes the virtualenv with the OCSF model library the OCSF output tests validate against
# (py-ocsf-models from PyPI), once per checkout, under target/. Prints its python on stdout.
#   usage: scripts/test-ocsf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/ocsf-venv
version=0.10.0
if ! "$venv/bin/python" -c "import py_ocsf_models" 2>/dev/null \
   || [ "$(cat "$venv/.version" 2>/dev/null)" != "$version" ]; then
  echo "installing py-ocsf-models $version into $venv" >&2
  rm -rf "$venv"
  mkdir -p target
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "py-ocsf-models==$version" >&2
  echo "$version" > "$venv/.version"
fi
echo "$PWD/$venv/bin/python"
