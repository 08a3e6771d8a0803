#!/usr/bin/env python3
"""Checks ds-run --generate against onnxruntime's greedy continuations.

    check_generate.py DS_COMPILE DS_RUN FIXTURE_DIR WORK_DIR

FIXTURE_DIR holds model.onnx and generation.json (make_generation_refs.py:
for each prompt set, the greedy tokens onnxruntime produced by recomputing
the whole sequence at every step, each sequence on its own). The model is
compiled once (the KV-cache rewrite derives prefill and decode) and every
set runs as one batch: batch 1, and batch 3 with prompts of different
lengths. Every generated token must equal the reference.
"""

import json
import os
import subprocess
import sys


def main():
    ds_compile, ds_run, fixture, work = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    artifact = os.path.join(work, "model.dsa")
    subprocess.run([ds_compile, os.path.join(fixture, "model.onnx"), "-o",
                    artifact, "--kv-cache=on"], check=True)
    with open(os.path.join(fixture, "generation.json")) as f:
        ref = json.load(f)
    failures = 0
    for name, case in sorted(ref["sets"].items()):
        cmd = [ds_run, artifact, "--generate", "--max-new-tokens",
               str(ref["new_tokens"])]
        for prompt in case["prompts"]:
            cmd += ["--prompt", ",".join(str(t) for t in prompt)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
        got = [[int(t) for t in line.split()]
               for line in out.stdout.strip().splitlines()]
        want = case["tokens"]
        same = sum(g == w for g, w in zip(got, want))
        print(f"{name}: batch {len(want)}, prompt lengths "
              f"{[len(p) for p in case['prompts']]}, "
              f"{ref['new_tokens']} new tokens: "
              f"{same}/{len(want)} sequences equal")
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                first = next((j for j, (a, b) in enumerate(zip(g, w))
                              if a != b), min(len(g), len(w)))
                print(f"  sequence {i} differs from token {first}: "
                      f"got {g[first:first + 5]}, want {w[first:first + 5]}")
        if len(got) != len(want) or same != len(want):
            failures += 1
    print("all equal" if failures == 0 else f"{failures} set(s) differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
