"""Seeded random weights scaled so the fixtures have clear greedy margins.

transformers' default init (normal, std 0.02; norms at 1, biases at 0) gives a tiny model
near-uniform logits, so greedy decoding sits on near-ties everywhere, and its all-ones norm
weights and all-zero biases would let a loader that ignored them pass. Here every tensor is
drawn: projections at unit gain (std 1/sqrt(fan_in)), so activations stay O(1) through the
layers; norm weights around 1 but not equal to it; biases clearly non-zero; and the output
projection scaled so logits have a standard deviation of about LOGIT_STD.

Scaling alone does not give clear greedy margins. Measured while writing this (seeded prompts,
32 greedy steps, the llama2/llama3/qwen2/smollm2 shapes): with independent random output rows the top-1/top-2 gaps are those of a few
hundred Gaussian draws, and the smallest gap in 32 steps is typically below the logit error of
an engine that rounds matmul inputs to bf16, whatever the scale. So the untied fixtures get a
planted bigram preference: output row pi(t) also carries token t's embedding, for a seeded
permutation pi. The residual stream at a position still holds a large share of its token's embedding,
so pi(t) leads by a clear gap while attention and MLP outputs (unit gain, not small) move
every logit; greedy text walks the permutation's cycles. Tied fixtures cannot carry such a
map (their output rows are the embeddings), and there the token's own embedding leads: their
greedy continuations are short cycles, with clear margins.
"""

import torch

from .errors import GenerationError

# Logit standard deviation the output projection is scaled for. Larger values make the
# softmax sharper but do not change the relative top-1/top-2 gaps; 4 gives a peaked but not
# one-hot softmax.
LOGIT_STD = 4.0
# Norm weights are drawn from [1 - NORM_SPREAD, 1 + NORM_SPREAD].
NORM_SPREAD = 0.25
# Standard deviation of the QKV biases, relative to the unit-scale projection outputs.
BIAS_STD = 0.5
# Weight of the planted embedding in an untied output row, relative to its random part.
BIGRAM_STRENGTH = 2.0


class UnknownParameterError(GenerationError):
    pass


def randomize(model: torch.nn.Module, seed: int) -> None:
    """Overwrite every parameter in place, in name order, from one seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    hidden = model.config.hidden_size
    tied = model.config.tie_word_embeddings
    with torch.no_grad():
        for name, param in sorted(model.named_parameters(), key=lambda item: item[0]):
            param.copy_(_draw(name, param.shape, hidden, tied, gen))
        if not tied:
            _plant_bigram(model, gen)


def _plant_bigram(model: torch.nn.Module, gen: torch.Generator) -> None:
    """Add BIGRAM_STRENGTH * (scaled embedding of t) to output row pi(t), keep the logit scale."""
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    perm = torch.randperm(embed.shape[0], generator=gen)
    # Untied embeddings have unit-variance entries, so this scale matches the head's rows.
    head.index_add_(0, perm, BIGRAM_STRENGTH * LOGIT_STD / embed.shape[1] ** 0.5 * embed)
    head.div_((1.0 + BIGRAM_STRENGTH**2) ** 0.5)


def _draw(name: str, shape: torch.Size, hidden: int, tied: bool, gen: torch.Generator):
    if name.endswith("norm.weight"):
        return 1.0 + NORM_SPREAD * (2.0 * torch.rand(shape, generator=gen) - 1.0)
    if name.endswith(".bias"):
        return BIAS_STD * torch.randn(shape, generator=gen)
    if name == "model.embed_tokens.weight":
        # Tied: the embedding is also the output projection, so it carries the logit scale.
        # Untied: unit-scale rows, like the rest of the residual stream.
        std = LOGIT_STD / hidden**0.5 if tied else 1.0
        return std * torch.randn(shape, generator=gen)
    if name == "lm_head.weight":
        return (LOGIT_STD / hidden**0.5) * torch.randn(shape, generator=gen)
    if name.endswith(".weight") and len(shape) == 2:
        fan_in = shape[1]
        return torch.randn(shape, generator=gen) / fan_in**0.5
    raise UnknownParameterError(f"no init rule for parameter {name} of shape {tuple(shape)}")
