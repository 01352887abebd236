#!/usr/bin/env bash
# Benchmarks against the AWS emulator (not tests): prints AWS API calls by operation and wall times.
# Usage: scripts/bench.sh [N]   (N sequential provisions, default 100)
# Figures are for moto on this machine: they count calls exactly, and time the provisioner plus the emulator.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

ensure_rust_tools
ensure_emulator

cargo run --quiet --locked -p integration-tests --bin bench-provision -- "${1:-100}"
