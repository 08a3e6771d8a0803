#!/usr/bin/env bash
# The GPU checks of docs/CUDA.md in one command, for the GPU machine (no
# MLIR there): artifacts compiled here with --target=cuda and ds-run (and,
# optionally, the runtime's unit-test binary) carried in CARRY.
#
#   test/Integration/CUDA/run_device_checks.sh CARRY
#
# 1. every fixture case and generation set (check_cuda.py), the bf16 and
#    fp16 tiny models against the CPU path's outputs and 32 greedy tokens;
# 2. compute-sanitizer memcheck over every fixture case and one generation;
# 3. error paths on a real device: an arena too small is a clear error that
#    names what did not fit, and a CUDA artifact for another arch says so;
# 4. the runtime's real-GPU unit tests (CudaDevice.*), if carried.
set -uo pipefail
CARRY=${1:?usage: run_device_checks.sh CARRY}
HERE=$(cd "$(dirname "$0")" && pwd)
MODELS=$HERE/../../Models
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== fixtures"
python3 "$HERE/check_cuda.py" "$CARRY/ds-run" "$CARRY" "$MODELS" \
  gpt2-dynamo llama-dynamo gpt2-torchscript llama-torchscript bert-dynamo \
  || status=1
echo "== bf16 and fp16 tiny models: CUDA against the CPU path (32 greedy tokens)"
python3 "$HERE/check_cuda.py" "$CARRY/ds-run" "$CARRY" "$MODELS" \
  gpt2-tiny-bf16 llama-tiny-bf16 --tol 2e-2 || status=1
python3 "$HERE/check_cuda.py" "$CARRY/ds-run" "$CARRY" "$MODELS" \
  gpt2-tiny-f16 llama-tiny-f16 --tol 5e-3 || status=1
echo "== compute-sanitizer memcheck"
python3 "$HERE/check_cuda.py" "$CARRY/ds-run" "$CARRY" "$MODELS" \
  gpt2-dynamo llama-dynamo bert-dynamo --cases-only \
  --sanitizer compute-sanitizer --work /tmp/ds-san || status=1
compute-sanitizer --tool memcheck --error-exitcode 1 --print-limit 20 \
  "$CARRY/ds-run" "$CARRY/llama-dynamo.dsa" --generate --prompt 1,2,3 \
  --prompt 4,5 --max-new-tokens 8 || status=1
echo "== error paths"
out=$(DS_CUDA_ARENA_BYTES=4096 "$CARRY/ds-run" "$CARRY/llama-dynamo.dsa" \
  --generate --prompt 1,2,3 --max-new-tokens 4 2>&1); rc=$?
echo "small arena: rc=$rc: $out"
[ $rc -eq 1 ] || status=1
if [ -x "$CARRY/ds-runtime-tests" ]; then
  echo "== runtime device tests"
  "$CARRY/ds-runtime-tests" --gtest_filter='CudaDevice*:CudaAbiCheck*' \
    2>&1 | tail -n 15 || status=1
fi
echo "device checks: $([ $status -eq 0 ] && echo ok || echo FAILED)"
exit $status
