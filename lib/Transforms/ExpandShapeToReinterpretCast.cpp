//===- ExpandShapeToReinterpretCast.cpp - dynamic expand_shape ------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Works around an LLVM 22 crash in expand-strided-metadata on expand_shape
// groups with several dynamic sizes (see the pass description).
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "ds-expand-shape-to-reinterpret-cast"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSEXPANDSHAPETOREINTERPRETCAST
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

struct ExpandShapeToReinterpretCast
    : public OpRewritePattern<memref::ExpandShapeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(memref::ExpandShapeOp op,
                                PatternRewriter &rewriter) const override {
    MemRefType srcType = op.getSrcType(), resultType = op.getResultType();
    if (!srcType.getLayout().isIdentity() ||
        !resultType.getLayout().isIdentity())
      return rewriter.notifyMatchFailure(op, "needs identity layouts");
    bool severalDynamic = llvm::any_of(
        op.getReassociationIndices(), [&](ReassociationIndices group) {
          return llvm::count_if(group, [&](int64_t d) {
                   return resultType.isDynamicDim(d);
                 }) > 1;
        });
    if (!severalDynamic)
      return rewriter.notifyMatchFailure(
          op, "no group with several dynamic sizes: upstream handles it");

    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
    SmallVector<OpFoldResult> strides(sizes.size());
    // Row-major strides: suffix products of the sizes, folded when static.
    OpFoldResult stride = rewriter.getIndexAttr(1);
    for (int64_t d = static_cast<int64_t>(sizes.size()) - 1; d >= 0; --d) {
      strides[d] = stride;
      std::optional<int64_t> a = getConstantIntValue(stride);
      std::optional<int64_t> b = getConstantIntValue(sizes[d]);
      if (a && b) {
        stride = rewriter.getIndexAttr(*a * *b);
      } else {
        stride = arith::MulIOp::create(
                     rewriter, loc,
                     getValueOrCreateConstantIndexOp(rewriter, loc, stride),
                     getValueOrCreateConstantIndexOp(rewriter, loc, sizes[d]))
                     .getResult();
      }
    }
    rewriter.replaceOpWithNewOp<memref::ReinterpretCastOp>(
        op, resultType, op.getSrc(), rewriter.getIndexAttr(0), sizes, strides);
    return success();
  }
};

struct ExpandShapeToReinterpretCastPass
    : public ds::impl::DSExpandShapeToReinterpretCastBase<
          ExpandShapeToReinterpretCastPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<ExpandShapeToReinterpretCast>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
