"""Reference outputs from transformers: logits, greedy continuations and their margins.

Everything runs in float32 over weights that were rounded to bf16 (as stored), with eager
attention and one thread, so a rerun on the same versions gives the same bytes.
"""

import contextlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import GenerationError


class ReferenceMismatchError(GenerationError):
    pass


@torch.no_grad()
def logits(model: torch.nn.Module, ids: list[int]) -> torch.Tensor:
    """Logits for every position of one sequence, shape (len(ids), vocab), float32."""
    return model(torch.tensor([ids])).logits[0].float()


@torch.no_grad()
def greedy(model: torch.nn.Module, prompt: list[int], steps: int) -> list[int]:
    """Argmax decoding for exactly `steps` tokens (no stop token ends it early)."""
    out = model(torch.tensor([prompt]), use_cache=True)
    tokens = []
    for _ in range(steps):
        nxt = int(out.logits[0, -1].argmax())
        tokens.append(nxt)
        out = model(torch.tensor([[nxt]]), past_key_values=out.past_key_values, use_cache=True)
    return tokens


@dataclass
class Continuation:
    tokens: list[int]
    # Top-1 minus top-2 logit at each greedy step, from one teacher-forced forward over
    # prompt + continuation (the logits a parity test compares against).
    margins: list[float]


@torch.no_grad()
def continuation(model: torch.nn.Module, prompt: list[int], steps: int) -> Continuation:
    tokens = greedy(model, prompt, steps)
    forced = logits(model, prompt + tokens)[len(prompt) - 1 : -1]
    top2 = forced.topk(2, dim=-1)
    argmax = top2.indices[:, 0].tolist()
    if argmax != tokens:
        # The cached decode and the full forward disagree on a token: the margins below
        # would describe a different continuation, so do not record them.
        raise ReferenceMismatchError(f"teacher-forced argmax {argmax} differs from greedy {tokens}")
    margins = (top2.values[:, 0] - top2.values[:, 1]).tolist()
    return Continuation(tokens=tokens, margins=margins)


def _to_bf16(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.bfloat16).to(x.dtype)


@contextlib.contextmanager
def bf16_matmul_inputs():
    """Round both inputs of every matmul (projections, QK^T, PV) to bf16, accumulate in f32.

    This mimics an engine whose matmul inputs are bf16 by design, to measure how far such an
    engine's logits may honestly sit from the f32 reference and to keep only prompts whose
    greedy steps survive it.
    """
    linear, matmul = F.linear, torch.matmul

    def rounded_linear(x, weight, bias=None):
        return linear(_to_bf16(x), weight, bias)

    def rounded_matmul(a, b, **kwargs):
        return matmul(_to_bf16(a), _to_bf16(b), **kwargs)

    F.linear, torch.matmul = rounded_linear, rounded_matmul
    try:
        yield
    finally:
        F.linear, torch.matmul = linear, matmul


@torch.no_grad()
def bf16_deviation(model: torch.nn.Module, ids: list[int]) -> dict:
    """How far bf16 matmul inputs move the logits: max|delta| and the lowest per-position cosine."""
    exact = logits(model, ids)
    with bf16_matmul_inputs():
        emulated = logits(model, ids)
    cosine = F.cosine_similarity(exact, emulated, dim=-1)
    return dict(
        max_abs_delta=float((emulated - exact).abs().max()),
        min_cosine=float(cosine.min()),
    )
