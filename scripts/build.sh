#!/usr/bin/env bash
# Configures and builds ds into ${DS_BUILD_DIR:-build} with ccache and -j2
# (the CI machine has 2 cores). Extra arguments go to `cmake --build`
# (e.g. `--target ds-opt`).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${DS_BUILD_DIR:-build}
JOBS=${DS_JOBS:-2}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -G Ninja -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    ${DS_CMAKE_ARGS:-}
fi
cmake --build "$BUILD_DIR" -j"$JOBS" "$@"
