#!/usr/bin/env bash
# Installs every Debian package ds needs to build and test. Idempotent: it
# installs only what is missing, and runs `apt-get update` first when it
# has to install anything.
set -euo pipefail

PACKAGES=(
  # Build tools.
  cmake ninja-build ccache g++ python3
  # LLVM/MLIR 22: libraries, TableGen, FileCheck, lit, not.
  llvm-22-dev libmlir-22-dev mlir-22-tools llvm-22-tools
  # ONNX protobuf schema and C++ API; the ONNX node tests.
  libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
  # The artifact schema (FlatBuffers), JSON, GoogleTest.
  libflatbuffers-dev flatbuffers-compiler nlohmann-json3-dev libgtest-dev
  # Test-side Python (Debian's, so CI downloads nothing but apt): building
  # .onnx fixtures from text and comparing outputs.
  python3-onnx python3-numpy
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
