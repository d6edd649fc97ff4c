"""The transformers peer of `harness throughput` (protocol: protocol.py): the checkpoint's
own bf16 safetensors through transformers and PyTorch, with its KV cache, on the CPU or
(`--device cuda`) on GPU 0."""

import time

import torch
from transformers import AutoModelForCausalLM

from protocol import parser, prompt_tokens, report


def main():
    p = parser(__doc__)
    p.add_argument("--device", default="cpu", help="where PyTorch runs: cpu or cuda")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: this PyTorch sees no CUDA device")
    prompt = prompt_tokens(args.tokens)
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16)
    model.to(device).eval()

    def finished():
        # The GPU runs behind the host: a phase ends when its last kernel has.
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()

    with torch.inference_mode():
        model(torch.tensor([prompt[:1]], device=device), use_cache=True)  # warm-up, discarded
        started = finished()
        out = model(torch.tensor([prompt], device=device), use_cache=True)
        token = out.logits[0, -1].argmax()
        prefill_seconds = finished() - started

        past = out.past_key_values
        started = finished()
        for _ in range(args.decode):
            out = model(token.view(1, 1), past_key_values=past, use_cache=True)
            past = out.past_key_values
            token = out.logits[0, -1].argmax()
        decode_seconds = finished() - started
    report("transformers", "bf16", prompt, args.decode, prefill_seconds, decode_seconds)


if __name__ == "__main__":
    main()
