//===- DSOps.cpp - ds operations ------------------------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Every check cites its constraint in docs/DSDialect.md. Dimensions are
// compared only when both sides are static: a dynamic dimension is checked
// where its value becomes known (lowering or the runtime).
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/IR/ShapeUtils.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ds;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

static RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// Shared checks of the two normalization ops: axis range, scale shape over
/// the normalized dimensions, element types and result type. `prefix` is
/// the constraint prefix (`layer_norm` or `rms_norm`).
static LogicalResult verifyNorm(Operation *op, Value input, Value scale,
                                Value result, int64_t axis, float epsilon) {
  RankedTensorType inputType = tensorType(input);
  int64_t rank = inputType.getRank();
  // *_c1: axis in [-rank, rank)
  if (axis < -rank || axis >= rank)
    return op->emitOpError() << "expected axis in [" << -rank << ", " << rank
                             << "), got " << axis;
  int64_t first = axis < 0 ? axis + rank : axis;
  // *_c2: scale shaped like the normalized dimensions
  ArrayRef<int64_t> normShape = inputType.getShape().drop_front(first);
  RankedTensorType scaleType = tensorType(scale);
  if (!shapesAgree(scaleType.getShape(), normShape))
    return op->emitOpError() << "expected scale shape " << shapeStr(normShape)
                             << " (the normalized dimensions), got "
                             << shapeStr(scaleType.getShape());
  // *_c3: scale shares the input element type
  if (scaleType.getElementType() != inputType.getElementType())
    return op->emitOpError()
           << "expected scale element type " << inputType.getElementType()
           << ", got " << scaleType.getElementType();
  // *_c4: result type equals input type
  if (result.getType() != input.getType())
    return op->emitOpError() << "expected result type " << input.getType()
                             << ", got " << result.getType();
  // *_c5: epsilon is finite and non-negative
  if (!std::isfinite(epsilon) || epsilon < 0)
    return op->emitOpError()
           << "expected a finite non-negative epsilon, got " << epsilon;
  return success();
}

//===----------------------------------------------------------------------===//
// AttentionOp
//===----------------------------------------------------------------------===//

std::optional<double> AttentionOp::getEffectiveScale() {
  if (std::optional<APFloat> scale = getScale())
    return scale->convertToDouble();
  int64_t headDim = getQuery().getType().getDimSize(3);
  if (ShapedType::isDynamic(headDim))
    return std::nullopt;
  return 1.0 / std::sqrt(static_cast<double>(headDim));
}

/// attention_c1 to attention_c7, shared by ds.attention and
/// ds.fused_attention (tensors or buffers).
static LogicalResult verifyAttentionShapes(Operation *op, ShapedType q,
                                           ShapedType k, ShapedType v,
                                           ShapedType r) {
  // attention_c1
  for (auto [name, type] : {std::pair{"query", q}, std::pair{"key", k},
                            std::pair{"value", v}, std::pair{"result", r}})
    if (type.getRank() != 4)
      return op->emitOpError()
             << "expected " << name
             << " of rank 4 [batch, heads, seq, head_dim], got rank "
             << type.getRank();
  // attention_c2
  Type elt = q.getElementType();
  if (k.getElementType() != elt || v.getElementType() != elt ||
      r.getElementType() != elt)
    return op->emitOpError()
           << "expected query, key, value and result to share element type "
           << elt;
  // attention_c3
  int64_t batch = q.getDimSize(0);
  for (ShapedType t : {k, v, r})
    if (!dimsAgree(t.getDimSize(0), batch))
      return op->emitOpError() << "expected batch size " << batch
                               << " on every operand and the result, got "
                               << t.getDimSize(0);
  // attention_c4
  if (!dimsAgree(q.getDimSize(3), k.getDimSize(3)))
    return op->emitOpError()
           << "expected query head_dim (" << q.getDimSize(3)
           << ") to equal key head_dim (" << k.getDimSize(3) << ")";
  // attention_c5
  if (!dimsAgree(k.getDimSize(1), v.getDimSize(1)) ||
      !dimsAgree(k.getDimSize(2), v.getDimSize(2)))
    return op->emitOpError()
           << "expected key and value to agree on heads and sequence "
              "length, got key "
           << shapeStr(k.getShape()) << " and value " << shapeStr(v.getShape());
  // attention_c6
  int64_t qHeads = q.getDimSize(1), kvHeads = k.getDimSize(1);
  if (!ShapedType::isDynamic(qHeads) && !ShapedType::isDynamic(kvHeads) &&
      (kvHeads == 0 || qHeads % kvHeads != 0))
    return op->emitOpError() << "expected key/value heads (" << kvHeads
                             << ") to divide query heads (" << qHeads << ")";
  // attention_c7
  SmallVector<int64_t> expected = {batch, qHeads, q.getDimSize(2),
                                   v.getDimSize(3)};
  if (!shapesAgree(r.getShape(), expected))
    return op->emitOpError() << "expected result shape " << shapeStr(expected)
                             << ", got " << shapeStr(r.getShape());
  return success();
}

