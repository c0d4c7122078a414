#!/usr/bin/env bash
# Fuzzes the parsers of what Kairos accepts from outside with libFuzzer (cargo-fuzz), each for a bounded time:
# Segment events and batches, segment definitions (text and JSON), flow definitions, Liquid templates (parse and
# render), bounce reports and the login form. See ARCHITECTURE.md, "Fuzzing".
#
#   scripts/fuzz.sh                       every target, KAIROS_FUZZ_SECONDS (default 30) seconds each
#   KAIROS_FUZZ_TARGETS="segment_text flow_json" scripts/fuzz.sh
#
# Fails when a target panics, overflows its stack, spends more than 10 s on one input or goes over 2 GB; the
# input is kept in fuzz/artifacts/<target>/ and replays with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> fuzz/artifacts/<target>/<file>
# Turn it into a regression test in the crate concerned and add it to fuzz/corpus/<target>/.
#
# The committed seeds (fuzz/corpus/<target>/) are only read: what a run discovers goes to
# fuzz/target/corpus/<target>/ (not committed), so later runs on the same machine start from there.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${KAIROS_FUZZ_SECONDS:-30}"
# cargo-fuzz passes nightly-only flags (-Z...) to cargo and rustc; this lets the stable toolchain accept them.
export RUSTC_BOOTSTRAP=1
# No sanitizer: the code under test is safe Rust, so AddressSanitizer would find nothing the bounds checks do
# not, and it doubles build and run times. Release build with overflow checks and debug assertions (cargo-fuzz's
# default).
flags=(--sanitizer none)

if ! command -v c++ >/dev/null 2>&1; then
  # libfuzzer-sys compiles libFuzzer's C++ sources.
  echo "installing a C++ compiler for libFuzzer..."
  apt-get update -qq && apt-get install -y -qq --no-install-recommends g++ >/dev/null
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz..."
  cargo install cargo-fuzz --locked
fi

read -r -a targets <<<"${KAIROS_FUZZ_TARGETS:-$(cargo fuzz list | tr '\n' ' ')}"
started=$(date +%s)
cargo fuzz build "${flags[@]}"
echo "fuzz: built in $(($(date +%s) - started)) s"

dict_for() {
  case "$1" in
    template_parse_render) echo "-dict=fuzz/dicts/template.dict" ;;
    segment_text | segment_json | flow_json) echo "-dict=fuzz/dicts/segment.dict" ;;
  esac
}

failed=()
for target in "${targets[@]}"; do
  work="fuzz/target/corpus/$target"
  mkdir -p "$work" "fuzz/artifacts/$target"
  echo "fuzz: $target for ${seconds} s"
  # shellcheck disable=SC2046 # the dictionary flag is one word or none
  if ! cargo fuzz run "${flags[@]}" "$target" "$work" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $(dict_for "$target") \
    >"fuzz/target/$target.log" 2>&1; then
    failed+=("$target")
    tail -n 40 "fuzz/target/$target.log"
  else
    grep -E "^stat::number_of_executed_units|^#[0-9]+ +DONE" "fuzz/target/$target.log" | tail -n 1 || true
  fi
done

echo "fuzz: ${#targets[@]} targets in $(($(date +%s) - started)) s"
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
echo "fuzz: every target ran clean"
