#!/usr/bin/env bash
# Short coverage-guided fuzz run of every target in fuzz/ (libFuzzer via cargo fuzz).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30)
# The machine has only a stable toolchain: RUSTC_BOOTSTRAP lets cargo fuzz use the
# sanitizer flags it needs. Seeds (real packets and captures) are in fuzz/seeds/<target>;
# the working corpus grows in fuzz/corpus/<target> (not committed). A crash fails the run
# and leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
secs=${1:-30}
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz missing; run scripts/install-deps.sh" >&2
  exit 1
fi
targets=$(cargo fuzz list --fuzz-dir fuzz)
cargo fuzz build --fuzz-dir fuzz >/dev/null
for t in $targets; do
  mkdir -p "fuzz/corpus/$t"
  cp -n fuzz/seeds/"$t"/* "fuzz/corpus/$t/" 2>/dev/null || true
  echo "fuzz: $t for ${secs}s"
  cargo fuzz run --fuzz-dir fuzz "$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==|SUMMARY|.*panicked|Done)" || true
  # cargo fuzz exits non-zero on a crash; pipefail is defeated by grep, so check artifacts.
  if compgen -G "fuzz/artifacts/$t/crash-*" >/dev/null || compgen -G "fuzz/artifacts/$t/oom-*" >/dev/null; then
    echo "fuzz: $t found a crash: fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
echo "fuzz: no crash in $(echo $targets | wc -w) targets"
