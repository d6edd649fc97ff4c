#!/usr/bin/env bash
# The checks only a CUDA machine can run, in one pass (a lent GPU's time is short):
#   1. `harness verify` on the cuda backend: every parity gate, max|Δ| against the CPU;
#   2. `harness throughput --backend cuda`: fak's prefill and decode against transformers on
#      the same GPU, on a random checkpoint of the benchmark's shapes (bench/gpu/random_checkpoint.py).
# Needs a harness built with `--features cuda`, the small files of the benchmark checkpoint
# (config and tokenizer), PyTorch and transformers.
#
#   bench/gpu/cuda_check.sh HARNESS LIKE_DIR OUT_DIR
set -uo pipefail
harness=$1 like=$2 out=$3
mkdir -p "$out"
export PYTHONUNBUFFERED=1
# cubecl finds the CUDA headers under CUDA_PATH (default /usr/local/cuda); cudarc loads the
# driver and NVRTC by name.
export CUDA_PATH=${CUDA_PATH:-/usr/local/cuda}
export LD_LIBRARY_PATH=$CUDA_PATH/lib64:${LD_LIBRARY_PATH:-}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
gpu=$(head -1 "$out/gpu.txt")
nproc | tee -a "$out/gpu.txt"

echo "== verify (cpu reference, cuda)"
timeout 180 "$harness" verify --backend cuda --json "$out/verify.json" \
    --ledger "$out/verify_ledger.json" 2>&1 | tee "$out/verify.log"
echo "verify exit ${PIPESTATUS[0]}"

echo "== checkpoint"
python3 bench/gpu/random_checkpoint.py --like "$like" --out /tmp/qwen05b-random || exit 1

echo "== throughput"
timeout 240 "$harness" throughput --model /tmp/qwen05b-random --backend cuda \
    --prompt 512 --decode 128 --threads 8 --rounds 3 --study cuda \
    --baseline "transformers cuda bf16" --note "GPU: $gpu" \
    --peer "transformers cuda bf16=python3 bench/peers/transformers_peer.py --device cuda" \
    --json "$out/throughput.json" 2>&1 | tee "$out/throughput.log"
echo "throughput exit ${PIPESTATUS[0]}"
