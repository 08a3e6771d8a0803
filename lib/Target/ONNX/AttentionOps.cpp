//===- AttentionOps.cpp - ONNX Attention (opset 23) -----------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Attention -> ds.attention. 3-D inputs ([B, S, heads * D], with the
// q_num_heads / kv_num_heads attributes) are reshaped and transposed to
// [B, heads, S, D] and the result back; 4-D inputs are used as they are.
// past_key / past_value are concatenated in front of the new keys and
// values along the sequence, which also gives present_key / present_value.
//
// is_causal: the spec masks query i (of S) against key j (of T = P + L,
// with P past and L new keys) when j > i + P. ds.attention's `causal`
// masks j > i + (T - S), the same frontier exactly when L == S, which is
// self-attention with or without a cache. When L and S are not provably
// equal but P, L and S are static, the frontier becomes a constant boolean
// mask instead; otherwise the import fails.
//
// Not expressible, and import errors naming the attribute or output:
// softcap != 0, qk_matmul_output_mode != 0, a used qk_matmul_output, and
// opset 24's nonpad_kv_seqlen. softmax_precision is accepted: ds computes
// the softmax of f16/bf16 attention in f32 already.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

namespace {
/// A 4-D [B, H, S, D] operand of the attention and its sizes.
struct Heads {
  Value value;
  SmallVector<OpFoldResult> dims;
};
} // namespace

/// Input `i` as [B, H, S, D]: itself when 4-D; for 3-D [B, S, H * D],
/// reshaped to [B, S, H, D] with `heads` heads and transposed.
static FailureOr<Heads> toHeads(NodeImporter &n, unsigned i,
                                std::optional<int64_t> heads,
                                StringRef headsAttr, StringRef what) {
  TensorValue &t = n.input(i);
  if (t.rank() == 4)
    return Heads{n.tensor(i), t.dims};
  if (t.rank() != 3)
    return n.error() << "expected " << what << " of rank 3 or 4, got rank "
                     << t.rank();
  if (!heads || *heads <= 0)
    return n.error() << "3-D " << what << " needs a positive '" << headsAttr
                     << "' attribute";
  std::optional<int64_t> hidden = getConstantIntValue(t.dims[2]);
  if (!hidden)
    return n.error() << "expected a static hidden size of the 3-D " << what;
  if (*hidden % *heads != 0)
    return n.error() << "hidden size " << *hidden << " of " << what
                     << " is not a multiple of " << headsAttr << " = "
                     << *heads;
  SmallVector<OpFoldResult> split = {t.dims[0], t.dims[1],
                                     n.b.getIndexAttr(*heads),
                                     n.b.getIndexAttr(*hidden / *heads)};
  Value v = n.graph.reshape(n.tensor(i), t.dims, split, n.loc);
  Value h = n.graph.transpose(v, split, {0, 2, 1, 3}, n.loc);
  return Heads{h, {split[0], split[2], split[1], split[3]}};
}

/// `past` (input `i`, [B, H, P, D]) followed by `cur` along the sequence.
static FailureOr<Heads> appendPast(NodeImporter &n, unsigned i, Heads cur,
                                   StringRef what) {
  TensorValue &past = n.input(i);
  if (past.rank() != 4)
    return n.error() << "expected " << what << " of rank 4, got rank "
                     << past.rank();
  for (unsigned d : {0u, 1u, 3u}) {
    std::optional<int64_t> a = getConstantIntValue(past.dims[d]);
    std::optional<int64_t> c = getConstantIntValue(cur.dims[d]);
    if (a && c && *a != *c)
      return n.error() << what << " has size " << *a << " in dimension " << d
                       << ", the new values " << *c;
  }
  SmallVector<OpFoldResult> dims = cur.dims;
  dims[2] = n.sym.add(n.loc, past.dims[2], cur.dims[2]);
  RankedTensorType type =
      tensorTypeFor(dims, cast<RankedTensorType>(cur.value.getType())
                              .getElementType());
  Value v = tensor::ConcatOp::create(n.b, n.loc, type,
                                     n.b.getI64IntegerAttr(2),
                                     ValueRange{n.tensor(i), cur.value});
  return Heads{v, dims};
}

