#!/usr/bin/env bash
# Gateway bench, loopback only and bounded in time (about 40 s + SOAK_S):
#   1. added latency: p50/p99 of one connection's requests through `fak serve` against the
#      same request sent straight to the mock upstream (10 s each);
#   2. requests/s at 64 concurrent connections, both ways (10 s each), with error counts;
#   3. memory: fak's resident set before and after SOAK_S seconds at 64 connections.
# Usage: bench/gateway/run.sh [SOAK_S=60]. Needs wrk (apt-get install wrk). PROFILE picks the
# cargo profile the two servers are built with (default release; `test` is optimized too and
# reuses what `cargo test` built). RESULTS names a directory that receives each run's numbers
# as JSON (what `harness gateway` reads to write ledger entries).
set -euo pipefail
cd "$(dirname "$0")/../.."

soak_s=${1:-60}
command -v wrk >/dev/null || { echo "error: wrk not found (apt-get install wrk)" >&2; exit 1; }
profile=${PROFILE:-release}
bin="${CARGO_TARGET_DIR:-target}/$([ "$profile" = release ] && echo release || echo debug)"
cargo build --profile "$profile" -q -p fak --bin fak
cargo build --profile "$profile" -q -p fak-gateway --example mock_upstream

up=127.0.0.1:19100
gw=127.0.0.1:19180
work=$(mktemp -d)
"$bin/examples/mock_upstream" "$up" 2>"$work/upstream.log" &
up_pid=$!
"$bin/fak" serve --addr "$gw" --base-url "http://$up/v1" --max-concurrent 1024 \
  >"$work/access.log" 2>"$work/serve.log" &
gw_pid=$!
trap 'kill "$up_pid" "$gw_pid" 2>/dev/null; rm -rf "$work"' EXIT

for _ in $(seq 100); do
  curl -sf "http://$gw/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "http://$gw/readyz" >/dev/null || { echo "error: fak serve is not ready" >&2; cat "$work/serve.log" >&2; exit 1; }

script=bench/gateway/chat.lua
results=${RESULTS:-}
load() { # connections seconds host [results file name]
  WRK_JSON=${4:+${results:+$results/$4}} \
    wrk -t "$(( $1 > 1 ? 2 : 1 ))" -c "$1" -d "$2s" --latency -s "$script" "http://$3/v1/chat/completions"
}
pct() { awk -v p="$1" '$1 == p { print $2 }'; }
rps() { awk '/^Requests\/sec/ { print $2 }'; }
errors() { awk '/Non-2xx|Socket errors/ { e = e $0 "; " } END { print (e == "" ? "none" : e) }'; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$gw_pid/status"; }

# Warm both paths (connection pools, allocator, the conversation's admission memo).
load 8 2 "$up" >/dev/null
load 8 2 "$gw" >/dev/null

direct1=$(load 1 10 "$up" direct1.json)
fak1=$(load 1 10 "$gw" fak1.json)
direct64=$(load 64 10 "$up" direct64.json)
fak64=$(load 64 10 "$gw" fak64.json)

rss_before=$(rss_kib)
soak=$(load 64 "$soak_s" "$gw" soak.json)
rss_after=$(rss_kib)
load_average=$(cut -d' ' -f1 /proc/loadavg)
if [ -n "$results" ]; then
  printf '{"rss_before_kib": %s, "rss_after_kib": %s, "soak_s": %s, "load_average": %s}\n' \
    "$rss_before" "$rss_after" "$soak_s" "$load_average" >"$results/machine.json"
fi

echo "gateway bench ($(nproc) cores, load average $load_average, profile $profile, wrk, loopback; request: bench/gateway/chat.lua)"
printf '%-34s %12s %12s\n' "" "direct" "through fak"
printf '%-34s %12s %12s\n' "latency p50, 1 connection" "$(pct 50% <<<"$direct1")" "$(pct 50% <<<"$fak1")"
printf '%-34s %12s %12s\n' "latency p99, 1 connection" "$(pct 99% <<<"$direct1")" "$(pct 99% <<<"$fak1")"
printf '%-34s %12s %12s\n' "requests/s, 64 connections" "$(rps <<<"$direct64")" "$(rps <<<"$fak64")"
echo "errors, 64 connections: direct: $(errors <<<"$direct64") through fak: $(errors <<<"$fak64")"
echo "soak ${soak_s} s at 64 connections through fak: $(rps <<<"$soak") requests/s, errors: $(errors <<<"$soak")"
echo "fak resident set: ${rss_before} KiB before the soak, ${rss_after} KiB after"
