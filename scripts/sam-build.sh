#!/usr/bin/env bash
# Builds the stack's Rust Lambdas with `sam build` (rust-cargolambda, no Docker) for the template's default
# Architecture, then prints each function's bootstrap and zipped size. Fails if a function has no bootstrap.
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
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$rust_target"; then
  log "rustup target add $rust_target"
  rustup target add "$rust_target"
fi

# No telemetry, no update check. sam build reads samconfig.toml (template, cached, parallel); the
# rust-cargolambda builder keeps an explicit CARGO_TARGET_DIR (aws-lambda-builders' cargo_lambda.py).
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1
log "sam build ($architecture, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
started=$SECONDS
"$FLEET_SAM" build "$@"
log "sam build took $((SECONDS - started)) s"

# Every rust-cargolambda function of the template must have its bootstrap in .aws-sam/build/<LogicalId>/.
"$NOTEBOOK_FLEET_CACHE/venv-sam/bin/python" - "$TEMPLATE" "$architecture" <<'PY'
import io, os, sys, zipfile
from samcli.yamlhelper import yaml_parse

template_path, architecture = sys.argv[1:]
with open(template_path, encoding="utf-8") as handle:
    template = yaml_parse(handle.read())
functions = sorted(
    name for name, resource in template["Resources"].items()
    if resource.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
)
machines = {"arm64": 0xB7, "x86_64": 0x3E}  # ELF e_machine: AArch64, x86-64
missing = []
print(f"{'function':<28} {'bootstrap':>12} {'zipped':>12}")
for name in functions:
    path = os.path.join(".aws-sam", "build", name, "bootstrap")
    if not os.path.isfile(path):
        missing.append(name)
        print(f"{name:<28} {'MISSING':>12}")
        continue
    with open(path, "rb") as handle:
        body = handle.read()
    if body[:4] != b"\x7fELF" or int.from_bytes(body[18:20], "little") != machines[architecture]:
        missing.append(name)
        print(f"{name:<28} not an {architecture} ELF executable: {path}")
        continue
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:  # as sam package zips it
        archive.write(path, "bootstrap")
    print(f"{name:<28} {len(body) / 2**20:>10.1f} MiB {len(buffer.getvalue()) / 2**20:>8.1f} MiB")
if missing:
    sys.exit(f"no usable bootstrap for: {', '.join(missing)}")
PY