/// attention_c10
static LogicalResult verifyAttentionScale(Operation *op, double s) {
  if (!std::isfinite(s) || s <= 0)
    return op->emitOpError() << "expected a finite positive scale, got " << s;
  return success();
}

LogicalResult AttentionOp::verify() {
  RankedTensorType q = getQuery().getType(), k = getKey().getType(),
                   v = getValue().getType(), r = getResult().getType();
  if (failed(verifyAttentionShapes(*this, q, k, v, r)))
    return failure();
  Type elt = q.getElementType();
  int64_t batch = q.getDimSize(0), qHeads = q.getDimSize(1);
  if (Value mask = getMask()) {
    RankedTensorType m = tensorType(mask);
    // attention_c8
    SmallVector<int64_t> scores = {batch, qHeads, q.getDimSize(2),
                                   k.getDimSize(2)};
    if (m.getRank() < 2 || m.getRank() > 4)
      return emitOpError() << "expected mask of rank 2 to 4, got rank "
                           << m.getRank();
    ArrayRef<int64_t> tail = ArrayRef<int64_t>(scores).take_back(m.getRank());
    for (auto [md, sd] : llvm::zip_equal(m.getShape(), tail))
      if (md != 1 && !dimsAgree(md, sd))
        return emitOpError()
               << "expected mask shape " << shapeStr(m.getShape())
               << " to broadcast to the scores " << shapeStr(scores);
    // attention_c9
    if (!m.getElementType().isInteger(1) && m.getElementType() != elt)
      return emitOpError() << "expected an i1 mask or an additive mask of "
                              "element type "
                           << elt << ", got " << m.getElementType();
  }
  // attention_c11
  if (Value kvLength = getKvLength())
    if (!dimsAgree(tensorType(kvLength).getDimSize(0), batch))
      return emitOpError() << "expected one kv_length per sequence ("
                           << batch << "), got "
                           << tensorType(kvLength).getDimSize(0);
  // attention_c10
  if (std::optional<APFloat> scale = getScale())
    return verifyAttentionScale(*this, scale->convertToDouble());
  return success();
}

LogicalResult FusedAttentionOp::verify() {
  auto q = cast<ShapedType>(getQuery().getType());
  auto k = cast<ShapedType>(getKey().getType());
  auto v = cast<ShapedType>(getValue().getType());
  auto r = cast<ShapedType>(getInit().getType());
  // fused_attention_c1: one kind of operand
  bool tensors = isa<TensorType>(q);
  for (Value operand : getOperands())
    if (isa<TensorType>(operand.getType()) != tensors)
      return emitOpError() << "expected all operands to be tensors or all "
                              "to be buffers";
  if (failed(verifyAttentionShapes(*this, q, k, v, r)))
    return failure();
  // attention_c11
  if (Value kvLength = getKvLength()) {
    auto len = cast<ShapedType>(kvLength.getType());
    if (len.getRank() != 1 || !dimsAgree(len.getDimSize(0), q.getDimSize(0)))
      return emitOpError() << "expected kv_length of shape [" << q.getDimSize(0)
                           << "], got " << shapeStr(len.getShape());
  }
  return verifyAttentionScale(*this, getScale().convertToDouble());
}

void FusedAttentionOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  if (hasPureTensorSemantics())
    return;
  for (OpOperand &operand : getOperation()->getOpOperands()) {
    if (!isa<MemRefType>(operand.get().getType()))
      continue;
    if (isDpsInit(&operand))
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
    else
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
  }
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

LogicalResult LayerNormOp::verify() {
  if (failed(verifyNorm(*this, getInput(), getScale(), getResult(), getAxis(),
                        getEpsilon().convertToFloat())))
    return failure();
  // layer_norm_c6
  if (Value bias = getBias(); bias && bias.getType() != getScale().getType())
    return emitOpError() << "expected bias type " << getScale().getType()
                         << " (the scale's), got " << bias.getType();
  return success();
}

LogicalResult RMSNormOp::verify() {
  return verifyNorm(*this, getInput(), getScale(), getResult(), getAxis(),
                    getEpsilon().convertToFloat());
}

//===----------------------------------------------------------------------===//
// SwiGLUOp
//===----------------------------------------------------------------------===//

LogicalResult SwiGLUOp::verify() {
  RankedTensorType in = getInput().getType(), out = getResult().getType();
  // swiglu_c1
  if (in.getRank() < 1)
    return emitOpError() << "expected an input of rank >= 1";
  int64_t last = in.getShape().back();
  if (!ShapedType::isDynamic(last) && last % 2 != 0)
    return emitOpError() << "expected an even last dimension (gate and up "
                            "halves), got "
                         << last;
  // swiglu_c2
  SmallVector<int64_t> expected(in.getShape());
  expected.back() = ShapedType::isDynamic(last) ? last : last / 2;
  if (out.getElementType() != in.getElementType() ||
      !shapesAgree(out.getShape(), expected))
    return emitOpError() << "expected result " << shapeStr(expected) << " of "
                         << in.getElementType() << ", got " << out;
  return success();
}

//===----------------------------------------------------------------------===//
// RopeOp
//===----------------------------------------------------------------------===//

LogicalResult RopeOp::verify() {
  RankedTensorType in = getInput().getType();
  RankedTensorType cos = getCos().getType(), sin = getSin().getType();
  // rope_c1
  if (in.getRank() < 2)
    return emitOpError() << "expected an input of rank >= 2 [..., seq, "
                            "head_dim], got rank "
                         << in.getRank();
  int64_t headDim = in.getShape().back();
  // rope_c2
  int64_t rotary = headDim;
  if (std::optional<int64_t> attr = getRotaryDim()) {
    rotary = *attr;
    if (rotary <= 0 || rotary % 2 != 0 ||
        (!ShapedType::isDynamic(headDim) && rotary > headDim))
      return emitOpError() << "expected rotary_dim to be even and in (0, "
                           << headDim << "], got " << rotary;
  } else if (!ShapedType::isDynamic(headDim) && headDim % 2 != 0) {
    return emitOpError() << "expected an even head_dim to rotate, got "
                         << headDim;
  }
  // rope_c3
  if (cos != sin)
    return emitOpError() << "expected cos and sin of one type, got " << cos
                         << " and " << sin;
  if (cos.getElementType() != in.getElementType())
    return emitOpError() << "expected cos/sin element type "
                         << in.getElementType() << ", got "
                         << cos.getElementType();
  // rope_c4
  SmallVector<int64_t> expected(in.getShape());
  expected.back() = ShapedType::isDynamic(rotary) ? rotary : rotary / 2;
  if (cos.getRank() < 2 || cos.getRank() > in.getRank())
    return emitOpError() << "expected cos/sin of rank 2 to " << in.getRank()
                         << ", got rank " << cos.getRank();
  ArrayRef<int64_t> tail = ArrayRef<int64_t>(expected).take_back(cos.getRank());
  for (auto [i, pair] :
       llvm::enumerate(llvm::zip_equal(cos.getShape(), tail))) {
    auto [cd, ed] = pair;
    bool leading = i + 2 < static_cast<size_t>(cos.getRank());
    if ((leading && cd == 1) || dimsAgree(cd, ed))
      continue;
    return emitOpError() << "expected cos/sin shape "
                         << shapeStr(cos.getShape()) << " to broadcast to "
                         << shapeStr(expected)
                         << " (rotary_dim / 2 = " << expected.back() << ")";
  }
  // rope_c5
  if (getResult().getType() != in)
    return emitOpError() << "expected result type " << in << ", got "
                         << getResult().getType();
  return success();
}

