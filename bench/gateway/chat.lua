-- wrk request: one OpenAI chat turn whose transcript holds a tool result (screened by
-- admission on the way up) and whose answer is text (gated on the way down).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"model":"mock-model","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"what is the weather in Paris?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_time","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1","content":"2026-11-26T10:00:00Z"},{"role":"user","content":"thanks, say hello"}]}]]
