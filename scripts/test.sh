#!/usr/bin/env bash
# Installs what the tests need (pinned) and runs every check: format, lints, shell scripts, unit and
# integration tests against the AWS emulator, the demo as a smoke test, and the offline template checks.
# Usage: scripts/test.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

ensure_rust_tools
ensure_emulator
ensure_shellcheck
ensure_awscli
ensure_jupyter
# The deploy rehearsal test (tests/tests/rehearsal.rs) translates the SAM template with aws-sam-translator.
ensure_sam_translator
# The IAM matrix test (tests/tests/iam_matrix.rs) evaluates the real policies with an independent evaluator.
ensure_iam_simulate
# The sample events are checked against the published schemas (tests/tests/schemas.rs).
ensure_schema_validator

log "format"
cargo fmt --all -- --check

log "lints (clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "shell scripts (shellcheck)"
shellcheck --external-sources shared/src/domain/on_start.sh scripts/*.sh agent/build-release.sh .ci/run

# The killed-process tests (tests/tests/killed.rs) run the provisioner's own bootstrap: a plain build of that
# binary, with the test build's features (nothing but the binary is compiled).
log "the provisioner's bootstrap for the killed-process tests"
cargo build --locked --bin provisioner

log "unit and integration tests (moto $(grep -o '==.*' scripts/requirements-emulator.in))"
cargo nextest run --workspace --locked --profile "${NEXTEST_PROFILE:-$([ "${CI:-}" = true ] && echo ci || echo default)}"

# The demo end to end (the provisioner under cargo lambda watch, the sweeper, audit-history), failing unless
# each step's outcome is the one it names; about a minute once the tests above have built everything.
log "the demo as a smoke test (scripts/demo.sh --check)"
scripts/demo.sh --check

if [ -x scripts/check-template.sh ]; then
  log "SAM template (offline checks)"
  scripts/check-template.sh
fi

# A release build per function (cargo-lambda for the template's architecture) and of the heartbeat agent
# (x86_64, the layer the lifecycle publisher reads): about 23 minutes cold on 2 cores for the functions, plus
# the agent's, 1.5 to 3 minutes warm, with the cache outside the clone.
log "sam build (every function's bootstrap, the agent's layer)"
scripts/sam-build.sh

log "all checks passed"
