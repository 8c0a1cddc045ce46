#!/usr/bin/env bash
# Makes a virtualenv under target/ with one PyPI package at one version, once per checkout (again
# when the version changes), for the tools the tests run; prints the virtualenv's folder.
#   usage: scripts/venv.sh NAME 'PACKAGE[EXTRAS]' VERSION PROBE
# PROBE is a path (a glob) the virtualenv holds once the package is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
name=$1 package=$2 version=$3 probe=$4
venv=target/$name
if ! compgen -G "$venv/$probe" >/dev/null || [ "$(cat "$venv/.version" 2>/dev/null)" != "$version" ]; then
  echo "installing $package $version into $venv" >&2
  rm -rf "$venv"
  mkdir -p target
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check "$package==$version" >&2
  echo "$version" > "$venv/.version"
fi
echo "$PWD/$venv"
