"""End to end through the Python package: build an ONNX model, compile it
with ds.compile_model, run it with ds.Session, compare with numpy; then
the error paths."""

import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper, parser

import ds

work = sys.argv[1]
os.makedirs(work, exist_ok=True)

# y = softmax(x @ w + b) with a symbolic batch dimension.
model = parser.parse_model("""
<ir_version: 8, opset_import: ["" : 17]>
agraph (float[N, 4] x) => (float[N, 3] y) <float[4, 3] w, float[3] b> {
  t = MatMul(x, w)
  u = Add(t, b)
  y = Softmax(u)
}
""")
rng = np.random.default_rng(0)
w = rng.standard_normal((4, 3)).astype(np.float32)
b = rng.standard_normal(3).astype(np.float32)
model.graph.initializer.extend([numpy_helper.from_array(w, "w"),
                                numpy_helper.from_array(b, "b")])
model.graph.input.extend([])
path = os.path.join(work, "model.onnx")
onnx.save(model, path)

artifact = ds.compile_model(path, os.path.join(work, "model.dsa"))
print("compiled", os.path.basename(artifact))
stats = ds.compile_model(path, os.path.join(work, "model2.dsa"),
                         print_stats=True)
print("stats keys", sorted(__import__("json").loads(stats)))

with ds.Session(artifact) as s:
    print("inputs", s.inputs())
    print("outputs", s.outputs())
    for n in (1, 5):
        x = rng.standard_normal((n, 4)).astype(np.float32)
        y = s.run(x=x)["y"]
        z = x @ w + b
        ref = np.exp(z - z.max(-1, keepdims=True))
        ref /= ref.sum(-1, keepdims=True)
        print(f"batch {n}: shape {y.shape} max err {np.abs(y - ref).max():.1e}",
              "ok" if np.allclose(y, ref, rtol=1e-5, atol=1e-6) else "WRONG")
    try:
        s.run(x=np.zeros((2, 5), np.float32))
    except ds.DSError as e:
        print("bad input:", e)
    # Not a decoder: generation is a clean error.
    try:
        s.generate([[1, 2, 3]], max_new_tokens=4)
    except ds.DSError as e:
        print("generate:", e)
    try:
        s.generate([["a"]])
    except ds.DSError as e:
        print("bad prompt:", e)

try:
    ds.compile_model(os.path.join(work, "missing.onnx"), "x.dsa")
except ds.DSError as e:
    print("bad model:", e)
with open(os.path.join(work, "junk.dsa"), "wb") as f:
    f.write(b"not an artifact")
try:
    ds.Session(os.path.join(work, "junk.dsa"))
except ds.DSError as e:
    print("bad artifact:", e)
