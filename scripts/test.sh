#!/usr/bin/env bash
# Runs the whole test suite: every crate's unit, property, CLI black-box, crash, concurrency,
# import and pack tests. The cargo target directory lives outside the checkout so a fresh clone
# does not rebuild every dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/muse-target}
if cargo nextest --version >/dev/null 2>&1; then
    # Doc tests first, so that the run closes on nextest's summary of every test.
    cargo test --workspace --doc --quiet
    cargo nextest run --workspace --no-fail-fast "$@"
else
    cargo test --workspace --no-fail-fast "$@"
fi
