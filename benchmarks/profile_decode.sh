#!/usr/bin/env bash
# Where one ds decode step spends its time, kernel by kernel (GPU machine).
#
#   benchmarks/profile_decode.sh [WORK] [MODEL] [BATCHES] [PHASE]
#
# PHASE is decode (default) or prefill: prefill profiles the @prefill call
# of a 512-token prompt (one new token, so no @decode call follows) and
# also lists its slowest launches.
#
# WORK is what stage_gpu_bench.sh staged (default .carry/bench). The
# model's weights are rebuilt from its seed (as gpu_decode.py does), then
# `ds-run --generate` runs under ncu with CUDA graphs off and the clocks
# left as they are (--clock-control none: ncu's default locks them to the
# base clock, which slows every kernel), 2 decode steps
# after a 128-token prompt, and benchmarks/ncu_summary.py sums the last
# @decode call's launches by kernel (GEMV kernels are named gemv[_mma]_NxK,
# row reductions reduce_rows; the rest are the generic path's). Output
# CSVs go to $OUT (or /tmp).
set -uo pipefail
work=${1:-.carry/bench}
model=${2:-llama}
batches=${3:-1 16}
phase=${4:-decode}
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
if [ "$phase" = prefill ]; then
  prompt=$(seq -s, 1 512); new=1; top=15
else
  prompt=$(seq -s, 1 128); new=3; top=0
fi
launches=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['${phase}_kernels'])" "$work/$model/stats.json")
for b in $batches; do
  DS_CUDA_GRAPHS=0 timeout 300 ncu --clock-control none \
    --metrics gpu__time_duration.sum --csv \
    "$work/ds-run" "$work/$model/model.dsa" --generate --prompt "$prompt" \
    --batch "$b" --max-new-tokens $new > "$out/ncu_${model}_${phase}_b$b.csv" \
    2> "$out/ncu_${model}_${phase}_b$b.err"
  echo "== $model $phase batch $b (ncu rc $?)"
  python3 "$here/ncu_summary.py" "$out/ncu_${model}_${phase}_b$b.csv" "$launches" "$top"
done