static LogicalResult importAttention(NodeImporter &n) {
  if (n.opset() < 23)
    return n.error() << "Attention needs opset 23, the model imports opset "
                     << n.opset();
  if (n.hasInput(6))
    return n.error() << "input 'nonpad_kv_seqlen' is not supported";
  SmallVector<unsigned> same = {0, 1, 2};
  bool hasPast = n.hasInput(4) || n.hasInput(5);
  if (hasPast && !(n.hasInput(4) && n.hasInput(5)))
    return n.error() << "expected both past_key and past_value or neither";
  if (hasPast)
    same.append({4, 5});
  if (failed(n.requireFloat(0)) || failed(n.requireSameElementType(same)))
    return failure();

  FailureOr<float> softcap = n.floatAttr("softcap", 0.0f);
  FailureOr<int64_t> mode = n.intAttr("qk_matmul_output_mode", 0);
  FailureOr<int64_t> isCausal = n.intAttr("is_causal", 0);
  if (failed(softcap) || failed(mode) || failed(isCausal))
    return failure();
  if (*softcap != 0.0f)
    return n.error() << "attribute 'softcap' = " << *softcap
                     << " is not supported (only 0)";
  if (*mode != 0)
    return n.error() << "attribute 'qk_matmul_output_mode' = " << *mode
                     << " is not supported (only 0)";
  if (n.isOutputUsed(3))
    return n.error() << "output 'qk_matmul_output' is not supported";
  std::optional<float> scale;
  if (n.attr("scale")) {
    FailureOr<float> s = n.floatAttr("scale");
    if (failed(s))
      return failure();
    scale = *s;
  }
  std::optional<int64_t> qHeads, kvHeads;
  if (n.attr("q_num_heads")) {
    FailureOr<int64_t> h = n.intAttr("q_num_heads");
    if (failed(h))
      return failure();
    qHeads = *h;
  }
  if (n.attr("kv_num_heads")) {
    FailureOr<int64_t> h = n.intAttr("kv_num_heads");
    if (failed(h))
      return failure();
    kvHeads = *h;
  }
  if (n.attr("softmax_precision") &&
      failed(n.intAttr("softmax_precision")))
    return failure();

  int64_t rank = n.input(0).rank();
  if (n.input(1).rank() != rank || n.input(2).rank() != rank)
    return n.error() << "expected Q, K and V of one rank, got ranks " << rank
                     << ", " << n.input(1).rank() << " and "
                     << n.input(2).rank();
  FailureOr<Heads> q = toHeads(n, 0, qHeads, "q_num_heads", "Q");
  if (failed(q))
    return failure();
  FailureOr<Heads> k = toHeads(n, 1, kvHeads, "kv_num_heads", "K");
  if (failed(k))
    return failure();
  FailureOr<Heads> v = toHeads(n, 2, kvHeads, "kv_num_heads", "V");
  if (failed(v))
    return failure();
  OpFoldResult newKeys = k->dims[2];
  OpFoldResult pastKeys = n.b.getIndexAttr(0);
  if (hasPast) {
    pastKeys = n.input(4).dims[2];
    k = appendPast(n, 4, *k, "past_key");
    if (failed(k))
      return failure();
    v = appendPast(n, 5, *v, "past_value");
    if (failed(v))
      return failure();
  }

  // Shapes ds.attention checks too, reported here in ONNX terms.
  std::optional<int64_t> hq = getConstantIntValue(q->dims[1]);
  std::optional<int64_t> hkv = getConstantIntValue(k->dims[1]);
  std::optional<int64_t> hv = getConstantIntValue(v->dims[1]);
  if (!hq || !hkv || !hv)
    return n.error() << "expected static head counts";
  if (*hkv != *hv || *hkv <= 0 || *hq % *hkv != 0)
    return n.error() << "expected K and V with one head count dividing Q's, "
                        "got "
                     << *hq << ", " << *hkv << " and " << *hv << " heads";
  std::optional<int64_t> dq = getConstantIntValue(q->dims[3]);
  std::optional<int64_t> dk = getConstantIntValue(k->dims[3]);
  if (dq && dk && *dq != *dk)
    return n.error() << "expected Q and K of one head size, got " << *dq
                     << " and " << *dk;

  Type elem = n.input(0).elementType();
  OpFoldResult totalKeys = k->dims[2];
  Value mask;
  if (n.hasInput(3)) {
    TensorValue &m = n.input(3);
    if (!isBoolDType(m.dtype) && m.elementType() != elem)
      return n.error() << "expected a BOOL attn_mask or one of Q's type, got "
                       << dtypeName(m.dtype);
    if (m.rank() < 2 || m.rank() > 4)
      return n.error() << "expected attn_mask of rank 2 to 4, got rank "
                       << m.rank();
    std::optional<int64_t> mt = getConstantIntValue(m.dims.back());
    std::optional<int64_t> t = getConstantIntValue(totalKeys);
    if (mt && t && *mt != *t)
      return n.error() << "attn_mask covers " << *mt << " keys, expected "
                       << *t;
    mask = n.tensor(3);
  }

  bool causal = false;
  if (*isCausal) {
    OpFoldResult queries = q->dims[2];
    if (n.sym.provablyEqual(newKeys, queries)) {
      causal = true;
    } else {
      std::optional<int64_t> s = getConstantIntValue(queries);
      std::optional<int64_t> p = getConstantIntValue(pastKeys);
      std::optional<int64_t> t = getConstantIntValue(totalKeys);
      if (!s || !p || !t)
        return n.error() << "attribute 'is_causal' with new keys that may "
                            "outnumber the queries needs static sequence "
                            "lengths";
      if (mask)
        return n.error() << "attribute 'is_causal' together with attn_mask "
                            "needs as many new keys as queries";
      // The spec's frontier j <= i + P as a constant mask.
      SmallVector<bool> allowed;
      for (int64_t i = 0; i < *s; ++i)
        for (int64_t j = 0; j < *t; ++j)
          allowed.push_back(j <= i + *p);
      auto type = RankedTensorType::get({*s, *t}, n.b.getI1Type());
      mask = arith::ConstantOp::create(
          n.b, n.loc, DenseElementsAttr::get(type, ArrayRef<bool>(allowed)));
    }
  }

  SmallVector<OpFoldResult> outDims = {q->dims[0], q->dims[1], q->dims[2],
                                       v->dims[3]};
  Value y = AttentionOp::create(
      n.b, n.loc, tensorTypeFor(outDims, elem), q->value, k->value, v->value,
      mask, /*kv_length=*/Value(),
      scale ? n.b.getF32FloatAttr(*scale) : FloatAttr(),
      causal ? n.b.getUnitAttr() : UnitAttr(), TileAttr());
  DType dtype = n.input(0).dtype;
  if (rank == 3) {
    Value t = n.graph.transpose(y, outDims, {0, 2, 1, 3}, n.loc);
    SmallVector<OpFoldResult> tDims = {outDims[0], outDims[2], outDims[1],
                                       outDims[3]};
    std::optional<int64_t> dv = getConstantIntValue(outDims[3]);
    if (!dv)
      return n.error() << "expected a static value head size";
    SmallVector<OpFoldResult> flat = {tDims[0], tDims[1],
                                      n.b.getIndexAttr(*hq * *dv)};
    y = n.graph.reshape(t, tDims, flat, n.loc);
    outDims = flat;
  }
  if (failed(n.setOutput(0, y, dtype, outDims)))
    return failure();
  if (n.hasOutput(1) && failed(n.setOutput(1, k->value, dtype, k->dims)))
    return failure();
  if (n.hasOutput(2) && failed(n.setOutput(2, v->value, dtype, v->dims)))
    return failure();
  return success();
}

ArrayRef<OpInfo> importer::getAttentionOps() {
  static const OpInfo ops[] = {
      {"Attention", 3, 7, 1, 4, importAttention},
  };
  return ops;
}
