//===- SplitReductions.cpp - more parallelism for long GPU reductions -----===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// On the generic CUDA path every output element is one thread and its
// reduction runs sequentially in that thread. A decode-time GEMV
// ([1, K] x [K, N]) then has only N threads, too few to keep the GPU's
// memory system busy. Splitting each long reduction (upstream
// linalg::splitReduction) into `ratio` partial reductions computed in
// parallel, and a second small reduction of the partials, multiplies the
// threads by `ratio` for one extra pass over outputs-times-ratio values.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSSPLITREDUCTIONS
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

struct SplitReductionsPass
    : public ds::impl::DSSplitReductionsBase<SplitReductionsPass> {
  using Base::Base;

  /// The split ratio for `op`, or 0: one static reduction dimension of at
  /// least minReduction elements; the largest power of two up to maxRatio
  /// that divides it and leaves chunks of at least minChunk; only when the
  /// static part of the output is small (a large output already has
  /// enough threads).
  int64_t ratioFor(linalg::LinalgOp op) const {
    if (op.getNumReductionLoops() != 1 || op.getNumDpsInits() != 1 ||
        !op.hasPureTensorSemantics())
      return 0;
    SmallVector<int64_t> ranges = op.getStaticLoopRanges();
    SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
    int64_t reduction = 0, outputs = 1;
    for (auto [range, iterator] : llvm::zip(ranges, iterators)) {
      if (iterator == utils::IteratorType::reduction)
        reduction = range;
      else if (!ShapedType::isDynamic(range))
        outputs *= range;
    }
    if (ShapedType::isDynamic(reduction) || reduction < minReduction ||
        outputs > maxOutputs)
      return 0;
    int64_t ratio = 1;
    while (ratio * 2 <= maxRatio && reduction % (ratio * 2) == 0 &&
           reduction / (ratio * 2) >= minChunk)
      ratio *= 2;
    return ratio > 1 ? ratio : 0;
  }

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (ratioFor(op))
        candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      rewriter.setInsertionPoint(op);
      int64_t ratio = ratioFor(op);
      // The new parallel dimension goes first in the partials tensor.
      auto control = [&](linalg::LinalgOp) {
        return linalg::SplitReductionOptions{ratio, 0, false};
      };
      // Ops the transform does not handle (no recognisable combiner) stay.
      (void)linalg::splitReduction(rewriter, op, control);
    }
  }
};

} // namespace
