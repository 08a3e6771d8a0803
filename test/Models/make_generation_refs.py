#!/usr/bin/env python3
"""Greedy-continuation references for ds-run --generate, and the
TorchScript exports of GPT-2 and Llama.

For every decoder fixture under test/Models (dynamo exports, and the
TorchScript exports this script adds with an explicit attention_mask input,
which keeps transformers' packed-sequence detection, and its aten::diff,
out of the trace), the reference continuation is computed by full-sequence
recompute of the original graph with onnxruntime: each step runs the whole
prompt-plus-generated sequence and takes the argmax of the last logits.
Every sequence of a batch is computed on its own (no padding), which is the
answer batching must not change.

    python3 test/Models/make_generation_refs.py test/Models

Writes <fixture>/generation.json: prompts, greedy tokens, and the smallest
top-1/top-2 logit margin seen (a near tie would make the comparison flaky).
Needs torch, transformers, onnx, onnxruntime (the GPU machine has them).
"""

import json
import os
import sys

import numpy as np
import onnxruntime as ort
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

NEW_TOKENS = 40
# batch 1, and batch 3 with different prompt lengths.
PROMPT_SETS = {"batch1": [7], "batch3": [5, 11, 3]}


def prompts_for(lengths, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, mf.VOCAB, (n,)).tolist() for n in lengths]


def greedy(sess, names, prompt, steps):
    seq = list(prompt)
    out, margin = [], float("inf")
    for _ in range(steps):
        ids = np.array([seq], dtype=np.int64)
        feeds = {"input_ids": ids}
        if "attention_mask" in names:
            feeds["attention_mask"] = np.ones_like(ids)
        (logits,) = sess.run(None, feeds)
        last = logits[0, -1].astype(np.float64)
        order = np.argsort(-last)
        margin = min(margin, float(last[order[0]] - last[order[1]]))
        tok = int(order[0])
        out.append(tok)
        seq.append(tok)
    return out, margin


def export_torchscript(name, folder):
    model, _ = mf.build(name)
    model.eval()
    module = mf.LogitsOnly(model, True).eval()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    with torch.no_grad():
        mf.export(module, True, path, "torchscript")
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for i, (b, s) in enumerate(mf.CASES):
        feeds = mf.inputs_for(b, s, True, 100 + i)
        (out,) = sess.run(None, feeds)
        with torch.no_grad():
            ref = module(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
        err = float(np.abs(out - ref).max() / np.abs(ref).max())
        print(f"{folder} case{i}: ort vs torch {err:.2e}")
        case = os.path.join(folder, f"case{i}")
        os.makedirs(case, exist_ok=True)
        for n, v in feeds.items():
            np.save(os.path.join(case, f"{n}.npy"), v)
        np.save(os.path.join(case, "output.npy"), out)


class WithPast(torch.nn.Module):
    """input_ids, attention_mask and flat past keys/values -> logits and
    the present keys/values, as decoders exported with a cache look."""

    def __init__(self, model, layers):
        super().__init__()
        self.model = model
        self.layers = layers

    def forward(self, input_ids, attention_mask, *past):
        from transformers import DynamicCache
        cache = DynamicCache()
        for i in range(self.layers):
            cache.update(past[2 * i], past[2 * i + 1], i)
        out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         past_key_values=cache, use_cache=True,
                         return_dict=True)
        presents = []
        for layer in out.past_key_values.layers:
            presents += [layer.keys, layer.values]
        return (out.logits, *presents)


def export_with_past(name, folder):
    model, _ = mf.build(name)
    model.eval()
    cfg = model.config
    layers = cfg.num_hidden_layers
    heads = getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    module = WithPast(model, layers).eval()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    rng = np.random.default_rng(5)

    def feeds_for(b, past, s):
        f = {"input_ids": rng.integers(0, mf.VOCAB, (b, s), dtype=np.int64),
             "attention_mask": np.ones((b, past + s), dtype=np.int64)}
        for i in range(layers):
            for kv in ["key", "value"]:
                f[f"past_{kv}_{i}"] = rng.standard_normal(
                    (b, heads, past, head_dim)).astype(np.float32)
        return f

    example = feeds_for(2, 4, 3)
    names = list(example)
    outs = ["logits"] + [f"present_{kv}_{i}" for i in range(layers)
                         for kv in ["key", "value"]]
    batch = torch.export.Dim("batch", min=1, max=64)
    seq = torch.export.Dim("seq", min=1, max=128)
    past = torch.export.Dim("past", min=1, max=128)
    total = torch.export.Dim("total", min=2, max=256)
    shapes = {"input_ids": {0: batch, 1: seq},
              "attention_mask": {0: batch, 1: total}}
    # `past` is a *args parameter: one entry per flat tensor.
    shapes["past"] = tuple({0: batch, 2: past} for _ in names[2:])
    with torch.no_grad():
        torch.onnx.export(module, tuple(torch.from_numpy(v)
                                        for v in example.values()),
                          path, dynamo=True, opset_version=18,
                          input_names=names, output_names=outs,
                          dynamic_shapes=shapes, external_data=False)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for i, (b, p, s) in enumerate([(2, 4, 3), (1, 9, 1)]):
        feeds = feeds_for(b, p, s)
        got = sess.run(None, feeds)
        with torch.no_grad():
            ref = module(*[torch.from_numpy(v) for v in feeds.values()])
        err = max(float(np.abs(g - r.numpy()).max()) for g, r in zip(got, ref))
        print(f"{folder} case{i}: ort vs torch max abs {err:.2e}")
        case = os.path.join(folder, f"case{i}")
        os.makedirs(case, exist_ok=True)
        for n, v in feeds.items():
            np.save(os.path.join(case, f"{n}.npy"), v)
        for n, v in zip(outs, got):
            np.save(os.path.join(case, f"{n}.npy"), v)


def main(root):
    only_past = len(sys.argv) > 2 and sys.argv[2] == "--past-only"
    for name in ["gpt2", "llama"]:
        try:
            export_with_past(name, os.path.join(root, f"{name}-past"))
        except Exception as e:
            import traceback
            traceback.print_exc()
            print(f"{name}-past: export failed: {e!r}"[:800])
    if only_past:
        return
    for name in ["gpt2", "llama"]:
        try:
            export_torchscript(name, os.path.join(root, f"{name}-torchscript"))
        except Exception as e:  # recorded; the dynamo fixture still works
            print(f"{name}-torchscript: export failed: {e!r}"[:500])
    for key in ["gpt2-dynamo", "llama-dynamo", "gpt2-torchscript",
                "llama-torchscript"]:
        path = os.path.join(root, key, "model.onnx")
        if not os.path.exists(path):
            continue
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [i.name for i in sess.get_inputs()]
        result = {"new_tokens": NEW_TOKENS, "sets": {}}
        for set_name, lengths in PROMPT_SETS.items():
            prompts = prompts_for(lengths, 7 + len(lengths))
            toks, margins = [], []
            for p in prompts:
                t, m = greedy(sess, names, p, NEW_TOKENS)
                toks.append(t)
                margins.append(m)
            result["sets"][set_name] = {"prompts": prompts, "tokens": toks,
                                        "min_margin": min(margins)}
            print(key, set_name, "min margin", min(margins))
        with open(os.path.join(root, key, "generation.json"), "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
