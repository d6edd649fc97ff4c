#!/usr/bin/env bash
# `fak serve` in-kernel mode on the committed qwen3 test model: a warm-up request, one
# conversation, the same conversation again, then a second conversation with the same
# system prompt. Prints each
# answer's usage (prompt tokens, of them reused from the KV cache, completion tokens), the
# finish reason and curl's wall time, then the KV counters from /metrics.
#
#   cargo build --release -p fak && bash gateway/examples/in_kernel_demo.sh
#
# FAK names the binary (default target/release/fak), PORT the loopback port (default 18080).
# DEMO_JSON names a file that receives the server's resident set after start-up and each
# request's usage and time, one JSON object a line (what `harness serve-demo` reads to write
# ledger entries).
set -euo pipefail
cd "$(dirname "$0")/../.."
fak=${FAK:-target/release/fak}
port=${PORT:-18080}
base=http://127.0.0.1:$port
log=$(mktemp)

"$fak" serve --addr "127.0.0.1:$port" >/dev/null 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 50); do
  curl -sf "$base/readyz" >/dev/null && break
  sleep 0.1
done
cat "$log"
rss_kib=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
echo "fak serve: resident set after start-up ${rss_kib} KiB"
if [ -n "${DEMO_JSON:-}" ]; then
  echo "{\"rss_after_start_kib\": $rss_kib}" >>"$DEMO_JSON"
fi

system="You are the travel desk of a small agency. Answer in one short paragraph, name the \
booking reference you are talking about, and never move money without the customer's \
written confirmation."
ask() { # place-in-the-demo question
  local body answer
  body=$(python3 - "$system" "$2" <<'PY'
import json, sys
print(json.dumps({"model": "qwen3", "max_tokens": 24, "temperature": 0, "messages": [
    {"role": "system", "content": sys.argv[1]}, {"role": "user", "content": sys.argv[2]}]}))
PY
)
  answer=$(curl -s -w '\n%{time_total}' "$base/v1/chat/completions" \
    -H 'content-type: application/json' -d "$body")
  python3 - "$1" "$2" "$answer" "${DEMO_JSON:-}" <<'PY'
import json, sys
place, question, out, demo_json = sys.argv[1:5]
answer, seconds = out.rsplit("\n", 1)
a = json.loads(answer)
u = a["usage"]
row = {"request": place, "question": question, "prompt_tokens": u["prompt_tokens"],
       "cached_tokens": u["prompt_tokens_details"]["cached_tokens"],
       "completion_tokens": u["completion_tokens"],
       "finish_reason": a["choices"][0]["finish_reason"], "ms": float(seconds) * 1000}
print(f"{question:32} prompt {row['prompt_tokens']:4}  cached {row['cached_tokens']:4}  "
      f"completion {row['completion_tokens']:3}  {row['finish_reason']:7} {row['ms']:6.1f} ms")
if demo_json:
    with open(demo_json, "a") as f:
        f.write(json.dumps(row) + "\n")
PY
}
# A first request with another system prompt (it shares less than one 32-token block with
# the others) pays the process's one-time costs, so the times below compare prefills.
warm_system=$system
system="Warm-up."
ask warm_up "Hello?"
system=$warm_system
ask first "Can I cancel booking BK-20417?"
ask repeat "Can I cancel booking BK-20417?"
ask second "Where do I collect my tickets?"
curl -s "$base/metrics" | grep -E '^fak_gateway_(kv|generated)'
