#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, fuzzing of every parser, and every unit, property and integration
# test.
# Integration tests start the real `kairos` binary on 127.0.0.1:0 with temporary data directories.
set -euo pipefail
cd "$(dirname "$0")"

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest..."
  cargo install cargo-nextest --locked
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every parser of outside input under libFuzzer for a bounded time (KAIROS_FUZZ_SECONDS each, default 30).
scripts/fuzz.sh
cargo nextest run --workspace --locked --no-fail-fast