//===----------------------------------------------------------------------===//
// LinearOp
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  RankedTensorType in = getInput().getType(), w = getWeight().getType();
  RankedTensorType r = getResult().getType();
  // linear_c1
  if (in.getRank() < 1 || w.getRank() != 2)
    return emitOpError() << "expected an input of rank >= 1 and a weight of "
                            "rank 2, got ranks "
                         << in.getRank() << " and " << w.getRank();
  int64_t k = getTransposeWeight() ? w.getDimSize(1) : w.getDimSize(0);
  int64_t n = getTransposeWeight() ? w.getDimSize(0) : w.getDimSize(1);
  // linear_c2
  if (!dimsAgree(in.getShape().back(), k))
    return emitOpError() << "expected input features (" << in.getShape().back()
                         << ") to equal weight input features (" << k << ")";
  // linear_c3
  if (Value bias = getBias()) {
    RankedTensorType b = tensorType(bias);
    if (b.getRank() != 1 || !dimsAgree(b.getDimSize(0), n))
      return emitOpError() << "expected bias of shape [" << n << "], got "
                           << shapeStr(b.getShape());
  }
  // linear_c4
  SmallVector<int64_t> expected(in.getShape());
  expected.back() = n;
  if (!shapesAgree(r.getShape(), expected))
    return emitOpError() << "expected result shape " << shapeStr(expected)
                         << ", got " << shapeStr(r.getShape());
  // linear_c5
  if (Value residual = getResidual(); residual && residual.getType() != r)
    return emitOpError() << "expected residual type " << r << ", got "
                         << residual.getType();
  // linear_c6
  Type elt = in.getElementType();
  if (w.getElementType() != elt || r.getElementType() != elt ||
      (getBias() && tensorType(getBias()).getElementType() != elt))
    return emitOpError() << "expected input, weight, bias and result to share "
                            "element type "
                         << elt;
  // linear_c7
  if (std::optional<TileAttr> tile = getTile();
      tile && tile->getSizes().size() != 3)
    return emitOpError() << "expected a tile with 3 sizes (M, N, K), got "
                         << tile->getSizes().size();
  return success();
}

//===----------------------------------------------------------------------===//
// EmbeddingOp
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  RankedTensorType table = getTable().getType();
  // embedding_c1
  if (table.getRank() != 2)
    return emitOpError() << "expected a table of rank 2 [vocab, dim], got rank "
                         << table.getRank();
  // embedding_c2
  SmallVector<int64_t> expected(getIndices().getType().getShape());
  expected.push_back(table.getDimSize(1));
  RankedTensorType r = getResult().getType();
  if (r.getElementType() != table.getElementType() ||
      !shapesAgree(r.getShape(), expected))
    return emitOpError() << "expected result " << shapeStr(expected) << " of "
                         << table.getElementType() << ", got " << r;
  return success();
}

//===----------------------------------------------------------------------===//
// KV cache
//===----------------------------------------------------------------------===//

