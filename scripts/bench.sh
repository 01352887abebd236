#!/usr/bin/env bash
# Benchmarks against the AWS emulator (not tests): they print AWS API calls by operation and wall times.
# Usage: scripts/bench.sh                      # both, with the default sizes
#        scripts/bench.sh provision [N]        # N sequential provisions (default 100)
#        scripts/bench.sh sweep [N …]          # one fleet of N notebooks per size (default 1000 10000)
#        scripts/bench.sh deactivate [N]       # an owner with N notebooks deactivated twice (default 50)
#        scripts/bench.sh faults [N [SWEEPS [RATE]]]  # sweeps of N notebooks at 20 % and 50 % faults (default 300, 3), or at RATE only
#        scripts/bench.sh cold-start [N [FLEET]]  # N cold starts each of the provisioner and the sweeper (over FLEET
#                                              # notebooks, default 1000) and of their Python peers (default 20)
#        scripts/bench.sh sweep [N …] [--latency-ms 0,30,80]  # also: round-trip latency added to every call
# Everything timed is built in release (the deployed functions' profile, for this machine's architecture).
# Figures are for moto on this machine: calls are counted exactly; times include the emulator's own work.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

ensure_rust_tools
ensure_emulator

what="${1:-all}"
[ "$#" -gt 0 ] && shift
# --bin at the workspace root, not -p: the SDK crates' features are the same in every build, so one release
# build of them serves every benchmark (about 15 minutes cold on 2 cores, then seconds).
cargo build --quiet --locked --release --bin bench-provision --bin bench-sweep --bin bench-deactivate \
  --bin bench-faults --bin bench-cold-start
# The functions that are started as processes alone, each with its own features, as they are deployed.
cargo build --quiet --locked --release --bin idle-sweeper
cargo build --quiet --locked --release --bin provisioner
bin="$CARGO_TARGET_DIR/release"
# Each benchmark adds its headline figures here (tests/src/figures.rs); printed as one table at the end.
FLEET_BENCH_FIGURES="$(mktemp)"
export FLEET_BENCH_FIGURES
trap 'rm -f "$FLEET_BENCH_FIGURES"' EXIT
case "$what" in
  provision) "$bin/bench-provision" "$@" ;;
  sweep)
    [ "$#" -gt 0 ] || set -- 1000 10000 --latency-ms 0,30,80
    "$bin/bench-sweep" "$bin/idle-sweeper" "$@"
    ;;
  deactivate) "$bin/bench-deactivate" "$@" ;;
  faults) "$bin/bench-faults" "$@" ;;
  cold-start)
    python="$NOTEBOOK_FLEET_CACHE/venv-emulator/bin/python"
    "$bin/bench-cold-start" provisioner "$bin/provisioner" "$python" tests/peer/provisioner_peer.py "$@"
    "$bin/bench-cold-start" sweeper "$bin/idle-sweeper" "$python" tests/peer/sweeper_peer.py "$@"
    ;;
  all)
    "$bin/bench-provision"
    "$bin/bench-deactivate"
    "$bin/bench-sweep" "$bin/idle-sweeper" 1000 10000 --latency-ms 0,30,80
    "$bin/bench-faults"
    python="$NOTEBOOK_FLEET_CACHE/venv-emulator/bin/python"
    "$bin/bench-cold-start" provisioner "$bin/provisioner" "$python" tests/peer/provisioner_peer.py
    "$bin/bench-cold-start" sweeper "$bin/idle-sweeper" "$python" tests/peer/sweeper_peer.py
    ;;
  *) echo "usage: scripts/bench.sh [provision [N] | sweep [N ...] [--latency-ms L,...] | deactivate [N] | faults [N [SWEEPS [RATE]]] | cold-start [N [FLEET]]]" >&2; exit 2 ;;
esac

if [ -s "$FLEET_BENCH_FIGURES" ]; then
  printf '\n== figures (ratio: the peer over notebook-fleet, or the value over its limit or baseline)\n'
  printf '| figure | value | compared with | ratio |\n| --- | --- | --- | --- |\n'
  cat "$FLEET_BENCH_FIGURES"
fi
