#!/usr/bin/env bash
# Locks the Python tools. scripts/requirements-NAME.in holds a tool group's top-level pins (the file to edit);
# this resolves each into scripts/requirements-NAME.txt, every dependency pinned with its hashes
# (pip-compile --generate-hashes, from a throwaway virtualenv), which `ensure_venv` (scripts/lib.sh) installs
# with `pip install --require-hashes` and re-creates the virtualenv from whenever the lock file changes.
# Usage: scripts/lock-python.sh [NAME ...]      # default: every scripts/requirements-*.in
# Pins already in a lock file are kept unless the .in file asks otherwise; to take the newest dependencies of
# a group, delete its .txt first. Resolved for the python3 on PATH (the one the scripts' virtualenvs use).
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

readonly PIP_TOOLS_VERSION="7.6.2"

if [ "$#" -eq 0 ]; then
  set --
  for input in scripts/requirements-*.in; do
    name="${input#scripts/requirements-}"
    set -- "$@" "${name%.in}"
  done
fi

tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
log "installing pip-tools $PIP_TOOLS_VERSION into a throwaway virtualenv"
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet --disable-pip-version-check "pip-tools==$PIP_TOOLS_VERSION"

for name in "$@"; do
  input="scripts/requirements-$name.in"
  [ -f "$input" ] || { echo "no $input" >&2; exit 2; }
  log "locking $input into scripts/requirements-$name.txt"
  # --allow-unsafe: setuptools and pip are pinned and hashed too when a tool depends on them. --strip-extras:
  # the packages an extra brings are listed themselves (ensure_venv installs the list as it is, --no-deps).
  # No index or find-links line: the lock names packages and hashes, not where this machine fetched them.
  CUSTOM_COMPILE_COMMAND="scripts/lock-python.sh $name" "$tools/bin/pip-compile" --quiet --generate-hashes \
    --allow-unsafe --strip-extras --no-emit-index-url --no-emit-trusted-host --no-emit-find-links \
    --output-file "scripts/requirements-$name.txt" "$input"
done
