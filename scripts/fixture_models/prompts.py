"""Choose the greedy prompts: seeded candidates, kept only where every step has a clear margin.

"Clear" is measured, not guessed: each candidate's prompt + continuation is also run with
every matmul input rounded to bf16 (reference.bf16_matmul_inputs), the way the Rust engine
computes by design. A greedy step can only flip if an engine's errors on the top-1 and top-2
logits differ by more than their margin; requiring every margin to be at least
MARGIN_OVER_BF16_ERROR times the largest logit deviation of that emulation leaves room for an
engine whose deviation is up to half that factor larger than the emulation's.
"""

from dataclasses import dataclass

from . import corpus, reference
from .errors import GenerationError

STEPS = 32
PROMPTS_KEPT = 3
CANDIDATES = 64
MARGIN_OVER_BF16_ERROR = 3.0


class SelectionError(GenerationError):
    pass


@dataclass
class Chosen:
    pool_index: int
    text: str
    ids: list[int]
    continuation: reference.Continuation
    # Largest |logit difference| over prompt + continuation between the f32 reference and
    # the bf16-matmul-input emulation.
    emulated_max_abs_delta: float

    @property
    def min_margin(self) -> float:
        return min(self.continuation.margins)


def candidate_texts(seed: int) -> list[str]:
    """CANDIDATES short sentences from the corpus generator, seeded apart from the training text."""
    lines = corpus.training_text(seed + 1)[len(corpus.PARAGRAPHS) :]
    return lines[:CANDIDATES]


def choose(model, tokenizer, texts: list[str], forbidden: set[int]) -> tuple[list[Chosen], int]:
    """Keep PROMPTS_KEPT candidates, preferring continuations with more distinct tokens.

    `forbidden` holds the stop tokens (a generate loop would end early on them) and the
    padded vocabulary rows that no tokenizer id names. Returns the kept prompts in pool order
    and how many candidates passed.
    """
    passed = []
    for index, text in enumerate(texts):
        ids = tokenizer.encode(text)
        cont = reference.continuation(model, ids, STEPS)
        if forbidden.intersection(cont.tokens):
            continue
        with reference.bf16_matmul_inputs():
            emulated_tokens = reference.greedy(model, ids, STEPS)
        delta = reference.bf16_deviation(model, ids + cont.tokens)["max_abs_delta"]
        if emulated_tokens != cont.tokens or min(cont.margins) < MARGIN_OVER_BF16_ERROR * delta:
            continue
        passed.append(Chosen(index, text, ids, cont, delta))
    if len(passed) < PROMPTS_KEPT:
        raise SelectionError(
            f"only {len(passed)} of {len(texts)} candidate prompts have all {STEPS} greedy "
            f"margins >= {MARGIN_OVER_BF16_ERROR} x the bf16 emulation's logit error; "
            f"need {PROMPTS_KEPT}"
        )
    ranked = sorted(
        passed,
        key=lambda c: (
            -len(set(c.continuation.tokens)),
            -c.min_margin / c.emulated_max_abs_delta,
            c.pool_index,
        ),
    )
    kept = sorted(ranked[:PROMPTS_KEPT], key=lambda c: c.pool_index)
    return kept, len(passed)
