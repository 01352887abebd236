#!/usr/bin/env bash
# The demo: runs the provisioner as a Lambda (cargo lambda watch) against the AWS emulator.
# Starts moto, builds the network as the SAM template would, sends sample request events through the
# provisioner with `cargo lambda invoke`, prints the notebook and its role policy, runs the idle sweeper on a
# simulated clock, deactivates the owner, grants a custodian time-bound read access to her data, lets the
# grant expire, and prints the audit trail; then stops everything. Each step names the outcome it expects
# and says whether it happened.
# Usage: scripts/demo.sh            # the demo, everything printed; an unexpected outcome is reported
#        scripts/demo.sh --check    # the smoke test (scripts/test.sh): prints one line per outcome, stops
#                                   # and exits 1 at the first unexpected one, with what the step answered
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/demo.sh [--check]" >&2; exit 2 ;;
esac

ensure_rust_tools
ensure_emulator
ensure_cargo_lambda

work="$(mktemp -d)"
pids=()
unexpected=0
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# show: what a step printed, on stdout in the demo; kept in the work directory in check mode.
show() {
  if $check; then cat >> "$work/output.log"; else cat; fi
}

# expect WHAT FILE CONDITION: CONDITION is a Python expression over `r`, the JSON object in FILE (the first
# one that starts a line, so that log lines before it do not matter).
expect() {
  local what=$1 file=$2 condition=$3
  if python3 - "$file" "$condition" <<'PY'; then
import json, sys
path, condition = sys.argv[1:]
text = open(path, encoding="utf-8").read()
start = text.find("{")
if start < 0:
    sys.exit(f"no JSON answer in {path}")
r = json.loads(text[start:])
sys.exit(0 if eval(condition, {"json": json, "r": r}) else 1)
PY
    log "as expected: $what"
  else
    log "UNEXPECTED: $what (expected: $condition); the step answered:"
    cat "$file" >&2
    unexpected=$((unexpected + 1))
    if $check; then
      log "the provisioner's last log lines:"
      tail -n 20 "$work/lambda.log" >&2 || true
      exit 1
    fi
  fi
}

# One build for every binary the demo runs, with cargo's progress shown. `--bin` at the workspace root (not
# `-p`) keeps the features of the test build, so that a machine that ran the tests compiles only what changed.
if compgen -G "$CARGO_TARGET_DIR/debug/deps/libaws_sdk_sagemaker-*.rlib" >/dev/null; then
  log "compiling the provisioner, the idle sweeper, audit-history and the demo's helper (debug build; seconds when warm)"
else
  log "compiling the provisioner, the idle sweeper, audit-history and the demo's helper (debug build): the first" \
    "build compiles the AWS SDK crates, about 20 minutes on 2 cores; later runs take seconds"
fi
cargo build --locked --bin provisioner --bin idle-sweeper --bin audit-history --bin emulated-platform
bin="$CARGO_TARGET_DIR/debug"

moto_port="$(free_port)"
endpoint="http://127.0.0.1:$moto_port"
log "starting the AWS emulator (moto) on $endpoint"
"$FLEET_MOTO_SERVER" -H 127.0.0.1 -p "$moto_port" > "$work/moto.log" 2>&1 &
pids+=("$!")
wait_for_port "$moto_port" 30

log "building the emulated platform (VPC, private subnets, S3 gateway endpoint, boundary, buckets, bus)"
"$bin/emulated-platform" setup --endpoint "$endpoint" --env-file "$work/provisioner.env" | show

invoke_port="$(free_port)"
log "starting the provisioner Lambda with cargo lambda watch on port $invoke_port"
cargo lambda watch --quiet --bin provisioner --invoke-port "$invoke_port" --invoke-address 127.0.0.1 \
  --env-file "$work/provisioner.env" --ignore-changes > "$work/lambda.log" 2>&1 &
pids+=("$!")
wait_for_port "$invoke_port" 120

# another_request SAMPLE ID: a copy of the sample as a new request (request id ID), in the work folder. The
# request ledger answers a request id once: sending the sample itself again is a redelivery.
another_request() {
  local sample=$1 id=$2 copy
  copy="$work/$id-$(basename "$sample")"
  python3 - "$sample" "$id" "$copy" <<'PY'
import json, sys
sample, request_id, copy = sys.argv[1:]
event = json.load(open(sample, encoding="utf-8"))
event["detail"]["request_id"] = request_id
json.dump(event, open(copy, "w", encoding="utf-8"), indent=2)
PY
  echo "$copy"
}

step=0
# invoke SAMPLE WHAT CONDITION: sends a sample event through the provisioner; CONDITION is over its answer,
# {"detail-type", "detail"}.
invoke() {
  local sample=$1 what=$2 condition=$3 answer
  step=$((step + 1))
  answer="$work/$step-$(basename "$sample")"
  log "cargo lambda invoke provisioner --data-file $sample"
  cargo lambda invoke provisioner --invoke-port "$invoke_port" --invoke-address 127.0.0.1 --data-file "$sample" \
    --output-format json > "$answer"
  { cat "$answer"; echo; } | show
  expect "$what" "$answer" "$condition"
}
invoke samples/events/notebook-requested.json "provisioned" \
  'r["detail-type"] == "Notebook Provisioned" and r["detail"]["replayed"] is False'
invoke samples/events/notebook-requested.json "delivered again: the first answer from the request ledger, replayed, nothing new" \
  'r["detail-type"] == "Notebook Provisioned" and r["detail"]["replayed"] is True'
invoke samples/events/notebook-requested-invalid.json "rejected, each field named, nothing created" \
  'r["detail-type"] == "Notebook Request Rejected" and {"detail.notebook_name", "detail.instance_type", "detail.data_access[0].prefix"} <= {p["field"] for p in r["detail"]["problems"]}'

