//===- Rope.cpp - lower ds.rope to linalg ---------------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The two halves of each rotated pair are strided tensor.extract_slice
// views of the input's last dimension: `[0, R/2)` and `[R/2, R)` for
// rotate_half, the even and odd entries of `[0, R)` for interleaved. One
// generic with two results rotates them,
//
//   first'  = first * cos - second * sin
//   second' = second * cos + first * sin
//
// with cos/sin broadcast over the leading dimensions through the indexing
// maps, and two tensor.insert_slice ops write them back into the input;
// entries past `rotary_dim` pass through untouched.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

namespace {

struct RopeOpLowering : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getInput().getType();
    int64_t rank = type.getRank();
    if (rank < 2)
      return rewriter.notifyMatchFailure(op, "expected rank >= 2");
    RankedTensorType cosType = op.getCos().getType();
    if (cosType != op.getSin().getType() || cosType.getRank() < 2 ||
        cosType.getRank() > rank)
      return rewriter.notifyMatchFailure(op, "expected cos and sin of one "
                                             "type and rank 2 to rank(input)");
    Location loc = op.getLoc();
    Value input = op.getInput();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, input);

    // Half the rotated width.
    OpFoldResult half;
    if (std::optional<int64_t> rotary = op.getRotaryDim()) {
      if (*rotary <= 0 || *rotary % 2 != 0)
        return rewriter.notifyMatchFailure(op, "expected a positive even "
                                               "rotary_dim");
      half = rewriter.getIndexAttr(*rotary / 2);
    } else if (std::optional<int64_t> d = getConstantIntValue(sizes.back())) {
      if (*d % 2 != 0)
        return rewriter.notifyMatchFailure(op, "expected an even head_dim");
      half = rewriter.getIndexAttr(*d / 2);
    } else {
      Value two = arith::ConstantIndexOp::create(rewriter, loc, 2);
      half =
          arith::DivUIOp::create(rewriter, loc, cast<Value>(sizes.back()), two)
              .getResult();
    }

    bool interleaved = op.getMode() == RopeMode::interleaved;
    SmallVector<OpFoldResult> halfSizes(sizes);
    halfSizes.back() = half;
    SmallVector<OpFoldResult> firstOffsets(rank, rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> secondOffsets(firstOffsets);
    secondOffsets.back() = interleaved ? rewriter.getIndexAttr(1) : half;
    SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
    if (interleaved)
      strides.back() = rewriter.getIndexAttr(2);
    Value first = tensor::ExtractSliceOp::create(
        rewriter, loc, input, firstOffsets, halfSizes, strides);
    Value second = tensor::ExtractSliceOp::create(
        rewriter, loc, input, secondOffsets, halfSizes, strides);

    Type elementType = type.getElementType();
    Type ct = getComputeType(elementType);
    SmallVector<int64_t> loopShape = staticShape(halfSizes);
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap tableMap = getTrailingBroadcastMap(rewriter.getContext(),
                                                 loopShape, cosType.getShape());
    Value firstInit = emptyTensor(rewriter, loc, halfSizes, elementType);
    Value secondInit = emptyTensor(rewriter, loc, halfSizes, elementType);
    auto rotate = linalg::GenericOp::create(
        rewriter, loc, TypeRange{firstInit.getType(), secondInit.getType()},
        ValueRange{first, second, op.getCos(), op.getSin()},
        ValueRange{firstInit, secondInit},
        ArrayRef<AffineMap>{identity, identity, tableMap, tableMap, identity,
                            identity},
        getIterators(rank), [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x1 = castScalar(b, nloc, args[0], ct);
          Value x2 = castScalar(b, nloc, args[1], ct);
          Value c = castScalar(b, nloc, args[2], ct);
          Value s = castScalar(b, nloc, args[3], ct);
          Value x1c = arith::MulFOp::create(b, nloc, x1, c);
          Value x2s = arith::MulFOp::create(b, nloc, x2, s);
          Value r1 = arith::SubFOp::create(b, nloc, x1c, x2s);
          Value x2c = arith::MulFOp::create(b, nloc, x2, c);
          Value x1s = arith::MulFOp::create(b, nloc, x1, s);
          Value r2 = arith::AddFOp::create(b, nloc, x2c, x1s);
          linalg::YieldOp::create(
              b, nloc,
              ValueRange{castScalar(b, nloc, r1, elementType),
                         castScalar(b, nloc, r2, elementType)});
        });

    Value result =
        tensor::InsertSliceOp::create(rewriter, loc, rotate.getResult(0), input,
                                      firstOffsets, halfSizes, strides);
    result = tensor::InsertSliceOp::create(rewriter, loc, rotate.getResult(1),
                                           result, secondOffsets, halfSizes,
                                           strides);
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void lowering::populateRopePatterns(RewritePatternSet &patterns) {
  patterns.add<RopeOpLowering>(patterns.getContext());
}
