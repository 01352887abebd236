#!/usr/bin/env bash
# Offline checks of the SAM template: sam validate --lint, cfn-lint, and checkov with zero failed checks.
# Installs the pinned tools (one virtualenv each: their dependencies clash) into the project cache; needs no
# AWS account and no credentials. Prints one line per check and exits non-zero if any fails.
# Usage: scripts/check-template.sh [template]   (default: infra/template.yaml)
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

TEMPLATE="${1:-infra/template.yaml}"
[ -f "$TEMPLATE" ] || { echo "no template at $TEMPLATE" >&2; exit 1; }

ensure_sam
ensure_venv cfn-lint "$ROOT/scripts/requirements-cfn-lint.txt"
ensure_venv checkov "$ROOT/scripts/requirements-checkov.txt"

# Offline: a region for the SAM translator, dummy credentials so that nothing looks for real ones, no
# telemetry and no update checks.
export AWS_REGION=eu-west-1 AWS_DEFAULT_REGION=eu-west-1
export AWS_ACCESS_KEY_ID=AKIAOFFLINECHECKS000 AWS_SECRET_ACCESS_KEY=offline-checks-need-no-credentials
unset AWS_SESSION_TOKEN AWS_PROFILE
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1 BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false

OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
results=()
failed=0

# record NAME STATUS DETAIL: one summary line per check, printed at the end.
record() {
  results+=("$(printf '%-14s %-4s %s' "$1" "$2" "$3")")
  [ "$2" = ok ] || failed=1
}

log "sam validate --lint"
if "$FLEET_SAM" validate --lint --template "$TEMPLATE" --region eu-west-1 \
  >"$OUT/sam.txt" 2>&1; then
  record "sam validate" ok "$(grep -m1 -i 'valid' "$OUT/sam.txt" || echo 'valid')"
else
  cat "$OUT/sam.txt" >&2
  record "sam validate" FAIL "see the output above"
fi

log "cfn-lint"
# cfn-lint exits non-zero on errors, warnings and informational findings alike: any finding fails.
if "$NOTEBOOK_FLEET_CACHE/venv-cfn-lint/bin/cfn-lint" --format parseable -- "$TEMPLATE" >"$OUT/cfn-lint.txt" 2>&1; then
  record "cfn-lint" ok "0 findings"
else
  cat "$OUT/cfn-lint.txt" >&2
  record "cfn-lint" FAIL "$(grep -c . "$OUT/cfn-lint.txt") findings"
fi

log "checkov"
# --skip-download: no platform calls; the JSON summary gives the counts whatever the exit code.
"$NOTEBOOK_FLEET_CACHE/venv-checkov/bin/checkov" -f "$TEMPLATE" --framework cloudformation --skip-download \
  --compact --quiet >"$OUT/checkov.txt" 2>&1 || true
"$NOTEBOOK_FLEET_CACHE/venv-checkov/bin/checkov" -f "$TEMPLATE" --framework cloudformation --skip-download \
  --output json >"$OUT/checkov.json" 2>"$OUT/checkov.err" || true
summary="$(python3 - "$OUT/checkov.json" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except (OSError, ValueError) as error:
    print(f"unreadable report: {error}")
    sys.exit(0)
reports = report if isinstance(report, list) else [report]
counts = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
for r in reports:
    for key in counts:
        counts[key] += int(r.get("summary", {}).get(key, 0))
print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped, "
      f"{counts['parsing_errors']} parsing errors")
PY
)"
if [[ "$summary" =~ ^[0-9]+\ passed,\ 0\ failed,\ [0-9]+\ skipped,\ 0\ parsing ]] && ! [[ "$summary" =~ ^0\ passed ]]; then
  record "checkov" ok "$summary"
else
  cat "$OUT/checkov.txt" "$OUT/checkov.err" >&2
  record "checkov" FAIL "$summary"
fi

printf '%s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
  echo "template checks failed" >&2
  exit 1
fi
