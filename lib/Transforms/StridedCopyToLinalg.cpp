//===- StridedCopyToLinalg.cpp - keep artifacts free of memrefCopy --------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#define DEBUG_TYPE "ds-strided-copy-to-linalg"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSSTRIDEDCOPYTOLINALG
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

struct StridedCopyToLinalg : public OpRewritePattern<memref::CopyOp> {
  StridedCopyToLinalg(MLIRContext *ctx, bool contiguous)
      : OpRewritePattern(ctx), contiguous(contiguous) {}
  bool contiguous;

  LogicalResult matchAndRewrite(memref::CopyOp op,
                                PatternRewriter &rewriter) const override {
    auto source = dyn_cast<MemRefType>(op.getSource().getType());
    auto target = dyn_cast<MemRefType>(op.getTarget().getType());
    if (!source || !target)
      return rewriter.notifyMatchFailure(op, "needs ranked memrefs");
    // The same test finalize-memref-to-llvm makes before it uses memcpy.
    if (!contiguous && source.getLayout().isIdentity() &&
        target.getLayout().isIdentity())
      return rewriter.notifyMatchFailure(op, "contiguous: becomes memcpy");
    rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                                op.getTarget());
    return success();
  }
};

struct StridedCopyToLinalgPass
    : public ds::impl::DSStridedCopyToLinalgBase<StridedCopyToLinalgPass> {
  using Base::Base;
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<StridedCopyToLinalg>(&getContext(), contiguous);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
  }
};

} // namespace
