#!/usr/bin/env bash
# Runs each fuzz target for a bounded time: ./run.sh [SECONDS_PER_TARGET] (default 60).
# cargo-fuzz needs nightly flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
# New corpus entries go to corpus/<target> (ignored by git); seeds/<target> is read only.
# FUZZ_RESULTS names a directory that receives the targets run (`targets`, one a line), the
# toolchain (`toolchain`) and each target's whole output (`<target>.log`, its first line the
# command, `$ cargo fuzz run ...`): what `harness fuzz` reads to write ledger entries.
# A crash stops the script with a non-zero status; later targets do not run.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=(policy_loader repair_ladder admission)
results=${FUZZ_RESULTS:-}
if [ -n "$results" ]; then
  printf '%s\n' "${targets[@]}" >"$results/targets"
  { cargo fuzz --version; rustc --version; } >"$results/toolchain"
fi
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  echo "== $target (${secs} s)"
  run=(cargo fuzz run "$target" "corpus/$target" "seeds/$target" --
    -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536)
  log=${results:+$results/$target.log}
  [ -z "$log" ] || echo "\$ ${run[*]}" >"$log"
  "${run[@]}" 2>&1 | if [ -n "$log" ]; then tee -a "$log"; else cat; fi | tail -n 4
done
echo "all fuzz targets ran ${secs} s each without a crash"
