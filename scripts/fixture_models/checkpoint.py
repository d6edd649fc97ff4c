"""Write a Hugging Face model directory: config, generation config, bf16 safetensors, tokenizer.

Every file is written by transformers' own save_pretrained, so key names, defaults left out,
tensor names and the shard index are exactly what a download of that architecture holds.
"""

import hashlib
from pathlib import Path

import torch
from transformers import GenerationConfig, PreTrainedTokenizerFast

from . import tokenizer as tok_mod
from . import weights
from .errors import GenerationError
from .families import Family

TEMPLATES = Path(__file__).parent / "templates"


class CheckpointError(GenerationError):
    pass


def weight_seed(seed: int, family: str) -> int:
    """A per-family seed that does not depend on the order families are built in."""
    digest = hashlib.sha256(f"{seed}:{family}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def chat_template(family: Family) -> str:
    return (TEMPLATES / family.template).read_text(encoding="utf-8").rstrip("\n")


def _ids(tokenizer: PreTrainedTokenizerFast, tokens) -> int | list[int] | None:
    if tokens is None:
        return None
    if isinstance(tokens, str):
        return tok_mod.token_id(tokenizer, tokens)
    ids = [tok_mod.token_id(tokenizer, t) for t in tokens]
    return ids[0] if len(ids) == 1 else ids


def write(
    family: Family,
    out: Path,
    seed: int,
    corpus: list[str],
    shape: dict | None = None,
) -> tuple[PreTrainedTokenizerFast, torch.nn.Module]:
    """Build, randomize and save one checkpoint; returns its tokenizer and the bf16 model.

    `shape` overrides the family's config keys (the benchmark checkpoint keeps the family's
    tokenizer and template but takes full-size shapes and its own vocab_size).
    """
    config_keys = dict(family.config, **(shape or {}))
    tokenizer = tok_mod.wrap(
        family,
        tok_mod.train(family.tokenizer, corpus),
        chat_template(family),
        model_max_length=config_keys["max_position_embeddings"],
    )
    config_keys.setdefault("vocab_size", family.tokenizer.size + family.vocab_padding)
    if config_keys["vocab_size"] < family.tokenizer.size:
        raise CheckpointError(
            f"{family.name}: vocab_size {config_keys['vocab_size']} is smaller than the "
            f"tokenizer's {family.tokenizer.size} tokens"
        )
    token_keys = dict(
        bos_token_id=_ids(tokenizer, family.config_bos),
        eos_token_id=_ids(tokenizer, family.config_eos),
    )
    if family.config_pad is not None:
        token_keys["pad_token_id"] = _ids(tokenizer, family.config_pad)
    config = family.config_class(torch_dtype="bfloat16", **token_keys, **config_keys)

    model = family.model_class(config)
    weights.randomize(model, weight_seed(seed, family.name))
    model = model.to(torch.bfloat16)
    generation = dict(
        bos_token_id=token_keys["bos_token_id"],
        eos_token_id=_ids(tokenizer, family.stop_tokens),
        **family.sampling,
    )
    if family.tokenizer.pad is not None:
        generation["pad_token_id"] = _ids(tokenizer, family.tokenizer.pad)
    model.generation_config = GenerationConfig(**generation)

    out.mkdir(parents=True, exist_ok=True)
    # Weight files of an earlier run with another shard count would sit beside the new ones
    # and make the directory ambiguous to a loader.
    for stale in out.glob("model*.safetensors*"):
        stale.unlink()
    model.save_pretrained(out, max_shard_size=_shard_size(model, family.shards))
    written = sorted(p.name for p in out.glob("model*.safetensors"))
    expected = (
        ["model.safetensors"]
        if family.shards == 1
        else [
            f"model-{i:05d}-of-{family.shards:05d}.safetensors" for i in range(1, family.shards + 1)
        ]
    )
    if written != expected:
        raise CheckpointError(f"{family.name}: wrote weight files {written}, expected {expected}")
    tok_mod.save(tokenizer, out)
    return tokenizer, model


def _shard_size(model: torch.nn.Module, shards: int) -> int:
    """A max_shard_size (bytes) that splits the weights into exactly `shards` files."""
    sizes = [p.numel() * p.element_size() for p in model.state_dict().values()]
    total = sum(sizes)
    if shards == 1:
        return total + 1
    # save_pretrained fills shards greedily in tensor order; 1.2x the even share leaves room
    # for a tensor that does not fit at a boundary. write() checks the resulting file count.
    return int(1.2 * total / shards) + max(sizes)
