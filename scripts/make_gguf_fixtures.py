"""Makes the GGUF fixture of the models crate's reader tests, with the `gguf` package from
PyPI (scripts/requirements.txt pins it): data/fixtures/gguf/blocks.gguf and, beside it,
blocks.reference.json, the package's own dequantization of every tensor, as f32 bit
patterns, which the Rust reader must reproduce bit for bit.

The file holds one metadata value of every GGUF type and one small tensor of every type the
reader supports (F32, F16, BF16, Q5_0, Q8_0, Q4_K, Q6_K) plus one it does not (Q4_0), whose
dequantization must be refused by name. Quantized blocks are random bytes with their f16
scales replaced by finite random values, so every bit pattern of the packed quants,
scales and minimums is exercised, not just what a quantizer happens to emit.

Usage: python scripts/make_gguf_fixtures.py [OUT_DIR]   (default data/fixtures/gguf)
"""

import json
import sys
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

ROWS, COLS = 3, 512  # 512 columns: two 256-value K-quant super-blocks per row


def scales(rng, n, lo=-8, hi=2):
    """Finite f16 scales, some tiny (subnormal f16), some large, random signs."""
    mags = np.exp2(rng.uniform(lo, hi, n)).astype(np.float16)
    mags[::7] = np.float16(2.0**-20)  # an f16 subnormal
    return (mags * rng.choice([-1, 1], n).astype(np.float16)).view(np.uint8).reshape(n, 2)


def quantized(rng, qtype):
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = ROWS * COLS // block_size
    raw = rng.integers(0, 256, (n_blocks, type_size), dtype=np.uint8)
    if qtype in (T.Q8_0, T.Q5_0, T.Q4_0):
        raw[:, 0:2] = scales(rng, n_blocks)  # d first
    elif qtype == T.Q4_K:
        raw[:, 0:2] = scales(rng, n_blocks)  # d
        raw[:, 2:4] = scales(rng, n_blocks)  # dmin
    elif qtype == T.Q6_K:
        raw[:, type_size - 2 :] = scales(rng, n_blocks)  # d last
    return raw.reshape(ROWS, -1)


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "data/fixtures/gguf")
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261126)
    w = gguf.GGUFWriter(out / "blocks.gguf", arch="fixture")
    w.add_uint8("fixture.u8", 200)
    w.add_int8("fixture.i8", -100)
    w.add_uint16("fixture.u16", 60000)
    w.add_int16("fixture.i16", -30000)
    w.add_uint32("fixture.u32", 4000000000)
    w.add_int32("fixture.i32", -2000000000)
    w.add_float32("fixture.f32", 0.1)
    w.add_bool("fixture.bool", True)
    w.add_string("fixture.string", "naïve ✓")
    w.add_array("fixture.array", ["a", "bc", ""])
    w.add_uint64("fixture.u64", 2**63 + 1)
    w.add_int64("fixture.i64", -(2**62))
    w.add_float64("fixture.f64", 0.1)
    w.add_array("fixture.ints", [1, 2, 3])

    values = rng.standard_normal((ROWS, COLS)).astype(np.float32)
    tensors = {
        "plain.f32": (values, None),
        "plain.f16": (values.astype(np.float16), None),
        "plain.bf16": ((values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(ROWS, -1), T.BF16),
    }
    for qtype in (T.Q5_0, T.Q8_0, T.Q4_K, T.Q6_K, T.Q4_0):
        tensors[f"quant.{qtype.name.lower()}"] = (quantized(rng, qtype), qtype)
    reference = {}
    for name, (data, raw_dtype) in tensors.items():
        if raw_dtype is None:
            w.add_tensor(name, data)
            deq = data.astype(np.float32)
        else:
            w.add_tensor(name, data, raw_dtype=raw_dtype)
            deq = dequantize(data, raw_dtype).astype(np.float32)
        if raw_dtype != T.Q4_0:
            reference[name] = [int(b) for b in deq.reshape(-1).view(np.uint32)]
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    meta = {
        "producer": f"gguf {gguf.__version__ if hasattr(gguf, '__version__') else ''}".strip(),
        "shape": [ROWS, COLS],
        "f32_bits": reference,
    }
    (out / "blocks.reference.json").write_text(json.dumps(meta, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
