"""What every Python peer of `harness throughput` shares: its arguments and its report.

The protocol (harness/src/throughput/peer.rs is the other side): arguments
`--model DIR --tokens FILE --decode N --threads T` (plus a peer's own options), where FILE
is a JSON array of prompt token ids. Before timing, the engine runs one warm-up call of
one token and discards it (weights paged in, first-call set-up done); then it reports one
JSON object on standard output with the engine's name and weight format, the prompt and decode token counts, the seconds each phase took
(prefill: the whole prompt in one call; decode: N one-token calls, greedy) and the peak
resident set of the process.
"""

import argparse
import json
import resource


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, help="the Hugging Face model directory")
    p.add_argument("--tokens", required=True, help="JSON array of prompt token ids")
    p.add_argument("--decode", type=int, required=True, help="one-token decode steps")
    p.add_argument("--threads", type=int, required=True, help="CPU threads")
    return p


def prompt_tokens(path):
    with open(path) as f:
        tokens = json.load(f)
    if not tokens or not all(isinstance(t, int) and t >= 0 for t in tokens):
        raise SystemExit(f"{path}: expected a non-empty JSON array of token ids")
    return tokens


def report(engine, weights, prompt, decode, prefill_seconds, decode_seconds):
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "engine": engine,
                "weights": weights,
                "prompt_tokens": len(prompt),
                "decode_tokens": decode,
                "prefill_seconds": prefill_seconds,
                "decode_seconds": decode_seconds,
                "peak_rss_bytes": peak,
            }
        ),
        flush=True,
    )
