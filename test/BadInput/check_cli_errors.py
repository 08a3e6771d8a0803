#!/usr/bin/env python3
"""Every malformed input gets one clear error line and a non-zero exit.

    check_cli_errors.py DS_COMPILE DS_RUN CORPUS_DIR GOOD_MODEL WORK_DIR \
        [ENCODER_MODEL]

Runs ds-compile on every .onnx under CORPUS_DIR (the importer's error
corpus), then ds-run on bad inputs for a good compiled model: a .npy of the
wrong dtype, of the wrong rank, a truncated one, a truncated artifact and
an artifact with a flipped byte, and bad generation flags (--generate on
artifacts without prefill/decode entry points: the good model and, when
given, ENCODER_MODEL, a model that is no decoder). Each must exit with status 1 (not a
signal, not an abort), print exactly one line on stderr starting with
`error: `, and nothing on stdout. Prints one line per case and a summary.
"""

import glob
import os
import subprocess
import sys

import numpy as np


def check(name, cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    problems = []
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines")
    if not lines or not lines[0].startswith("error: "):
        problems.append("no 'error: ' line")
    if p.stdout.strip():
        problems.append("output on stdout")
    msg = lines[0] if lines else ""
    print(f"{'ok' if not problems else 'BAD'} {name}: {msg[:160]}"
          + (f" [{', '.join(problems)}]" if problems else ""))
    return not problems


def main():
    ds_compile, ds_run, corpus, good, work = sys.argv[1:6]
    encoder = sys.argv[6] if len(sys.argv) > 6 else None
    os.makedirs(work, exist_ok=True)
    ok = total = 0
    # Flags some corpus models need to be wrong (errors.test passes the
    # same ones).
    flags = {"pin.onnx": ["--shape", "q=2"]}
    for model in sorted(glob.glob(os.path.join(corpus, "*.onnx"))):
        total += 1
        name = os.path.basename(model)
        ok += check(name, [ds_compile, model, "-o",
                           os.path.join(work, "x.dsa"), *flags.get(name, [])])
    # Bad flags are bad input too.
    out = ["-o", os.path.join(work, "x.dsa")]
    for name, args in [("bad --shape", [*out, "--shape", "x=2xq"]),
                       ("bad --compile-to", [*out, "--compile-to=nowhere"]),
                       ("bad --target", [*out, "--target=tpu"]),
                       ("bad --cuda-arch", [*out, "--target=cuda",
                                            "--cuda-arch=sm_70"]),
                       ("fp16 not yet", [*out, "--precision=fp16"]),
                       ("bad --kv-cache", [*out, "--kv-cache=maybe"]),
                       ("kv-cache on a non-decoder", [*out, "--kv-cache=on"]),
                       ("no -o", [])]:
        total += 1
        ok += check(f"ds-compile {name}", [ds_compile, good, *args])

    # ds-run on a good artifact with bad inputs. The good model takes one
    # f32 input `x` of shape [N, 4].
    artifact = os.path.join(work, "good.dsa")
    subprocess.run([ds_compile, good, "-o", artifact], check=True)
    cases = {}
    np.save(os.path.join(work, "i64.npy"), np.zeros((2, 4), np.int64))
    cases["wrong dtype"] = ["--input", f"x={work}/i64.npy"]
    np.save(os.path.join(work, "rank3.npy"), np.zeros((1, 2, 4), np.float32))
    cases["wrong rank"] = ["--input", f"x={work}/rank3.npy"]
    np.save(os.path.join(work, "dim.npy"), np.zeros((2, 5), np.float32))
    cases["wrong static dim"] = ["--input", f"x={work}/dim.npy"]
    np.save(os.path.join(work, "ok.npy"), np.zeros((2, 4), np.float32))
    with open(os.path.join(work, "ok.npy"), "rb") as f:
        data = f.read()
    with open(os.path.join(work, "trunc.npy"), "wb") as f:
        f.write(data[:-5])
    cases["truncated npy"] = ["--input", f"x={work}/trunc.npy"]
    cases["missing input"] = []
    cases["unknown input"] = ["--input", f"x={work}/ok.npy",
                              "--input", f"y={work}/ok.npy"]
    for name, args in cases.items():
        total += 1
        ok += check(f"ds-run {name}", [ds_run, artifact, *args])

    with open(artifact, "rb") as f:
        blob = f.read()
    for name, mutated in [("truncated artifact", blob[: len(blob) // 2]),
                          ("flipped byte", blob[:100] + bytes([blob[100] ^ 1])
                           + blob[101:]),
                          ("empty artifact", b"")]:
        path = os.path.join(work, "bad.dsa")
        with open(path, "wb") as f:
            f.write(mutated)
        total += 1
        ok += check(f"ds-run {name}",
                    [ds_run, path, "--input", f"x={work}/ok.npy"])

    # Generation flags: bad values are rejected before the artifact is
    # used; valid ones reach "no prefill/decode entry points".
    gen = ["--generate"]
    for name, args in [
            ("generate no prompt", gen),
            ("prompt without generate", ["--prompt", "1,2"]),
            ("negative token", [*gen, "--prompt", "1,-2"]),
            ("non-numeric token", [*gen, "--prompt", "1,x"]),
            ("empty token", [*gen, "--prompt", "1,,2"]),
            ("max-new-tokens 0", [*gen, "--prompt", "1", "--max-new-tokens",
                                  "0"]),
            ("max-new-tokens negative", [*gen, "--prompt", "1",
                                         "--max-new-tokens", "-5"]),
            ("max-new-tokens text", [*gen, "--prompt", "1",
                                     "--max-new-tokens", "many"]),
            ("top-p above 1", [*gen, "--prompt", "1", "--top-p", "1.5"]),
            ("top-p 0", [*gen, "--prompt", "1", "--top-p", "0"]),
            ("negative temperature", [*gen, "--prompt", "1",
                                      "--temperature", "-1"]),
            ("negative top-k", [*gen, "--prompt", "1", "--top-k", "-2"]),
            ("bad seed", [*gen, "--prompt", "1", "--seed", "x"]),
            ("batch with prompts", [*gen, "--prompt", "1", "--prompt", "2",
                                    "--batch", "2"]),
            ("eos without generate", ["--eos", "2"]),
            ("negative eos", [*gen, "--prompt", "1", "--eos", "-2"]),
            ("eos list with a gap", [*gen, "--prompt", "1", "--eos", "2,"]),
            ("generate with input", [*gen, "--prompt", "1", "--input",
                                     f"x={work}/ok.npy"]),
            ("generate no kv cache", [*gen, "--prompt", "1,2,3",
                                      "--max-new-tokens", "4"])]:
        total += 1
        ok += check(f"ds-run {name}", [ds_run, artifact, *args])
    if encoder:
        encoder_artifact = os.path.join(work, "encoder.dsa")
        subprocess.run([ds_compile, encoder, "-o", encoder_artifact],
                       check=True)
        total += 1
        ok += check("ds-run generate encoder",
                    [ds_run, encoder_artifact, "--generate", "--prompt",
                     "101,2023,102", "--max-new-tokens", "4"])
    print(f"{ok} of {total} bad inputs rejected cleanly")
    return 0 if ok == total else 1


if __name__ == "__main__":
    sys.exit(main())
