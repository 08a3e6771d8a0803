//===- FoldUnitTransposes.cpp - transposes that only move unit dimensions -===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// See the pass description in Passes.td. A transpose that keeps the order
// of its input's non-unit dimensions moves no element: [B, 1, H, D] ->
// [B, H, 1, D] (the head transposes of a one-token decode step) has the
// same linear order on both sides. It becomes a collapse_shape dropping
// the unit dimensions and an expand_shape adding the output's, which
// bufferize to views: no copy, no kernel.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFOLDUNITTRANSPOSES
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

/// Groups `shape`'s dimensions around its non-unit ones: each non-unit
/// dimension with the unit dimensions before it, trailing unit dimensions
/// with the last group. Empty when every dimension is a unit.
SmallVector<ReassociationIndices> groupAroundNonUnit(ArrayRef<int64_t> shape) {
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices pending;
  for (int64_t d = 0, e = shape.size(); d < e; ++d) {
    pending.push_back(d);
    if (shape[d] != 1) {
      groups.push_back(pending);
      pending.clear();
    }
  }
  if (!groups.empty())
    groups.back().append(pending.begin(), pending.end());
  return groups;
}

struct FoldUnitTranspose : OpRewritePattern<linalg::TransposeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(linalg::TransposeOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.hasPureTensorSemantics())
      return rewriter.notifyMatchFailure(op, "not on tensors");
    auto inType = cast<RankedTensorType>(op.getInput().getType());
    auto outType = cast<RankedTensorType>(op.getInit().getType());
    // The input dimensions in output order, units left out, must stay in
    // input order.
    SmallVector<int64_t> order;
    for (int64_t p : op.getPermutation())
      if (inType.getDimSize(p) != 1)
        order.push_back(p);
    if (order.empty() || !llvm::is_sorted(order))
      return rewriter.notifyMatchFailure(op, "moves a non-unit dimension");
    if (llvm::equal(op.getPermutation(),
                    llvm::seq<int64_t>(0, inType.getRank())))
      return rewriter.notifyMatchFailure(op, "identity");
    Location loc = op.getLoc();
    Value flat = tensor::CollapseShapeOp::create(
        rewriter, loc, op.getInput(), groupAroundNonUnit(inType.getShape()));
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(rewriter, loc, op.getInit());
    rewriter.replaceOpWithNewOp<tensor::ExpandShapeOp>(
        op, outType, flat, groupAroundNonUnit(outType.getShape()), sizes);
    return success();
  }
};

struct FoldUnitTransposesPass
    : public ds::impl::DSFoldUnitTransposesBase<FoldUnitTransposesPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldUnitTranspose>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
