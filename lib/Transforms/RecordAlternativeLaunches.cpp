//===- RecordAlternativeLaunches.cpp - count a call's launches once -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// ds-gemv-to-gpu and ds-attention-to-gpu dispatch on the host by shape: an
// scf.if marked `ds.alternatives` runs the kernels of its then region
// (decode at small batch) or those of its else region (the tensor-core
// kernels, prefill), never both. Which kernels end up in the else region is
// known only after every kernel-building pass (a norm moved into it becomes
// one kernel or two), so this pass, last among them, counts them: their
// number goes to the function's `ds.alternative_launches`, which
// ds-lower-gpu-launches subtracts from the function's launches for the
// statistics (`decode_kernels`: the launches of one call at small batch).
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSRECORDALTERNATIVELAUNCHES
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kMark = "ds.alternatives";

struct RecordAlternativeLaunchesPass
    : public ds::impl::DSRecordAlternativeLaunchesBase<
          RecordAlternativeLaunchesPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    int64_t count = 0;
    // A launch counts once, however many marked else regions hold it.
    func.walk([&](gpu::LaunchOp launch) {
      for (Region *region = launch->getParentRegion(); region;
           region = region->getParentRegion()) {
        auto dispatch = dyn_cast<scf::IfOp>(region->getParentOp());
        if (dispatch && dispatch->hasAttr(kMark) &&
            region == &dispatch.getElseRegion()) {
          ++count;
          break;
        }
        if (region->getParentOp() == func.getOperation())
          break;
      }
    });
    func.walk([&](scf::IfOp dispatch) { dispatch->removeAttr(kMark); });
    if (!count)
      return;
    auto known = func->getAttrOfType<IntegerAttr>("ds.alternative_launches");
    func->setAttr("ds.alternative_launches",
                  Builder(&getContext())
                      .getI64IntegerAttr((known ? known.getInt() : 0) + count));
  }
};

} // namespace
