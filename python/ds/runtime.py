"""The ds runtime through its C API (ctypes; no compiled extension)."""

import ctypes
import os

import numpy as np

from . import _paths
from .compiler import DSError

# ONNX TensorProto.DataType numbers <-> numpy (bf16 has no numpy dtype).
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16,
           5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
           10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


class _TensorInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32),
                ("rank", ctypes.c_size_t),
                ("dims", ctypes.POINTER(ctypes.c_int64)),
                ("dim_names", ctypes.POINTER(ctypes.c_char_p))]


class _Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int32), ("rank", ctypes.c_size_t),
                ("dims", ctypes.POINTER(ctypes.c_int64)),
                ("data", ctypes.c_void_p), ("size_bytes", ctypes.c_size_t)]


class _GenerationOptions(ctypes.Structure):
    _fields_ = [("max_new_tokens", ctypes.c_int64),
                ("max_seq_len", ctypes.c_int64),
                ("temperature", ctypes.c_double),
                ("top_k", ctypes.c_int64),
                ("top_p", ctypes.c_double),
                ("seed", ctypes.c_uint64),
                ("eos_token_ids", ctypes.POINTER(ctypes.c_int64)),
                ("num_eos_token_ids", ctypes.c_size_t)]


_lib = None


def _library():
    global _lib
    if _lib is None:
        path = os.environ.get("DS_RUNTIME_LIBRARY", _paths.RUNTIME_LIBRARY)
        lib = ctypes.CDLL(path)
        lib.ds_last_error.restype = ctypes.c_char_p
        lib.ds_session_create.argtypes = [
            ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.ds_session_destroy.argtypes = [ctypes.c_void_p]
        for fn in ("ds_session_input_count", "ds_session_output_count"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                         ctypes.POINTER(ctypes.c_size_t)]
        for fn in ("ds_session_input_info", "ds_session_output_info"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                         ctypes.c_size_t,
                                         ctypes.POINTER(_TensorInfo)]
        lib.ds_session_set_input.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32,
            ctypes.POINTER(ctypes.c_int64), ctypes.c_size_t, ctypes.c_void_p,
            ctypes.c_size_t]
        lib.ds_session_clear_inputs.argtypes = [ctypes.c_void_p,
                                                ctypes.c_char_p]
        lib.ds_session_run.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.ds_session_get_output.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
            ctypes.POINTER(_Tensor)]
        lib.ds_generation_options_init.argtypes = [
            ctypes.POINTER(_GenerationOptions)]
        lib.ds_generation_options_init.restype = None
        lib.ds_session_generate.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)),
            ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t,
            ctypes.POINTER(_GenerationOptions)]
        lib.ds_session_generated_tokens.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t,
            ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)),
            ctypes.POINTER(ctypes.c_size_t)]
        lib.ds_session_generation_timing.argtypes = [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_double),
            ctypes.POINTER(ctypes.POINTER(ctypes.c_double)),
            ctypes.POINTER(ctypes.c_size_t)]
        _lib = lib
    return _lib


