# shellcheck shell=bash
# Sourced by the project's scripts: where the cache lives and how each tool is installed, pinned.
# The cache (cargo target directory, virtualenvs) sits outside the clone so that reruns and CI reuse it.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export NOTEBOOK_FLEET_CACHE="${NOTEBOOK_FLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/notebook-fleet}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$NOTEBOOK_FLEET_CACHE/target}"
mkdir -p "$NOTEBOOK_FLEET_CACHE"

readonly NEXTEST_VERSION="0.9.143"

log() { printf '==> %s\n' "$*" >&2; }

# ensure_venv NAME LOCK_FILE: one virtualenv per tool group (their dependencies clash), rebuilt only when the
# lock file changes. LOCK_FILE (scripts/requirements-NAME.txt) pins every package with its hashes, made from
# the top-level pins in scripts/requirements-NAME.in by scripts/lock-python.sh; pip installs nothing else.
ensure_venv() {
  local name=$1 requirements=$2
  local venv="$NOTEBOOK_FLEET_CACHE/venv-$name" stamp
  stamp="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -f "$venv/.requirements-sha256" ] && [ "$(cat "$venv/.requirements-sha256")" = "$stamp" ]; then
    return 0
  fi
  log "installing $(grep -v '^#' "${requirements%.txt}.in" | xargs) (locked: ${requirements#"$ROOT"/}) into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  # The lock file is the whole list: installed as it is (--no-deps), then `pip check` proves it complete.
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$requirements"
  "$venv/bin/pip" check --disable-pip-version-check >/dev/null ||
    { "$venv/bin/pip" check; echo "$requirements is incomplete: run scripts/lock-python.sh $name" >&2; exit 1; }
  echo "$stamp" > "$venv/.requirements-sha256"
}

# The AWS emulator (moto's server); the tests find it through FLEET_MOTO_SERVER.
ensure_emulator() {
  ensure_venv emulator "$ROOT/scripts/requirements-emulator.txt"
  # moto with every call atomic (see scripts/moto_atomic.py), rewritten whenever the script changes.
  local venv="$NOTEBOOK_FLEET_CACHE/venv-emulator" launcher
  launcher="$venv/bin/moto_server_atomic"
  { echo "#!$venv/bin/python"; cat "$ROOT/scripts/moto_atomic.py"; } > "$launcher.$$"
  chmod 755 "$launcher.$$"
  if cmp -s "$launcher.$$" "$launcher"; then rm "$launcher.$$"; else mv "$launcher.$$" "$launcher"; fi
  export FLEET_MOTO_SERVER="$launcher"
}

# cargo-lambda (it brings zig) for `cargo lambda watch/invoke/build`.
ensure_cargo_lambda() {
  ensure_venv lambda "$ROOT/scripts/requirements-lambda.txt"
  export PATH="$NOTEBOOK_FLEET_CACHE/venv-lambda/bin:$PATH"
}

# AWS SAM CLI (pinned): template checks and `sam build`; scripts call it through FLEET_SAM.
ensure_sam() {
  ensure_venv sam "$ROOT/scripts/requirements-sam.txt"
  export FLEET_SAM="$NOTEBOOK_FLEET_CACHE/venv-sam/bin/sam"
}

# The SAM transform alone (aws-sam-translator, pinned), for the deploy rehearsal test, which runs
# scripts/sam-translate.py with the Python found through FLEET_SAM_TRANSLATOR_PYTHON.
ensure_sam_translator() {
  ensure_venv sam-translator "$ROOT/scripts/requirements-sam-translator.txt"
  export FLEET_SAM_TRANSLATOR_PYTHON="$NOTEBOOK_FLEET_CACHE/venv-sam-translator/bin/python"
}

# The independent IAM evaluator (@cloud-copilot/iam-simulate, pinned by tests/iam/package-lock.json) for the
# IAM matrix test (tests/tests/iam_matrix.rs), which runs tests/iam/evaluate.mjs with Node and finds the
# evaluator through FLEET_IAM_SIMULATE_DIR. A test tool only (AGPL), never shipped. `npm ci` into the cache,
# again only when the lock file changes; offline once installed.
ensure_iam_simulate() {
  local dir="$NOTEBOOK_FLEET_CACHE/iam-simulate" stamp
  command -v node >/dev/null || { echo "node not found: the IAM matrix test needs Node.js 20 or newer" >&2; exit 1; }
  stamp="$(cat "$ROOT/tests/iam/package.json" "$ROOT/tests/iam/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if ! [ -f "$dir/.lock-sha256" ] || [ "$(cat "$dir/.lock-sha256")" != "$stamp" ]; then
    log "installing $(grep -o '"@cloud-copilot/iam-simulate": "[^"]*"' "$ROOT/tests/iam/package.json") into $dir"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$ROOT/tests/iam/package.json" "$ROOT/tests/iam/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$stamp" > "$dir/.lock-sha256"
  fi
  export FLEET_IAM_SIMULATE_DIR="$dir"
}

# The AWS CLI, for the on-start script's sandbox test; the test finds it through FLEET_AWS_CLI.
ensure_awscli() {
  ensure_venv awscli "$ROOT/scripts/requirements-awscli.txt"
  export FLEET_AWS_CLI="$NOTEBOOK_FLEET_CACHE/venv-awscli/bin/aws"
}

# A real Jupyter server (pinned) for the heartbeat agent's tests, found through FLEET_JUPYTER_VENV.
ensure_jupyter() {
  ensure_venv jupyter "$ROOT/scripts/requirements-jupyter.txt"
  export FLEET_JUPYTER_VENV="$NOTEBOOK_FLEET_CACHE/venv-jupyter"
}

# A JSON Schema validator (Python jsonschema, pinned) for the sample-event test (tests/tests/schemas.rs).
ensure_schema_validator() {
  ensure_venv schemas "$ROOT/scripts/requirements-schemas.txt"
  export FLEET_SCHEMA_PYTHON="$NOTEBOOK_FLEET_CACHE/venv-schemas/bin/python"
}

ensure_shellcheck() {
  ensure_venv shellcheck "$ROOT/scripts/requirements-shellcheck.txt"
  export PATH="$NOTEBOOK_FLEET_CACHE/venv-shellcheck/bin:$PATH"
}

# rustfmt, clippy and cargo-nextest. A machine that already has nextest keeps its own; otherwise the pinned
# version is built once into the cache.
ensure_rust_tools() {
  command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
  if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  fi
  export PATH="$NOTEBOOK_FLEET_CACHE/bin:$PATH"
  if ! cargo nextest --version >/dev/null 2>&1; then
    log "installing cargo-nextest $NEXTEST_VERSION"
    cargo install --locked --root "$NOTEBOOK_FLEET_CACHE" cargo-nextest --version "$NEXTEST_VERSION"
  fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT SECONDS: until something listens on 127.0.0.1:PORT (a connection, no request).
wait_for_port() {
  local port=$1 deadline=$((SECONDS + $2))
  until python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$port" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "nothing listens on 127.0.0.1:$port after $2 s" >&2
      return 1
    fi
    sleep 0.2
  done
}
