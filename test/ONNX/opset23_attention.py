#!/usr/bin/env python3
"""Checks the import of ONNX opset-23 Attention against a numpy reference.

    opset23_attention.py DS_COMPILE DS_RUN DS_TRANSLATE WORK_DIR

Builds small Attention models with onnx.helper (Debian's ONNX 1.12 knows no
Attention schema, so the opset is set to 23 by hand and the checker is not
run), compiles each with ds-compile, runs it with ds-run and compares every
output with `reference` below, written from the operator's specification
(including its causal frontier j <= i + past_length). Then checks that
what ds.attention cannot express is an import error naming the attribute
or output. Prints one line per case and a summary.
"""

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

RTOL = 1e-4


def softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def reference(q, k, v, mask=None, past_k=None, past_v=None, is_causal=0,
              scale=None, q_heads=None, kv_heads=None):
    """Attention (opset 23) in numpy: Y, present_key, present_value."""
    three_d = q.ndim == 3

    def heads(x, h):
        b, s, hidden = x.shape
        return x.reshape(b, s, h, hidden // h).transpose(0, 2, 1, 3)

    if three_d:
        q, k, v = heads(q, q_heads), heads(k, kv_heads), heads(v, kv_heads)
    if scale is None:
        scale = 1.0 / np.sqrt(q.shape[3])
    past = 0
    if past_k is not None:
        past = past_k.shape[2]
        k = np.concatenate([past_k, k], axis=2)
        v = np.concatenate([past_v, v], axis=2)
    present_k, present_v = k, v
    s, t = q.shape[2], k.shape[2]
    bias = np.zeros((s, t), dtype=np.float32)
    if mask is not None:
        if mask.dtype == np.bool_:
            bias = bias + np.where(mask, 0.0, -np.inf).astype(np.float32)
        else:
            bias = bias + mask
    if is_causal:
        i = np.arange(s)[:, None]
        j = np.arange(t)[None, :]
        bias = bias + np.where(j <= i + past, 0.0, -np.inf).astype(np.float32)
    rep = q.shape[1] // k.shape[1]
    k = np.repeat(k, rep, axis=1)
    v = np.repeat(v, rep, axis=1)
    scores = scale * (q @ k.transpose(0, 1, 3, 2)) + bias
    y = softmax(scores) @ v
    if three_d:
        b, h, s, dv = y.shape
        y = y.transpose(0, 2, 1, 3).reshape(b, s, h * dv)
    return y.astype(np.float32), present_k, present_v


def make_model(path, inputs, outputs, attrs, input_names=None,
               output_names=None):
    """One Attention node; `inputs`/`outputs` are (name, elem, shape)."""
    node = helper.make_node(
        "Attention",
        input_names if input_names is not None else [n for n, _, _ in inputs],
        output_names if output_names is not None else [n for n, _, _ in outputs],
        **attrs)
    graph = helper.make_graph(
        [node], "attention",
        [helper.make_tensor_value_info(n, e, s) for n, e, s in inputs],
        [helper.make_tensor_value_info(n, e, s) for n, e, s in outputs])
    model = helper.make_model(graph)
    model.ir_version = 8
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", 23))
    onnx.save(model, path)


F, B = TensorProto.FLOAT, TensorProto.BOOL


def run_case(tools, work, name, feeds, attrs, outputs, ref, dims=None):
    """Compiles and runs one case; `feeds` maps input name -> array (in
    node input order, None for an absent optional input)."""
    ds_compile, ds_run, _ = tools
    case = os.path.join(work, name)
    os.makedirs(case, exist_ok=True)
    names, inputs = [], []
    for n, a in feeds:
        if a is None:
            names.append("")
            continue
        names.append(n)
        elem = B if a.dtype == np.bool_ else F
        shape = list(a.shape) if dims is None or n not in dims else dims[n]
        inputs.append((n, elem, shape))
    outs = [(n, F, None) for n in outputs]
    out_names = list(outputs)
    make_model(os.path.join(case, "model.onnx"), inputs, outs, attrs,
               input_names=names, output_names=out_names)
    artifact = os.path.join(case, "model.dsa")
    r = subprocess.run([ds_compile, os.path.join(case, "model.onnx"), "-o",
                        artifact], capture_output=True, text=True)
    if r.returncode:
        return f"FAIL {name}: ds-compile: {r.stderr.strip()}"
    args = []
    for n, a in feeds:
        if a is None:
            continue
        p = os.path.join(case, f"{n}.npy")
        np.save(p, a)
        args += ["--input", f"{n}={p}"]
    r = subprocess.run([ds_run, artifact, *args, "--output-dir",
                        os.path.join(case, "out")], capture_output=True,
                       text=True)
    if r.returncode:
        return f"FAIL {name}: ds-run: {r.stderr.strip()}"
    worst = 0.0
    for out, want in zip(outputs, ref):
        if out == "":
            continue
        got = np.load(os.path.join(case, "out", f"{out}.npy"))
        if got.shape != want.shape:
            return f"FAIL {name}: {out} shape {got.shape}, want {want.shape}"
        err = float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))
        worst = max(worst, err)
    status = "PASS" if worst <= RTOL else "FAIL"
    return f"{status} {name}: max|diff|/max|ref| = {worst:.1e}"