def _token_id(value):
    """An integer token id (bools and floats are not)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(value)
    return int(value)


def _check(status):
    if status != 0:
        raise DSError(_library().ds_last_error().decode())


class Session:
    """One loaded artifact: `run(**inputs)` returns {output name: array};
    `generate(prompts, ...)` returns the generated token ids per prompt."""

    def __init__(self, artifact, weights=None):
        lib = _library()
        self._handle = ctypes.c_void_p()
        _check(lib.ds_session_create(
            os.fsencode(artifact),
            os.fsencode(weights) if weights is not None else None,
            ctypes.byref(self._handle)))

    def close(self):
        if self._handle:
            _library().ds_session_destroy(self._handle)
            self._handle = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _infos(self, kind, entry):
        lib = _library()
        n = ctypes.c_size_t()
        _check(getattr(lib, f"ds_session_{kind}_count")(
            self._handle, entry.encode(), ctypes.byref(n)))
        infos = []
        for i in range(n.value):
            info = _TensorInfo()
            _check(getattr(lib, f"ds_session_{kind}_info")(
                self._handle, entry.encode(), i, ctypes.byref(info)))
            infos.append({
                "name": info.name.decode(),
                "dtype": _DTYPES.get(info.dtype, info.dtype),
                "shape": tuple(info.dims[d] if info.dims[d] >= 0 else None
                               for d in range(info.rank))})
        return infos

    def inputs(self, entry="forward"):
        return self._infos("input", entry)

    def outputs(self, entry="forward"):
        return self._infos("output", entry)

    def run(self, entry="forward", **inputs):
        lib = _library()
        e = entry.encode()
        _check(lib.ds_session_clear_inputs(self._handle, e))
        for name, value in inputs.items():
            array = np.ascontiguousarray(value)
            if array.dtype not in _CODES:
                raise DSError(f"input '{name}': unsupported dtype "
                              f"{array.dtype}")
            dims = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
            _check(lib.ds_session_set_input(
                self._handle, e, name.encode(), _CODES[array.dtype], dims,
                array.ndim, array.ctypes.data_as(ctypes.c_void_p),
                array.nbytes))
        _check(lib.ds_session_run(self._handle, e))
        results = {}
        for i, info in enumerate(self.outputs(entry)):
            t = _Tensor()
            _check(lib.ds_session_get_output(self._handle, e, i,
                                             ctypes.byref(t)))
            shape = tuple(t.dims[d] for d in range(t.rank))
            dtype = np.dtype(_DTYPES[t.dtype])
            buf = (ctypes.c_char * t.size_bytes).from_address(t.data) \
                if t.size_bytes else b""
            results[info["name"]] = np.frombuffer(
                bytes(buf), dtype=dtype).reshape(shape).copy()
        return results

    def generate(self, prompts, max_new_tokens=16, max_seq_len=0,
                 temperature=0.0, top_k=0, top_p=1.0, seed=0,
                 eos_token_ids=None):
        """Generates up to `max_new_tokens` tokens after each prompt (a list
        of token-id lists) with the artifact's prefill/decode entry points
        and returns the generated ids (not the prompts), one list per
        prompt. temperature 0 is greedy; top_k 0 and top_p 1 turn the
        filters off; max_seq_len 0 sizes the KV cache for longest prompt +
        max_new_tokens. `eos_token_ids` (one id or a list of ids) stops a
        sequence right after it emits one of them: that id ends its list,
        and generation ends once every sequence has stopped. Timing of the
        call is in `last_generation_timing`
        ({"ttft_ms": .., "decode_ms": [..]})."""
        lib = _library()
        if isinstance(prompts, np.ndarray):
            prompts = prompts.tolist()
        rows = []
        for prompt in prompts:
            try:
                row = [int(t) for t in prompt]
            except (TypeError, ValueError, OverflowError):
                raise DSError("prompts must be lists of integer token ids")
            if any(t < -2**63 or t >= 2**63 for t in row):
                raise DSError("token id out of the int64 range")
            rows.append((ctypes.c_int64 * max(len(row), 1))(*row))
        if eos_token_ids is None:
            eos = []
        else:
            if isinstance(eos_token_ids, np.ndarray):
                eos_token_ids = eos_token_ids.tolist()
            if isinstance(eos_token_ids, (int, np.integer)):
                eos_token_ids = [eos_token_ids]
            try:
                eos = [_token_id(t) for t in eos_token_ids]
            except (TypeError, ValueError, OverflowError):
                raise DSError("eos_token_ids must be an integer token id or "
                              "a list of them")
            if any(t < -2**63 or t >= 2**63 for t in eos):
                raise DSError("eos token id out of the int64 range")
        eos_array = (ctypes.c_int64 * max(len(eos), 1))(*eos)
        lengths = (ctypes.c_size_t * max(len(rows), 1))(
            *[len(p) for p in prompts])
        pointers = (ctypes.POINTER(ctypes.c_int64) * max(len(rows), 1))(
            *[ctypes.cast(r, ctypes.POINTER(ctypes.c_int64)) for r in rows])
        options = _GenerationOptions()
        lib.ds_generation_options_init(ctypes.byref(options))
        try:
            options.max_new_tokens = int(max_new_tokens)
            options.max_seq_len = int(max_seq_len)
            options.temperature = float(temperature)
            options.top_k = int(top_k)
            options.top_p = float(top_p)
            options.seed = int(seed)
        except (TypeError, ValueError, OverflowError) as e:
            raise DSError(f"bad generation option: {e}")
        options.eos_token_ids = ctypes.cast(eos_array,
                                            ctypes.POINTER(ctypes.c_int64))
        options.num_eos_token_ids = len(eos)
        _check(lib.ds_session_generate(self._handle, pointers, lengths,
                                       len(rows), ctypes.byref(options)))
        results = []
        for i in range(len(rows)):
            tokens = ctypes.POINTER(ctypes.c_int64)()
            count = ctypes.c_size_t()
            _check(lib.ds_session_generated_tokens(
                self._handle, i, ctypes.byref(tokens), ctypes.byref(count)))
            results.append([tokens[j] for j in range(count.value)])
        ttft = ctypes.c_double()
        decode = ctypes.POINTER(ctypes.c_double)()
        steps = ctypes.c_size_t()
        _check(lib.ds_session_generation_timing(
            self._handle, ctypes.byref(ttft), ctypes.byref(decode),
            ctypes.byref(steps)))
        self.last_generation_timing = {
            "ttft_ms": ttft.value,
            "decode_ms": [decode[j] for j in range(steps.value)]}
        return results