log "the notebook and its role, as the provisioner left them"
"$bin/emulated-platform" show --endpoint "$endpoint" --notebook alice-churn-model | show

log "the idle sweeper, on a simulated clock: nobody has used the notebook (its agent never reported)"
# sweep WHEN WHAT CONDITION: one sweep with the clock at WHEN; CONDITION is over its report.
sweep() {
  local when=$1 what=$2 condition=$3 report
  step=$((step + 1))
  report="$work/$step-sweep.json"
  log "idle-sweeper --once --now $when"
  (set -a; . "$work/provisioner.env"; set +a
   RUST_LOG=warn "$bin/idle-sweeper" --once --now "$when") |
    python3 -c 'import json, sys; text = sys.stdin.read(); r = json.loads(text[text.index("{\n"):]); print(json.dumps({k: r[k] for k in ("verdicts", "warned", "stopped", "revoked", "api_calls")}, indent=1))' \
    > "$report"
  show < "$report"
  expect "$what" "$report" "$condition"
}
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
# The sweeper dates a warning by its object's LastModified in S3, which is the emulator's real clock: so the
# stop that follows a warning is shown first, and after the snooze only the fresh warning.
sweep "$(at '+2 hours')" "idle past its 90 minutes: warned first, not stopped" \
  'r["warned"] == ["alice-churn-model"] and r["stopped"] == []'
sweep "$(at '+2 hours 20 minutes')" "the warning has been out 15 minutes: stopped" \
  'r["stopped"] == ["alice-churn-model"]'
invoke samples/events/notebook-stop-requested.json "a stop of the stopped notebook: answered, nothing to do" \
  'r["detail-type"] == "Notebook Stopped" and r["detail"]["already"] is True'
invoke samples/events/notebook-start-requested.json "the owner comes back: started" \
  'r["detail-type"] == "Notebook Started" and r["detail"]["already"] is False'
log "the owner snoozes the idle stop through the portal (the fleet sets the exemption tag, owners never tag)"
invoke samples/events/notebook-idle-snooze-requested.json "snoozed for 4 hours" \
  'r["detail-type"] == "Notebook Idle Snoozed" and r["detail"]["hours"] == 4'
sweep "$(at '+2 hours')" "idle past its timeout but snoozed: left running (exempt), neither warned nor stopped" \
  'r["verdicts"]["exempt"] == 1 and r["warned"] == [] and r["stopped"] == []'
sweep "$(at '+4 hours 10 minutes')" "the snooze is over: warned again before any stop" \
  'r["warned"] == ["alice-churn-model"] and r["stopped"] == []'

log "alice leaves: her notebooks are stopped and locked, her data kept"
invoke samples/events/owner-deactivated-forged.json "a deactivation from the portal's source: refused, nothing locked" \
  'r["detail-type"] == "Notebook Request Rejected" and [p["field"] for p in r["detail"]["problems"]] == ["source"]'
invoke samples/events/owner-deactivated.json "from the identity system: her notebook stopped and locked" \
  'r["detail-type"] == "Owner Deactivation Completed" and r["detail"]["notebooks"] == ["alice-churn-model"] and r["detail"]["already"] is False'
invoke samples/events/owner-deactivated.json "delivered again: the request ledger answers the first outcome, nothing is done twice" \
  'r["detail-type"] == "Owner Deactivation Completed" and r["detail"]["notebooks"] == ["alice-churn-model"] and r["detail"]["already"] is False'
invoke "$(another_request samples/events/notebook-start-requested.json ticket-4720)" \
  "her next start request: refused, the notebook is locked" \
  'r["detail-type"] == "Notebook Request Rejected" and "locked" in json.dumps(r["detail"]["problems"])'
log "a custodian asks for read access to alice's data, for 24 hours"
invoke samples/events/custodian-access-requested.json "custodian access granted, for 24 hours" \
  'r["detail-type"] == "Custodian Access Granted" and r["detail"]["notebook_name"] == "carol-custody-alice"'
"$bin/emulated-platform" show --endpoint "$endpoint" --notebook carol-custody-alice | show
sweep "$(at '+25 hours')" "past the grant: the custodian's role loses its access (expired), the notebook stops" \
  'r["revoked"] == ["carol-custody-alice"] and "carol-custody-alice" in r["stopped"]'

history() {
  local what=$1 condition=$2 output
  shift 2
  step=$((step + 1))
  output="$work/$step-history.txt"
  log "audit-history $*"
  (set -a; . "$work/provisioner.env"; set +a; "$bin/audit-history" "$@") > "$output"
  show < "$output"
  # One JSON object for expect: the lines printed.
  python3 -c 'import json, sys; print(json.dumps({"lines": open(sys.argv[1]).read().splitlines()}))' "$output" \
    > "$output.json"
  expect "$what" "$output.json" "$condition"
}
history "alice's trail: provisioned, warned, stopped, started, snoozed, locked" \
  'all(any(a in l for l in r["lines"]) for a in ("Notebook Provisioned", "Notebook Idle Warning", "Notebook Stopped", "Notebook Started", "Notebook Idle Snoozed", "Notebook Locked"))' \
  --owner alice
history "the custodian notebook's trail: granted, then expired" \
  'all(any(a in l for l in r["lines"]) for a in ("Custodian Access Granted", "Custodian Access Expired"))' \
  --notebook carol-custody-alice
if ! $check; then
  log "the provisioner's log lines:"
  grep -E '"(level|message)"|INFO|WARN|ERROR' "$work/lambda.log" | tail -n 12 || true
fi
if [ "$unexpected" -gt 0 ]; then
  log "demo finished: $unexpected unexpected outcome(s), see above"
  exit 1
fi
log "demo finished: every outcome as expected ($step steps)"
