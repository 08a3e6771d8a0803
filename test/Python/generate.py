"""Session.generate with end-of-sequence ids through the Python package, on
the gpt2-torchscript decoder: rows stop right after their first stop token,
the others are not disturbed, generation ends once every row stopped, and
bad ids are DSError before any work."""

import os
import sys

import numpy as np

import ds

fixture, work = sys.argv[1:3]
os.makedirs(work, exist_ok=True)
artifact = ds.compile_model(os.path.join(fixture, "model.onnx"),
                            os.path.join(work, "gpt2.dsa"))

prompts = [[46, 32, 31], [40], [7, 8, 9, 10, 11]]
NEW = 10


def cut(row, eos):
    for i, t in enumerate(row):
        if t in eos:
            return row[:i + 1]
    return row


def report(name, ok):
    print(("ok " if ok else "FAIL ") + name)


with ds.Session(artifact) as s:
    full = s.generate(prompts, max_new_tokens=NEW)
    report("uncut", [len(r) for r in full] == [NEW] * len(prompts))
    eos = [full[1][-1], full[2][0]]
    got = s.generate(prompts, max_new_tokens=NEW, eos_token_ids=eos)
    report("cut after the first stop token",
           got == [cut(r, eos) for r in full])
    print("lengths", [len(r) for r in got])
    alone = [s.generate([p], max_new_tokens=NEW, eos_token_ids=eos)[0]
             for p in prompts]
    report("each prompt alone gives its row", alone == got)
    # One id, or a numpy array of them.
    one = s.generate([prompts[2]], max_new_tokens=NEW,
                     eos_token_ids=full[2][0])
    report("a single id", one == [[full[2][0]]])
    report("no decode step once every row stopped",
           s.last_generation_timing["decode_ms"] == [])
    arr = s.generate(prompts, max_new_tokens=NEW,
                     eos_token_ids=np.array(eos, dtype=np.int64))
    report("a numpy array", arr == got)
    report("an empty list changes nothing",
           s.generate(prompts, max_new_tokens=NEW, eos_token_ids=[]) == full)
    for bad in (256, [3, -1], "x", [1.5], True):
        try:
            s.generate(prompts, max_new_tokens=NEW, eos_token_ids=bad)
            print(f"bad eos {bad!r}: accepted")
        except ds.DSError as e:
            print(f"bad eos {bad!r}: {e}")
