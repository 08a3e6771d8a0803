#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run the main
# job on the built-in default model: a tiny GPT-2 exported by PyTorch
# (test/Models/gpt2-dynamo), compiled for the CPU and run on fixed tokens.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh --target ds-compile ds-run

MODEL=test/Models/gpt2-dynamo
mkdir -p build/demo
echo "== ds-compile $MODEL/model.onnx -o build/demo/gpt2.dsa --print-stats"
build/bin/ds-compile "$MODEL/model.onnx" -o build/demo/gpt2.dsa --print-stats
echo "== ds-run build/demo/gpt2.dsa --input input_ids=$MODEL/case0/input_ids.npy"
build/bin/ds-run build/demo/gpt2.dsa \
  --input "input_ids=$MODEL/case0/input_ids.npy"
echo "== ds-run build/demo/gpt2.dsa --generate --prompt 1,2,3 --prompt 4,5 --max-new-tokens 16"
build/bin/ds-run build/demo/gpt2.dsa --generate --prompt 1,2,3 --prompt 4,5 \
  --max-new-tokens 16
