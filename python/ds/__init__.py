"""ds: an MLIR-based compiler for transformer graphs.

    import ds
    ds.compile_model("model.onnx", "model.dsa")
    with ds.Session("model.dsa") as s:
        outputs = s.run(input_ids=ids)
        tokens = s.generate([[1, 2, 3]], max_new_tokens=16)  # decoders

`compile_model` drives ds-compile; `Session` binds the runtime's C API.
"""

from .compiler import DSError, compile_model
from .runtime import Session

__all__ = ["DSError", "Session", "compile_model"]
