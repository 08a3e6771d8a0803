#!/usr/bin/env python3
"""GPU decode benchmark: ds against PyTorch eager and a CUDA-graph
torch.compile decoder, in one process on one GPU.

    python3 benchmarks/gpu_decode.py --work .carry/bench [--out FILE.json]

WORK/<model>/ holds what was made off the GPU machine (docs/Benchmarks.md):
meta.json (from make_bench_models.py export: config, seed, external-data
layout and checksums), model.dsa + model.weights (ds-compile --target=cuda
--kv-cache=on of that export) and stats.json (ds-compile --print-stats).
WORK/ds-run is the runtime driver. For each model (gpt2, llama):

 1. The weights are rebuilt from the seed (make_bench_models.regenerate)
    and written to WORK/<model>/<data_file>, where the artifact's external
    weights point (relative to the artifact's folder; ds-run --weights
    would replace only the artifact's own default weights file, which
    holds the small embedded initializers). Both checksums of the export
    (data file and all parameters) are compared; the same in-memory model
    then serves the PyTorch peers, so all three run on the same bytes.
 2. ds: `ds-run model.dsa --generate --prompt P --batch B --max-new-tokens N
    --bench --bench-json F` per batch size; kernels per step from stats.json
    (decode_kernels: the launches of one @decode call).
 3. PyTorch eager: the HF model with its DynamicCache, greedy, a prefill
    with logits_to_keep=1 then one forward per token (what generate() does,
    without its stopping checks), after a warm-up run of the same length
    (its SDPA builds a cuDNN plan per new KV length: a cold run is ~25 ms a
    step slower; the warm-up's figures are kept as "first_run").
 4. PyTorch compiled: a transformers StaticCache, prefill eager (as
    generate() does), each decode step through torch.compile(model.forward,
    mode="reduce-overhead", fullgraph=True) (CUDA graphs), after a warm-up
    run that compiles and records the graphs.
 5. Prefill 512: time to first token of a 512-token prompt, batch 1, for
    each engine (ds also: the warm median of `ds-run --entry forward
    --bench` over the same 512 tokens, since each ds-run process is a
    fresh one and its generate's prefill is that process's first call).
 6. Logits check: the logits of ds's forward over the 512-token prompt
    (written by step 5) and of the torch bf16 model, against a torch fp32
    forward of the same weights (relative L2 error, argmax agreement).

Timing: every step ends with the next token on the host side of a
synchronisation (ds samples on the host; the torch loops synchronise after
the argmax), wall clock per step; ms/step is the median over the decode
steps, decode tokens/s = batch * steps / total decode time. Kernels per
step for torch: torch.profiler's CUDA kernel records over a few decode
steps (argmax included; for the CUDA-graph peer, the kernels replayed
inside the graph, as CUPTI reports them, and the graph launches
separately). Roofline: weight bytes per step (every parameter once, at its
dtype) / the device-to-device copy bandwidth measured at the start (bytes
read + written), over the measured ms/step.

Writes the JSON after every measurement (a killed run keeps what it had)
and prints the table last. --deadline S skips what would start after S
seconds; ds runs are capped by --ds-timeout and, when a probe says a full
run would not fit --ds-budget seconds, run fewer new tokens (recorded).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import traceback

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_bench_models as mbm  # noqa: E402

T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


def prompt_tokens(n, vocab):
    return [(7 * i + 3) % (vocab - 1) + 1 for i in range(n)]


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def summarize(ttft_ms, decode_ms, batch):
    steps = len(decode_ms)
    total = sum(decode_ms)
    return {"ttft_ms": ttft_ms, "steps": steps,
            "ms_per_step": statistics.median(decode_ms) if steps else None,
            "ms_per_step_mean": total / steps if steps else None,
            "ms_per_step_p90": (sorted(decode_ms)[int(0.9 * (steps - 1))]
                                if steps else None),
            "tokens_per_s": batch * steps * 1000.0 / total if total else None}


# ---------------------------------------------------------------- bandwidth

def copy_bandwidth(device, nbytes=2 << 30, iters=20):
    """Device-to-device copy, bytes read + written per second (median)."""
    src = torch.randint(0, 255, (nbytes,), dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    times = []
    for _ in range(iters):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        dst.copy_(src)
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) / 1e3)
    ok = bool(torch.equal(src[:1 << 20], dst[:1 << 20]))
    del src, dst
    torch.cuda.empty_cache()
    t = statistics.median(times)
    return {"bytes_per_s": 2 * nbytes / t, "buffer_bytes": nbytes,
            "median_s": t, "min_s": min(times), "copy_checked": ok}


# ----------------------------------------------------------------------- ds

def run_ds(ds_run, artifact, prompt, batch, new_tokens, timeout, workdir,
           tag):
    bench = os.path.join(workdir, f"ds_{tag}.json")
    if os.path.exists(bench):
        os.remove(bench)
    cmd = [ds_run, artifact, "--generate", "--prompt",
           ",".join(map(str, prompt)), "--batch", str(batch),
           "--max-new-tokens", str(new_tokens), "--bench", "--bench-json",
           bench]
    t0 = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return {"error": f"timed out after {timeout} s",
                "stderr": (e.stderr or b"")[-2000:].decode(errors="replace")
                if isinstance(e.stderr, bytes) else str(e.stderr)[-2000:]}
    wall = time.time() - t0
    if p.returncode != 0:
        return {"error": f"ds-run exit {p.returncode}",
                "stderr": p.stderr[-3000:], "wall_s": wall}
    with open(bench) as f:
        b = json.load(f)
    rows = [[int(t) for t in line.split()]
            for line in p.stdout.strip().splitlines()]
    r = summarize(b["ttft_ms"], b["decode_ms"], batch)
    r.update(new_tokens=new_tokens, wall_s=wall, tokens=rows[0] if rows
             else [], stderr_tail=p.stderr.strip().splitlines()[-2:])
    return r


def run_ds_forward(ds_run, artifact, prompt, iters, timeout, workdir):
    """Warm forward time over `prompt` (batch 1); writes the logits of the
    last call to WORKDIR/forward/ for the logits check."""
    ids = os.path.join(workdir, f"ids_{len(prompt)}.npy")
    np.save(ids, np.array([prompt], dtype=np.int64))
    cmd = [ds_run, artifact, "--entry", "forward", "--input",
           f"input_ids={ids}", "--bench", "--bench-iters", str(iters),
           "--output-dir", os.path.join(workdir, "forward")]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    if p.returncode != 0:
        return {"error": f"ds-run exit {p.returncode}",
                "stderr": p.stderr[-3000:]}
    for line in p.stderr.splitlines():
        if line.startswith("bench: forward:"):
            ms = float(line.split("median ")[1].split(" ms")[0])
            return {"forward_ms_median": ms, "line": line}
    return {"error": "no bench line", "stderr": p.stderr[-2000:]}


# -------------------------------------------------------------------- torch

def kernel_counts(prof, steps):
    """CUDA kernels (device records) and launch calls per step."""
    kernels = memops = 0
    launches = {}
    for e in prof.events():
        name = e.name
        if e.device_type == torch.autograd.DeviceType.CUDA:
            if name.startswith("Memcpy") or name.startswith("Memset"):
                memops += 1
            else:
                kernels += 1
        elif name in ("cudaLaunchKernel", "cuLaunchKernel",
                      "cuLaunchKernelEx", "cudaLaunchKernelExC",
                      "cudaGraphLaunch", "cudaMemcpyAsync",
                      "cudaMemsetAsync"):
            launches[name] = launches.get(name, 0) + 1
    return {"kernels_per_step": kernels / steps,
            "memops_per_step": memops / steps,
            "api_calls_per_step": {k: v / steps for k, v in launches.items()}}


def profile_steps(step, n):
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU]
    if torch.cuda.is_available():
        acts.append(ProfilerActivity.CUDA)
    with profile(activities=acts) as prof:
        for _ in range(n):
            step()
        sync()
    return kernel_counts(prof, n)


class EagerEngine:
    """HF model, DynamicCache, greedy, one forward per token."""
    name = "torch-eager"

    def __init__(self, model):
        self.model = model

    def prefill(self, ids):
        out = self.model(input_ids=ids, use_cache=True, logits_to_keep=1)
        self.cache = out.past_key_values
        return out.logits[:, -1].argmax(-1)

    def step(self, tok):
        out = self.model(input_ids=tok[:, None], past_key_values=self.cache,
                         use_cache=True)
        return out.logits[:, -1].argmax(-1)


class CompiledEngine:
    """StaticCache; eager prefill; decode through torch.compile
    (mode="reduce-overhead": CUDA graphs)."""
    name = "torch-compiled"

    def __init__(self, model, max_cache_len):
        from transformers import StaticCache
        self.model = model
        self.max_cache_len = max_cache_len
        self.caches = {}
        self.StaticCache = StaticCache
        self.fn = torch.compile(model.forward, mode="reduce-overhead",
                                fullgraph=True)

    def prefill(self, ids):
        b, n = ids.shape
        cache = self.caches.get(b)
        if cache is None:
            cache = self.StaticCache(config=self.model.config,
                                     max_cache_len=self.max_cache_len)
            self.caches[b] = cache
        else:
            cache.reset()
        self.cache = cache
        self.pos = n
        out = self.model(input_ids=ids, past_key_values=cache,
                         cache_position=torch.arange(n, device=ids.device),
                         use_cache=True, logits_to_keep=1)
        return out.logits[:, -1].argmax(-1)

    def step(self, tok):
        cp = torch.full((1,), self.pos, dtype=torch.long, device=tok.device)
        if hasattr(torch.compiler, "cudagraph_mark_step_begin"):
            torch.compiler.cudagraph_mark_step_begin()
        out = self.fn(input_ids=tok[:, None].clone(),
                      past_key_values=self.cache, cache_position=cp,
                      use_cache=True)
        self.pos += 1
        return out.logits[:, -1].argmax(-1).clone()


@torch.no_grad()
def torch_generate(engine, ids, new_tokens):
    sync()
    t0 = time.perf_counter()
    tok = engine.prefill(ids)
    sync()
    ttft = (time.perf_counter() - t0) * 1e3
    toks = [tok]
    decode = []
    for _ in range(new_tokens - 1):
        t0 = time.perf_counter()
        tok = engine.step(tok)
        sync()
        decode.append((time.perf_counter() - t0) * 1e3)
        toks.append(tok)
    rows = torch.stack(toks, 1).cpu().tolist()
    return ttft, decode, rows


@torch.no_grad()
def torch_bench(engine, ids, new_tokens, warm_tokens, profile_n):
    # Warm-up: a whole generation of the same shape by default. It compiles
    # and records the CUDA graphs of the compiled peer, and it matters for
    # eager too: its SDPA (cuDNN attention on Hopper with torch 2.11) builds
    # an execution plan for every new KV length, ~25 ms per step the first
    # time a length is seen. The warm-up's own figures are kept as
    # "first_run".
    t0 = time.time()
    wt, wd, _ = torch_generate(engine, ids, warm_tokens)
    warm_s = time.time() - t0
    ttft, decode, rows = torch_generate(engine, ids, new_tokens)
    r = summarize(ttft, decode, ids.shape[0])
    r.update(new_tokens=new_tokens, warmup_s=warm_s, tokens=rows[0],
             first_run=summarize(wt, wd, ids.shape[0]))
    if profile_n:
        tok = engine.prefill(ids)
        for _ in range(2):
            tok = engine.step(tok)
        state = {"tok": tok}

        def step():
            state["tok"] = engine.step(state["tok"])
        r.update(profile_steps(step, profile_n))
    return r


@torch.no_grad()
def torch_prefill_ttft(engine, ids, reps=3):
    engine.prefill(ids)
    sync()
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        engine.prefill(ids)
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return {"ttft_ms": statistics.median(times), "reps": reps}


def load_logits(path):
    """A ds-run output .npy as float32 (bf16 comes as <u2 bit patterns)."""
    a = np.load(path)
    if a.dtype == np.uint16:
        a = (a.astype(np.uint32) << 16).view(np.float32)
    return torch.from_numpy(a.astype(np.float32))


@torch.no_grad()
def logits_check(model, prompt, ds_path, dev):
    """ds's and torch's bf16 forward logits against the same weights in
    fp32 (torch, no TF32): relative L2 error, max |diff| and how often the
    argmax agrees, over every position of `prompt`."""
    import copy
    ids = torch.tensor([prompt], device=dev)
    ref_model = copy.deepcopy(model).float()
    ref = ref_model(input_ids=ids, use_cache=False).logits.float()
    del ref_model
    if dev.type == "cuda":
        torch.cuda.empty_cache()
    out = {"positions": len(prompt), "reference": "torch fp32 forward of "
           "the same (bf16-valued) weights"}

    def cmp(x):
        d = x - ref
        return {"rel_l2": float(d.norm() / ref.norm()),
                "max_abs_diff": float(d.abs().max()),
                "ref_max_abs": float(ref.abs().max()),
                "argmax_agree": float((x.argmax(-1) == ref.argmax(-1))
                                      .float().mean())}
    out["torch"] = cmp(model(input_ids=ids, use_cache=False)
                            .logits.float())
    if ds_path and os.path.exists(ds_path):
        ds = load_logits(ds_path).to(dev)
        if tuple(ds.shape) == tuple(ref.shape):
            out["ds"] = cmp(ds)
            out["ds"]["finite"] = bool(torch.isfinite(ds).all())
        else:
            out["ds"] = {"error": f"shape {tuple(ds.shape)}, want "
                         f"{tuple(ref.shape)}"}
    return out


def agree(a, b):
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


# --------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True)
    ap.add_argument("--ds-run", help="default WORK/ds-run")
    ap.add_argument("--out", default=None, help="JSON (default "
                    "$OUT/gpu_decode.json or WORK/gpu_decode.json)")
    ap.add_argument("--models", default="gpt2,llama")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--engines", default="ds,eager,compiled")
    ap.add_argument("--prompt-len", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--prefill-len", type=int, default=512)
    ap.add_argument("--warm-tokens", type=int, default=None,
                    help="new tokens of the torch warm-up run (default "
                    "--new-tokens)")
    ap.add_argument("--profile-steps", type=int, default=4)
    ap.add_argument("--ds-timeout", type=float, default=150)
    ap.add_argument("--ds-budget", type=float, default=60,
                    help="seconds one ds generate run may take")
    ap.add_argument("--deadline", type=float, default=1e9,
                    help="skip measurements that would start after this "
                    "many seconds")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    dev = torch.device(args.device)
    ds_run = os.path.abspath(args.ds_run or os.path.join(args.work, "ds-run"))
    out_path = args.out or os.path.join(os.environ.get("OUT", args.work),
                                        "gpu_decode.json")
    engines = args.engines.split(",")
    if args.warm_tokens is None:
        args.warm_tokens = args.new_tokens
    batches = [int(b) for b in args.batches.split(",")]

    res = {"settings": vars(args), "env": {
        "torch": torch.__version__,
        "transformers": __import__("transformers").__version__,
        "device": (torch.cuda.get_device_name(dev) if dev.type == "cuda"
                   else "cpu")}, "models": {}, "errors": []}

    def save():
        with open(out_path, "w") as f:
            json.dump(res, f, indent=1)

    def late(what):
        if time.time() - T0 > args.deadline:
            log(f"skipped (deadline): {what}")
            res["errors"].append(f"skipped (deadline): {what}")
            return True
        return False

    if dev.type == "cuda":
        res["copy_bandwidth"] = copy_bandwidth(dev)
        bw = res["copy_bandwidth"]["bytes_per_s"]
        log(f"copy bandwidth {bw / 1e12:.3f} TB/s (read + write)")
    else:
        bw = None
    save()

    for name in args.models.split(","):
        folder = os.path.join(args.work, name)
        with open(os.path.join(folder, "meta.json")) as f:
            meta = json.load(f)
        stats = {}
        sp = os.path.join(folder, "stats.json")
        if os.path.exists(sp):
            with open(sp) as f:
                stats = json.load(f)
        m = res["models"][name] = {
            "n_params": meta["n_params"], "param_bytes": meta["param_bytes"],
            "dtype": meta["dtype"], "ds_stats": stats, "runs": {},
            "prefill": {}}
        vocab = meta["config"]["vocab_size"]
        prompt = prompt_tokens(args.prompt_len, vocab)
        long_prompt = prompt_tokens(args.prefill_len, vocab)

        t0 = time.time()
        data_path = os.path.join(folder, meta["data_file"])
        model, check = mbm.regenerate(meta, data_path)
        check["seconds"] = time.time() - t0
        m["weights"] = check
        log(f"{name}: weights rebuilt in {check['seconds']:.1f} s; data "
            f"sha256 {'matches' if check['data_sha256_matches'] else 'DIFFERS'}"
            f", parameters sha256 "
            f"{'matches' if check['params_sha256_matches'] else 'DIFFERS'}")
        save()

        # ---- ds (separate processes; the torch model is still on the CPU)
        artifact = os.path.join(folder, "model.dsa")
        if "ds" in engines and not late(f"{name} ds"):
            n_ds = args.new_tokens
            probe = run_ds(ds_run, artifact, prompt, max(batches), 4,
                           args.ds_timeout, folder, "probe")
            m["ds_probe"] = probe
            if "error" in probe:
                log(f"{name} ds probe failed: {probe['error']} "
                    f"{probe.get('stderr', '')[-500:]}")
            else:
                per_step = probe["ms_per_step"] or 0
                fit = int((args.ds_budget * 1e3 - probe["ttft_ms"]) /
                          max(per_step, 1e-3)) + 1
                n_ds = max(2, min(args.new_tokens, fit))
                log(f"{name} ds probe (batch {max(batches)}): ttft "
                    f"{probe['ttft_ms']:.1f} ms, {per_step:.2f} ms/step, "
                    f"process {probe['wall_s']:.1f} s -> {n_ds} new tokens")
                for b in batches:
                    if late(f"{name} ds batch {b}"):
                        break
                    r = run_ds(ds_run, artifact, prompt, b, n_ds,
                               args.ds_timeout, folder, f"b{b}")
                    r["kernels_per_step"] = stats.get(
                        "decode_kernels", stats.get("kernels"))
                    r["kernels_source"] = ("ds-compile --print-stats "
                                           "decode_kernels" if
                                           "decode_kernels" in stats else
                                           "ds-compile --print-stats kernels")
                    r["weight_bytes"] = stats.get("weight_bytes",
                                                  meta["param_bytes"])
                    m["runs"][f"ds/b{b}"] = r
                    log(f"{name} ds batch {b}: " + (r.get("error") or
                        f"ttft {r['ttft_ms']:.1f} ms, {r['ms_per_step']:.3f}"
                        f" ms/step, {r['tokens_per_s']:.1f} tok/s"))
                    save()
                if not late(f"{name} ds prefill {args.prefill_len}"):
                    r = run_ds(ds_run, artifact, long_prompt, 1, 1,
                               args.ds_timeout, folder, "p512")
                    r.update(run_ds_forward(ds_run, artifact, long_prompt, 3,
                                            args.ds_timeout, folder))
                    m["prefill"]["ds"] = r
                    log(f"{name} ds prefill {args.prefill_len}: {r}")
                    save()

        # ---- PyTorch
        model = model.to(dev)
        if not late(f"{name} logits check"):
            try:
                m["logits_check"] = logits_check(
                    model, long_prompt,
                    os.path.join(folder, "forward", "logits.npy"), dev)
            except Exception as e:
                m["logits_check"] = {"error": repr(e)[:1000]}
            log(f"{name} logits check: {m['logits_check']}")
            save()
        tengines = []
        if "eager" in engines:
            tengines.append(EagerEngine(model))
        if "compiled" in engines:
            tengines.append(CompiledEngine(
                model, max(args.prompt_len + args.new_tokens,
                           args.prefill_len + 1)))
        for eng in tengines:
            for b in batches:
                key = f"{eng.name}/b{b}"
                if late(f"{name} {key}"):
                    continue
                ids = torch.tensor([prompt] * b, device=dev)
                try:
                    r = torch_bench(eng, ids, args.new_tokens,
                                    args.warm_tokens, args.profile_steps)
                except Exception as e:  # record and go on
                    r = {"error": repr(e)[:1000],
                         "trace": traceback.format_exc()[-3000:]}
                r["weight_bytes"] = meta["param_bytes"]
                m["runs"][key] = r
                log(f"{name} {key}: " + (r.get("error") or
                    f"ttft {r['ttft_ms']:.1f} ms, {r['ms_per_step']:.3f} "
                    f"ms/step, {r['tokens_per_s']:.1f} tok/s, "
                    f"{r.get('kernels_per_step')} kernels/step, warm-up "
                    f"{r['warmup_s']:.1f} s"))
                save()
            if not late(f"{name} {eng.name} prefill"):
                ids = torch.tensor([long_prompt], device=dev)
                try:
                    m["prefill"][eng.name] = torch_prefill_ttft(eng, ids)
                except Exception as e:
                    m["prefill"][eng.name] = {"error": repr(e)[:1000]}
                log(f"{name} {eng.name} prefill {args.prefill_len}: "
                    f"{m['prefill'][eng.name]}")
                save()

        # Agreement of greedy tokens with eager (first row).
        for b in batches:
            ref = m["runs"].get(f"torch-eager/b{b}", {}).get("tokens")
            for eng in ("ds", "torch-compiled"):
                r = m["runs"].get(f"{eng}/b{b}")
                if ref and r and r.get("tokens"):
                    r["tokens_agree_with_eager"] = agree(r["tokens"], ref)
        # Roofline shares.
        for key, r in m["runs"].items():
            if bw and r.get("ms_per_step"):
                roof_ms = r["weight_bytes"] / bw * 1e3
                r["roofline_ms"] = roof_ms
                r["roofline_share"] = roof_ms / r["ms_per_step"]
        save()
        del model, tengines
        torch.cuda.empty_cache() if dev.type == "cuda" else None

    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print_table(res)
    print(buf.getvalue(), end="", flush=True)
    res["table"] = buf.getvalue()
    with open(os.path.splitext(out_path)[0] + "_table.txt", "w") as f:
        f.write(buf.getvalue())
    save()
    log(f"wrote {out_path}")
    return 0


def print_table(res):
    def f(x, fmt):
        return format(x, fmt) if isinstance(x, (int, float)) else "n/a"
    bw = res.get("copy_bandwidth", {}).get("bytes_per_s")
    print()
    print(f"device: {res['env']['device']}; torch {res['env']['torch']}, "
          f"transformers {res['env']['transformers']}; copy bandwidth "
          f"{f(bw and bw / 1e12, '.3f')} TB/s (read + write)")
    s = res["settings"]
    print(f"prompt {s['prompt_len']}, {s['new_tokens']} new tokens (greedy); "
          f"TTFT512 = time to first token of a {s['prefill_len']}-token "
          "prompt, batch 1")
    hdr = (f"{'model':<6} {'B':>3} {'engine':<15} {'tok/s':>9} "
           f"{'ms/step':>9} {'TTFT ms':>9} {'TTFT512':>9} {'kern/step':>9} "
           f"{'roofline':>8} {'agree':>6} {'new':>4}")
    print(hdr)
    print("-" * len(hdr))
    for name, m in res["models"].items():
        for key, r in m["runs"].items():
            eng, b = key.rsplit("/b", 1)
            pre = m["prefill"].get(eng, {})
            if "error" in r:
                print(f"{name:<6} {b:>3} {eng:<15} ERROR: {r['error'][:80]}")
                continue
            ttft512 = pre.get("ttft_ms") if b == "1" else None
            print(f"{name:<6} {b:>3} {eng:<15} "
                  f"{f(r.get('tokens_per_s'), '9.1f')} "
                  f"{f(r.get('ms_per_step'), '9.3f')} "
                  f"{f(r.get('ttft_ms'), '9.1f')} "
                  f"{f(ttft512, '9.1f') if b == '1' else '':>9} "
                  f"{f(r.get('kernels_per_step'), '9.1f')} "
                  f"{f(r.get('roofline_share') and 100 * r['roofline_share'], '7.1f')}% "
                  f"{f(r.get('tokens_agree_with_eager'), 'd') if 'tokens_agree_with_eager' in r else '':>6} "
                  f"{r.get('new_tokens', ''):>4}")
        for key, r in m["runs"].items():
            fr = r.get("first_run")
            if fr and fr.get("ms_per_step"):
                print(f"{name:<6} {key}: its warm-up run (the first at this "
                      f"shape): {fr['ms_per_step']:.3f} ms/step, TTFT "
                      f"{fr['ttft_ms']:.1f} ms")
        ds_pre = m["prefill"].get("ds", {})
        if "forward_ms_median" in ds_pre:
            print(f"{name:<6}   1 ds              prefill {s['prefill_len']}: "
                  f"warm forward {ds_pre['forward_ms_median']:.1f} ms "
                  "(ds-run --entry forward --bench, median of 3)")
        lc = m.get("logits_check", {})
        for eng in ("ds", "torch"):
            c = lc.get(eng)
            if c and "rel_l2" in c:
                print(f"{name:<6} logits check, {eng} vs torch fp32 over "
                      f"{lc['positions']} positions: rel L2 {c['rel_l2']:.2e},"
                      f" max|diff| {c['max_abs_diff']:.3g} (max|ref| "
                      f"{c['ref_max_abs']:.3g}), argmax agrees "
                      f"{100 * c['argmax_agree']:.1f}%")
            elif c:
                print(f"{name:<6} logits check, {eng}: {c}")
        w = m.get("weights", {})
        print(f"{name:<6} weights: {m['n_params'] / 1e6:.1f} M parameters, "
              f"{m['param_bytes'] / 1e9:.3f} GB {m['dtype']}; data sha256 "
              f"{'matches' if w.get('data_sha256_matches') else 'DIFFERS'}, "
              f"parameters sha256 "
              f"{'match' if w.get('params_sha256_matches') else 'DIFFER'}; "
              f"ds stats {json.dumps(m['ds_stats'])}")
    print("kern/step: ds = ds-compile --print-stats decode_kernels (launches "
          "of one @decode call); torch = CUDA kernels torch.profiler records "
          "per decode step (argmax included; compiled = kernels replayed "
          "inside its CUDA graph). roofline = (weight bytes / copy "
          "bandwidth) / ms/step. agree = leading greedy tokens equal to "
          "eager's (row 0). new = new tokens generated.")
    for e in res["errors"]:
        print("note:", e)


if __name__ == "__main__":
    sys.exit(main())
