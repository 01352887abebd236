#!/usr/bin/env bash
# Builds the heartbeat agent as the notebooks run it: x86_64 Linux, release profile, linked by zig against
# glibc 2.26 so that one binary runs on Amazon Linux 2 (glibc 2.26) and AL2023 (2.34). Uses cargo-lambda
# (which brings zig), installed as scripts/lib.sh's ensure_cargo_lambda does.
# Prints the binary's path, size and SHA-256; fails if it needs a newer glibc than 2.26.
# Usage: agent/build-release.sh
set -euo pipefail

readonly TARGET=x86_64-unknown-linux-gnu
readonly GLIBC=2.26

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${NOTEBOOK_FLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/notebook-fleet}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
# cargo-lambda finds zig (python-zig) next to itself.
export PATH="$cache/venv-lambda/bin:$PATH"
if ! command -v cargo-lambda >/dev/null; then
  echo "cargo-lambda not found: install scripts/requirements-lambda.txt into $cache/venv-lambda" >&2
  exit 1
fi

cd "$root"
cargo lambda build --release --locked -p heartbeat-agent --bin heartbeat-agent --target "$TARGET.$GLIBC" >&2

# cargo-lambda moves the binary to lambda/<name>/bootstrap; give it back its own name.
built="$CARGO_TARGET_DIR/lambda/heartbeat-agent/bootstrap"
[ -x "$built" ] || { echo "no binary at $built" >&2; exit 1; }
binary="$CARGO_TARGET_DIR/agent-release/heartbeat-agent"
mkdir -p "$(dirname "$binary")"
cp -f "$built" "$binary"

if command -v objdump >/dev/null; then
  needs="$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)"
  if [ "$(printf '%s\n%s\n' "${needs#GLIBC_}" "$GLIBC" | sort -V | tail -n 1)" != "$GLIBC" ]; then
    echo "$binary needs $needs, newer than glibc $GLIBC (Amazon Linux 2)" >&2
    exit 1
  fi
else
  needs="unknown (no objdump)"
fi

echo "path:   $binary"
echo "size:   $(stat -c %s "$binary") bytes"
echo "sha256: $(sha256sum "$binary" | cut -d' ' -f1)"
echo "glibc:  $needs (at most $GLIBC)"
