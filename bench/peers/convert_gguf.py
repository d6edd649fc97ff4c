"""Converts a checkpoint to GGUF with the converter shipped in llama-cpp-python's source
distribution, for the llama.cpp peer of `harness throughput`.

Usage: python convert_gguf.py LLAMA_CPP_DIR MODEL_DIR OUT.gguf {bf16,q8_0}
where LLAMA_CPP_DIR is vendor/llama.cpp of the unpacked sdist (a temporary folder: nothing
of it is committed).

Two patches, for the benchmark checkpoint's tokenizer only (the weights are converted as
the converter does it): the tokenizer is a small byte-level BPE trained with GPT-2's
pre-tokenizer, so (1) Qwen2's vocabulary is written by the converter's GPT-2-style path
directly (it would first try sentencepiece, a package the fixtures' environment does not
have, and fall back to that path anyway as there is no tokenizer.model), and (2) its
pre-tokenizer is named "gpt-2", since the converter's table of known tokenizers, keyed by a
hash of the vocabulary, cannot contain a vocabulary trained here. The benchmark feeds token
ids, never text, so the tokenizer's entry in the GGUF does not touch what is measured.
"""

import sys
from pathlib import Path


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in ("bf16", "q8_0"):
        raise SystemExit(__doc__)
    llama_cpp, model, out, outtype = sys.argv[1:]
    root = Path(llama_cpp)
    if not (root / "convert_hf_to_gguf.py").is_file():
        raise SystemExit(f"{root}: no convert_hf_to_gguf.py (give vendor/llama.cpp of the sdist)")
    sys.path[:0] = [str(root), str(root / "gguf-py")]

    import convert_hf_to_gguf
    from conversion.base import TextModel
    from conversion.qwen import Qwen2Model

    Qwen2Model.set_vocab = TextModel._set_vocab_gpt2
    TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
    sys.argv = ["convert_hf_to_gguf.py", model, "--outfile", out, "--outtype", outtype]
    convert_hf_to_gguf.main()


if __name__ == "__main__":
    main()
