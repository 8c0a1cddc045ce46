#!/usr/bin/env bash
# Makes the virtualenv with the OCSF model library the OCSF output tests validate against
# (py-ocsf-models from PyPI), once per checkout, under target/. Prints its python on stdout.
#   usage: scripts/test-ocsf.sh
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/venv.sh ocsf-venv py-ocsf-models 0.10.0 lib/python3*/site-packages/py_ocsf_models)
echo "$venv/bin/python"
