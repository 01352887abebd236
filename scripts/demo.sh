#!/usr/bin/env bash
# The demo: runs the provisioner as a Lambda (cargo lambda watch) against the AWS emulator.
# Starts moto, builds the network as the SAM template would, sends sample request events through the
# provisioner with `cargo lambda invoke`, prints the notebook and its role policy, runs the idle sweeper on a
# simulated clock, deactivates the owner, grants a custodian time-bound read access to her data, lets the
# grant expire, and prints the audit trail; then stops everything.
# Usage: scripts/demo.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

ensure_rust_tools
ensure_emulator
ensure_cargo_lambda

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

moto_port="$(free_port)"
endpoint="http://127.0.0.1:$moto_port"
log "starting the AWS emulator (moto) on $endpoint"
"$FLEET_MOTO_SERVER" -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
pids+=("$!")
wait_for_port "$moto_port" 30

log "building the emulated platform (VPC, private subnets, S3 gateway endpoint, boundary, buckets, bus)"
cargo run --quiet --locked -p integration-tests --bin emulated-platform -- setup --endpoint "$endpoint" --env-file "$work/provisioner.env"

invoke_port="$(free_port)"
log "starting the provisioner Lambda with cargo lambda watch on port $invoke_port"
cargo lambda watch --quiet --package provisioner --invoke-port "$invoke_port" --invoke-address 127.0.0.1 \
  --env-file "$work/provisioner.env" --ignore-changes > "$work/lambda.log" 2>&1 &
pids+=("$!")
wait_for_port "$invoke_port" 600

invoke() {
  log "cargo lambda invoke provisioner --data-file $1"
  cargo lambda invoke provisioner --invoke-port "$invoke_port" --invoke-address 127.0.0.1 --data-file "$1" --output-format json
  echo
}
invoke samples/events/notebook-requested.json
invoke samples/events/notebook-requested.json        # delivered again: the same answer, nothing new
invoke samples/events/notebook-requested-invalid.json # rejected, naming each field; nothing created

log "the notebook and its role, as the provisioner left them"
cargo run --quiet --locked -p integration-tests --bin emulated-platform -- show --endpoint "$endpoint" --notebook alice-churn-model

log "the idle sweeper, on a simulated clock: nobody has used the notebook (its agent never reported)"
sweep() {
  log "idle-sweeper --once --now $1"
  (set -a; . "$work/provisioner.env"; set +a
   RUST_LOG=warn "$CARGO_TARGET_DIR/debug/idle-sweeper" --once --now "$1") |
    python3 -c 'import json, sys; text = sys.stdin.read(); r = json.loads(text[text.index("{\n"):]); print(json.dumps({k: r[k] for k in ("verdicts", "warned", "stopped", "revoked", "api_calls")}, indent=1))'
}
cargo build --quiet --locked -p idle-sweeper -p audit-history
sweep "$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)"    # idle past its 90 minutes: warned first
log "the owner snoozes the warning through the portal (the fleet sets the exemption tag, owners never tag)"
invoke samples/events/notebook-idle-snooze-requested.json # exempt for 4 hours
sweep "$(date -u -d '+2 hours 20 minutes' +%Y-%m-%dT%H:%M:%SZ)" # snoozed: left running ("exempt")
sweep "$(date -u -d '+6 hours 10 minutes' +%Y-%m-%dT%H:%M:%SZ)" # the snooze is over: warned again
sweep "$(date -u -d '+6 hours 30 minutes' +%Y-%m-%dT%H:%M:%SZ)" # the warning has been out 15 minutes: stopped
invoke samples/events/notebook-stop-requested.json       # already stopped: answered, nothing to do
invoke samples/events/notebook-start-requested.json      # the owner comes back

log "alice leaves: her notebooks are stopped and locked, her data kept"
invoke samples/events/owner-deactivated-forged.json       # from the portal's source: refused, nothing locked
invoke samples/events/owner-deactivated.json              # from the identity system: stopped, locked, role made read-only
invoke samples/events/owner-deactivated.json              # again: nothing changes ("already": true)
invoke samples/events/notebook-start-requested.json       # refused: the notebook is locked
log "a custodian asks for read access to alice's data, for 24 hours"
invoke samples/events/custodian-access-requested.json
cargo run --quiet --locked -p integration-tests --bin emulated-platform -- show --endpoint "$endpoint" --notebook carol-custody-alice
sweep "$(date -u -d '+25 hours' +%Y-%m-%dT%H:%M:%SZ)"   # past the grant: the role loses its access, the notebook stops

history() {
  log "audit-history $*"
  (set -a; . "$work/provisioner.env"; set +a; "$CARGO_TARGET_DIR/debug/audit-history" "$@")
}
history --owner alice
history --notebook carol-custody-alice
log "demo finished; the provisioner's log lines:"
grep -E '"(level|message)"|INFO|WARN|ERROR' "$work/lambda.log" | tail -n 12 || true
