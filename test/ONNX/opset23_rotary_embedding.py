#!/usr/bin/env python3
"""Checks the import of ONNX opset-23 RotaryEmbedding against numpy.

    opset23_rotary_embedding.py DS_COMPILE DS_RUN DS_TRANSLATE WORK_DIR

Builds small RotaryEmbedding models with onnx.helper (Debian's ONNX 1.12
knows no RotaryEmbedding schema, so the opset is set to 23 by hand and the
checker is not run), compiles each with ds-compile, runs it with ds-run and
compares the output with `reference` below, written from the operator's
specification (the same computation as onnx/reference/ops/
op_rotary_embedding.py of ONNX 1.18+). Then checks that what the importer
rejects is an import error naming the problem. Prints one line per case and
a summary.
"""

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

RTOL = {np.float32: 1e-5, np.float16: 2e-3}


def reference(x, cos_cache, sin_cache, position_ids=None, interleaved=0,
              rotary_embedding_dim=0, num_heads=0):
    """RotaryEmbedding (opset 23) in numpy, computed in float32."""
    dtype = x.dtype
    x = x.astype(np.float32)
    cos_cache = cos_cache.astype(np.float32)
    sin_cache = sin_cache.astype(np.float32)
    shape = x.shape
    if x.ndim == 4:  # [B, H, S, D] -> [B, S, H, D]
        x = x.transpose(0, 2, 1, 3)
    else:  # [B, S, H * D] -> [B, S, H, D]
        b, s, hidden = x.shape
        x = x.reshape(b, s, num_heads, hidden // num_heads)
    d = x.shape[3]
    r = rotary_embedding_dim or d
    if position_ids is not None:
        cos, sin = cos_cache[position_ids], sin_cache[position_ids]
    else:
        cos, sin = cos_cache, sin_cache
    cos = cos[:, :, None, :r // 2]  # [B, S, 1, R/2]
    sin = sin[:, :, None, :r // 2]
    rot, rest = x[..., :r], x[..., r:]
    if interleaved:
        x1, x2 = rot[..., 0::2], rot[..., 1::2]
    else:
        x1, x2 = rot[..., :r // 2], rot[..., r // 2:]
    real = cos * x1 - sin * x2
    imag = sin * x1 + cos * x2
    if interleaved:
        rot = np.stack([real, imag], axis=-1).reshape(rot.shape)
    else:
        rot = np.concatenate([real, imag], axis=-1)
    y = np.concatenate([rot, rest], axis=-1)
    if len(shape) == 4:
        y = y.transpose(0, 2, 1, 3)
    return y.reshape(shape).astype(dtype)


ELEM = {np.dtype(np.float32): TensorProto.FLOAT,
        np.dtype(np.float16): TensorProto.FLOAT16,
        np.dtype(np.int64): TensorProto.INT64}


def make_model(path, inputs, attrs, opset=23, input_names=None,
               out_elem=TensorProto.FLOAT):
    """One RotaryEmbedding node; `inputs` are (name, elem, shape)."""
    node = helper.make_node(
        "RotaryEmbedding",
        input_names if input_names is not None else [n for n, _, _ in inputs],
        ["Y"], **attrs)
    graph = helper.make_graph(
        [node], "rotary",
        [helper.make_tensor_value_info(n, e, s) for n, e, s in inputs],
        [helper.make_tensor_value_info("Y", out_elem, None)])
    model = helper.make_model(graph)
    model.ir_version = 8
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", opset))
    onnx.save(model, path)


def run_case(tools, work, name, feeds, attrs, dims=None):
    """Compiles and runs one case; `feeds` are (name, array) in node input
    order; `dims` overrides the declared shape of some inputs."""
    ds_compile, ds_run, _ = tools
    case = os.path.join(work, name)
    os.makedirs(case, exist_ok=True)
    inputs = [(n, ELEM[a.dtype],
               dims[n] if dims and n in dims else list(a.shape))
              for n, a in feeds]
    x = feeds[0][1]
    make_model(os.path.join(case, "model.onnx"), inputs, attrs,
               out_elem=ELEM[x.dtype])
    artifact = os.path.join(case, "model.dsa")
    r = subprocess.run([ds_compile, os.path.join(case, "model.onnx"), "-o",
                        artifact], capture_output=True, text=True)
    if r.returncode:
        return f"FAIL {name}: ds-compile: {r.stderr.strip()}"
    args = []
    for n, a in feeds:
        p = os.path.join(case, f"{n}.npy")
        np.save(p, a)
        args += ["--input", f"{n}={p}"]
    r = subprocess.run([ds_run, artifact, *args, "--output-dir",
                        os.path.join(case, "out")], capture_output=True,
                       text=True)
    if r.returncode:
        return f"FAIL {name}: ds-run: {r.stderr.strip()}"
    arrays = dict(feeds)
    want = reference(arrays["X"], arrays["cos"], arrays["sin"],
                     arrays.get("pos"), **attrs)
    got = np.load(os.path.join(case, "out", "Y.npy"))
    if got.shape != want.shape or got.dtype != want.dtype:
        return (f"FAIL {name}: Y {got.dtype}{list(got.shape)}, want "
                f"{want.dtype}{list(want.shape)}")
    g, w = got.astype(np.float32), want.astype(np.float32)
    err = float(np.abs(g - w).max() / max(np.abs(w).max(), 1e-30))
    # The untouched tail must come through bit for bit.
    r = attrs.get("rotary_embedding_dim", 0)
    if r and x.ndim == 4 and not np.array_equal(got[..., r:], x[..., r:]):
        return f"FAIL {name}: the elements past rotary_embedding_dim changed"
    status = "PASS" if err <= RTOL[x.dtype.type] else "FAIL"
    return f"{status} {name}: max|diff|/max|ref| = {err:.1e}"


def import_error(tools, work, name, inputs, attrs, opset=23):
    """The first error line ds-translate reports for a model, or OK."""
    _, _, ds_translate = tools
    path = os.path.join(work, f"{name}.onnx")
    make_model(path, inputs, attrs, opset=opset)
    r = subprocess.run([ds_translate, "--import-onnx", path],
                       capture_output=True, text=True)
    if r.returncode == 0:
        return f"ERROR-CASE {name}: imported"
    lines = [l for l in r.stderr.splitlines() if "error:" in l]
    if not lines:
        return f"ERROR-CASE {name}: {r.stderr.strip()}"
    # `<file>:0:0: error: <file>: node ...`: keep the file's base name.
    msg = lines[0].split("error:", 1)[1].strip().replace(path, "FILE")
    return f"ERROR-CASE {name}: {msg}"


def main():
    ds_compile, ds_run, ds_translate, work = sys.argv[1:5]
    tools = (ds_compile, ds_run, ds_translate)
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)

    def rand(*shape, dtype=np.float32):
        return rng.standard_normal(shape).astype(dtype)

    def tables(*shape, dtype=np.float32):
        """Real rotary tables: cos/sin of angles."""
        angle = rng.uniform(-np.pi, np.pi, shape)
        return np.cos(angle).astype(dtype), np.sin(angle).astype(dtype)

    def positions(b, s, n):
        return rng.integers(0, n, (b, s)).astype(np.int64)

    lines = []

    def case(name, x, cos, sin, pos=None, dims=None, **attrs):
        feeds = [("X", x), ("cos", cos), ("sin", sin)]
        if pos is not None:
            feeds.append(("pos", pos))
        lines.append(run_case(tools, work, name, feeds, attrs, dims))

    # 4-D [B, H, S, D] with position_ids into [max_pos, D/2] caches.
    case("4d_position_ids", rand(2, 4, 3, 8), *tables(50, 4),
         pos=positions(2, 3, 50))
    # 3-D [B, S, H*D] with num_heads.
    case("3d_position_ids", rand(2, 3, 32), *tables(50, 4),
         pos=positions(2, 3, 50), num_heads=4)
    # No position_ids: caches [B, S, D/2].
    case("4d_no_position_ids", rand(2, 4, 3, 8), *tables(2, 3, 4))
    case("3d_no_position_ids", rand(2, 5, 24), *tables(2, 5, 6),
         num_heads=2)
    # One table for the whole batch ([1, S, D/2]).
    case("batch1_tables", rand(3, 2, 4, 8), *tables(1, 4, 4))
    # One row of position_ids for the whole batch ([1, S]).
    case("batch1_position_ids", rand(3, 2, 4, 8), *tables(20, 4),
         pos=positions(1, 4, 20))
    # Interleaved pairs (GPT-J).
    case("4d_interleaved", rand(2, 4, 3, 8), *tables(50, 4),
         pos=positions(2, 3, 50), interleaved=1)
    case("3d_interleaved_no_position_ids", rand(1, 6, 16), *tables(1, 6, 4),
         interleaved=1, num_heads=2)
    # Partial rotation: the first rotary_embedding_dim elements of a head.
    case("partial_position_ids", rand(2, 4, 3, 8), *tables(50, 2),
         pos=positions(2, 3, 50), rotary_embedding_dim=4)
    # Caches wider than rotary_embedding_dim / 2: the first entries count.
    case("partial_wide_cache", rand(2, 4, 3, 8), *tables(2, 3, 4),
         rotary_embedding_dim=4)
    case("partial_interleaved_3d", rand(2, 3, 48), *tables(20, 3),
         pos=positions(2, 3, 20), rotary_embedding_dim=6, interleaved=1,
         num_heads=4)
    # rotary_embedding_dim equal to the head size is the full rotation.
    case("rotary_dim_is_head", rand(1, 2, 3, 8), *tables(10, 4),
         pos=positions(1, 3, 10), rotary_embedding_dim=8)
    # f16 (ds.rope computes in f32).
    case("f16", rand(2, 4, 3, 16, dtype=np.float16),
         *tables(30, 8, dtype=np.float16), pos=positions(2, 3, 30))
    # Symbolic batch and sequence: one artifact, sizes bound at run time.
    case("dynamic_4d", rand(2, 4, 5, 8), *tables(40, 4),
         pos=positions(2, 5, 40),
         dims={"X": ["b", 4, "s", 8], "pos": ["b", "s"]})
    case("dynamic_3d_no_position_ids", rand(3, 5, 32), *tables(3, 5, 4),
         num_heads=4,
         dims={"X": ["b", "s", 32], "cos": ["b", "s", 4],
               "sin": ["b", "s", 4]})
    # Every size symbolic, the hidden size too (the head size is then
    # hidden / num_heads at run time).
    case("all_symbolic_3d", rand(2, 3, 32), *tables(50, 4),
         pos=positions(2, 3, 50), num_heads=4, rotary_embedding_dim=4,
         dims={"X": ["b", "s", "h"], "cos": ["p", "c"], "sin": ["p", "c"],
               "pos": ["b2", "s2"]})

    F, I = TensorProto.FLOAT, TensorProto.INT64
    x4 = ("X", F, [2, 4, 3, 8])
    caches = [("cos", F, [50, 4]), ("sin", F, [50, 4])]
    pos = ("pos", I, [2, 3])
    lines.append(import_error(tools, work, "no_heads",
                              [("X", F, [2, 3, 32]), *caches, pos], {}))
    lines.append(import_error(tools, work, "heads_do_not_divide",
                              [("X", F, [2, 3, 30]), *caches, pos],
                              {"num_heads": 4}))
    lines.append(import_error(tools, work, "odd_rotary_dim",
                              [x4, *caches, pos],
                              {"rotary_embedding_dim": 3}))
    lines.append(import_error(tools, work, "rotary_dim_too_large",
                              [x4, *caches, pos],
                              {"rotary_embedding_dim": 16}))
    lines.append(import_error(tools, work, "odd_head",
                              [("X", F, [2, 4, 3, 7]), *caches, pos], {}))
    lines.append(import_error(tools, work, "narrow_cache",
                              [x4, ("cos", F, [50, 2]), ("sin", F, [50, 2]),
                               pos], {}))
    lines.append(import_error(tools, work, "cache_rank_with_ids",
                              [x4, ("cos", F, [2, 3, 4]),
                               ("sin", F, [2, 3, 4]), pos], {}))
    lines.append(import_error(tools, work, "cache_rank_without_ids",
                              [x4, *caches], {}))
    lines.append(import_error(tools, work, "ids_batch",
                              [x4, *caches, ("pos", I, [3, 3])], {}))
    lines.append(import_error(tools, work, "cache_sequence",
                              [x4, ("cos", F, [2, 5, 4]),
                               ("sin", F, [2, 5, 4])], {}))
    lines.append(import_error(tools, work, "cos_sin_differ",
                              [x4, ("cos", F, [50, 4]), ("sin", F, [40, 4]),
                               pos], {}))
    lines.append(import_error(tools, work, "ids_float",
                              [x4, *caches, ("pos", F, [2, 3])], {}))
    lines.append(import_error(tools, work, "rank5",
                              [("X", F, [1, 2, 4, 3, 8]), *caches, pos], {}))
    lines.append(import_error(tools, work, "interleaved_2",
                              [x4, *caches, pos], {"interleaved": 2}))
    lines.append(import_error(tools, work, "mixed_types",
                              [x4, ("cos", TensorProto.FLOAT16, [50, 4]),
                               ("sin", TensorProto.FLOAT16, [50, 4]), pos],
                              {}))
    lines.append(import_error(tools, work, "opset22", [x4, *caches, pos], {},
                              opset=22))

    for line in lines:
        print(line)
    failed = sum(l.startswith("FAIL") for l in lines)
    print(f"rotary cases: {len(lines)}, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
