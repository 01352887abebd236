#!/usr/bin/env bash
# Benchmarks against the AWS emulator (not tests): they print AWS API calls by operation and wall times.
# Usage: scripts/bench.sh                      # both, with the default sizes
#        scripts/bench.sh provision [N]        # N sequential provisions (default 100)
#        scripts/bench.sh sweep [N …]          # one fleet of N notebooks per size (default 1000 10000)
#        scripts/bench.sh deactivate [N]       # an owner with N notebooks deactivated twice (default 50)
#        scripts/bench.sh faults [N [SWEEPS [RATE]]]  # sweeps of N notebooks at 20 % and 50 % faults (default 300, 3), or at RATE only
#        scripts/bench.sh cold-start [N]       # N cold starts each of the release provisioner and a Python peer (default 20)
# Figures are for moto on this machine: calls are counted exactly; times include the emulator's own work.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

ensure_rust_tools
ensure_emulator

what="${1:-all}"
[ "$#" -gt 0 ] && shift
# --bin at the workspace root, not -p: the same features as the test build, so the SDK crates are reused.
cargo build --quiet --locked --bin idle-sweeper --bin bench-provision --bin bench-sweep --bin bench-deactivate \
  --bin bench-faults --bin bench-cold-start
case "$what" in
  provision) "$CARGO_TARGET_DIR/debug/bench-provision" "$@" ;;
  sweep)
    [ "$#" -gt 0 ] || set -- 1000 10000
    "$CARGO_TARGET_DIR/debug/bench-sweep" "$CARGO_TARGET_DIR/debug/idle-sweeper" "$@"
    ;;
  deactivate) "$CARGO_TARGET_DIR/debug/bench-deactivate" "$@" ;;
  faults) "$CARGO_TARGET_DIR/debug/bench-faults" "$@" ;;
  cold-start)
    # What is timed is the deployed profile for this machine's architecture; the harness only starts processes.
    cargo build --quiet --locked --release --bin provisioner
    "$CARGO_TARGET_DIR/debug/bench-cold-start" "$CARGO_TARGET_DIR/release/provisioner" \
      "$NOTEBOOK_FLEET_CACHE/venv-emulator/bin/python" tests/peer/provisioner_peer.py "$@"
    ;;
  all)
    "$CARGO_TARGET_DIR/debug/bench-provision"
    "$CARGO_TARGET_DIR/debug/bench-deactivate"
    "$CARGO_TARGET_DIR/debug/bench-sweep" "$CARGO_TARGET_DIR/debug/idle-sweeper" 1000 10000
    "$CARGO_TARGET_DIR/debug/bench-faults"
    ;;
  *) echo "usage: scripts/bench.sh [provision [N] | sweep [N ...] | deactivate [N] | faults [N [SWEEPS [RATE]]] | cold-start [N]]" >&2; exit 2 ;;
esac
