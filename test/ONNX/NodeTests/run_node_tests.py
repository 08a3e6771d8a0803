#!/usr/bin/env python3
"""Runs the ONNX backend node tests through ds-compile and ds-run.

For every test folder (model.onnx + test_data_set_*/{input,output}_*.pb)
whose operators ds supports and that is not listed in the exclusions file,
compiles the model (once with the model's shapes, once with every input
dimension symbolic), runs every data set, and compares each output with
the expected one at the suite's own tolerances (rtol 1e-3, atol 1e-7, as
onnx.backend.test does), with no per-test loosening.

Prints one line per test and mode (PASS / FAIL / UNSUPPORTED / EXCLUDED),
then the number of passing tests per operator and a summary line; exits 1
if any in-scope test fails or an operator in --require-ops has no passing
test.

Uses only Debian's python3-onnx and python3-numpy. Works with Debian's
libonnx-testdata (ONNX 1.12, 932 tests) and with the newer suite inside
the pip onnx wheel (onnx/backend/test/data/node).
"""

import argparse
import collections
import concurrent.futures
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper, version_converter

# What ds supports (ONNX issue scope): default-domain opsets and the
# element types of graph inputs and outputs (the importer takes opsets 13 to
# 23; opset-22/23 tests come from newer suites, see Inputs/onnx-1.19).
OPSETS = range(13, 24)
DTYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16,
          onnx.TensorProto.BFLOAT16, onnx.TensorProto.DOUBLE,
          onnx.TensorProto.INT64, onnx.TensorProto.INT32,
          onnx.TensorProto.INT8, onnx.TensorProto.UINT8,
          onnx.TensorProto.BOOL}

RTOL = 1e-3
ATOL = 1e-7
DEFAULT_SUITE = "/usr/share/libonnx-testdata/data/node"


def model_ops(graph):
    """(domain, op_type) of every node, subgraphs included."""
    ops = set()
    for node in graph.node:
        ops.add((node.domain or "", node.op_type))
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                ops |= model_ops(attr.g)
            for g in attr.graphs:
                ops |= model_ops(g)
    return ops


def default_opset(model):
    return max((o.version for o in model.opset_import
                if o.domain in ("", "ai.onnx")), default=0)


def upgrade(model, path):
    """Writes `model` converted to opset 13 by ONNX's version converter
    (semantics-preserving); None when the converter cannot."""
    try:
        converted = version_converter.convert_version(model, OPSETS[0])
    except Exception:  # the converter rejects some old ops outright
        return None
    onnx.save(converted, path)
    return path


def out_of_scope(model, upgrade_opset=False):
    """Why a model is outside ds's scope regardless of its operators."""
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx") and o.version not in OPSETS:
            if upgrade_opset and o.version < OPSETS[0]:
                continue
            return f"opset {o.version}"
    for v in list(model.graph.input) + list(model.graph.output):
        if not v.type.HasField("tensor_type"):
            return f"non-tensor value '{v.name}'"
        elem = v.type.tensor_type.elem_type
        if elem not in DTYPES:
            return f"{onnx.TensorProto.DataType.Name(elem)} value '{v.name}'"
    return None


def read_exclusions(path):
    """`test_name  # reason` per line, or `test_name[mode]  # reason` to
    exclude one mode only; every entry must give a reason."""
    excluded = {}
    if not path:
        return excluded
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, reason = line.partition("#")
            if not sep or not reason.strip():
                sys.exit(f"{path}:{lineno}: exclusion without a reason")
            excluded[name.strip()] = reason.strip()
    return excluded


def read_constant_operands(path):
    """`test_name  i,j,...  # reason`: inputs (by position) that ds needs at
    compile time (shapes, axes, repeats). The runner folds them into
    initializers from each data set before compiling."""
    folded = {}
    if not path:
        return folded
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            body, sep, reason = line.partition("#")
            fields = body.split()
            if not sep or not reason.strip() or len(fields) != 2:
                sys.exit(f"{path}:{lineno}: expected `name i,j  # reason`")
            folded[fields[0]] = [int(i) for i in fields[1].split(",")]
    return folded


