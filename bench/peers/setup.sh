#!/usr/bin/env bash
# Builds the peers of `harness throughput` in WORK (outside the repository; nothing of it is
# committed): llama-cpp-python compiled from its source distribution for this CPU, the
# checkpoint converted to GGUF BF16 and Q8_0 with the converter in that distribution, and
# the candle peer. Takes 20-30 minutes on 2 cores.
#
# Usage: bench/peers/setup.sh WORK MODEL_DIR FIXTURES_PYTHON
#   FIXTURES_PYTHON: a Python with scripts/requirements.txt installed (torch, transformers),
#   which runs the converter and the transformers peer.
# Prints the `harness throughput` command that uses what it built.
set -euo pipefail
if [ $# -ne 3 ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
work=$(realpath -m "$1") model=$(realpath "$2") fixtures_python=$3
peers=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"

echo "== llama-cpp-python from source (GGML_NATIVE: this CPU's vector extensions)"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" download -q --no-deps --no-binary llama-cpp-python llama-cpp-python -d "$work/sdist"
sdist=$(ls "$work"/sdist/llama_cpp_python-*.tar.gz | tail -1)
CMAKE_ARGS="-DGGML_NATIVE=ON" "$work/venv/bin/pip" install -q "$sdist" numpy

echo "== GGUF BF16 and Q8_0 with the converter of $(basename "$sdist")"
mkdir -p "$work/src" "$work/gguf"
tar -xzf "$sdist" -C "$work/src"
converter=$(ls -d "$work"/src/llama_cpp_python-*/vendor/llama.cpp | tail -1)
for t in bf16 q8_0; do
  "$fixtures_python" "$peers/convert_gguf.py" "$converter" "$model" "$work/gguf/model-$t.gguf" "$t"
done

echo "== the candle peer"
CARGO_TARGET_DIR="$work/candle-target" cargo build -q --release --manifest-path "$peers/candle/Cargo.toml"

cat <<EOT

== ready; run from the repository root:
cargo run --release -p fak-harness -- throughput --model $model \\
  --peer "llama.cpp bf16=$work/venv/bin/python $peers/llama_cpp_peer.py --weights bf16 --gguf $work/gguf/model-bf16.gguf" \\
  --peer "llama.cpp q8_0=$work/venv/bin/python $peers/llama_cpp_peer.py --weights q8_0 --no-repack --gguf $work/gguf/model-q8_0.gguf" \\
  --peer "candle f16=$work/candle-target/release/candle-peer" \\
  --peer "transformers bf16=$fixtures_python $peers/transformers_peer.py"
EOT