LogicalResult KVCacheAppendOp::verify() {
  RankedTensorType cache = getCache().getType(), upd = getUpdate().getType();
  // kv_cache_append_c1
  if (cache.getRank() != 4 || upd.getRank() != 4)
    return emitOpError() << "expected cache and update of rank 4 [batch, "
                            "heads, seq, head_dim]";
  if (cache.getElementType() != upd.getElementType())
    return emitOpError() << "expected update element type "
                         << cache.getElementType() << ", got "
                         << upd.getElementType();
  // kv_cache_append_c2
  for (int64_t d : {0, 1, 3})
    if (!dimsAgree(cache.getDimSize(d), upd.getDimSize(d)))
      return emitOpError() << "expected update " << shapeStr(upd.getShape())
                           << " to match cache " << shapeStr(cache.getShape())
                           << " in batch, heads and head_dim";
  // kv_cache_append_c3
  if (!ShapedType::isDynamic(cache.getDimSize(2)) &&
      !ShapedType::isDynamic(upd.getDimSize(2)) &&
      upd.getDimSize(2) > cache.getDimSize(2))
    return emitOpError() << "expected update length (" << upd.getDimSize(2)
                         << ") within the cache capacity ("
                         << cache.getDimSize(2) << ")";
  // kv_cache_append_c5
  if (!dimsAgree(getOffset().getType().getDimSize(0), cache.getDimSize(0)))
    return emitOpError() << "expected one offset per sequence ("
                         << cache.getDimSize(0) << "), got "
                         << getOffset().getType().getDimSize(0);
  // kv_cache_append_c4
  if (getResult().getType() != cache)
    return emitOpError() << "expected result type " << cache << ", got "
                         << getResult().getType();
  return success();
}

