"""Conversations rendered through each fixture's chat template, recorded with the output.

The Rust side renders the same messages with minijinja and must produce the same text and
token ids. Templates here are written with explicit whitespace control so that their output
does not depend on jinja's trim_blocks/lstrip_blocks settings (checked in render_cases), and
they call only `tojson` and `raise_exception` beyond plain jinja, as transformers provides them.
"""

import json

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment
from transformers import PreTrainedTokenizerFast

from .errors import GenerationError
from .families import Family

PLAIN = [
    {"role": "system", "content": "You answer in one short sentence."},
    {"role": "user", "content": "What does the kernel check first?"},
    {"role": "assistant", "content": "It checks the policy before anything else."},
    {"role": "user", "content": "And after that?"},
]

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a text file from the workspace",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    },
]

WITH_TOOLS = [
    {"role": "system", "content": "You help with travel plans."},
    {"role": "user", "content": "Is it warm in Lisbon today?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "arguments": {"city": "Lisbon", "unit": "celsius"},
                },
            }
        ],
    },
    {"role": "tool", "content": '{"temperature": 24, "sky": "clear"}'},
]

# Qwen3's reasoning field on a past assistant turn.
WITH_REASONING = [
    {"role": "user", "content": "Add 12 and 30."},
    {"role": "assistant", "reasoning_content": "12 + 30 = 42.", "content": "42"},
    {"role": "user", "content": "Now double it."},
]


def cases(family: Family) -> list[dict]:
    """The (name, messages, tools, extra variables) combinations recorded for a family."""
    out = [dict(name="plain", messages=PLAIN, tools=None, variables={})]
    if family.tools:
        out.append(dict(name="tools", messages=WITH_TOOLS, tools=TOOLS, variables={}))
    if family.name == "qwen3":
        out.append(dict(name="reasoning", messages=WITH_REASONING, tools=None, variables={}))
    for key, value in family.template_switches.items():
        out.append(
            dict(
                name=f"plain_{key}_{value}".lower(),
                messages=PLAIN,
                tools=None,
                variables={key: value},
            )
        )
    return out


class TemplateWhitespaceError(GenerationError):
    pass


def _render_plain_jinja(template: str, trim: bool, variables: dict) -> str:
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=trim, lstrip_blocks=trim)
    # Same behaviour as transformers' override: no HTML escaping, Python's default separators.
    env.filters["tojson"] = lambda x: json.dumps(x, ensure_ascii=False)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template).render(**variables)


def render_cases(family: Family, tokenizer: PreTrainedTokenizerFast) -> list[dict]:
    """Render every case with transformers, check it, and record text and token ids."""
    records = []
    for case in cases(family):
        text = tokenizer.apply_chat_template(
            case["messages"],
            tools=case["tools"],
            add_generation_prompt=True,
            tokenize=False,
            **case["variables"],
        )
        variables = dict(
            tokenizer.special_tokens_map,
            messages=case["messages"],
            tools=case["tools"],
            add_generation_prompt=True,
            **case["variables"],
        )
        for trim in (False, True):
            if _render_plain_jinja(tokenizer.chat_template, trim, variables) != text:
                raise TemplateWhitespaceError(
                    f"{family.template}: case {case['name']} renders differently with "
                    f"trim_blocks/lstrip_blocks={trim} than through transformers"
                )
        records.append(
            dict(
                name=case["name"],
                messages=case["messages"],
                tools=case["tools"],
                variables=case["variables"],
                add_generation_prompt=True,
                text=text,
                # The template writes bos itself where the family wants it, so no special
                # tokens are added on top (what apply_chat_template(tokenize=True) does).
                ids=tokenizer.encode(text, add_special_tokens=False),
            )
        )
    return records