def fold_inputs(model, positions, ds_dir, path):
    """Writes `model` with the inputs at `positions` turned into
    initializers holding the data set's values."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    keep = []
    for pos, value_info in enumerate(inputs):
        if pos in positions:
            t = onnx.TensorProto()
            with open(os.path.join(ds_dir, f"input_{pos}.pb"), "rb") as f:
                t.ParseFromString(f.read())
            t.name = value_info.name
            model.graph.initializer.append(t)
        else:
            keep.append(value_info)
    # Inputs that are not graph inputs anymore (initializers stay declared
    # only where the model declared them).
    del model.graph.input[:]
    model.graph.input.extend(keep)
    onnx.save(model, path)


def load_tensor(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def compare(name, got, want):
    """None when `got` matches `want`, else a one-line reason."""
    if got.shape != want.shape:
        return f"{name}: shape {got.shape}, expected {want.shape}"
    if got.dtype != want.dtype:
        return f"{name}: dtype {got.dtype}, expected {want.dtype}"
    if want.dtype.kind in "fc":
        ok = np.isclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True)
    else:
        ok = got == want
    if not np.all(ok):
        bad = int(np.size(ok) - np.count_nonzero(ok))
        idx = np.unravel_index(int(np.argmin(ok)), ok.shape) if ok.ndim else ()
        return (f"{name}: {bad} of {ok.size} elements differ, e.g. at {idx} "
                f"got {got[idx]!r} expected {want[idx]!r}")
    return None


def run(cmd, timeout):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    return p.returncode, (p.stderr.strip().splitlines() or [""])[-1]


def run_test(test_dir, mode, args, work, folded=None):
    """Returns (status, detail) for one test in one mode. `folded` lists the
    input positions to fold into initializers (one compile per data set)."""
    name = os.path.basename(test_dir)
    model_path = os.path.join(test_dir, "model.onnx")
    model = onnx.load(model_path)
    out_dir = os.path.join(work, f"{name}.{mode}")
    os.makedirs(out_dir, exist_ok=True)
    upgraded = ""
    if args.upgrade_opset and default_opset(model) < OPSETS[0]:
        upgraded = f" (upgraded from opset {default_opset(model)})"
        model_path = upgrade(model, os.path.join(out_dir, "upgraded.onnx"))
        if model_path is None:
            return "UNSUPPORTED", "the version converter cannot upgrade it"
        model = onnx.load(model_path)
    inits = {i.name for i in model.graph.initializer}
    inputs = [i.name for i in model.graph.input if i.name not in inits]
    outputs = [o.name for o in model.graph.output]
    artifact = os.path.join(out_dir, "model.dsa")

    def compile_model(path):
        cmd = [args.ds_compile, path, "-o", artifact]
        if mode == "symbolic":
            cmd.append("--symbolic-inputs")
        return run(cmd, args.timeout)

    if not folded:
        rc, err = compile_model(model_path)
        if rc != 0:
            return "FAIL", f"ds-compile: {err}"
    data_sets = sorted(glob.glob(os.path.join(test_dir, "test_data_set_*")))
    for ds_dir in data_sets:
        if folded:
            path = os.path.join(out_dir, "folded.onnx")
            fold_inputs(model, folded, ds_dir, path)
            rc, err = compile_model(path)
            if rc != 0:
                return "FAIL", f"ds-compile (constant operands): {err}"
        feeds = []
        for i, input_name in enumerate(inputs):
            if folded and i in folded:
                continue
            pb = os.path.join(ds_dir, f"input_{i}.pb")
            if not os.path.exists(pb):
                continue  # optional input left out
            npy = os.path.join(out_dir, f"in_{i}.npy")
            np.save(npy, load_tensor(pb))
            feeds += ["--input", f"{input_name}={npy}"]
        res_dir = os.path.join(out_dir, "out")
        shutil.rmtree(res_dir, ignore_errors=True)
        rc, err = run([args.ds_run, artifact, *feeds, "--output-dir", res_dir],
                      args.timeout)
        if rc != 0:
            return "FAIL", f"ds-run: {err}"
        for i, output_name in enumerate(outputs):
            want = load_tensor(os.path.join(ds_dir, f"output_{i}.pb"))
            path = os.path.join(res_dir, f"{output_name}.npy")
            if not os.path.exists(path):
                return "FAIL", f"missing output {output_name}"
            reason = compare(output_name, np.load(path), want)
            if reason:
                return "FAIL", f"{os.path.basename(ds_dir)}: {reason}"
    shutil.rmtree(out_dir, ignore_errors=True)
    return "PASS", f"{len(data_sets)} data set(s){upgraded}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default=DEFAULT_SUITE)
    p.add_argument("--ds-compile", required=True)
    p.add_argument("--ds-run", required=True)
    p.add_argument("--exclusions")
    p.add_argument("--constant-operands",
                   help="file of tests whose shape operands are folded")
    p.add_argument("--mode", choices=["static", "symbolic", "both"],
                   default="both")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--filter", default="", help="regex on test names")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--upgrade-opset", action="store_true",
                   help="run models below opset 13 after ONNX's version "
                        "converter upgraded them to 13")
    p.add_argument("--require-ops", default="",
                   help="comma-separated ops that must have a passing test")
    args = p.parse_args()

    supported = set(subprocess.run(
        [args.ds_compile, "--list-supported-ops"], check=True,
        stdout=subprocess.PIPE, text=True).stdout.split())
    excluded = read_exclusions(args.exclusions)
    folded = read_constant_operands(args.constant_operands)
    modes = ["static", "symbolic"] if args.mode == "both" else [args.mode]
    tests = sorted(d for d in glob.glob(os.path.join(args.suite, "test_*"))
                   if re.search(args.filter, os.path.basename(d)))
    if not tests:
        sys.exit(f"no tests under {args.suite}")

    jobs, counts = [], collections.Counter()
    ops_of = {}
    for t in tests:
        name = os.path.basename(t)
        model = onnx.load(os.path.join(t, "model.onnx"))
        ops = model_ops(model.graph)
        ops_of[name] = {op for _, op in ops}
        missing = sorted(f"{d}:{op}" if d else op for d, op in ops
                         if d not in ("", "ai.onnx") or op not in supported)
        scope = out_of_scope(model, args.upgrade_opset)
        if missing or scope:
            counts["unsupported"] += 1
            print(f"UNSUPPORTED {name} ({', '.join(missing) or scope})")
        elif name in excluded:
            counts["excluded"] += 1
            print(f"EXCLUDED {name} ({excluded[name]})")
        else:
            for m in modes:
                why = excluded.get(f"{name}[{m}]")
                if why:
                    counts["excluded"] += 1
                    print(f"EXCLUDED {name} [{m}] ({why})")
                else:
                    jobs.append((t, m))

    passing_ops = collections.Counter()
    failed = []
    with tempfile.TemporaryDirectory(prefix="ds-node-tests-") as work, \
            concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run_test, t, m, args, work,
                               folded.get(os.path.basename(t))): (t, m)
                   for t, m in jobs}
        for fut in concurrent.futures.as_completed(futures):
            t, m = futures[fut]
            name = os.path.basename(t)
            try:
                status, detail = fut.result()
            except Exception as e:  # a timeout or a runner bug is a failure
                status, detail = "FAIL", repr(e)
            print(f"{status} {name} [{m}] {detail}", flush=True)
            counts[status.lower()] += 1
            if status == "PASS" and m == modes[0]:
                for op in ops_of[name]:
                    passing_ops[op] += 1
            if status == "FAIL":
                failed.append(f"{name} [{m}]")

    print("\npassing tests per operator:")
    for op in sorted(passing_ops):
        print(f"  {op:20s} {passing_ops[op]}")
    required = [o for o in args.require_ops.split(",") if o]
    uncovered = [o for o in required if passing_ops[o] == 0]
    if uncovered:
        print(f"operators with no passing test: {', '.join(uncovered)}")
    if failed:
        print("failed:\n  " + "\n  ".join(sorted(failed)))
    print(f"\nnode tests: {counts['pass']} passed, {counts['fail']} failed, "
          f"{counts['unsupported']} unsupported, {counts['excluded']} excluded "
          f"({len(modes)} mode(s))")
    return 1 if failed or uncovered else 0


if __name__ == "__main__":
    sys.exit(main())
