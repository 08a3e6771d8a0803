#!/usr/bin/env python3
"""Prints `N passed, N failed, N skipped` from a lit --output JSON file."""

import json
import sys

PASS = {"PASS", "XFAIL"}
SKIP = {"UNSUPPORTED", "SKIPPED", "EXCLUDED"}

with open(sys.argv[1]) as f:
    tests = json.load(f)["tests"]
passed = sum(t["code"] in PASS for t in tests)
skipped = sum(t["code"] in SKIP for t in tests)
failed = len(tests) - passed - skipped
print(f"{passed} passed, {failed} failed, {skipped} skipped")
