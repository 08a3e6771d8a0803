# -*- Python -*-
"""lit configuration for the ds regression tests."""

import os
import shutil
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "DS"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.ds_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "case0", "case1",
                   "Inputs"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%ds_src_root", config.ds_src_root))
# Debian's python3 with python3-onnx/python3-numpy (scripts/setup.sh); the
# same interpreter lit runs under, whatever `python3` on PATH is.
config.substitutions.append(("%python", sys.executable))
# mlir-runner's support libraries (test/Integration/CPU).
config.substitutions.append(("%mlir_runner_utils", os.path.join(os.path.dirname(config.llvm_tools_dir), "lib", "libmlir_runner_utils.so")))
config.substitutions.append(("%mlir_c_runner_utils", os.path.join(os.path.dirname(config.llvm_tools_dir), "lib", "libmlir_c_runner_utils.so")))

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()

# Tools come from the build (ds-*) and from LLVM (FileCheck, not, count).
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.ds_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["ds-opt", "ds-compile", "ds-run", "ds-translate"], [config.ds_tools_dir])

# The Python package as laid out by python/CMakeLists.txt.
config.environment["PYTHONPATH"] = os.path.join(config.ds_obj_root, "python")

# ASan+UBSan builds (DS_ENABLE_SANITIZERS): instrumented libraries cannot be
# loaded into an uninstrumented python3.
if config.ds_sanitizers:
    config.available_features.add("asan")

# GPU integration tests run only where a CUDA driver is present.
if shutil.which("nvidia-smi"):
    config.available_features.add("cuda")
# The runtime tests' stand-in libcuda: runs the CUDA runtime's control flow
# (uploads, launches, graph capture) with no GPU.
config.substitutions.append(
    ("%fake_libcuda", os.path.join(config.ds_obj_root, "runtime", "tests",
                                   "ds-runtime-test-fake-libcuda.so")))
# --target=cuda assembles kernels with the toolkit's ptxas and fatbinary.
cuda_toolkit = os.environ.get("DS_CUDA_TOOLKIT", "/usr/local/cuda")
if os.path.exists(os.path.join(cuda_toolkit, "bin", "ptxas")):
    config.available_features.add("cuda-toolkit")
