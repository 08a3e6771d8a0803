#!/usr/bin/env python3
"""The benchmark models: seeded random bf16 weights, their ONNX export, and
the regeneration of the exact external-data file on the GPU machine.

Two models, shaped like GPT-2 small and Llama-3.2-1B:

  gpt2   12 layers, d 768, 12 heads, vocab 50257, 1024 positions, tied
         embeddings (GPT2LMHeadModel)
  llama  16 layers, d 2048, 32 heads / 8 KV heads (head dim 64), FFN 8192,
         vocab 128256, RoPE (theta 500000), RMSNorm, SwiGLU, tied
         embeddings (LlamaForCausalLM)

Weights: transformers' own initialisation after torch.manual_seed(SEED)
on the CPU in fp32, then cast to bf16 (the model is in eval mode;
`--dtype float32` keeps fp32, for a CPU test of the harness).

  make_bench_models.py export OUTDIR [--models gpt2,llama] [--seed 0]
                                     [--tiny] [--dtype bfloat16]

writes OUTDIR/<model>/model.onnx (the graph, torch.onnx.export
dynamo=True, opset 18, the logits-only decoder `input_ids [batch, seq] ->
logits [batch, seq, vocab]` with dynamic batch and sequence, as
test/Models/make_fixtures.py exports), OUTDIR/<model>/model.onnx.data (the
external data) and OUTDIR/<model>/meta.json: the config, the seed, the
data file's size and sha256, and for every external initializer its offset,
length and the parameter it holds (`source`, `transpose`). ds-compile
needs only model.onnx and the data file's metadata (a sparse file of the
right size satisfies it), so the export can run on any machine that has
torch 2.11 and transformers 5.17; the GPU machine then rebuilds the bytes:

  make_bench_models.py regen META.json DATA_OUT [--check]

rebuilds the model from META's config and seed, writes DATA_OUT at
META's offsets (zero gaps, exactly META's size), and compares its sha256
with META's (`--check` makes a mismatch an error). benchmarks/gpu_decode.py
does the same through `regenerate()` and keeps the model for the PyTorch
peers, so ds and PyTorch run on the very same bytes.

`--tiny` exports 2-layer models of the same structure (for testing the
harness on a CPU).
"""

import argparse
import hashlib
import json
import os
import sys
import time

import torch
import transformers

SEED = 0
# The example input of the export (its dims are marked dynamic).
EXPORT_BATCH, EXPORT_SEQ = 2, 8


def config_for(name, tiny=False):
    """The transformers config of model `name` (plain dict, JSON-able)."""
    if name == "gpt2":
        cfg = dict(vocab_size=50257, n_positions=1024, n_embd=768,
                   n_layer=12, n_head=12, tie_word_embeddings=True)
        if tiny:
            cfg.update(vocab_size=512, n_positions=256, n_embd=64,
                       n_layer=2, n_head=4)
        return cfg
    if name == "llama":
        cfg = dict(vocab_size=128256, hidden_size=2048,
                   intermediate_size=8192, num_hidden_layers=16,
                   num_attention_heads=32, num_key_value_heads=8,
                   head_dim=64, max_position_embeddings=2048,
                   rms_norm_eps=1e-5, hidden_act="silu",
                   rope_parameters={"rope_type": "default",
                                    "rope_theta": 500000.0},
                   tie_word_embeddings=True)
        if tiny:
            cfg.update(vocab_size=512, hidden_size=64, intermediate_size=256,
                       num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=16,
                       max_position_embeddings=256)
        return cfg
    raise ValueError(f"unknown model {name!r}")


def max_positions(name, cfg):
    return cfg["n_positions"] if name == "gpt2" else \
        cfg["max_position_embeddings"]


def build_model(name, cfg, seed, dtype=torch.bfloat16):
    """The seeded model on the CPU, in `dtype`, eval mode."""
    torch.manual_seed(seed)
    if name == "gpt2":
        model = transformers.GPT2LMHeadModel(transformers.GPT2Config(**cfg))
    else:
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**cfg))
    return model.to(dtype).eval()


