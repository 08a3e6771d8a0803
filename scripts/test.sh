#!/usr/bin/env bash
# Quick start, command 2: install what is missing, build, and run the whole
# test suite (lit regression tests and every GoogleTest binary, through lit).
# Ends with the line `N passed, N failed, N skipped`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh --target ds-test-depends

# The runtime must build on a machine with no LLVM/MLIR (the GPU machine):
# build it alone, with no prefix path that could lead to LLVM.
cmake -G Ninja -S runtime -B build-rt -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH= >/dev/null
cmake --build build-rt -j"${DS_JOBS:-2}"

status=0
/usr/lib/llvm-22/bin/lit -sv build/test --output build/lit-results.json || status=$?
python3 scripts/lit-summary.py build/lit-results.json
exit $status
