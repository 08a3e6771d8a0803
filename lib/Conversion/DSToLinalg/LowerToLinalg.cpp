//===- LowerToLinalg.cpp - the ds-lower-to-linalg pass --------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Collects the per-family patterns (GraphOps.cpp, Reductions.cpp,
// Gathers.cpp, Normalization.cpp, Activations.cpp, Attention.cpp, Rope.cpp,
// Linear.cpp, KVCache.cpp, Quantization.cpp) and runs them as a partial
// conversion in which no ds op may survive.
//
//===----------------------------------------------------------------------===//

#include "ds/Conversion/DSToLinalg/DSToLinalg.h"
#include "ds/Conversion/Passes.h"
#include "ds/Dialect/DS/IR/DSDialect.h"
#include "ds/Dialect/DS/IR/DSOps.h"

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Transforms/DialectConversion.h"

#define DEBUG_TYPE "ds-lower-to-linalg"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSLOWERTOLINALG
#include "ds/Conversion/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

void mlir::ds::populateDSToLinalgPatterns(RewritePatternSet &patterns) {
  lowering::populateGraphOpPatterns(patterns);
  lowering::populateReductionPatterns(patterns);
  lowering::populateGatherPatterns(patterns);
  lowering::populateNormalizationPatterns(patterns);
  lowering::populateActivationPatterns(patterns);
  lowering::populateAttentionPatterns(patterns);
  lowering::populateRopePatterns(patterns);
  lowering::populateRopeTablePatterns(patterns);
  lowering::populateLinearPatterns(patterns);
  lowering::populateKVCachePatterns(patterns);
  lowering::populateQuantizationPatterns(patterns);
}

void mlir::ds::configureDSToLinalgLegality(ConversionTarget &target) {
  target.addIllegalDialect<DSDialect>();
  // Kept whole for a target that generates one attention kernel.
  target.addLegalOp<ds::FusedAttentionOp>();
  target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                         math::MathDialect, scf::SCFDialect,
                         tensor::TensorDialect>();
}

namespace {

struct DSLowerToLinalgPass
    : public ds::impl::DSLowerToLinalgBase<DSLowerToLinalgPass> {
  using Base::Base;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    ConversionTarget target(*ctx);
    configureDSToLinalgLegality(target);
    RewritePatternSet patterns(ctx);
    populateDSToLinalgPatterns(patterns);
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
