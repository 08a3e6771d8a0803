//===- FreshResults.cpp - returned buffers become fresh allocations -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

#define DEBUG_TYPE "ds-fresh-results"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFRESHRESULTS
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

/// True when `value` is a buffer this function allocated itself, with an
/// identity layout: the only kind the caller may `free`.
static bool isOwnedAllocation(Value value) {
  auto alloc = value.getDefiningOp<memref::AllocOp>();
  return alloc && alloc.getType().getLayout().isIdentity();
}

struct FreshResultsPass
    : public ds::impl::DSFreshResultsBase<FreshResultsPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isPrivate() || func.isExternal())
      return;
    DenseSet<Value> seen;
    func.walk([&](func::ReturnOp ret) {
      OpBuilder b(ret);
      for (OpOperand &operand : ret->getOpOperands()) {
        Value value = operand.get();
        auto type = dyn_cast<MemRefType>(value.getType());
        if (!type)
          continue;
        // A buffer returned twice must be copied the second time: the
        // caller frees each result once.
        if (isOwnedAllocation(value) && seen.insert(value).second)
          continue;
        auto freshType =
            MemRefType::get(type.getShape(), type.getElementType());
        SmallVector<Value> dynamicSizes;
        for (int64_t d = 0; d < type.getRank(); ++d)
          if (type.isDynamicDim(d))
            dynamicSizes.push_back(
                memref::DimOp::create(b, ret.getLoc(), value, d));
        Value fresh =
            memref::AllocOp::create(b, ret.getLoc(), freshType, dynamicSizes);
        memref::CopyOp::create(b, ret.getLoc(), value, fresh);
        operand.set(fresh);
        seen.insert(fresh);
      }
    });
    // The function type follows the (possibly relaid-out) results.
    SmallVector<Type> resultTypes;
    func.walk([&](func::ReturnOp ret) {
      resultTypes = llvm::to_vector(ret.getOperandTypes());
    });
    func.setType(FunctionType::get(
        &getContext(), func.getFunctionType().getInputs(), resultTypes));
  }
};

} // namespace
