//===- Normalization.cpp - lower ds.layer_norm and ds.rms_norm ------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Statistics are reductions over the normalized dimensions `[axis, rank)`
// into tensors of the leading dimensions, computed in f32 for f16/bf16.
// LayerNorm uses two passes (mean, then the mean of squared deviations),
// which stays accurate when the mean is large against the spread.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

namespace {

/// What both norms share: the normalized loops, the maps of the row
/// statistics and of scale/bias, and the element count.
struct NormSetup {
  int64_t rank;
  SmallVector<int64_t> normDims;
  SmallVector<OpFoldResult> sizes;
  SmallVector<OpFoldResult> rowSizes;
  AffineMap identity, rowMap, paramMap;
  Type elementType, computeType;
  Value count;
};

FailureOr<NormSetup> setUpNorm(PatternRewriter &rewriter, Operation *op,
                               Value input, int64_t axis) {
  NormSetup s;
  auto type = cast<RankedTensorType>(input.getType());
  s.rank = type.getRank();
  int64_t first = axis < 0 ? axis + s.rank : axis;
  if (first < 0 || first >= s.rank)
    return rewriter.notifyMatchFailure(op, "axis out of range");
  Location loc = op->getLoc();
  MLIRContext *ctx = rewriter.getContext();
  for (int64_t d = first; d < s.rank; ++d)
    s.normDims.push_back(d);
  s.sizes = getSizes(rewriter, loc, input);
  s.rowSizes.assign(s.sizes.begin(), s.sizes.begin() + first);
  s.identity = rewriter.getMultiDimIdentityMap(s.rank);
  s.rowMap = getDropDimsMap(ctx, s.rank, s.normDims);
  SmallVector<int64_t> leading;
  for (int64_t d = 0; d < first; ++d)
    leading.push_back(d);
  s.paramMap = getDropDimsMap(ctx, s.rank, leading);
  s.elementType = type.getElementType();
  s.computeType = getComputeType(s.elementType);
  s.count = countAsFloat(rewriter, loc, s.sizes, s.normDims, s.computeType);
  return s;
}

/// Sum over the normalized dimensions of `term(x, stats...)`.
Value sumRows(PatternRewriter &rewriter, Location loc, const NormSetup &s,
              ValueRange inputs, ArrayRef<AffineMap> maps,
              function_ref<Value(OpBuilder &, Location, ValueRange)> term) {
  Value init = filledTensor(rewriter, loc, s.rowSizes,
                            floatConstant(rewriter, loc, s.computeType, 0));
  return buildReduction(
      rewriter, loc, inputs, maps, s.rank, s.normDims, init,
      [&](OpBuilder &b, Location nloc, ValueRange args, Value acc) {
        return Value(arith::AddFOp::create(b, nloc, acc, term(b, nloc, args)));
      });
}

/// `(x - mean) * rsqrt(var + eps) * scale + bias`, with
/// `mean = sum(x) / n` and `var = sum((x - mean)^2) / n`.
struct LayerNormOpLowering : OpRewritePattern<LayerNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LayerNormOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<NormSetup> setup =
        setUpNorm(rewriter, op, op.getInput(), op.getAxis());
    if (failed(setup))
      return failure();
    const NormSetup &s = *setup;
    Location loc = op.getLoc();
    Type ct = s.computeType;
    Value input = op.getInput();

    Value sum = sumRows(rewriter, loc, s, input, s.identity,
                        [&](OpBuilder &b, Location nloc, ValueRange args) {
                          return castScalar(b, nloc, args[0], ct);
                        });
    Value mean = buildElementwise(
        rewriter, loc, sum, s.rowSizes, ct,
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          return Value(arith::DivFOp::create(b, nloc, args[0], s.count));
        });
    Value sqSum = sumRows(
        rewriter, loc, s, ValueRange{input, mean}, {s.identity, s.rowMap},
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x = castScalar(b, nloc, args[0], ct);
          Value dev = arith::SubFOp::create(b, nloc, x, args[1]);
          return Value(arith::MulFOp::create(b, nloc, dev, dev));
        });

    double eps = op.getEpsilon().convertToDouble();
    SmallVector<Value> inputs = {input, mean, sqSum, op.getScale()};
    SmallVector<AffineMap> maps = {s.identity, s.rowMap, s.rowMap, s.paramMap};
    if (Value bias = op.getBias()) {
      inputs.push_back(bias);
      maps.push_back(s.paramMap);
    }
    Value result = buildElementwise(
        rewriter, loc, inputs, maps, s.sizes, s.elementType,
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x = castScalar(b, nloc, args[0], ct);
          Value var = arith::DivFOp::create(b, nloc, args[2], s.count);
          Value varEps = arith::AddFOp::create(b, nloc, var,
                                               floatConstant(b, nloc, ct, eps));
          Value rstd = math::RsqrtOp::create(b, nloc, varEps);
          Value dev = arith::SubFOp::create(b, nloc, x, args[1]);
          Value normalized = arith::MulFOp::create(b, nloc, dev, rstd);
          Value gamma = castScalar(b, nloc, args[3], ct);
          Value y = arith::MulFOp::create(b, nloc, normalized, gamma);
          if (args.size() > 4)
            y = arith::AddFOp::create(b, nloc, y,
                                      castScalar(b, nloc, args[4], ct));
          return castScalar(b, nloc, y, s.elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

/// `x * rsqrt(sum(x^2) / n + eps) * scale`.
struct RMSNormOpLowering : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    FailureOr<NormSetup> setup =
        setUpNorm(rewriter, op, op.getInput(), op.getAxis());
    if (failed(setup))
      return failure();
    const NormSetup &s = *setup;
    Location loc = op.getLoc();
    Type ct = s.computeType;
    Value input = op.getInput();

    Value sqSum = sumRows(rewriter, loc, s, input, s.identity,
                          [&](OpBuilder &b, Location nloc, ValueRange args) {
                            Value x = castScalar(b, nloc, args[0], ct);
                            return Value(arith::MulFOp::create(b, nloc, x, x));
                          });
    double eps = op.getEpsilon().convertToDouble();
    Value result = buildElementwise(
        rewriter, loc, ValueRange{input, sqSum, op.getScale()},
        {s.identity, s.rowMap, s.paramMap}, s.sizes, s.elementType,
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x = castScalar(b, nloc, args[0], ct);
          Value ms = arith::DivFOp::create(b, nloc, args[1], s.count);
          Value msEps = arith::AddFOp::create(b, nloc, ms,
                                              floatConstant(b, nloc, ct, eps));
          Value rms = math::RsqrtOp::create(b, nloc, msEps);
          Value normalized = arith::MulFOp::create(b, nloc, x, rms);
          Value gamma = castScalar(b, nloc, args[2], ct);
          Value y = arith::MulFOp::create(b, nloc, normalized, gamma);
          return castScalar(b, nloc, y, s.elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void lowering::populateNormalizationPatterns(RewritePatternSet &patterns) {
  patterns.add<LayerNormOpLowering, RMSNormOpLowering>(patterns.getContext());
}
