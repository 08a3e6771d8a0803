//===- AttentionOps.cpp - ONNX Attention, RotaryEmbedding (opset 23) ------===//
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
/// reshaped to [B, S, H, D] with `heads` heads and transposed. A symbolic
/// hidden size is accepted when `dynamicHidden` (D becomes hidden / H).
static FailureOr<Heads> toHeads(NodeImporter &n, unsigned i,
                                std::optional<int64_t> heads,
                                StringRef headsAttr, StringRef what,
                                bool dynamicHidden = false) {
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
  if (!hidden && dynamicHidden) {
    FailureOr<OpFoldResult> d =
        n.sym.divTrunc(n.loc, t.dims[2], n.b.getIndexAttr(*heads));
    if (failed(d))
      return n.error() << "cannot divide the hidden size of " << what
                       << " by " << headsAttr;
    SmallVector<OpFoldResult> split = {t.dims[0], t.dims[1],
                                       n.b.getIndexAttr(*heads), *d};
    Value v = n.graph.reshape(n.tensor(i), t.dims, split, n.loc);
    Value h = n.graph.transpose(v, split, {0, 2, 1, 3}, n.loc);
    return Heads{h, {split[0], split[2], split[1], split[3]}};
  }
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

//===----------------------------------------------------------------------===//
// RotaryEmbedding (opset 23)
//===----------------------------------------------------------------------===//

namespace {
/// A cos or sin table on its way to ds.rope: its value and sizes.
struct Table {
  Value value;
  SmallVector<OpFoldResult> dims;
};
} // namespace

/// Whether a size `c` of a cos/sin table can stand for the input's `x`
/// (numpy broadcasting): a static 1, equal, or not known to differ.
static bool fitsDim(OpFoldResult c, OpFoldResult x) {
  std::optional<int64_t> cs = getConstantIntValue(c);
  std::optional<int64_t> xs = getConstantIntValue(x);
  return cs == 1 || !cs || !xs || *cs == *xs;
}

/// Cache input `i` (cos_cache or sin_cache) as a [B', S', C] table: itself
/// without position_ids, else gathered along its first dimension by them.
static FailureOr<Table> rotaryTable(NodeImporter &n, unsigned i,
                                    StringRef what) {
  TensorValue &cache = n.input(i);
  if (!n.hasInput(3)) {
    if (cache.rank() != 3)
      return n.error() << "expected " << what
                       << " of rank 3 [batch, sequence, rotary_dim / 2] "
                          "without position_ids, got rank "
                       << cache.rank();
    return Table{n.tensor(i), cache.dims};
  }
  if (cache.rank() != 2)
    return n.error() << "expected " << what
                     << " of rank 2 [max_position, rotary_dim / 2] with "
                        "position_ids, got rank "
                     << cache.rank();
  TensorValue &pos = n.input(3);
  if (std::optional<SmallVector<int64_t>> ids = pos.constantInts()) {
    std::optional<int64_t> rows = getConstantIntValue(cache.dims[0]);
    for (int64_t id : *ids)
      if (rows && (id < -*rows || id >= *rows))
        return n.error() << "position id " << id << " is out of range for "
                         << what << " of " << *rows << " positions";
  }
  SmallVector<OpFoldResult> dims = {pos.dims[0], pos.dims[1], cache.dims[1]};
  Value v = GatherOp::create(n.b, n.loc,
                             tensorTypeFor(dims, cache.elementType()),
                             n.tensor(i), n.tensor(3), /*axis=*/0);
  return Table{v, dims};
}

/// ONNX RotaryEmbedding (opset 23) -> ds.rope on [B, H, S, D]. A 3-D input
/// [B, S, num_heads * D] is split into heads and transposed (and the result
/// back); the cos/sin tables [B, S, C] (gathered by position_ids from
/// [max_position, C] caches when those are given) are cut to rotary_dim / 2
/// entries and reshaped to [B, 1, S, rotary_dim / 2], which ds.rope
/// broadcasts over the heads. interleaved selects ds.rope's interleaved
/// pairing and rotary_embedding_dim its rotary_dim.
static LogicalResult importRotaryEmbedding(NodeImporter &n) {
  if (n.opset() < 23)
    return n.error() << "RotaryEmbedding needs opset 23, the model imports "
                        "opset "
                     << n.opset();
  if (failed(n.requireFloat(0)) || failed(n.requireSameElementType({0, 1, 2})))
    return failure();
  FailureOr<int64_t> interleaved = n.intAttr("interleaved", 0);
  FailureOr<int64_t> rotaryAttr = n.intAttr("rotary_embedding_dim", 0);
  FailureOr<int64_t> numHeads = n.intAttr("num_heads", 0);
  if (failed(interleaved) || failed(rotaryAttr) || failed(numHeads))
    return failure();
  if (*interleaved != 0 && *interleaved != 1)
    return n.error() << "attribute 'interleaved' must be 0 or 1, got "
                     << *interleaved;
  if (*rotaryAttr < 0)
    return n.error() << "attribute 'rotary_embedding_dim' must be >= 0 (0: "
                        "the whole head), got "
                     << *rotaryAttr;
  if (*numHeads < 0)
    return n.error() << "attribute 'num_heads' must be >= 0, got "
                     << *numHeads;
  if (n.hasInput(3)) {
    TensorValue &pos = n.input(3);
    DType t = pos.dtype;
    if (t != onnx::TensorProto_DataType_INT64 &&
        t != onnx::TensorProto_DataType_INT32)
      return n.error() << "expected INT64 (or INT32) position_ids, got "
                       << dtypeName(t);
    if (pos.rank() != 2)
      return n.error() << "expected position_ids of rank 2 [batch, "
                          "sequence], got rank "
                       << pos.rank();
  }

  TensorValue &x = n.input(0);
  int64_t rank = x.rank();
  if (rank != 3 && rank != 4)
    return n.error() << "expected an input of rank 3 [batch, sequence, "
                        "hidden] or 4 [batch, heads, sequence, head_size], "
                        "got rank "
                     << rank;
  std::optional<int64_t> heads;
  if (*numHeads > 0)
    heads = *numHeads;
  FailureOr<Heads> q = toHeads(n, 0, heads, "num_heads", "input",
                               /*dynamicHidden=*/true);
  if (failed(q))
    return failure();
  OpFoldResult batch = q->dims[0], seq = q->dims[2], headDim = q->dims[3];

  // The rotated width R and the table width R / 2.
  std::optional<int64_t> d = getConstantIntValue(headDim);
  std::optional<int64_t> rotary;
  if (*rotaryAttr > 0) {
    if (*rotaryAttr % 2 != 0)
      return n.error() << "attribute 'rotary_embedding_dim' = "
                       << *rotaryAttr << " is odd (elements rotate in pairs)";
    if (d && *rotaryAttr > *d)
      return n.error() << "attribute 'rotary_embedding_dim' = "
                       << *rotaryAttr << " exceeds the head size " << *d;
    rotary = *rotaryAttr;
  } else if (d) {
    if (*d % 2 != 0)
      return n.error() << "head size " << *d
                       << " is odd (elements rotate in pairs; set "
                          "rotary_embedding_dim)";
    rotary = *d;
  }
  OpFoldResult half;
  if (rotary) {
    half = n.b.getIndexAttr(*rotary / 2);
  } else {
    FailureOr<OpFoldResult> h =
        n.sym.divTrunc(n.loc, headDim, n.b.getIndexAttr(2));
    if (failed(h))
      return n.error() << "cannot halve the head size";
    half = *h;
  }

  // The tables, checked against the input: [B or 1, S or 1, >= R / 2].
  TensorValue &cosCache = n.input(1), &sinCache = n.input(2);
  bool sameCaches = cosCache.rank() == sinCache.rank();
  for (int64_t k = 0; sameCaches && k < cosCache.rank(); ++k) {
    std::optional<int64_t> c = getConstantIntValue(cosCache.dims[k]);
    std::optional<int64_t> s = getConstantIntValue(sinCache.dims[k]);
    sameCaches = !c || !s || *c == *s;
  }
  if (!sameCaches)
    return n.error() << "expected cos_cache and sin_cache of one shape, got "
                     << dimsString(cosCache.dims) << " and "
                     << dimsString(sinCache.dims);
  FailureOr<Table> cos = rotaryTable(n, 1, "cos_cache");
  if (failed(cos))
    return failure();
  FailureOr<Table> sin = rotaryTable(n, 2, "sin_cache");
  if (failed(sin))
    return failure();
  StringRef source = n.hasInput(3) ? "position_ids" : "cos_cache";
  if (!fitsDim(cos->dims[0], batch) || !fitsDim(cos->dims[1], seq))
    return n.error() << source << " of sizes [batch, sequence] = "
                     << dimsString(ArrayRef(cos->dims).take_front(2))
                     << " do not match the input's "
                     << dimsString({batch, seq});
  std::optional<int64_t> width = getConstantIntValue(cos->dims[2]);
  std::optional<int64_t> halfSize = getConstantIntValue(half);
  if (width && halfSize && *width < *halfSize)
    return n.error() << "cos_cache has " << *width
                     << " entries per position, rotating " << 2 * *halfSize
                     << " elements needs " << *halfSize;
  bool oneBatch = getConstantIntValue(cos->dims[0]) == 1 &&
                  getConstantIntValue(sin->dims[0]) == 1;
  SmallVector<OpFoldResult> tableDims = {
      oneBatch ? OpFoldResult(n.b.getIndexAttr(1)) : batch, seq, half};
  SmallVector<OpFoldResult> ropeDims = {tableDims[0], n.b.getIndexAttr(1),
                                        seq, half};
  Type elem = x.elementType();
  auto prepare = [&](Table &t) -> Value {
    Value v = t.value;
    if (!n.sym.provablyEqual(t.dims[2], half)) {
      // Only the first R / 2 entries are used (the reference slices too).
      SmallVector<OpFoldResult> offsets(3, n.b.getIndexAttr(0));
      SmallVector<OpFoldResult> strides(3, n.b.getIndexAttr(1));
      SmallVector<OpFoldResult> sizes = {t.dims[0], t.dims[1], half};
      v = tensor::ExtractSliceOp::create(n.b, n.loc,
                                         tensorTypeFor(sizes, elem), v,
                                         offsets, sizes, strides);
      t.dims = sizes;
    }
    // To the input's [B or 1, S] where a size differs in the type (a table
    // whose sizes are symbols of their own keeps them).
    Value b = n.graph.broadcastTo(v, tableDims, n.loc);
    if (b == v)
      return n.graph.reshape(v, t.dims, {t.dims[0], n.b.getIndexAttr(1),
                                         t.dims[1], t.dims[2]},
                             n.loc);
    return n.graph.reshape(b, tableDims, ropeDims, n.loc);
  };
  Value cosT = prepare(*cos), sinT = prepare(*sin);

  // ds.rope's rotary_dim is left out when it is the whole head.
  IntegerAttr rotaryDim;
  if (*rotaryAttr > 0 && !(d && *d == *rotaryAttr))
    rotaryDim = n.b.getI64IntegerAttr(*rotaryAttr);
  RopeModeAttr mode = RopeModeAttr::get(
      n.b.getContext(),
      *interleaved ? RopeMode::interleaved : RopeMode::rotate_half);
  Value y = RopeOp::create(n.b, n.loc, q->value.getType(), q->value, cosT,
                           sinT, mode, rotaryDim);
  if (rank == 3) {
    Value t = n.graph.transpose(y, q->dims, {0, 2, 1, 3}, n.loc);
    SmallVector<OpFoldResult> tDims = {q->dims[0], q->dims[2], q->dims[1],
                                       q->dims[3]};
    y = n.graph.reshape(t, tDims, x.dims, n.loc);
  }
  return n.setOutput(0, y, x.dtype, x.dims);
}

ArrayRef<OpInfo> importer::getAttentionOps() {
  static const OpInfo ops[] = {
      {"Attention", 3, 7, 1, 4, importAttention},
      {"RotaryEmbedding", 3, 4, 1, 1, importRotaryEmbedding},
  };
  return ops;
}
