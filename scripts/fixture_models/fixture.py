"""One committed fixture: the checkpoint, reloaded from disk, plus its reference outputs."""

import json
import sys
from pathlib import Path

import jinja2
import safetensors
import safetensors.torch
import tokenizers
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

from . import chat, checkpoint, prompts, reference
from .errors import GenerationError
from .families import Family
from .tokenizer import token_id

# Bump when a change to this generator changes what it writes.
GENERATOR_VERSION = 1

# The long sequence is the shortest run of these clauses that reaches LONG_MIN_TOKENS with the
# fixture's tokenizer: long enough for every tokenizer, without storing logits for many more
# positions than needed (each clause is about ten tokens).
LONG_CLAUSES = [
    "The harbour master keeps a ledger",
    " of every ship that enters the bay.",
    " It records the name, the hour it arrived,",
    " the berth it took and the cargo it declared.",
    " On a calm morning in April",
    " the ledger showed nine arrivals before 10:30,",
    " among them a ferry from Porto,",
    " two trawlers and a yacht called Ålesund",
    " that had crossed from Norway in eleven days.",
    " By noon the wind turned,",
    " the gulls went quiet,",
    " and the last boat tied up at berth 7.",
    " Nobody in the office could remember",
    " a quieter spring.",
]
LONG_MIN_TOKENS = 100

# Texts whose token ids the Rust tokenizer must reproduce: spacing, NFC, digits, special
# token strings inside ordinary text, non-Latin scripts, and the empty string.
TOKENIZER_TEXTS = [
    "Hello world",
    "  two leading spaces,  double  spaces\nnew line\n\n\ttab",
    "Café and Cafe\u0301 look alike",
    "Numbers: 3.14159, 2024-11-26, 1e-5 and 1,000,000",
    "Specials inside text: <|im_start|> <s> [INST] <|eot_id|>",
    "Emoji 🙂, 中文 and Ελληνικά",
    "",
]


class FixtureError(GenerationError):
    pass


def build(family: Family, out: Path, seed: int, corpus: list[str]) -> dict:
    """Write the checkpoint and reference.{json,safetensors}; return a summary row."""
    written_tokenizer, written_model = checkpoint.write(family, out, seed, corpus)
    model = AutoModelForCausalLM.from_pretrained(
        out, torch_dtype=torch.float32, attn_implementation="eager"
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    _check_reload(family, written_model, model, written_tokenizer, tokenizer)

    stop_ids = [token_id(tokenizer, t) for t in family.stop_tokens]
    padded_rows = set(range(family.tokenizer.size, model.config.vocab_size))
    chosen, passed = prompts.choose(
        model, tokenizer, prompts.candidate_texts(seed), set(stop_ids) | padded_rows
    )
    chats = chat.render_cases(family, tokenizer)

    long_text = _long_text(family, tokenizer)
    sequences = [
        dict(name="long", text=long_text, ids=tokenizer.encode(long_text)),
        # The first greedy prompt followed by its continuation: the logits a decode loop
        # produces step by step, for a per-step comparison.
        dict(name="greedy_0", text=None, ids=chosen[0].ids + chosen[0].continuation.tokens),
    ]
    tensors = {}
    for seq in sequences:
        tensors[f"logits.{seq['name']}"] = reference.logits(model, seq["ids"]).contiguous()
        seq["logits"] = f"logits.{seq['name']}"
        seq["bf16_input_emulation"] = reference.bf16_deviation(model, seq["ids"])
    safetensors.torch.save_file(tensors, out / "reference.safetensors", metadata={"format": "pt"})

    record = dict(
        generator=_provenance(seed, checkpoint.weight_seed(seed, family.name)),
        architecture=family.architecture,
        arithmetic=(
            "float32 over the stored bf16 weights upcast exactly; eager attention; one thread"
        ),
        stop_token_ids=stop_ids,
        sequences=sequences,
        greedy=_greedy_record(chosen, passed, tokenizer),
        tokenizer_cases=_tokenizer_cases(tokenizer),
        chat=chats,
    )
    (out / "reference.json").write_text(
        json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return dict(
        name=family.name,
        architecture=family.architecture,
        parameters=sum(p.numel() for p in model.parameters()),
        bytes=sum(p.stat().st_size for p in out.iterdir()),
        prompts_passed=passed,
        min_margin=min(c.min_margin for c in chosen),
        distinct_tokens=[len(set(c.continuation.tokens)) for c in chosen],
        emulated_max_abs_delta=max(s["bf16_input_emulation"]["max_abs_delta"] for s in sequences),
    )


def _greedy_record(chosen: list[prompts.Chosen], passed: int, tokenizer) -> dict:
    rule = (
        f"candidates: the first {prompts.CANDIDATES} sentences of the corpus generator seeded "
        f"with seed+1; kept: continuations free of stop tokens and padded vocabulary rows, "
        f"identical under bf16 matmul inputs, and with every top-1/top-2 margin >= "
        f"{prompts.MARGIN_OVER_BF16_ERROR} x that emulation's max|logit delta|; of those, the "
        f"{prompts.PROMPTS_KEPT} with the most distinct continuation tokens"
    )
    return dict(
        steps=prompts.STEPS,
        selection=dict(rule=rule, candidates=prompts.CANDIDATES, passed=passed),
        prompts=[
            dict(
                pool_index=c.pool_index,
                text=c.text,
                ids=c.ids,
                continuation=c.continuation.tokens,
                continuation_text=tokenizer.decode(c.continuation.tokens),
                margins=c.continuation.margins,
                min_margin=c.min_margin,
                bf16_input_emulation_max_abs_delta=c.emulated_max_abs_delta,
            )
            for c in chosen
        ],
    )


def _tokenizer_cases(tokenizer) -> list[dict]:
    cases = []
    for text in TOKENIZER_TEXTS:
        plain = tokenizer.encode(text, add_special_tokens=False)
        cases.append(
            dict(
                text=text,
                ids=tokenizer.encode(text),
                ids_without_special=plain,
                decoded=tokenizer.decode(plain),
            )
        )
    return cases


def _long_text(family: Family, tokenizer) -> str:
    for end in range(1, len(LONG_CLAUSES) + 1):
        text = "".join(LONG_CLAUSES[:end])
        if len(tokenizer.encode(text)) >= LONG_MIN_TOKENS:
            return text
    raise FixtureError(
        f"{family.name}: all long clauses together are fewer than {LONG_MIN_TOKENS} tokens"
    )


def _check_reload(family, written_model, model, written_tokenizer, tokenizer) -> None:
    """The directory must load as the family's class, with the same weights and tokenization."""
    if type(model) is not family.model_class:
        raise FixtureError(f"{family.name}: reloaded as {type(model).__name__}")
    written = {k: v.float() for k, v in written_model.state_dict().items()}
    for name, tensor in model.state_dict().items():
        if not torch.equal(written[name], tensor):
            raise FixtureError(f"{family.name}: tensor {name} changed on the round trip")
    for text in TOKENIZER_TEXTS + LONG_CLAUSES:
        if written_tokenizer.encode(text) != tokenizer.encode(text):
            raise FixtureError(f"{family.name}: reloaded tokenizer encodes {text!r} differently")


def _provenance(seed: int, weight_seed: int) -> dict:
    return dict(
        script="scripts/make_test_models.py",
        version=GENERATOR_VERSION,
        seed=seed,
        weight_seed=weight_seed,
        python=sys.version.split()[0],
        torch=torch.__version__,
        transformers=transformers.__version__,
        tokenizers=tokenizers.__version__,
        safetensors=safetensors.__version__,
        jinja2=jinja2.__version__,
    )
