"""The full-size Qwen2.5-0.5B-shaped random checkpoint for benchmarks (never committed)."""

from pathlib import Path

from . import checkpoint
from .errors import GenerationError
from .families import FAMILIES

# Qwen2.5-0.5B's shapes: 24 layers, 14 query heads over 2 KV heads (head_dim 64), tied
# embeddings over a 151936-row vocabulary. The tokenizer stays the qwen2 fixture's small one;
# its ids are a subset of the rows, which is all a speed benchmark needs.
QWEN05B_SHAPE = dict(
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    max_position_embeddings=32768,
    max_window_layers=24,
    vocab_size=151936,
)


class BenchOutputError(GenerationError):
    pass


def write(out: Path, repo_root: Path, seed: int, corpus: list[str]) -> None:
    out = out.resolve()
    if out == repo_root or repo_root in out.parents:
        raise BenchOutputError(
            f"{out} is inside the repository ({repo_root}); the ~1 GB benchmark checkpoint "
            "must not be committed, write it elsewhere"
        )
    qwen2 = next(f for f in FAMILIES if f.name == "qwen2")
    checkpoint.write(qwen2, out, seed, corpus, shape=QWEN05B_SHAPE)
