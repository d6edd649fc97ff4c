"""transformers' reading of Gemma 3 270M (Q4_K_M GGUF dequantized, f32 activations) along
llama.cpp's greedy continuations: the tie-breaker models/tests/gemma3_gguf.rs consults
where fak and llama.cpp pick different tokens.

llama.cpp quantizes activations to 8 bits inside its Q4_K/Q5_0/Q8_0 dot products; fak
rounds them to bf16; transformers keeps f32. Where llama.cpp's top two logits are closer
than these differences, each engine may pick either, and transformers says which one full
precision picks. Needs `transformers`, `torch`, `gguf` and `accelerate` from PyPI:

    python scripts/make_gemma3_transformers_reference.py --model FILE \\
        [--llama-cpp data/fixtures/gemma3/llama_cpp.json] [--out data/fixtures/gemma3/transformers.json]
"""

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM

TOP = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument(
        "--llama-cpp", type=Path, default=Path("data/fixtures/gemma3/llama_cpp.json")
    )
    parser.add_argument("--out", type=Path, default=Path("data/fixtures/gemma3/transformers.json"))
    args = parser.parse_args()
    model = AutoModelForCausalLM.from_pretrained(
        args.model.parent, gguf_file=args.model.name, torch_dtype=torch.float32
    )
    reference = json.loads(args.llama_cpp.read_text())
    continuations = []
    for c in reference["continuations"]:
        ids = c["prompt_ids"] + [s["id"] for s in c["steps"]]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].numpy()
        n = len(c["prompt_ids"])
        steps = []
        for k in range(len(c["steps"])):
            row = logits[n - 1 + k]
            top = np.argsort(-row, kind="stable")[:TOP]
            steps.append({"id": int(top[0]), "top": [[int(i), float(row[i])] for i in top]})
        continuations.append({"prompt": c["prompt"], "steps": steps})
    import transformers

    out = {
        "engine": f"transformers {transformers.__version__}, torch {torch.__version__}, float32",
        "along": "llama.cpp's continuations (teacher-forced)",
        "continuations": continuations,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
