"""End-to-end checks of `fak serve` with the official `openai` and `anthropic` clients.

Run by gateway/tests/e2e_clients.rs, which starts the gateway (in proxy mode over the
recording mock upstream, or in-kernel on the qwen3 test model) and passes in the
environment:

  FAK_GATEWAY_URL   the gateway's base URL (http://127.0.0.1:PORT)
  FAK_CLIENT_KEY    the key the gateway requires
  FAK_E2E_MODE      `proxy` (default) or `in-kernel`: which checks run
  FAK_POISON        proxy mode: a poisoned tool result; the Rust side checks the upstream
                    never saw it

Prints one line per check and a closing 'N passed, N failed' line; exits 1 if any failed.
"""

import json
import os
import sys
import traceback

import anthropic
import openai

URL = os.environ["FAK_GATEWAY_URL"]
KEY = os.environ["FAK_CLIENT_KEY"]
MODE = os.environ.get("FAK_E2E_MODE", "proxy")
POISON = os.environ.get("FAK_POISON", "")
MODEL = "mock-model"
TEST_MODEL = "qwen3"
GREETING = "Hello from the mock upstream."

oa = openai.OpenAI(base_url=f"{URL}/v1", api_key=KEY, max_retries=0)
an = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0)

OPENAI_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    }
    for name in ("read_file", "delete_file")
]
ANTHROPIC_TOOLS = [
    {"name": t["function"]["name"], "input_schema": t["function"]["parameters"]}
    for t in OPENAI_TOOLS
]
CHECKS = {"proxy": [], "in-kernel": []}


def check(fn):
    CHECKS["proxy"].append(fn)
    return fn


def in_kernel_check(fn):
    CHECKS["in-kernel"].append(fn)
    return fn


def decisions(extension):
    return [(d["tool"], d["verdict"], d.get("code")) for d in extension["decisions"]]


@check
def openai_chat_returns_the_upstream_text():
    r = oa.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert r.choices[0].message.content == GREETING, r
    assert r.choices[0].finish_reason == "stop"
    assert r.model_extra["fak"]["decisions"] == []


@check
def openai_stream_streams_the_text():
    stream = oa.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1, pieces
    assert "".join(pieces) == GREETING, pieces


@check
def openai_tool_calls_one_allowed_one_refused():
    r = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "use the tools"}],
        tools=OPENAI_TOOLS,
    )
    message = r.choices[0].message
    assert [c.function.name for c in message.tool_calls] == ["read_file"], message
    assert json.loads(message.tool_calls[0].function.arguments) == {"path": "./README.md"}
    assert "delete_file" in message.content and "POLICY_BLOCK" in message.content, message
    assert decisions(r.model_extra["fak"]) == [
        ("read_file", "ALLOW", None),
        ("delete_file", "DENY", "POLICY_BLOCK"),
    ]


@check
def openai_stream_delivers_only_the_allowed_call():
    stream = oa.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "use the tools"}],
        tools=OPENAI_TOOLS,
        stream=True,
    )
    calls, text, finish, extension = {}, "", None, None
    for chunk in stream:
        if chunk.model_extra.get("fak"):
            extension = chunk.model_extra["fak"]
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for d in choice.delta.tool_calls or []:
                call = calls.setdefault(d.index, {"name": "", "arguments": ""})
                call["name"] += d.function.name or ""
                call["arguments"] += d.function.arguments or ""
            finish = choice.finish_reason or finish
    assert [c["name"] for c in calls.values()] == ["read_file"], calls
    assert json.loads(calls[0]["arguments"]) == {"path": "./README.md"}
    assert "POLICY_BLOCK" in text, text
    assert finish == "tool_calls"
    assert decisions(extension)[1] == ("delete_file", "DENY", "POLICY_BLOCK")


@check
def openai_poisoned_tool_result_is_quarantined():
    r = oa.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "search the web"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_search",
                        "type": "function",
                        "function": {"name": "web_search", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_search", "content": POISON},
            {"role": "user", "content": "summarize"},
        ],
    )
    admissions = r.model_extra["fak"]["admissions"]
    assert admissions[0]["outcome"] == "QUARANTINE", admissions


@check
def anthropic_message_returns_the_upstream_text():
    m = an.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    )
    assert m.content[0].type == "text" and m.content[0].text == GREETING, m
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens == 7


@check
def anthropic_tool_use_one_allowed_one_refused():
    m = an.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=ANTHROPIC_TOOLS,
        messages=[{"role": "user", "content": "use the tools"}],
    )
    uses = [b for b in m.content if b.type == "tool_use"]
    texts = [b.text for b in m.content if b.type == "text"]
    assert [(u.name, u.input) for u in uses] == [("read_file", {"path": "./README.md"})], m
    assert any("POLICY_BLOCK" in t for t in texts), texts
    assert m.stop_reason == "tool_use"
    assert decisions(m.model_extra["fak"])[1] == ("delete_file", "DENY", "POLICY_BLOCK")


