#!/usr/bin/env python3
"""CPU decode speed: ds's KV-cached decode against full recompute.

    python3 benchmarks/cpu_decode.py --ds-compile BIN --ds-run BIN \\
        --model test/Models/llama-dynamo/model.onnx [--work DIR]

1. Compiles MODEL with ds-compile (the artifact and its weights go to
   --work, a temporary folder by default).
2. Generates --new-tokens tokens (default 1032) after an --prompt-len
   token prompt (default 8) with `ds-run --generate --bench --bench-json`
   and a KV cache of --max-seq-len (default 1040), batch 1. Each decode
   step's time and cache position come from the bench JSON; the figure at
   position P is the median over the steps at positions P-w..P+w
   (--window w, default 4).
3. The peer, full recompute without a cache: `ds-run --entry forward
   --bench` on input ids [1, P] for each P; producing the token after P
   tokens costs one forward over all of them, so that time is its
   ms/token.

Prints a table `position | ds decode ms/token | full-recompute ms/token`
and one JSON line with every figure. Needs only the standard library.
"""

import argparse
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} failed ({p.returncode}):\n"
                 f"{p.stderr.strip()}")
    return p


def write_npy_i64(path, rows):
    """Writes a 2-D int64 array (list of equal-length lists) as .npy 1.0."""
    shape = f"({len(rows)}, {len(rows[0])}), "
    header = ("{'descr': '<i8', 'fortran_order': False, 'shape': " + shape
              + "}")
    # Pad so that the data starts at a multiple of 64 bytes.
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00")
        f.write(struct.pack("<H", len(header)))
        f.write(header.encode("latin1"))
        for row in rows:
            f.write(struct.pack(f"<{len(row)}q", *row))


def prompt_tokens(n, vocab):
    return [(7 * i + 3) % (vocab - 1) + 1 for i in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ds-compile", required=True)
    ap.add_argument("--ds-run", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--work", help="folder for the artifact and temporaries")
    ap.add_argument("--compile-arg", action="append", default=[],
                    help="extra ds-compile argument (repeatable)")
    ap.add_argument("--prompt-len", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=1032)
    ap.add_argument("--max-seq-len", type=int, default=1040)
    ap.add_argument("--positions", default="16,256,1024",
                    help="comma-separated cache positions to report")
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=256,
                    help="prompt token ids stay below this")
    ap.add_argument("--input-name", default="input_ids",
                    help="the token-id input of the forward entry point")
    ap.add_argument("--recompute-iters", type=int, default=5)
    args = ap.parse_args()
    positions = [int(p) for p in args.positions.split(",")]
    work = args.work or tempfile.mkdtemp(prefix="ds-cpu-decode-")
    os.makedirs(work, exist_ok=True)

    artifact = os.path.join(work, "model.dsa")
    run([args.ds_compile, args.model, "-o", artifact, *args.compile_arg])

    # ds: KV-cached generation.
    bench_json = os.path.join(work, "decode.json")
    prompt = prompt_tokens(args.prompt_len, args.vocab)
    p = run([args.ds_run, artifact, "--generate",
             "--prompt", ",".join(map(str, prompt)),
             "--max-new-tokens", str(args.new_tokens),
             "--max-seq-len", str(args.max_seq_len),
             "--bench", "--bench-json", bench_json])
    sys.stderr.write(p.stderr)
    with open(bench_json) as f:
        bench = json.load(f)
    steps = list(zip(bench["positions"], bench["decode_ms"]))
    decode = {}
    for pos in positions:
        window = [ms for at, ms in steps if abs(at - pos) <= args.window]
        decode[pos] = statistics.median(window) if window else None

    # Peer: full recompute of the forward entry point over pos tokens.
    recompute = {}
    for pos in positions:
        ids = os.path.join(work, f"ids_{pos}.npy")
        write_npy_i64(ids, [prompt_tokens(pos, args.vocab)])
        p = run([args.ds_run, artifact, "--entry", "forward",
                 "--input", f"{args.input_name}={ids}", "--bench",
                 "--bench-iters", str(args.recompute_iters)])
        m = re.search(r"bench: \S+: \d+ iterations, median ([0-9.]+) ms",
                      p.stderr)
        recompute[pos] = float(m.group(1)) if m else None

    def fmt(x):
        return f"{x:.3f}" if x is not None else "n/a"

    print(f"{'position':>8} | {'ds decode ms/token':>18} | "
          f"{'full-recompute ms/token':>23}")
    for pos in positions:
        print(f"{pos:>8} | {fmt(decode[pos]):>18} | "
              f"{fmt(recompute[pos]):>23}")
    print(json.dumps({
        "model": args.model, "prompt_len": args.prompt_len,
        "new_tokens": args.new_tokens, "max_seq_len": args.max_seq_len,
        "batch": bench.get("batch", 1), "ttft_ms": bench["ttft_ms"],
        "positions": positions,
        "ds_decode_ms": [decode[p] for p in positions],
        "recompute_ms": [recompute[p] for p in positions],
        "decode_ms_all": bench["decode_ms"],
        "decode_positions_all": bench["positions"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