LogicalResult KVCacheReadOp::verify() {
  RankedTensorType cache = getCache().getType(), r = getResult().getType();
  // kv_cache_read_c1
  if (cache.getRank() != 4 || r.getRank() != 4 ||
      cache.getElementType() != r.getElementType())
    return emitOpError() << "expected cache and result of rank 4 with one "
                            "element type";
  // kv_cache_read_c2
  for (int64_t d : {0, 1, 3})
    if (!dimsAgree(cache.getDimSize(d), r.getDimSize(d)))
      return emitOpError() << "expected result " << shapeStr(r.getShape())
                           << " to match cache " << shapeStr(cache.getShape())
                           << " in batch, heads and head_dim";
  if (!ShapedType::isDynamic(cache.getDimSize(2)) &&
      !ShapedType::isDynamic(r.getDimSize(2)) &&
      r.getDimSize(2) > cache.getDimSize(2))
    return emitOpError() << "expected result length (" << r.getDimSize(2)
                         << ") within the cache capacity ("
                         << cache.getDimSize(2) << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

/// Checks shared by quantize and dequantize. `real` is the float side and
/// `quantized` the integer side; `prefix` names the constraint family.
static LogicalResult verifyQuantPair(Operation *op, RankedTensorType real,
                                     RankedTensorType quantized, Value scale,
                                     Value zeroPoint, QuantAttr quant) {
  // *_c1: shapes of the two sides agree
  if (!shapesAgree(real.getShape(), quantized.getShape()))
    return op->emitOpError() << "expected float and integer shapes to agree, "
                                "got "
                             << shapeStr(real.getShape()) << " and "
                             << shapeStr(quantized.getShape());
  // *_c2: integer width is quant.bits
  if (quantized.getElementType().getIntOrFloatBitWidth() != quant.getBits())
    return op->emitOpError()
           << "expected " << quant.getBits() << "-bit integers, got "
           << quantized.getElementType();
  // *_c3: scales stored in quant.scale_type
  RankedTensorType s = tensorType(scale);
  if (s.getElementType() != quant.getScaleType())
    return op->emitOpError()
           << "expected scale element type " << quant.getScaleType() << ", got "
           << s.getElementType();
  // *_c4: scale layout follows the granularity
  int64_t rank = real.getRank();
  switch (quant.getGranularity()) {
  case QuantGranularity::per_tensor:
    if (s.getRank() != 0 &&
        !(s.getRank() == rank &&
          llvm::all_of(s.getShape(), [](int64_t d) { return d == 1; })))
      return op->emitOpError() << "expected a rank-0 or all-ones scale for "
                                  "per_tensor quantization, got "
                               << shapeStr(s.getShape());
    break;
  case QuantGranularity::per_channel:
  case QuantGranularity::per_group: {
    if (rank < 1)
      return op->emitOpError()
             << "expected a ranked tensor of rank >= 1 for "
             << stringifyQuantGranularity(quant.getGranularity())
             << " quantization";
    SmallVector<int64_t> expected(real.getShape());
    int64_t last = expected.back();
    if (quant.getGranularity() == QuantGranularity::per_channel) {
      expected.back() = 1;
    } else if (!ShapedType::isDynamic(last)) {
      // *_c6: groups tile the last dimension
      if (last % quant.getGroupSize() != 0)
        return op->emitOpError()
               << "expected group_size (" << quant.getGroupSize()
               << ") to divide the last dimension (" << last << ")";
      expected.back() = last / quant.getGroupSize();
    }
    if (!shapesAgree(s.getShape(), expected))
      return op->emitOpError()
             << "expected scale shape " << shapeStr(expected) << " for "
             << stringifyQuantGranularity(quant.getGranularity())
             << " quantization, got " << shapeStr(s.getShape());
    break;
  }
  }
  // *_c5: zero point iff asymmetric, shaped like the scale
  bool asymmetric = quant.getScheme() == QuantScheme::asymmetric;
  if (asymmetric != static_cast<bool>(zeroPoint))
    return op->emitOpError() << (asymmetric ? "expected a zero point for "
                                              "asymmetric quantization"
                                            : "expected no zero point for "
                                              "symmetric quantization");
  if (zeroPoint) {
    RankedTensorType z = tensorType(zeroPoint);
    if (z.getShape() != s.getShape() ||
        z.getElementType() != quantized.getElementType())
      return op->emitOpError()
             << "expected zero point of shape " << shapeStr(s.getShape())
             << " and type " << quantized.getElementType() << ", got " << z;
  }
  return success();
}

LogicalResult QuantizeOp::verify() {
  return verifyQuantPair(*this, getInput().getType(), getResult().getType(),
                         getScale(), getZeroPoint(), getQuant());
}

LogicalResult DequantizeOp::verify() {
  return verifyQuantPair(*this, getResult().getType(), getInput().getType(),
                         getScale(), getZeroPoint(), getQuant());
}

//===----------------------------------------------------------------------===//
// RopeTableOp
//===----------------------------------------------------------------------===//

LogicalResult RopeTableOp::verify() {
  RankedTensorType pos = getPositions().getType();
  RankedTensorType freq = getInvFreq().getType();
  RankedTensorType cos = getCos().getType(), sin = getSin().getType();
  // rope_table_c1
  if (pos.getRank() != 2)
    return emitOpError() << "expected positions of rank 2 [P, S], got rank "
                         << pos.getRank();
  // rope_table_c2
  if (freq.getRank() != 1)
    return emitOpError() << "expected inv_freq of rank 1 [H], got rank "
                         << freq.getRank();
  // rope_table_c3
  if (cos != sin)
    return emitOpError() << "expected cos and sin of one type, got " << cos
                         << " and " << sin;
  SmallVector<int64_t> expected = {pos.getDimSize(0), pos.getDimSize(1),
                                   freq.getDimSize(0)};
  if (!shapesAgree(cos.getShape(), expected))
    return emitOpError() << "expected results of shape " << shapeStr(expected)
                         << ", got " << shapeStr(cos.getShape());
  // rope_table_c4
  float scaling = getAttentionScaling().convertToFloat();
  if (!std::isfinite(scaling))
    return emitOpError() << "expected a finite attention_scaling";
  return success();
}

#define GET_OP_CLASSES
#include "ds/Dialect/DS/IR/DSOps.cpp.inc"
