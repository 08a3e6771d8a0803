#!/usr/bin/env bash
# Step 2 of the GPU benchmark (docs/Benchmarks.md): compile the exported
# benchmark models for CUDA and stage what the GPU machine needs.
#
#   benchmarks/stage_gpu_bench.sh EXPORT_DIR [DEST] [BUILD_BIN]
#
# EXPORT_DIR/<model>/ holds model.onnx and meta.json from
# `make_bench_models.py export` (model.onnx.data too when the export ran
# here; otherwise a sparse file of meta.json's data_size stands in for it:
# ds-compile reads only the graph and each weight's offset and length).
# For each model, ds-compile --target=cuda --cuda-arch=sm_90 --kv-cache=on
# writes model.dsa + model.weights beside model.onnx (so the artifact's
# external weights are `model.onnx.data`, relative to its folder) and its
# --print-stats JSON; they go to DEST/<model>/ with meta.json, and
# BUILD_BIN/ds-run to DEST/ds-run. DEST defaults to .carry/bench (ignored
# by git; carry it with the device call), BUILD_BIN to build/bin.
set -euo pipefail
export_dir=${1:?usage: stage_gpu_bench.sh EXPORT_DIR [DEST] [BUILD_BIN]}
dest=${2:-.carry/bench}
bin=${3:-build/bin}
arch=${DS_BENCH_ARCH:-sm_90}
mkdir -p "$dest"
for dir in "$export_dir"/*/; do
  model=$(basename "$dir")
  [[ -f $dir/meta.json && -f $dir/model.onnx ]] || continue
  read -r data size < <(python3 -c 'import json,sys
m = json.load(open(sys.argv[1])); print(m["data_file"], m["data_size"])' \
    "$dir/meta.json")
  if [[ ! -f $dir/$data ]]; then
    truncate -s "$size" "$dir/$data"   # sparse stand-in: metadata only
  fi
  echo "== $model: ds-compile --target=cuda --cuda-arch=$arch --kv-cache=on"
  start=$(date +%s)
  "$bin/ds-compile" "$dir/model.onnx" --target=cuda --cuda-arch="$arch" \
    --kv-cache=on -o "$dir/model.dsa" --print-stats > "$dir/stats.json"
  echo "   $(( $(date +%s) - start )) s; stats $(cat "$dir/stats.json")"
  mkdir -p "$dest/$model"
  cp "$dir/model.dsa" "$dir/model.weights" "$dir/meta.json" \
    "$dir/stats.json" "$dest/$model/"
done
cp "$bin/ds-run" "$dest/ds-run"
du -sh "$dest"
