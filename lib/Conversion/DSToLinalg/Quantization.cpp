//===- Quantization.cpp - lower ds.quantize and ds.dequantize -------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Both are one elementwise generic whose scale (and zero point) indexing map
// follows the granularity: all constants for per_tensor, the last dimension
// sent to 0 for per_channel, and `d_last floordiv group_size` for per_group.
// Arithmetic is in f32 (f64 for f64 tensors). Rounding is half to even
// (math.roundeven); results saturate to the signed range of `bits` for
// symmetric schemes and to the unsigned range for asymmetric ones, whose
// integers (and zero points) are read as unsigned.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

/// The indexing map of the scale (and zero point) of a rank-`rank` tensor
/// quantized with `quant`.
static FailureOr<AffineMap> getScaleMap(MLIRContext *ctx, QuantAttr quant,
                                        int64_t rank,
                                        RankedTensorType scaleType) {
  SmallVector<AffineExpr> exprs;
  switch (quant.getGranularity()) {
  case QuantGranularity::per_tensor:
    exprs.assign(scaleType.getRank(), getAffineConstantExpr(0, ctx));
    break;
  case QuantGranularity::per_channel:
  case QuantGranularity::per_group:
    if (rank < 1 || scaleType.getRank() != rank)
      return failure();
    for (int64_t d = 0; d + 1 < rank; ++d)
      exprs.push_back(getAffineDimExpr(d, ctx));
    if (quant.getGranularity() == QuantGranularity::per_channel) {
      exprs.push_back(getAffineConstantExpr(0, ctx));
    } else {
      if (quant.getGroupSize() <= 0)
        return failure();
      exprs.push_back(
          getAffineDimExpr(rank - 1, ctx).floorDiv(quant.getGroupSize()));
    }
    break;
  }
  return AffineMap::get(rank, 0, exprs, ctx);
}

/// The operands, maps and types both ops share.
struct QuantSetup {
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  bool isUnsigned;
  double low, high;
};

static FailureOr<QuantSetup> setUpQuant(PatternRewriter &rewriter,
                                        Operation *op, Value tensor,
                                        Value scale, Value zeroPoint,
                                        QuantAttr quant) {
  int64_t rank = cast<RankedTensorType>(tensor.getType()).getRank();
  FailureOr<AffineMap> scaleMap =
      getScaleMap(rewriter.getContext(), quant, rank,
                  cast<RankedTensorType>(scale.getType()));
  if (failed(scaleMap))
    return rewriter.notifyMatchFailure(op, "scale shape does not follow the "
                                           "granularity");
  unsigned bits = quant.getBits();
  if (bits < 2 || bits > 32)
    return rewriter.notifyMatchFailure(op, "unsupported bit width");
  QuantSetup s;
  s.isUnsigned = quant.getScheme() == QuantScheme::asymmetric;
  if ((zeroPoint != nullptr) != s.isUnsigned)
    return rewriter.notifyMatchFailure(op, "zero point must be present "
                                           "exactly for asymmetric schemes");
  AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
  s.inputs = {tensor, scale};
  s.maps = {identity, *scaleMap};
  if (zeroPoint) {
    s.inputs.push_back(zeroPoint);
    s.maps.push_back(*scaleMap);
  }
  double levels = std::ldexp(1.0, bits); // 2^bits
  s.low = s.isUnsigned ? 0.0 : -levels / 2;
  s.high = s.isUnsigned ? levels - 1 : levels / 2 - 1;
  return s;
}

namespace {

/// `q = clamp(roundeven(x / scale) + zp, low, high)`.
struct QuantizeOpLowering : OpRewritePattern<QuantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(QuantizeOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<QuantSetup> setup =
        setUpQuant(rewriter, op, op.getInput(), op.getScale(),
                   op.getZeroPoint(), op.getQuant());
    if (failed(setup))
      return failure();
    const QuantSetup &s = *setup;
    Location loc = op.getLoc();
    Type ct = getComputeType(op.getInput().getType().getElementType());
    Type intType = op.getResult().getType().getElementType();
    Value result = buildElementwise(
        rewriter, loc, s.inputs, s.maps, getSizes(rewriter, loc, op.getInput()),
        intType, [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x = castScalar(b, nloc, args[0], ct);
          Value scale = castScalar(b, nloc, args[1], ct);
          Value v = math::RoundEvenOp::create(
              b, nloc, arith::DivFOp::create(b, nloc, x, scale));
          if (args.size() > 2)
            v = arith::AddFOp::create(b, nloc, v,
                                      castScalar(b, nloc, args[2], ct, true));
          // maxnumf/minnumf also send NaN to `low` rather than to poison.
          v = arith::MaxNumFOp::create(b, nloc, v,
                                       floatConstant(b, nloc, ct, s.low));
          v = arith::MinNumFOp::create(b, nloc, v,
                                       floatConstant(b, nloc, ct, s.high));
          return castScalar(b, nloc, v, intType, s.isUnsigned);
        });
    rewriter.replaceOp(
        op, castToType(rewriter, loc, result, op.getResult().getType()));
    return success();
  }
};

/// `x = (q - zp) * scale`.
struct DequantizeOpLowering : OpRewritePattern<DequantizeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(DequantizeOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<QuantSetup> setup =
        setUpQuant(rewriter, op, op.getInput(), op.getScale(),
                   op.getZeroPoint(), op.getQuant());
    if (failed(setup))
      return failure();
    const QuantSetup &s = *setup;
    Location loc = op.getLoc();
    Type elementType = op.getResult().getType().getElementType();
    Type ct = getComputeType(elementType);
    Value result = buildElementwise(
        rewriter, loc, s.inputs, s.maps, getSizes(rewriter, loc, op.getInput()),
        elementType, [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value q = castScalar(b, nloc, args[0], ct, s.isUnsigned);
          if (args.size() > 2)
            q = arith::SubFOp::create(b, nloc, q,
                                      castScalar(b, nloc, args[2], ct, true));
          Value scale = castScalar(b, nloc, args[1], ct);
          Value x = arith::MulFOp::create(b, nloc, q, scale);
          return castScalar(b, nloc, x, elementType);
        });
    rewriter.replaceOp(
        op, castToType(rewriter, loc, result, op.getResult().getType()));
    return success();
  }
};

} // namespace

void lowering::populateQuantizationPatterns(RewritePatternSet &patterns) {
  patterns.add<QuantizeOpLowering, DequantizeOpLowering>(patterns.getContext());
}
