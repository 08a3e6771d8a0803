#!/usr/bin/env bash
# Knockout profile of a ds decode step (GPU machine; docs/Benchmarks.md):
# ds-run --generate --bench with the launches of some kernels skipped
# (DS_CUDA_SKIP_KERNELS, profiling only: outputs are wrong), alternating
# the sets round by round, so that each set's ms/step minus the first
# one's is what those kernels cost in place, overlap included.
#
#   benchmarks/knockout.sh WORK MODEL ARTIFACT BATCH ROUNDS SET...
#
# WORK is the staged benchmark folder (.carry/bench, from
# stage_gpu_bench.sh); the model's weights are rebuilt from its meta.json
# first. Each SET is a DS_CUDA_SKIP_KERNELS value ("none" skips nothing;
# "name,prefix*"), optionally after `OTHER:`, which runs the artifact
# OTHER.dsa of the same folder instead of ARTIFACT (an alternated A/B of
# two compilations: `model_main:none model:none`). Kernel names:
# `strings ARTIFACT | grep nv.constant0`.
# Example (the eighth session's profile):
#   benchmarks/knockout.sh .carry/bench llama model 1 2 none reduce_rows_30 \
#       'gemv_*' reduce_rows_30,decode_kernel_25,flash_decode_h32_d64_26
set -uo pipefail
if [ $# -lt 6 ]; then
  sed -n 2,16p "$0" >&2
  exit 2
fi
work=$1 model=$2 artifact=$3 batch=$4 rounds=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
python3 - "$here" "$work" "$model" <<'PY' || exit 1
import json, sys
sys.path.insert(0, sys.argv[1])
import make_bench_models as mbm
work, model = sys.argv[2], sys.argv[3]
meta = json.load(open(f'{work}/{model}/meta.json'))
_, check = mbm.regenerate(meta, f'{work}/{model}/' + meta['data_file'])
print(model, 'weights sha256 matches:', check['data_sha256_matches'])
PY
prompt=$(seq -s, 1 128)
for ((round = 1; round <= rounds; ++round)); do
  for item in "$@"; do
    art=$artifact set=$item
    if [[ $item == *:* ]]; then
      art=${item%%:*} set=${item#*:}
    fi
    printf '%s b%s round %d %s skip=%s: ' "$model" "$batch" "$round" "$art" \
      "$set"
    DS_CUDA_SKIP_KERNELS=$set "$work/ds-run" "$work/$model/$art.dsa" \
      --generate --prompt "$prompt" --batch "$batch" --max-new-tokens 128 \
      --bench 2>&1 | grep -o 'decode [0-9.]* tokens.*\|error.*' | head -1
  done
done
