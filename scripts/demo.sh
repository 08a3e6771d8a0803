#!/usr/bin/env bash
# Quick start, command 1: install what is missing, build, and run the main
# job on the built-in default model.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh --target ds-opt

# The importer does not exist yet: the built-in model is a GPT-2 style
# decoder block written in the ds dialect. ds-opt parses and verifies it,
# canonicalizes it and prints it back.
build/bin/ds-opt examples/gpt2-block.mlir --canonicalize --cse
