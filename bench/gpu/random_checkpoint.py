"""Write a random-weight bf16 checkpoint shaped by another checkpoint's config.json, with its
tokenizer, using transformers' own initialisation: the benchmark checkpoint
(`scripts/make_test_models.py --qwen05b-bench`) is ~1 GB and cannot travel to a GPU machine,
but its small files can, and a speed benchmark needs only the shapes.

    python3 bench/gpu/random_checkpoint.py --like DIR --out DIR
"""

import argparse
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoConfig, AutoModelForCausalLM

# What a checkpoint directory holds besides its weights.
SMALL_FILES = [
    "config.json",
    "generation_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--like", type=Path, required=True, help="checkpoint whose shapes to copy")
    p.add_argument("--out", type=Path, required=True, help="directory to write")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    if not (args.like / "config.json").is_file():
        print(f"error: {args.like} has no config.json", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name in SMALL_FILES:
        if (args.like / name).is_file():
            shutil.copy(args.like / name, args.out / name)

    torch.manual_seed(args.seed)
    config = AutoConfig.from_pretrained(args.like)
    model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    if config.tie_word_embeddings:
        # One tensor under the embedding's name, as tied checkpoints are stored.
        tensors.pop("lm_head.weight", None)
    save_file(tensors, args.out / "model.safetensors", metadata={"format": "pt"})
    count = sum(t.numel() for t in tensors.values())
    print(f"wrote {args.out}: {len(tensors)} tensors, {count / 1e6:.0f} M weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