def import_error(tools, work, name, inputs, outputs, attrs, input_names=None,
                 output_names=None):
    """The first error line ds-translate reports for a model, or OK."""
    _, _, ds_translate = tools
    path = os.path.join(work, f"{name}.onnx")
    make_model(path, inputs, outputs, attrs, input_names, output_names)
    r = subprocess.run([ds_translate, "--import-onnx", path],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return f"ERROR-CASE {name}: imported"
    lines = [l for l in r.stderr.splitlines() if "error:" in l]
    msg = lines[0].split("error:", 1)[1].strip() if lines else r.stderr
    return f"ERROR-CASE {name}: {msg}"


def main():
    ds_compile, ds_run, ds_translate, work = sys.argv[1:5]
    tools = (ds_compile, ds_run, ds_translate)
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)

    def rand(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    lines = []
    # 4-D multi-head, no mask, default scale.
    q, k, v = rand(2, 4, 5, 8), rand(2, 4, 7, 8), rand(2, 4, 7, 6)
    lines.append(run_case(tools, work, "mha4d",
                          [("Q", q), ("K", k), ("V", v)], {}, ["Y"],
                          reference(q, k, v)[:1]))
    # 4-D grouped-query, causal self-attention, explicit scale.
    q, k, v = rand(1, 4, 6, 8), rand(1, 2, 6, 8), rand(1, 2, 6, 8)
    lines.append(run_case(tools, work, "gqa_causal",
                          [("Q", q), ("K", k), ("V", v)],
                          {"is_causal": 1, "scale": 0.3}, ["Y"],
                          reference(q, k, v, is_causal=1, scale=0.3)[:1]))
    # 3-D with heads attributes and a boolean mask [S, T].
    q, k, v = rand(2, 5, 32), rand(2, 5, 16), rand(2, 5, 16)
    m = rng.random((5, 5)) > 0.3
    m[:, 0] = True
    lines.append(run_case(tools, work, "gqa3d_boolmask",
                          [("Q", q), ("K", k), ("V", v), ("mask", m)],
                          {"q_num_heads": 4, "kv_num_heads": 2}, ["Y"],
                          reference(q, k, v, mask=m, q_heads=4,
                                    kv_heads=2)[:1]))
    # 3-D, KV cache: past keys and values, causal (bottom-right: each new
    # query sees the whole past), additive float mask [B, 1, S, T],
    # present_key/present_value outputs.
    q, k, v = rand(1, 3, 16), rand(1, 3, 16), rand(1, 3, 16)
    pk, pv = rand(1, 2, 4, 8), rand(1, 2, 4, 8)
    fm = (rng.random((1, 1, 3, 7)) * -2.0).astype(np.float32)
    lines.append(run_case(tools, work, "past_causal_floatmask",
                          [("Q", q), ("K", k), ("V", v), ("mask", fm),
                           ("past_key", pk), ("past_value", pv)],
                          {"is_causal": 1, "q_num_heads": 2,
                           "kv_num_heads": 2},
                          ["Y", "present_key", "present_value"],
                          reference(q, k, v, mask=fm, past_k=pk, past_v=pv,
                                    is_causal=1, q_heads=2, kv_heads=2)))
    # Causal with more new keys than queries (no cache): the spec's
    # top-left frontier j <= i, which ds builds as a constant mask.
    q, k, v = rand(1, 2, 3, 8), rand(1, 2, 5, 8), rand(1, 2, 5, 8)
    lines.append(run_case(tools, work, "causal_cross",
                          [("Q", q), ("K", k), ("V", v)], {"is_causal": 1},
                          ["Y"], reference(q, k, v, is_causal=1)[:1]))
    # Symbolic batch and sequence: one artifact, causal self-attention.
    q, k, v = rand(2, 5, 24), rand(2, 5, 24), rand(2, 5, 24)
    lines.append(run_case(tools, work, "dynamic3d",
                          [("Q", q), ("K", k), ("V", v)],
                          {"is_causal": 1, "q_num_heads": 3,
                           "kv_num_heads": 3}, ["Y"],
                          reference(q, k, v, is_causal=1, q_heads=3,
                                    kv_heads=3)[:1],
                          dims={"Q": ["b", "s", 24], "K": ["b", "s", 24],
                                "V": ["b", "s", 24]}))

    qkv = [("Q", F, [1, 2, 3, 8]), ("K", F, [1, 2, 3, 8]),
           ("V", F, [1, 2, 3, 8])]
    y = [("Y", F, None)]
    lines.append(import_error(tools, work, "softcap", qkv, y,
                              {"softcap": 30.0}))
    lines.append(import_error(tools, work, "qk_mode", qkv, y,
                              {"qk_matmul_output_mode": 1}))
    lines.append(import_error(
        tools, work, "qk_output", qkv,
        [("Y", F, None), ("qk", F, None)], {},
        output_names=["Y", "", "", "qk"]))
    lines.append(import_error(
        tools, work, "no_heads", [("Q", F, [1, 3, 16]), ("K", F, [1, 3, 16]),
                                  ("V", F, [1, 3, 16])], y, {}))
    lines.append(import_error(
        tools, work, "causal_dynamic",
        [("Q", F, [1, 2, "s", 8]), ("K", F, [1, 2, "t", 8]),
         ("V", F, [1, 2, "t", 8])], y, {"is_causal": 1}))

    for line in lines:
        print(line)
    failed = sum(l.startswith("FAIL") for l in lines)
    print(f"attention cases: {len(lines)}, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
