#!/usr/bin/env bash
# Runs each fuzz target for a bounded time: ./run.sh [SECONDS_PER_TARGET] (default 60).
# cargo-fuzz needs nightly flags; the stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
# New corpus entries go to corpus/<target> (ignored by git); seeds/<target> is read only.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in policy_loader repair_ladder admission; do
  mkdir -p "corpus/$target"
  echo "== $target (${secs} s)"
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 2>&1 | tail -n 4
done
echo "all fuzz targets ran ${secs} s each without a crash"