@check
def anthropic_stream_builds_the_same_message():
    with an.messages.stream(
        model=MODEL,
        max_tokens=64,
        tools=ANTHROPIC_TOOLS,
        messages=[{"role": "user", "content": "use the tools"}],
    ) as stream:
        text = "".join(stream.text_stream)
        m = stream.get_final_message()
    uses = [b for b in m.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [("read_file", {"path": "./README.md"})], m
    assert "POLICY_BLOCK" in text, text
    assert m.stop_reason == "tool_use"


@check
def anthropic_tool_result_round_trip_is_screened():
    m = an.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=ANTHROPIC_TOOLS,
        messages=[
            {"role": "user", "content": "search"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "tu_1", "name": "web_search", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": POISON}],
            },
        ],
    )
    assert m.model_extra["fak"]["admissions"][0]["outcome"] == "QUARANTINE", m


@check
def wrong_key_and_unknown_model_raise_the_clients_own_errors():
    bad_oa = openai.OpenAI(base_url=f"{URL}/v1", api_key="wrong", max_retries=0)
    bad_an = anthropic.Anthropic(base_url=URL, api_key="wrong", max_retries=0)
    hi = [{"role": "user", "content": "hi"}]
    for call, error in [
        (lambda: bad_oa.chat.completions.create(model=MODEL, messages=hi), openai.AuthenticationError),
        (lambda: bad_an.messages.create(model=MODEL, max_tokens=5, messages=hi), anthropic.AuthenticationError),
        (lambda: oa.chat.completions.create(model="nope", messages=hi), openai.NotFoundError),
        (lambda: an.messages.create(model="nope", max_tokens=5, messages=hi), anthropic.NotFoundError),
    ]:
        try:
            call()
        except error:
            continue
        raise AssertionError(f"expected {error.__name__}")


GREEDY = {"model": TEST_MODEL, "max_tokens": 8, "temperature": 0}
ASK = [
    {"role": "system", "content": "You are the travel desk of a small agency. Answer in one "
     "short paragraph and never move money without the customer's written confirmation."},
    {"role": "user", "content": "Can I cancel booking BK-20417?"},
]


@in_kernel_check
def in_kernel_models_list_names_the_test_model():
    [entry] = oa.models.list().data
    assert entry.id == TEST_MODEL, entry
    assert entry.model_extra["fak"]["test_model"] is True, entry


@in_kernel_check
def in_kernel_chat_repeats_greedy_text_and_reports_cached_tokens():
    first = oa.chat.completions.create(messages=ASK, **GREEDY)
    again = oa.chat.completions.create(messages=ASK, **GREEDY)
    assert again.choices[0].message.content == first.choices[0].message.content
    assert first.choices[0].finish_reason == "length"
    assert again.usage.completion_tokens == 8, again.usage
    assert again.usage.prompt_tokens == first.usage.prompt_tokens
    assert again.usage.prompt_tokens_details.cached_tokens > 0, again.usage


@in_kernel_check
def in_kernel_stream_adds_up_to_the_whole_answer():
    whole = oa.chat.completions.create(messages=ASK, **GREEDY)
    stream = oa.chat.completions.create(
        messages=ASK, stream=True, stream_options={"include_usage": True}, **GREEDY
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content, (text, whole)
    assert chunks[-1].usage.completion_tokens == 8, chunks[-1]


@in_kernel_check
def in_kernel_anthropic_message_reports_cache_reads():
    m = an.messages.create(
        model=TEST_MODEL, max_tokens=8, system=ASK[0]["content"], messages=[ASK[1]],
        # This client version has no temperature argument; the wire field still works.
        extra_body={"temperature": 0},
    )
    assert m.content[0].type == "text", m
    assert m.stop_reason == "max_tokens"
    assert m.usage.output_tokens == 8, m.usage
    assert m.usage.cache_read_input_tokens > 0, m.usage


@in_kernel_check
def in_kernel_unknown_model_is_the_clients_not_found_error():
    try:
        oa.chat.completions.create(model="gpt-4o", messages=ASK)
    except openai.NotFoundError:
        return
    raise AssertionError("expected NotFoundError")


def main():
    failed = 0
    checks = CHECKS[MODE]
    for fn in checks:
        try:
            fn()
            print(f"ok      {fn.__name__}")
        except Exception:
            failed += 1
            print(f"FAILED  {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
    print(f"clients ({MODE}): {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
