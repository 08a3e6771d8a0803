#!/usr/bin/env python3
"""Builds the PyTorch-export fixtures under test/Models/.

Tiny GPT-2, Llama (grouped-query attention, RoPE, RMSNorm, SwiGLU) and
BERT models are built from configs with seeded random weights, exported
with both torch.onnx exporters (dynamo at opset 18; TorchScript at opset 17
where it works), and run with onnxruntime on fixed inputs at two sequence
lengths. Each fixture folder holds model.onnx and, per case, the inputs and
onnxruntime's outputs as .npy.

Needs torch, transformers, onnx and onnxruntime (the GPU machine has them):

    python3 test/Models/make_fixtures.py OUTDIR

Deterministic: seeds fix the weights and the inputs.
"""

import json
import os
import sys
import traceback

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers

VOCAB = 256
# Two (batch, seq) cases per model, run by one compiled artifact.
CASES = [(2, 5), (1, 13)]


class LogitsOnly(torch.nn.Module):
    """Returns the first output as a plain tensor (no cache, no dict)."""

    def __init__(self, model, with_mask):
        super().__init__()
        self.model = model
        self.with_mask = with_mask

    def forward(self, input_ids, attention_mask=None):
        if self.with_mask:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask,
                             return_dict=False)
        else:
            out = self.model(input_ids=input_ids, use_cache=False,
                             return_dict=False)
        return out[0]


def build(name):
    torch.manual_seed(1234)
    if name == "gpt2":
        cfg = transformers.GPT2Config(
            vocab_size=VOCAB, n_positions=128, n_embd=64, n_layer=2, n_head=4)
        return transformers.GPT2LMHeadModel(cfg), False
    if name == "llama":
        cfg = transformers.LlamaConfig(
            vocab_size=VOCAB, hidden_size=64, intermediate_size=128,
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=128, rms_norm_eps=1e-6,
            tie_word_embeddings=False)
        return transformers.LlamaForCausalLM(cfg), False
    if name == "bert":
        cfg = transformers.BertConfig(
            vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=128,
            max_position_embeddings=128)
        return transformers.BertModel(cfg, add_pooling_layer=False), True
    raise ValueError(name)


def inputs_for(batch, seq, with_mask, seed):
    rng = np.random.default_rng(seed)
    feeds = {"input_ids": rng.integers(0, VOCAB, (batch, seq), dtype=np.int64)}
    if with_mask:
        mask = np.ones((batch, seq), dtype=np.int64)
        mask[0, -2:] = 0  # padding at the end of the first sequence
        feeds["attention_mask"] = mask
    return feeds


def export(module, with_mask, path, exporter):
    b, s = CASES[0]
    example = inputs_for(b, s, with_mask, 0)
    args = tuple(torch.from_numpy(v) for v in example.values())
    names = list(example.keys())
    if exporter == "dynamo":
        batch = torch.export.Dim("batch", min=1, max=64)
        seq = torch.export.Dim("seq", min=2, max=128)
        shapes = {n: {0: batch, 1: seq} for n in names}
        torch.onnx.export(module, args, path, dynamo=True, opset_version=18,
                          input_names=names, output_names=["output"],
                          dynamic_shapes=shapes, external_data=False)
    else:
        axes = {n: {0: "batch", 1: "seq"} for n in names}
        axes["output"] = {0: "batch", 1: "seq"}
        torch.onnx.export(module, args, path, dynamo=False, opset_version=17,
                          input_names=names, output_names=["output"],
                          dynamic_axes=axes)


def main(outdir):
    report = {}
    for name in ["gpt2", "llama", "bert"]:
        model, with_mask = build(name)
        model.eval()
        module = LogitsOnly(model, with_mask).eval()
        for exporter in ["dynamo", "torchscript"]:
            key = f"{name}-{exporter}"
            folder = os.path.join(outdir, key)
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, "model.onnx")
            try:
                with torch.no_grad():
                    export(module, with_mask, path, exporter)
                m = onnx.load(path)
                sess = ort.InferenceSession(path,
                                            providers=["CPUExecutionProvider"])
                cases = []
                for i, (b, s) in enumerate(CASES):
                    feeds = inputs_for(b, s, with_mask, 100 + i)
                    (out,) = sess.run(None, feeds)
                    with torch.no_grad():
                        ref = module(*[torch.from_numpy(v)
                                       for v in feeds.values()]).numpy()
                    err = float(np.abs(out - ref).max() / np.abs(ref).max())
                    case = f"case{i}"
                    os.makedirs(os.path.join(folder, case), exist_ok=True)
                    for n, v in feeds.items():
                        np.save(os.path.join(folder, case, f"{n}.npy"), v)
                    np.save(os.path.join(folder, case, "output.npy"), out)
                    cases.append({"batch": b, "seq": s,
                                  "ort_vs_torch_rel": err})
                ops = sorted({n.op_type for n in m.graph.node})
                report[key] = {
                    "ok": True, "bytes": os.path.getsize(path),
                    "ir_version": m.ir_version,
                    "opset": [(o.domain, o.version) for o in m.opset_import],
                    "ops": ops, "cases": cases}
            except Exception as e:  # record and go on: "where it works"
                report[key] = {"ok": False, "error": repr(e)[:2000],
                               "trace": traceback.format_exc()[-3000:]}
                for root, _, files in os.walk(folder, topdown=False):
                    for f in files:
                        os.remove(os.path.join(root, f))
                    os.rmdir(root)
    report["versions"] = {"torch": torch.__version__,
                          "transformers": transformers.__version__,
                          "onnx": onnx.__version__,
                          "onnxruntime": ort.__version__}
    with open(os.path.join(outdir, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    for k, v in report.items():
        if k != "versions":
            print(k, "OK" if v.get("ok") else "FAILED: " + v["error"][:300])


if __name__ == "__main__":
    main(sys.argv[1])
