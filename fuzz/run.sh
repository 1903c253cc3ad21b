#!/usr/bin/env bash
# Runs one fuzz target under libFuzzer for SECONDS (default 60), seeded from the test
# fixtures and the shipped configuration. Needs cargo-fuzz (`cargo install cargo-fuzz`).
# On a stable toolchain: RUSTC_BOOTSTRAP=1 and no sanitizer (the parsers are safe Rust, so
# what is sought is panics, hangs and runaway memory, which libFuzzer reports itself).
# Crashes land in fuzz/artifacts/TARGET/; replay one with
#   cargo fuzz run --sanitizer none TARGET fuzz/artifacts/TARGET/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:?usage: fuzz/run.sh TARGET [SECONDS]; targets: $(ls fuzz/fuzz_targets | sed 's/\.rs$//' | tr '\n' ' ')}"
seconds="${2:-60}"
mkdir -p "fuzz/corpus/$target"
# Every fixture is a seed for every target: a CSV given to the JSON parser is one more
# malformed input, and the list of which fits which stays in one place (src/fuzzing.rs).
# -O: release without debug assertions, the build `cargo fuzz build -O` makes; drop it
# to fuzz with overflow checks (a second full build of the dependencies).
# FUZZ_SEED fixes libFuzzer's random seed (CI sets it, so a red run can be replayed).
RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none "$target" \
  "fuzz/corpus/$target" tests/fixtures/* config \
  -- -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
  ${FUZZ_SEED:+-seed="$FUZZ_SEED"}