class LogitsOnly(torch.nn.Module):
    """input_ids -> logits (no cache, no dict), as make_fixtures.py."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False,
                          return_dict=False)[0]


def param_stats(model):
    """(number of parameters, bytes) counting tied tensors once."""
    seen, n, nbytes = set(), 0, 0
    for p in model.parameters():  # parameters() skips duplicates
        if p.data_ptr() in seen:
            continue
        seen.add(p.data_ptr())
        n += p.numel()
        nbytes += p.numel() * p.element_size()
    return n, nbytes


def tensor_bytes(t):
    """Little-endian raw bytes of a CPU tensor (bf16 as its bit pattern)."""
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def _named_tensors(module):
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(dict(module.named_buffers(remove_duplicate=False)))
    return named


def _recipe(onnx_path, wrapper):
    """Every external initializer of the exported graph, matched to the
    parameter (or its transpose) it holds, by name first, then by bytes."""
    import onnx
    model = onnx.load(onnx_path, load_external_data=False)
    named = _named_tensors(wrapper)
    by_hash = None
    entries, locations = [], set()
    for init in model.graph.initializer:
        if init.data_location != onnx.TensorProto.EXTERNAL:
            continue
        ext = {kv.key: kv.value for kv in init.external_data}
        locations.add(ext["location"])
        entry = {"name": init.name, "dims": list(init.dims),
                 "data_type": init.data_type,
                 "offset": int(ext.get("offset", 0)),
                 "length": int(ext["length"])}
        with open(os.path.join(os.path.dirname(onnx_path),
                               ext["location"]), "rb") as f:
            f.seek(entry["offset"])
            data = f.read(entry["length"])
        t = named.get(init.name)
        if t is not None and list(t.shape) == entry["dims"] and \
                tensor_bytes(t) == data:
            entry.update(source=init.name, transpose=False)
        else:
            if by_hash is None:  # content match: parameters and transposes
                by_hash = {}
                for n, p in named.items():
                    by_hash.setdefault(
                        hashlib.sha256(tensor_bytes(p)).hexdigest(), (n, False))
                    if p.dim() == 2:
                        by_hash.setdefault(hashlib.sha256(
                            tensor_bytes(p.t())).hexdigest(), (n, True))
            hit = by_hash.get(hashlib.sha256(data).hexdigest())
            if hit is None:
                raise RuntimeError(f"external initializer {init.name!r} "
                                   "matches no parameter: cannot regenerate")
            entry.update(source=hit[0], transpose=hit[1])
        entries.append(entry)
    if len(locations) > 1:
        raise RuntimeError(f"external data in several files: {locations}")
    embedded = sum(1 for i in model.graph.initializer
                   if i.data_location != onnx.TensorProto.EXTERNAL)
    return entries, (locations.pop() if locations else None), embedded


def params_sha256(model):
    """sha256 over every parameter and buffer (sorted by name, tied tensors
    once): the identity of the weights, embedded initializers included."""
    h = hashlib.sha256()
    for n, t in sorted(model.state_dict().items()):
        h.update(n.encode() + b"\0")
        h.update(tensor_bytes(t))
    return h.hexdigest()


def sha256_file(path, chunk=64 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                return h.hexdigest()
            h.update(b)


DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16,
          "float32": torch.float32}


def export(name, outdir, seed=SEED, tiny=False, dtype="bfloat16"):
    """Builds, exports and describes one model; returns its meta dict."""
    folder = os.path.join(outdir, name)
    os.makedirs(folder, exist_ok=True)
    cfg = config_for(name, tiny)
    t0 = time.time()
    model = build_model(name, cfg, seed, DTYPES[dtype])
    build_s = time.time() - t0
    wrapper = LogitsOnly(model).eval()
    path = os.path.join(folder, "model.onnx")
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, cfg["vocab_size"], (EXPORT_BATCH, EXPORT_SEQ),
                        generator=g)
    batch = torch.export.Dim("batch", min=1, max=64)
    seq = torch.export.Dim("seq", min=2, max=max_positions(name, cfg))
    t0 = time.time()
    with torch.no_grad():
        torch.onnx.export(wrapper, (ids,), path, dynamo=True,
                          opset_version=18, input_names=["input_ids"],
                          output_names=["logits"],
                          dynamic_shapes={"input_ids": {0: batch, 1: seq}},
                          external_data=True)
    export_s = time.time() - t0
    entries, location, embedded = _recipe(path, wrapper)
    data_path = os.path.join(folder, location)
    n_params, nbytes = param_stats(model)
    meta = {
        "model": name, "tiny": tiny, "seed": seed, "config": cfg,
        "dtype": dtype, "onnx": "model.onnx", "data_file": location,
        "data_size": os.path.getsize(data_path),
        "data_sha256": sha256_file(data_path),
        "params_sha256": params_sha256(model),
        "external_initializers": entries,
        "embedded_initializers": embedded,
        "n_params": n_params, "param_bytes": nbytes,
        "build_s": round(build_s, 2), "export_s": round(export_s, 2),
        "onnx_bytes": os.path.getsize(path),
        "versions": {"torch": torch.__version__,
                     "transformers": transformers.__version__},
    }
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def write_data(model, meta, out_path):
    """Writes META's external-data file from `model`'s tensors; returns its
    sha256. Initializers are written in offset order, gaps as zeros."""
    named = _named_tensors(LogitsOnly(model))
    h = hashlib.sha256()
    pos = 0
    with open(out_path, "wb") as f:
        def put(b):
            nonlocal pos
            f.write(b)
            h.update(b)
            pos += len(b)
        for e in sorted(meta["external_initializers"],
                        key=lambda e: e["offset"]):
            if e["offset"] < pos:
                raise RuntimeError(f"{e['name']}: overlapping external data")
            put(bytes(e["offset"] - pos))
            t = named[e["source"]]
            if e["transpose"]:
                t = t.t()
            b = tensor_bytes(t)
            if len(b) != e["length"] or list(t.shape) != e["dims"]:
                raise RuntimeError(f"{e['name']}: regenerated tensor is "
                                   f"{list(t.shape)} / {len(b)} bytes, the "
                                   f"graph says {e['dims']} / {e['length']}")
            put(b)
        if pos > meta["data_size"]:
            raise RuntimeError("regenerated data is longer than recorded")
        put(bytes(meta["data_size"] - pos))
    return h.hexdigest()


def regenerate(meta, out_path):
    """Rebuilds META's model (bf16, CPU) and writes its external data to
    out_path. Returns (model, check) where check holds both checksums and
    whether each equals META's."""
    model = build_model(meta["model"], meta["config"], meta["seed"],
                        DTYPES[meta["dtype"]])
    sha = write_data(model, meta, out_path)
    psha = params_sha256(model)
    check = {"data_sha256": sha,
             "data_sha256_matches": sha == meta["data_sha256"],
             "params_sha256": psha,
             "params_sha256_matches": psha == meta.get("params_sha256")}
    return model, check


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("outdir")
    e.add_argument("--models", default="gpt2,llama")
    e.add_argument("--seed", type=int, default=SEED)
    e.add_argument("--tiny", action="store_true")
    e.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16")
    r = sub.add_parser("regen")
    r.add_argument("meta")
    r.add_argument("out")
    r.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if args.cmd == "export":
        for name in args.models.split(","):
            meta = export(name, args.outdir, args.seed, args.tiny,
                          args.dtype)
            print(f"{name}: {meta['n_params']} parameters, "
                  f"{meta['param_bytes']} bytes; data {meta['data_size']} "
                  f"bytes sha256 {meta['data_sha256'][:16]}; "
                  f"{len(meta['external_initializers'])} external / "
                  f"{meta['embedded_initializers']} embedded initializers; "
                  f"graph {meta['onnx_bytes']} bytes; build {meta['build_s']}"
                  f" s, export {meta['export_s']} s", flush=True)
        return 0
    with open(args.meta) as f:
        meta = json.load(f)
    _, check = regenerate(meta, args.out)
    same = check["data_sha256_matches"] and check["params_sha256_matches"]
    print(f"{args.out}: data sha256 {check['data_sha256']} "
          f"({'matches' if check['data_sha256_matches'] else 'DIFFERS'}), "
          f"parameters sha256 {check['params_sha256']} "
          f"({'matches' if check['params_sha256_matches'] else 'DIFFERS'})")
    return 1 if (args.check and not same) else 0


if __name__ == "__main__":
    sys.exit(main())
