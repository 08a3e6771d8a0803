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
    // A linear layer's matmul (its right operand a weight, an argument of
    // the function) is the GEMV kernels' (ds-gemv-to-gpu): they split K
    // across the lanes of a warp themselves.
    if (isa<linalg::MatmulOp>(op) &&
        isa<BlockArgument>(op.getDpsInputs()[1]))
      return 0;
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
    // A dynamic parallel dimension is small only in @decode (one token per
    // sequence: the rows are the batch). In @prefill and @forward it is
    // batch x sequence, where the partials (ratio x rows x N) would cost
    // more memory traffic than the split saves.
    bool smallRows = getOperation().getName() == "decode";
    getOperation().walk([&](linalg::LinalgOp op) {
      if (!smallRows && !op.hasDynamicShape() && ratioFor(op))
        candidates.push_back(op);
      else if (smallRows && ratioFor(op))
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
      Value init = op.getDpsInits()[0];
      // Ops the transform does not handle (no recognisable combiner) stay.
      FailureOr<linalg::SplitReductionResult> split =
          linalg::splitReduction(rewriter, op, control);
      if (failed(split))
        continue;
      // The combining op reduces over the split dimension, which upstream
      // puts first: loops lowered from it would be a sequential loop
      // around the parallel ones (one GPU thread for the whole output).
      // Move the reduction innermost.
      if (auto combine = dyn_cast<linalg::GenericOp>(
              split->resultCombiningLinalgOp.getOperation())) {
        unsigned n = combine.getNumLoops();
        SmallVector<unsigned> perm;
        for (unsigned d = 1; d < n; ++d)
          perm.push_back(d);
        perm.push_back(0);
        rewriter.setInsertionPoint(combine);
        (void)linalg::interchangeGenericOp(rewriter, combine, perm);
      }
      // linalg::splitReduction (LLVM 22) builds the partials' tensor.empty
      // without its dynamic sizes. The partials are the output's shape
      // with the split dimension first: take the sizes from the output.
      auto empty = dyn_cast<tensor::EmptyOp>(split->initOrAlloc);
      if (!empty || empty.getDynamicSizes().size() ==
                        size_t(empty.getType().getNumDynamicDims()))
        continue;
      rewriter.setInsertionPoint(empty);
      SmallVector<Value> sizes;
      for (int64_t d = 1; d < empty.getType().getRank(); ++d)
        if (empty.getType().isDynamicDim(d))
          sizes.push_back(
              tensor::DimOp::create(rewriter, empty.getLoc(), init, d - 1));
      rewriter.replaceOpWithNewOp<tensor::EmptyOp>(empty, empty.getType(),
                                                   sizes);
    }
  }
};

} // namespace
