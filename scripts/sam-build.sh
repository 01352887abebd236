#!/usr/bin/env bash
# Builds the stack's Rust Lambdas with `sam build` (rust-cargolambda, no Docker) for the template's default
# Architecture, and the heartbeat agent's layer (makefile: agent/Makefile, agent/build-release.sh) for the
# notebooks (x86_64 whatever the Architecture), then prints each function's bootstrap and the agent with their
# zipped sizes. Fails if a function has no bootstrap or the layer no x86_64 agent.
# Installs the pinned SAM CLI and cargo-lambda into the project cache; the release build goes to
# CARGO_TARGET_DIR (scripts/lib.sh: ~/.cache/notebook-fleet/target), outside the clone, so reruns are warm.
# Usage: scripts/sam-build.sh [extra `sam build` arguments]
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

TEMPLATE=infra/template.yaml
ensure_cargo_lambda
ensure_sam

# The Architecture parameter's default decides the Rust target (cargo-lambda: --arm64 or the host's x86_64).
architecture="$(awk '/^  Architecture:$/ {found = 1} found && /^    Default:/ {print $2; exit}' "$TEMPLATE")"
case "$architecture" in
  arm64) rust_target=aarch64-unknown-linux-gnu ;;
  x86_64) rust_target=x86_64-unknown-linux-gnu ;;
  *) echo "cannot read the Architecture default from $TEMPLATE (got '$architecture')" >&2; exit 1 ;;
esac
# The agent runs on the notebooks: x86_64 Linux (agent/build-release.sh), whatever the Lambda Architecture.
agent_target=x86_64-unknown-linux-gnu
if command -v rustup >/dev/null; then
  for target in "$rust_target" "$agent_target"; do
    if ! rustup target list --installed | grep -qx "$target"; then
      log "rustup target add $target"
      rustup target add "$target"
    fi
  done
fi

# No telemetry, no update check. sam build reads samconfig.toml (template, cached, parallel); the
# rust-cargolambda builder keeps an explicit CARGO_TARGET_DIR (aws-lambda-builders' cargo_lambda.py).
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1
log "sam build ($architecture, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
started=$SECONDS
"$FLEET_SAM" build "$@"
log "sam build took $((SECONDS - started)) s"

# Every rust-cargolambda function of the template must have its bootstrap in .aws-sam/build/<LogicalId>/, an
# ELF of the Lambda Architecture; the agent's layer its heartbeat-agent at the root of
# .aws-sam/build/HeartbeatAgentLayer/ (Lambda mounts it as /opt/heartbeat-agent), an x86_64 ELF.
"$NOTEBOOK_FLEET_CACHE/venv-sam/bin/python" - "$TEMPLATE" "$architecture" <<'PY'
import io, os, sys, zipfile
from samcli.yamlhelper import yaml_parse

template_path, architecture = sys.argv[1:]
with open(template_path, encoding="utf-8") as handle:
    template = yaml_parse(handle.read())
resources = template["Resources"]
artifacts = [  # (logical id, file in its build directory, ELF architecture)
    (name, "bootstrap", architecture)
    for name, resource in sorted(resources.items())
    if resource.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
]
if resources.get("HeartbeatAgentLayer", {}).get("Type") != "AWS::Serverless::LayerVersion":
    sys.exit(f"{template_path} has no HeartbeatAgentLayer (AWS::Serverless::LayerVersion)")
artifacts.append(("HeartbeatAgentLayer", "heartbeat-agent", "x86_64"))
machines = {"arm64": 0xB7, "x86_64": 0x3E}  # ELF e_machine: AArch64, x86-64
missing = []
print(f"{'artifact':<40} {'arch':<7} {'size':>10} {'zipped':>12}")
for name, file, machine in artifacts:
    label = f"{name}/{file}"
    path = os.path.join(".aws-sam", "build", name, file)
    if not os.path.isfile(path):
        missing.append(label)
        print(f"{label:<40} MISSING: {path}")
        continue
    with open(path, "rb") as handle:
        body = handle.read()
    if body[:4] != b"\x7fELF" or int.from_bytes(body[18:20], "little") != machines[machine]:
        missing.append(label)
        print(f"{label:<40} not an {machine} ELF executable: {path}")
        continue
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:  # as sam package zips it
        archive.write(path, file)
    print(f"{label:<40} {machine:<7} {len(body) / 2**20:>6.1f} MiB {len(buffer.getvalue()) / 2**20:>8.1f} MiB")
if missing:
    sys.exit(f"missing or of the wrong architecture: {', '.join(missing)}")
PY
