"""The transformers peer of `harness throughput` (protocol: protocol.py): the checkpoint's
own bf16 safetensors through transformers and PyTorch on the CPU, with its KV cache."""

import time

import torch
from transformers import AutoModelForCausalLM

from protocol import parser, prompt_tokens, report


def main():
    args = parser(__doc__).parse_args()
    torch.set_num_threads(args.threads)
    prompt = prompt_tokens(args.tokens)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16)
    model.eval()
    with torch.inference_mode():
        model(torch.tensor([prompt[:1]]), use_cache=True)  # warm-up, discarded
        started = time.perf_counter()
        out = model(torch.tensor([prompt]), use_cache=True)
        token = out.logits[0, -1].argmax()
        prefill_seconds = time.perf_counter() - started

        past = out.past_key_values
        started = time.perf_counter()
        for _ in range(args.decode):
            out = model(token.view(1, 1), past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = out.logits[0, -1].argmax()
        decode_seconds = time.perf_counter() - started
    report("transformers", "bf16", prompt, args.decode, prefill_seconds, decode_seconds)


if __name__ == "__main__":
    main()
