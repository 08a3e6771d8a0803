#!/usr/bin/env python3
"""ds-run --generate --eos on a compiled decoder.

    check_generate_eos.py DS_RUN ARTIFACT

Generates without --eos first, then picks stop tokens from what came out
(so that rows stop at different steps, one of them at its first token) and
checks that with --eos every row is its uncut output cut right after its
first stop token, that each prompt run alone gives the same row, that
seeded sampling is cut the same way, and that bad --eos values are
rejected before any work. Prints one line per check.
"""

import subprocess
import sys

PROMPTS = ["46,32,31", "40", "7,8,9,10,11", "3,1,4,1,5"]
NEW = 12


def generate(ds_run, artifact, prompts, *extra):
    cmd = [ds_run, artifact, "--generate", "--max-new-tokens", str(NEW)]
    for p in prompts:
        cmd += ["--prompt", p]
    r = subprocess.run(cmd + list(extra), capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"ds-run failed: {r.stderr.strip()}")
    return [[int(t) for t in line.split()] for line in r.stdout.splitlines()]


def cut(row, eos):
    for i, t in enumerate(row):
        if t in eos:
            return row[:i + 1]
    return row


def check(name, got, want):
    ok = got == want
    print(f"{'ok' if ok else 'FAIL'} {name}" +
          ("" if ok else f": got {got}, want {want}"))
    return ok


def main():
    ds_run, artifact = sys.argv[1:3]
    good = True
    full = generate(ds_run, artifact, PROMPTS)
    good &= check("uncut rows have max-new-tokens tokens",
                  [len(r) for r in full], [NEW] * len(PROMPTS))
    # Stop tokens: row 2's first token (it stops at once) and row 1's last
    # (it stops where that token first appears); given once as a repeated
    # flag and once comma-separated.
    eos = sorted({full[2][0], full[1][-1]})
    flags = ["--eos", str(eos[0])]
    if len(eos) > 1:
        flags += ["--eos=" + ",".join(str(t) for t in eos[1:])]
    want = [cut(r, eos) for r in full]
    got = generate(ds_run, artifact, PROMPTS, *flags)
    good &= check("every row cut after its first --eos token", got, want)
    print("row lengths with --eos:", [len(r) for r in got])
    good &= check("some row stopped early and some did not",
                  (min(len(r) for r in got) < NEW,
                   max(len(r) for r in got) == NEW), (True, True))
    alone = [generate(ds_run, artifact, [p], *flags)[0] for p in PROMPTS]
    good &= check("each prompt alone gives its row", alone, got)

    # Seeded sampling: a stop token taken from row 0's third sampled token.
    sample = ["--temperature", "1.0", "--top-k", "8", "--seed", "7"]
    free = generate(ds_run, artifact, PROMPTS, *sample)
    stop = {free[0][2]}
    got = generate(ds_run, artifact, PROMPTS, *sample, "--eos",
                   str(free[0][2]))
    good &= check("sampled rows cut after their first --eos token", got,
                  [cut(r, stop) for r in free])

    # Bad ids: one line on stderr, nothing generated.
    for args in (["--eos", "256"], ["--eos", "3,99999"], ["--eos", "-1"],
                 ["--eos", "1,,2"], ["--eos", "x"]):
        r = subprocess.run([ds_run, artifact, "--generate", "--prompt", "1",
                            *args], capture_output=True, text=True)
        print(f"rc={r.returncode} stdout={r.stdout!r} {r.stderr.strip()}")
    print("all ok" if good else "FAILED")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
