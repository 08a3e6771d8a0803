//===- FuseElementwise.cpp - elementwise fusion that keeps GEMMs whole ----===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Upstream's linalg-fuse-elementwise-ops also propagates reshapes through
// every linalg op, contractions included: a linear layer's [M, K] x [N, K]
// matmul reached the GPU as a generic over [B, S, N, 8, 4, 64] (the
// attention output's reshape folded into K). The GEMV and GEMM kernels need
// the matmul as lowered: one M, one N, one K. This pass runs the same
// patterns with a control function that leaves contractions alone.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/Transforms.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFUSEELEMENTWISE
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

/// A linalg op that multiplies two operands and reduces: a matmul, a
/// batched attention product.
bool isContraction(Operation *op) {
  auto linalgOp = dyn_cast_or_null<linalg::LinalgOp>(op);
  return linalgOp && linalgOp.getNumReductionLoops() > 0 &&
         linalgOp.getNumDpsInputs() >= 2;
}

/// An all-parallel generic whose body only widens its one input
/// (arith.extf): exact, so it can be recomputed in each consumer.
bool isWideningCast(Operation *op) {
  auto generic = dyn_cast<linalg::GenericOp>(op);
  if (!generic || generic.getNumDpsInputs() != 1 ||
      generic.getNumDpsInits() != 1 ||
      generic.getNumParallelLoops() != generic.getNumLoops())
    return false;
  Block &body = generic.getRegion().front();
  if (body.getOperations().size() != 2)
    return false;
  auto ext = dyn_cast<arith::ExtFOp>(body.front());
  return ext && ext.getIn() == body.getArgument(0);
}

/// A generic whose init is another op's result but whose body never reads
/// it (convert-elementwise-to-linalg makes `a * b` write into `a`) gets a
/// tensor.empty instead: the producer then has one use and fuses (an
/// RMSNorm's broadcast weight was materialised per token otherwise).
struct FreshInitForUnreadOutput : OpRewritePattern<linalg::GenericOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(linalg::GenericOp op,
                                PatternRewriter &rewriter) const override {
    bool changed = false;
    for (OpOperand &init : op.getDpsInitsMutable()) {
      Value value = init.get();
      auto type = dyn_cast<RankedTensorType>(value.getType());
      if (!type || op.payloadUsesValueFromOperand(&init) ||
          !value.getDefiningOp<linalg::LinalgOp>())
        continue;
      rewriter.setInsertionPoint(op);
      Value empty = tensor::EmptyOp::create(
          rewriter, op.getLoc(), tensor::getMixedSizes(rewriter, op.getLoc(), value),
          type.getElementType());
      rewriter.modifyOpInPlace(op, [&] { init.set(empty); });
      changed = true;
    }
    return success(changed);
  }
};

struct FuseElementwisePass
    : public ds::impl::DSFuseElementwiseBase<FuseElementwisePass> {
  void runOnOperation() override {
    MLIRContext *context = &getContext();
    // Upstream's default: fuse a producer only into its single user; an
    // exact widening cast into every user (a norm's bf16 -> f32 input,
    // read by its sum and by its normalisation, was a kernel and an f32
    // copy of the row; recomputing an extf changes no value).
    linalg::ControlFusionFn fuse = [](OpOperand *operand) {
      Operation *producer = operand->get().getDefiningOp();
      return producer && (producer->hasOneUse() || isWideningCast(producer));
    };
    // A reshape is folded into neither side of a contraction.
    linalg::ControlFusionFn reshape = [](OpOperand *operand) {
      Operation *producer = operand->get().getDefiningOp();
      if (!producer || !producer->hasOneUse())
        return false;
      return !isContraction(producer) && !isContraction(operand->getOwner());
    };
    RewritePatternSet patterns(context);
    linalg::populateElementwiseOpsFusionPatterns(patterns, fuse);
    patterns.add<FreshInitForUnreadOutput>(context);
    linalg::populateFoldReshapeOpsByExpansionPatterns(patterns, reshape);
    tensor::populateBubbleUpExpandShapePatterns(patterns);
    affine::AffineApplyOp::getCanonicalizationPatterns(patterns, context);
    linalg::GenericOp::getCanonicalizationPatterns(patterns, context);
    tensor::ExpandShapeOp::getCanonicalizationPatterns(patterns, context);
    tensor::CollapseShapeOp::getCanonicalizationPatterns(patterns, context);
    // tensor.dim of a linalg result becomes the dim of its init, so the
    // sizes of a fresh init leave the producer with one use.
    tensor::DimOp::getCanonicalizationPatterns(patterns, context);
    context->getLoadedDialect<linalg::LinalgDialect>()
        ->getCanonicalizationPatterns(patterns);
    linalg::populateConstantFoldLinalgOperations(patterns, fuse);
    if (failed(applyPatternsGreedily(
            getOperation(), std::move(patterns),
            GreedyRewriteConfig().setUseTopDownTraversal())))
      return signalPassFailure();
  }
};

} // namespace
