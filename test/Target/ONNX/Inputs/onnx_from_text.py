#!/usr/bin/env python3
"""Builds .onnx test fixtures from ONNX text syntax (onnx.parser).

Usage: onnx_from_text.py PATH...

Each PATH is a `.txt` file or a folder of them (as `split-file` writes);
`NAME.txt` becomes `NAME.onnx` beside it. Lines starting with `#!` are Python
run after parsing, with `model`, `graph`, `model_dir`, `np`, `onnx`, `os`
and the helpers below
in scope, for what the text syntax cannot say (raw/typed/external
initializers, corruptions); other lines starting with `#` are comments.
Nodes are named after their first output unless `unnamed()` is called.
"""

import os
import sys

import numpy as np
import onnx
import onnx.parser
from onnx import TensorProto, numpy_helper


class Fixture:
    def __init__(self, path):
        self.path = path
        self.dir = os.path.dirname(os.path.abspath(path))
        self.name_nodes = True
        self.raw_bytes = None

    # -- helpers visible to `#!` lines ------------------------------------
    def unnamed(self):
        self.name_nodes = False

    def write_bytes(self, data):
        """Writes `data` instead of the model (a corrupt file)."""
        self.raw_bytes = data

    def tensor(self, name, array, dtype=None, form="raw"):
        """A TensorProto from a numpy array; dtype 'bfloat16'/'float16'
        override the element type; form is 'raw' or 'typed'."""
        array = np.asarray(array)
        t = TensorProto()
        t.name = name
        t.dims.extend(array.shape)
        if dtype == "bfloat16":
            bits = np.asarray(array, np.float32).view(np.uint32)
            bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
            t.data_type = TensorProto.BFLOAT16
            if form == "raw":
                t.raw_data = bits.tobytes()
            else:
                t.int32_data.extend(int(b) for b in bits.ravel())
            return t
        if dtype == "float16" or array.dtype == np.float16:
            bits = np.asarray(array, np.float16).view(np.uint16)
            t.data_type = TensorProto.FLOAT16
            if form == "raw":
                t.raw_data = bits.tobytes()
            else:
                t.int32_data.extend(int(b) for b in bits.ravel())
            return t
        t.data_type = onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]
        if form == "raw":
            t.raw_data = array.tobytes()
            return t
        flat = array.ravel()
        if array.dtype == np.float32:
            t.float_data.extend(float(v) for v in flat)
        elif array.dtype == np.float64:
            t.double_data.extend(float(v) for v in flat)
        elif array.dtype == np.int64:
            t.int64_data.extend(int(v) for v in flat)
        elif array.dtype in (np.uint32, np.uint64):
            t.uint64_data.extend(int(v) for v in flat)
        else:  # int32, int8, uint8, bool
            t.int32_data.extend(int(v) for v in flat)
        return t

    def add_init(self, name, array, dtype=None, form="raw"):
        self.model.graph.initializer.append(
            self.tensor(name, array, dtype, form))
        return self.model.graph.initializer[-1]  # append() copies

    def external(self, name, array, location, offset=0, length=None,
                 write=True, dtype=None):
        """An initializer whose bytes live in `location` (relative to the
        model) at `offset`; `write=False` leaves the file alone."""
        t = self.tensor(name, array, dtype, "raw")
        data = t.raw_data
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", str(offset)),
                           ("length", None if length is None else str(length))):
            if value is None:
                continue
            e = t.external_data.add()
            e.key, e.value = key, value
        if write:
            full = os.path.join(self.dir, location)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            mode = "r+b" if os.path.exists(full) else "wb"
            with open(full, mode) as f:
                f.seek(offset)
                f.write(data)
        self.model.graph.initializer.append(t)
        return self.model.graph.initializer[-1]

    # -- driver -----------------------------------------------------------
    def build(self):
        with open(self.path) as f:
            lines = f.read().splitlines()
        code = [l[2:].strip() for l in lines if l.startswith("#!")]
        text = "\n".join(l for l in lines if not l.lstrip().startswith("#"))
        self.model = onnx.parser.parse_model(text)
        env = {"model": self.model, "graph": self.model.graph, "np": np,
               "onnx": onnx, "os": os, "TensorProto": TensorProto,
               "numpy_helper": numpy_helper, "model_dir": self.dir}
        for attr in ("unnamed", "write_bytes", "tensor", "add_init",
                     "external"):
            env[attr] = getattr(self, attr)
        for line in code:
            exec(line, env)
        if self.name_nodes:
            for node in self.model.graph.node:
                if not node.name:
                    node.name = next((o for o in node.output if o), "")
        out = os.path.splitext(self.path)[0] + ".onnx"
        with open(out, "wb") as f:
            f.write(self.raw_bytes if self.raw_bytes is not None
                    else self.model.SerializeToString())


def main(argv):
    paths = []
    for p in argv[1:]:
        if os.path.isdir(p):
            paths += sorted(os.path.join(p, f) for f in os.listdir(p)
                            if f.endswith(".txt"))
        else:
            paths.append(p)
    for p in paths:
        try:
            Fixture(p).build()
        except Exception as e:  # a broken fixture names its file
            sys.exit(f"{p}: {e}")


if __name__ == "__main__":
    main(sys.argv)
