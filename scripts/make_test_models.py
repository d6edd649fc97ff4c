#!/usr/bin/env python3
"""Make the tiny random-weight test checkpoints and their transformers reference outputs.

    python scripts/make_test_models.py                      # all fixtures, committed location
    python scripts/make_test_models.py --only qwen2 --out /tmp/fx
    python scripts/make_test_models.py --qwen05b-bench /work/bench-models/qwen05b

See data/fixtures/models/README.md for what is written and how it was chosen.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from fixture_models import bench, corpus, fixture
from fixture_models.errors import GenerationError
from fixture_models.families import FAMILIES

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "data" / "fixtures" / "models"


def main() -> int:
    names = [f.name for f in FAMILIES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="seed for text, weights and prompts")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixtures root directory")
    parser.add_argument("--only", action="append", choices=names, help="build only this fixture")
    parser.add_argument(
        "--qwen05b-bench",
        type=Path,
        metavar="OUT_DIR",
        help="write only the full-size Qwen2.5-0.5B-shaped checkpoint, outside the repository",
    )
    args = parser.parse_args()

    # One thread and deterministic kernels: reruns with the same versions give the same bytes.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    text = corpus.training_text(args.seed)

    try:
        return _run(args, text)
    except GenerationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, text: list[str]) -> int:
    if args.qwen05b_bench is not None:
        start = time.monotonic()
        bench.write(args.qwen05b_bench, REPO_ROOT, args.seed, text)
        print(f"wrote {args.qwen05b_bench} in {time.monotonic() - start:.1f} s")
        return 0

    for family in FAMILIES:
        if args.only and family.name not in args.only:
            continue
        print(f"{family.name}: building", file=sys.stderr, flush=True)
        start = time.monotonic()
        summary = fixture.build(family, args.out / family.name, args.seed, text)
        summary["seconds"] = round(time.monotonic() - start, 1)
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
