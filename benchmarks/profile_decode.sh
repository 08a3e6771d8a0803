#!/usr/bin/env bash
# Where one ds decode step spends its time, kernel by kernel (GPU machine).
#
#   benchmarks/profile_decode.sh [WORK] [MODEL] [BATCHES]
#
# WORK is what stage_gpu_bench.sh staged (default .carry/bench). The
# model's weights are rebuilt from its seed (as gpu_decode.py does), then
# `ds-run --generate` runs under ncu with CUDA graphs off, 2 decode steps
# after a 128-token prompt, and benchmarks/ncu_summary.py sums the last
# @decode call's launches by kernel (GEMV kernels are named gemv[_mma]_NxK,
# row reductions reduce_rows; the rest are the generic path's). Output
# CSVs go to $OUT (or /tmp).
set -uo pipefail
work=${1:-.carry/bench}
model=${2:-llama}
batches=${3:-1 16}
out=${OUT:-/tmp}
here=$(cd "$(dirname "$0")" && pwd)
python3 - "$here" "$work/$model/meta.json" <<'PY'
import json, os, sys
sys.path.insert(0, sys.argv[1])
import make_bench_models as mbm
path = sys.argv[2]
meta = json.load(open(path))
_, check = mbm.regenerate(meta, os.path.join(os.path.dirname(path),
                                             meta['data_file']))
print('weights rebuilt; data sha256 matches:', check['data_sha256_matches'])
PY
prompt=$(seq -s, 1 128)
launches=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['decode_kernels'])" "$work/$model/stats.json")
for b in $batches; do
  DS_CUDA_GRAPHS=0 timeout 300 ncu --metrics gpu__time_duration.sum --csv \
    "$work/ds-run" "$work/$model/model.dsa" --generate --prompt "$prompt" \
    --batch "$b" --max-new-tokens 3 > "$out/ncu_${model}_b$b.csv" \
    2> "$out/ncu_${model}_b$b.err"
  echo "== $model batch $b (ncu rc $?)"
  python3 "$here/ncu_summary.py" "$out/ncu_${model}_b$b.csv" "$launches"
done
