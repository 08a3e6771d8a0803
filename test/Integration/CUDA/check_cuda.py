#!/usr/bin/env python3
"""Runs CUDA artifacts of the committed fixtures and checks them.

    check_cuda.py DS_RUN ARTIFACTS FIXTURES MODEL [MODEL...]
        [--tol 1e-4] [--sanitizer compute-sanitizer] [--cases-only]

ARTIFACTS/<MODEL>.dsa (+ .weights) were compiled with
`ds-compile --target=cuda` (the GPU machine has no MLIR, so artifacts are
compiled elsewhere and carried). For each MODEL under FIXTURES:

  - every case*/ runs through `ds-run --input ... --output-dir` and each
    output is compared with onnxruntime's (max|ds - ort| / max|ort| <= tol,
    the fp32 target of DESIGN.md section 8);
  - when the fixture has generation.json, every prompt set runs through
    `ds-run --generate` and must equal the reference tokens exactly.

The bf16 and fp16 tiny models (*-tiny-bf16, *-tiny-f16) have ds's CPU
path as their reference (its outputs and greedy tokens): run them with a
--tol for their precision.

With --sanitizer, every ds-run runs under `compute-sanitizer --tool memcheck
--error-exitcode 1` (slow: use it with --cases-only or a short list).
Prints one line per check and `all ok` at the end; exit status 1 otherwise.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

import numpy as np


def run(cmd, sanitizer):
    if sanitizer:
        cmd = [sanitizer, "--tool", "memcheck", "--error-exitcode", "1",
               "--print-limit", "20"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True)


def as_float(a):
    """`a` as float64; ds-run writes bf16 as its raw bits ('<u2')."""
    if a.dtype == np.uint16:
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float64)


def check_cases(ds_run, artifact, fixture, work, tol, sanitizer):
    import onnx
    model = onnx.load(os.path.join(fixture, "model.onnx"),
                      load_external_data=False)
    inputs = [i.name for i in model.graph.input]
    outputs = [o.name for o in model.graph.output]
    ok = True
    for case in sorted(glob.glob(os.path.join(fixture, "case*"))):
        out_dir = os.path.join(work, os.path.basename(case))
        cmd = [ds_run, artifact, "--output-dir", out_dir]
        for name in inputs:
            cmd += ["--input", f"{name}={os.path.join(case, name + '.npy')}"]
        r = run(cmd, sanitizer)
        if r.returncode != 0:
            print(f"{case}: ds-run failed ({r.returncode}): "
                  f"{(r.stderr or r.stdout).strip()[-2000:]}")
            ok = False
            continue
        for name in outputs:
            want_path = os.path.join(case, f"{name}.npy")
            if not os.path.exists(want_path):
                want_path = os.path.join(case, "output.npy")
            want = as_float(np.load(want_path))
            got = as_float(np.load(os.path.join(out_dir, f"{name}.npy")))
            if got.shape != want.shape:
                print(f"{case} {name}: shape {got.shape}, want {want.shape}")
                ok = False
                continue
            err = float(np.abs(got - want).max() /
                        max(np.abs(want).max(), 1e-30))
            good = err <= tol and np.isfinite(got).all()
            ok &= good
            print(f"{os.path.basename(fixture)}/{os.path.basename(case)} "
                  f"{name}: max|diff|/max|ref| = {err:.3e} "
                  f"{'ok' if good else 'FAILED'}")
    return ok


def check_generation(ds_run, artifact, fixture, sanitizer):
    path = os.path.join(fixture, "generation.json")
    if not os.path.exists(path):
        return True
    with open(path) as f:
        ref = json.load(f)
    ok = True
    for name, case in sorted(ref["sets"].items()):
        cmd = [ds_run, artifact, "--generate", "--max-new-tokens",
               str(ref["new_tokens"])]
        for prompt in case["prompts"]:
            cmd += ["--prompt", ",".join(str(t) for t in prompt)]
        r = run(cmd, sanitizer)
        if r.returncode != 0:
            print(f"{fixture} {name}: ds-run --generate failed: "
                  f"{(r.stderr or r.stdout).strip()[-2000:]}")
            ok = False
            continue
        got = [[int(t) for t in line.split()]
               for line in r.stdout.strip().splitlines()]
        want = case["tokens"]
        same = sum(g == w for g, w in zip(got, want))
        good = len(got) == len(want) and same == len(want)
        ok &= good
        print(f"{os.path.basename(fixture)} generate {name}: "
              f"{same}/{len(want)} sequences equal over "
              f"{ref['new_tokens']} tokens {'ok' if good else 'FAILED'}")
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                first = next((j for j, (a, b) in enumerate(zip(g, w))
                              if a != b), min(len(g), len(w)))
                print(f"  sequence {i} differs at {first}: got "
                      f"{g[first:first + 5]}, want {w[first:first + 5]}")
        print("  " + r.stderr.strip().splitlines()[-1] if r.stderr.strip()
              else "")
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ds_run")
    p.add_argument("artifacts")
    p.add_argument("fixtures")
    p.add_argument("models", nargs="+")
    p.add_argument("--tol", type=float, default=1e-4)
    p.add_argument("--sanitizer")
    p.add_argument("--cases-only", action="store_true")
    p.add_argument("--work", default="/tmp/ds-cuda-check")
    args = p.parse_args()
    ok = True
    for model in args.models:
        artifact = os.path.join(args.artifacts, f"{model}.dsa")
        fixture = os.path.join(args.fixtures, model)
        work = os.path.join(args.work, model)
        os.makedirs(work, exist_ok=True)
        ok &= check_cases(args.ds_run, artifact, fixture, work, args.tol,
                          args.sanitizer)
        if not args.cases_only:
            ok &= check_generation(args.ds_run, artifact, fixture,
                                   args.sanitizer)
    print("all ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
