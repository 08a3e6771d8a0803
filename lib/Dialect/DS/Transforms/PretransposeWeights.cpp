//===- PretransposeWeights.cpp - [N, K] weights for the GPU's GEMVs -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSPRETRANSPOSEWEIGHTS
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

namespace {

struct PretransposeWeightsPass
    : public ds::impl::DSPretransposeWeightsBase<PretransposeWeightsPass> {
  void runOnOperation() override {
    getOperation().walk([](LinearOp op) {
      if (op.getTransposeWeight() || !fusion::derivesFromWeights(op.getWeight()))
        return;
      auto type = dyn_cast<RankedTensorType>(op.getWeight().getType());
      if (!type || type.getRank() != 2)
        return;
      OpBuilder b(op);
      Location loc = op.getLoc();
      SmallVector<OpFoldResult> sizes = {
          tensor::getMixedSize(b, loc, op.getWeight(), 1),
          tensor::getMixedSize(b, loc, op.getWeight(), 0)};
      Value init =
          tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
      Value transposed =
          linalg::TransposeOp::create(b, loc, op.getWeight(), init,
                                      ArrayRef<int64_t>{1, 0})
              ->getResult(0);
      op.getWeightMutable().assign(transposed);
      op.setTransposeWeight(true);
    });
  }
};

} // namespace
