-- wrk request: one OpenAI chat turn whose transcript holds a tool result (screened by
-- admission on the way up) and whose answer is text (gated on the way down).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"model":"mock-model","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"what is the weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_time","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"2026-11-26T10:00:00Z"},{"role":"user","content":"thanks, say hello"}]}]]

-- With WRK_JSON set, the run's numbers as one JSON object in that file, for
-- `harness gateway` (latency percentiles in microseconds, as wrk keeps them).
done = function(summary, latency, requests)
  local out = os.getenv("WRK_JSON")
  if out == nil or out == "" then return end
  local e = summary.errors
  local f = assert(io.open(out, "w"))
  f:write(string.format(
    '{"p50_us": %d, "p99_us": %d, "requests": %d, "duration_us": %d, "socket_errors": %d, "non_2xx": %d}\n',
    latency:percentile(50), latency:percentile(99), summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status))
  f:close()
end
