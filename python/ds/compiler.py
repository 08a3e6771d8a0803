"""Compiling ONNX models with ds-compile from Python."""

import os
import subprocess

from . import _paths


class DSError(RuntimeError):
    """A ds compiler or runtime error, with its one-line message."""


def compile_model(model, output=None, *, target="cpu", shapes=None,
                  symbolic_inputs=False, compile_to=None, print_stats=False,
                  ds_compile=None):
    """Compiles `model` (.onnx) into the artifact `output` (.dsa).

    `shapes` maps input names to tuples of dims (DESIGN.md `--shape`).
    With `compile_to`, returns the IR after that phase as text; with
    `print_stats`, returns the statistics JSON text; else returns `output`.
    Raises DSError with ds-compile's message on failure.
    """
    cmd = [ds_compile or os.environ.get("DS_COMPILE", _paths.DS_COMPILE),
           os.fspath(model), f"--target={target}"]
    if output is not None:
        cmd += ["-o", os.fspath(output)]
    for name, dims in (shapes or {}).items():
        cmd += ["--shape", f"{name}=" + "x".join(str(int(d)) for d in dims)]
    if symbolic_inputs:
        cmd.append("--symbolic-inputs")
    if compile_to:
        cmd.append(f"--compile-to={compile_to}")
    if print_stats:
        cmd.append("--print-stats")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        lines = p.stderr.strip().splitlines()
        raise DSError(lines[-1] if lines else f"ds-compile exited {p.returncode}")
    if compile_to or print_stats:
        return p.stdout
    return output
