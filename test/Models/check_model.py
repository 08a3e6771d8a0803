#!/usr/bin/env python3
"""Compiles one exported model once and checks every case against ORT.

    check_model.py DS_COMPILE DS_RUN FIXTURE_DIR WORK_DIR [--tol 1e-4]

FIXTURE_DIR holds model.onnx and case*/ folders with the inputs and
onnxruntime's output.npy (test/Models/make_fixtures.py). One artifact runs
every case (different batch and sequence lengths): symbolic dims must stay
dynamic. The error measure is max|ds - ort| / max|ort|.
"""

import argparse
import glob
import os
import subprocess
import sys

import numpy as np


def main():
    p = argparse.ArgumentParser()
    p.add_argument("ds_compile")
    p.add_argument("ds_run")
    p.add_argument("fixture")
    p.add_argument("work")
    p.add_argument("--tol", type=float, default=1e-4)
    args = p.parse_args()

    os.makedirs(args.work, exist_ok=True)
    artifact = os.path.join(args.work, "model.dsa")
    subprocess.run([args.ds_compile, os.path.join(args.fixture, "model.onnx"),
                    "-o", artifact], check=True)
    import onnx
    model = onnx.load(os.path.join(args.fixture, "model.onnx"),
                      load_external_data=False)
    input_names = [i.name for i in model.graph.input]
    output_names = [o.name for o in model.graph.output]
    worst = 0.0
    for case in sorted(glob.glob(os.path.join(args.fixture, "case*"))):
        feeds = []
        shape = None
        for name in input_names:
            npy = os.path.join(case, f"{name}.npy")
            feeds += ["--input", f"{name}={npy}"]
            if shape is None:
                shape = np.load(npy).shape
        out_dir = os.path.join(args.work, os.path.basename(case))
        subprocess.run([args.ds_run, artifact, *feeds, "--output-dir",
                        out_dir], check=True)
        for name in output_names:
            got = np.load(os.path.join(out_dir, f"{name}.npy"))
            want = np.load(os.path.join(case, f"{name}.npy"))
            if got.shape != want.shape:
                print(f"{case} {name}: shape {got.shape}, expected "
                      f"{want.shape}")
                return 1
            err = float(np.abs(got - want).max() / np.abs(want).max())
            worst = max(worst, err)
            print(f"{os.path.basename(case)} input {shape} {name}: "
                  f"max|diff|/max|ref| = {err:.3e}")
    print(f"worst {worst:.3e} (tolerance {args.tol:g}): "
          f"{'ok' if worst <= args.tol else 'FAILED'}")
    return 0 if worst <= args.tol else 1


if __name__ == "__main__":
    sys.exit(main())
