#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, fuzzing of every parser, and every unit, property and integration
# test, on both storage backends.
# Integration tests start the real `kairos` binary on 127.0.0.1:0 with temporary data directories. A throwaway
# PostgreSQL cluster (scripts/pg.sh: installed from Debian's packages when missing, run by an unprivileged user
# on a free port in a temporary directory) serves the PostgreSQL runs and is removed at the end.
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

# The README's examples run with curl and openssl (crates/kairos/tests/readme.rs).
if ! command -v curl >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends curl openssl >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Every parser of outside input under libFuzzer for a bounded time (KAIROS_FUZZ_SECONDS each, default 30).
scripts/fuzz.sh

eval "$(scripts/pg.sh start)"
trap 'scripts/pg.sh stop "$KAIROS_PG_DIR"' EXIT
status=0
# Everything on SQLite, plus the store suite on PostgreSQL.
cargo nextest run --workspace --locked --no-fail-fast || status=1
# The HTTP integration suite again with every server on PostgreSQL (tests of SQLite's own files excluded:
# their names say sqlite).
KAIROS_TEST_BACKEND=postgres cargo nextest run -p kairos --locked --no-fail-fast -E 'not test(/sqlite/)' || status=1
exit $status
