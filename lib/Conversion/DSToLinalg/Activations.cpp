//===- Activations.cpp - lower ds.gelu, ds.silu and ds.swiglu -------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Each activation is one elementwise linalg.generic whose body computes in
// f32 for f16/bf16 inputs; the scalar formulas are shared with the linear
// epilogues (LoweringUtils.cpp).
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

/// Applies scalar function `fn` (in the compute type) to every element.
static Value buildUnary(OpBuilder &b, Location loc, Value input,
                        function_ref<Value(OpBuilder &, Location, Value)> fn) {
  Type elementType = cast<RankedTensorType>(input.getType()).getElementType();
  Type computeType = getComputeType(elementType);
  return buildElementwise(
      b, loc, input, getSizes(b, loc, input), elementType,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value x = castScalar(nb, nloc, args[0], computeType);
        return castScalar(nb, nloc, fn(nb, nloc, x), elementType);
      });
}

namespace {

/// GELU: `0.5 x (1 + erf(x / sqrt 2))` with math.erf, or the tanh form.
struct GeluOpLowering : OpRewritePattern<GeluOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GeluOp op,
                                PatternRewriter &rewriter) const override {
    bool tanhForm = op.getApproximation() == GeluApproximation::tanh;
    rewriter.replaceOp(op, buildUnary(rewriter, op.getLoc(), op.getInput(),
                                      [&](OpBuilder &b, Location loc, Value x) {
                                        return buildGelu(b, loc, x, tanhForm);
                                      }));
    return success();
  }
};

/// SiLU: `x * sigmoid(x)`.
struct SiluOpLowering : OpRewritePattern<SiluOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SiluOp op,
                                PatternRewriter &rewriter) const override {
    rewriter.replaceOp(
        op, buildUnary(rewriter, op.getLoc(), op.getInput(), buildSilu));
    return success();
  }
};

/// SwiGLU: the gate and up halves are two tensor.extract_slice ops of the
/// input's last dimension, combined by one elementwise generic
/// `silu(gate) * up`.
struct SwiGLUOpLowering : OpRewritePattern<SwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SwiGLUOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getInput().getType();
    int64_t rank = type.getRank();
    if (rank < 1)
      return rewriter.notifyMatchFailure(op, "expected rank >= 1");
    int64_t last = type.getShape().back();
    if (!ShapedType::isDynamic(last) && last % 2 != 0)
      return rewriter.notifyMatchFailure(op, "expected an even last "
                                             "dimension");
    Location loc = op.getLoc();
    Value input = op.getInput();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, input);
    OpFoldResult half;
    if (ShapedType::isDynamic(last)) {
      Value full = cast<Value>(sizes.back());
      Value two = arith::ConstantIndexOp::create(rewriter, loc, 2);
      half = arith::DivUIOp::create(rewriter, loc, full, two).getResult();
    } else {
      half = rewriter.getIndexAttr(last / 2);
    }
    SmallVector<OpFoldResult> halfSizes(sizes);
    halfSizes.back() = half;
    halfSizes =
        refineSizes(rewriter, op.getResult().getType().getShape(), halfSizes);
    SmallVector<OpFoldResult> offsets(rank, rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
    Value gate = tensor::ExtractSliceOp::create(rewriter, loc, input, offsets,
                                                halfSizes, strides);
    offsets.back() = half;
    Value up = tensor::ExtractSliceOp::create(rewriter, loc, input, offsets,
                                              halfSizes, strides);

    Type elementType = type.getElementType();
    Type computeType = getComputeType(elementType);
    Value result = buildElementwise(
        rewriter, loc, ValueRange{gate, up}, halfSizes, elementType,
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value g = castScalar(b, nloc, args[0], computeType);
          Value u = castScalar(b, nloc, args[1], computeType);
          Value r = arith::MulFOp::create(b, nloc, buildSilu(b, nloc, g), u);
          return castScalar(b, nloc, r, elementType);
        });
    rewriter.replaceOp(
        op, castToType(rewriter, loc, result, op.getResult().getType()));
    return success();
  }
};

} // namespace

void lowering::populateActivationPatterns(RewritePatternSet &patterns) {
  patterns.add<GeluOpLowering, SiluOpLowering, SwiGLUOpLowering>(
      patterns.getContext());
}
