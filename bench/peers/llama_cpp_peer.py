"""The llama.cpp peer of `harness throughput` (protocol: protocol.py): a GGUF conversion of
the same checkpoint, run through llama-cpp-python built from source on this machine."""

import time

import llama_cpp.llama_cpp as llama_c
import numpy as np
from llama_cpp import Llama
from protocol import parser, prompt_tokens, report


def disable_repack():
    """Turns off llama.cpp's weight repacking (its --no-repack) for models loaded after."""
    # llama-cpp-python has no argument for it; its model parameters come from here.
    defaults = llama_c.llama_model_default_params

    def no_repack():
        params = defaults()
        params.use_extra_bufts = False
        return params

    llama_c.llama_model_default_params = no_repack


def main():
    p = parser(__doc__)
    p.add_argument("--gguf", required=True, help="the converted weights (BF16 or Q8_0)")
    p.add_argument("--weights", required=True, help="their format, for the report")
    p.add_argument(
        "--no-repack",
        action="store_true",
        help="turn off llama.cpp's weight repacking into extra buffer types (its own "
        "--no-repack): with it on, Q8_0 prompt evaluation segfaults on this machine's "
        "AVX-512/AMX CPU (llama-cpp-python 0.3.36)",
    )
    args = p.parse_args()
    if args.no_repack:
        disable_repack()
    prompt = prompt_tokens(args.tokens)
    llm = Llama(
        model_path=args.gguf,
        n_ctx=len(prompt) + args.decode + 1,
        n_batch=len(prompt),
        n_ubatch=len(prompt),
        n_threads=args.threads,
        n_threads_batch=args.threads,
        logits_all=False,
        verbose=False,
    )
    n_vocab = llm.n_vocab()

    def next_token():
        logits = np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))
        return int(np.argmax(logits))

    llm.eval(prompt[:1])  # warm-up, discarded
    llm.reset()

    started = time.perf_counter()
    llm.eval(prompt)
    token = next_token()
    prefill_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for _ in range(args.decode):
        llm.eval([token])
        token = next_token()
    decode_seconds = time.perf_counter() - started
    report("llama.cpp", args.weights, prompt, args.decode, prefill_seconds, decode_seconds)


if __name__ == "__main__":
    main()
