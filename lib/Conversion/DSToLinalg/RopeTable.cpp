//===- RopeTable.cpp - lower ds.rope_table to linalg ----------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// One linalg.generic over [P, S, H] reads positions[p, s] and inv_freq[h]
// and yields both tables, so the angle is computed once for cos and sin.
// The arithmetic is f32 whatever the result type (the exporters compute the
// tables in f32 and round afterwards).
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

struct RopeTableOpLowering : OpRewritePattern<RopeTableOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RopeTableOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType posType = op.getPositions().getType();
    RankedTensorType freqType = op.getInvFreq().getType();
    RankedTensorType outType = op.getCos().getType();
    if (posType.getRank() != 2 || freqType.getRank() != 1 ||
        outType.getRank() != 3)
      return rewriter.notifyMatchFailure(op, "expected [P,S] x [H] tables");
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> pos = getSizes(rewriter, loc, op.getPositions());
    SmallVector<OpFoldResult> freq = getSizes(rewriter, loc, op.getInvFreq());
    SmallVector<OpFoldResult> sizes =
        refineSizes(rewriter, outType.getShape(), {pos[0], pos[1], freq[0]});
    Type elementType = outType.getElementType();
    Value cosInit = emptyTensor(rewriter, loc, sizes, elementType);
    Value sinInit = emptyTensor(rewriter, loc, sizes, elementType);

    MLIRContext *ctx = rewriter.getContext();
    AffineExpr p = getAffineDimExpr(0, ctx), s = getAffineDimExpr(1, ctx),
               h = getAffineDimExpr(2, ctx);
    AffineMap posMap = AffineMap::get(3, 0, {p, s}, ctx);
    AffineMap freqMap = AffineMap::get(3, 0, {h}, ctx);
    AffineMap identity = rewriter.getMultiDimIdentityMap(3);
    bool isUnsigned = posType.getElementType().isUnsignedInteger();
    float scaling = op.getAttentionScaling().convertToFloat();
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{cosInit.getType(), sinInit.getType()},
        ValueRange{op.getPositions(), op.getInvFreq()},
        ValueRange{cosInit, sinInit},
        ArrayRef<AffineMap>{posMap, freqMap, identity, identity},
        getIterators(3), [&](OpBuilder &b, Location nloc, ValueRange args) {
          Type f32 = b.getF32Type();
          Value position = castScalar(b, nloc, args[0], f32, isUnsigned);
          Value invFreq = castScalar(b, nloc, args[1], f32);
          Value angle = arith::MulFOp::create(b, nloc, position, invFreq);
          Value c = math::CosOp::create(b, nloc, angle);
          Value sn = math::SinOp::create(b, nloc, angle);
          if (scaling != 1.0f) {
            Value k = floatConstant(b, nloc, f32, scaling);
            c = arith::MulFOp::create(b, nloc, c, k);
            sn = arith::MulFOp::create(b, nloc, sn, k);
          }
          linalg::YieldOp::create(
              b, nloc,
              ValueRange{castScalar(b, nloc, c, elementType),
                         castScalar(b, nloc, sn, elementType)});
        });
    rewriter.replaceOp(op, generic.getResults());
    return success();
  }
};

} // namespace

void lowering::populateRopeTablePatterns(RewritePatternSet &patterns) {
  patterns.add<RopeTableOpLowering>(patterns.getContext());
}
