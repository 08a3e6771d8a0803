#!/usr/bin/env python3
"""Checks ds-run --generate against onnxruntime's greedy continuations.

    check_generate.py DS_COMPILE DS_RUN FIXTURE_DIR WORK_DIR [--reference JSON]

FIXTURE_DIR holds model.onnx and generation.json (make_generation_refs.py:
for each prompt set, the greedy tokens onnxruntime produced by recomputing
the whole sequence at every step, each sequence on its own). The model is
compiled once (the KV-cache rewrite derives prefill and decode) and every
set runs as one batch: batch 1, and batch 3 with prompts of different
lengths. Every generated token must equal the reference.

--reference reads the continuations from another fixture's generation.json:
the exports with past keys/values (gpt2-past, llama-past) come from the same
seeded models as the dynamo exports, so their greedy tokens are the same.
That holds only while both exports carry the same weights: the float
initializers of more than 8 elements of both model.onnx files (names differ
between exports) must be equal as multisets, or the check fails.
"""

import argparse
import json
import os
import subprocess
import sys


def weights(path):
    """The float initializers of more than 8 elements, as a sorted list of
    (shape, bytes): what identifies a model's weights across exports."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    out = []
    for init in model.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.dtype.kind == "f" and a.size > 8:
            out.append((a.shape, a.dtype.str,
                        np.ascontiguousarray(a).tobytes()))
    return sorted(out)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ds_compile")
    p.add_argument("ds_run")
    p.add_argument("fixture")
    p.add_argument("work")
    p.add_argument("--reference",
                   help="generation.json to compare with (default: the "
                        "fixture's)")
    args = p.parse_args()
    ds_compile, ds_run, fixture, work = (args.ds_compile, args.ds_run,
                                         args.fixture, args.work)
    os.makedirs(work, exist_ok=True)
    artifact = os.path.join(work, "model.dsa")
    subprocess.run([ds_compile, os.path.join(fixture, "model.onnx"), "-o",
                    artifact, "--kv-cache=on"], check=True)
    reference = args.reference or os.path.join(fixture, "generation.json")
    if args.reference:
        mine = weights(os.path.join(fixture, "model.onnx"))
        theirs = weights(os.path.join(os.path.dirname(args.reference),
                                      "model.onnx"))
        if mine != theirs:
            print(f"weights differ from the reference's model.onnx: "
                  f"{len(mine)} vs {len(theirs)} tensors")
            return 1
        print(f"weights: {len(mine)} tensors identical to the reference's")
    with open(reference) as f:
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
