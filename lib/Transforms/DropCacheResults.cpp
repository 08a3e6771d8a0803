//===- DropCacheResults.cpp - remove in-place KV-cache results ------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "llvm/ADT/BitVector.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSDROPCACHERESULTS
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

/// `v` without the memref.casts around it.
static Value stripCasts(Value v) {
  while (auto cast = v.getDefiningOp<memref::CastOp>())
    v = cast.getSource();
  return v;
}

namespace {

struct DropCacheResultsPass
    : public ds::impl::DSDropCacheResultsBase<DropCacheResultsPass> {
  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      llvm::BitVector drop(func.getNumResults());
      for (unsigned i = 0, e = func.getNumResults(); i < e; ++i) {
        auto tied = func.getResultAttrOfType<StringAttr>(i, "ds.cache_result");
        if (!tied)
          continue;
        // The cache argument is named, not numbered: passes before
        // bufferization may drop unused arguments.
        int64_t arg = -1;
        for (unsigned a = 0, n = func.getNumArguments(); a < n; ++a)
          if (func.getArgAttrOfType<StringAttr>(a, "ds.input") == tied)
            arg = a;
        if (arg < 0) {
          func.emitError() << "result " << i << " is tied to cache '"
                           << tied.getValue() << "', which is not an argument";
          return signalPassFailure();
        }
        bool inPlace = true;
        func.walk([&](func::ReturnOp ret) {
          inPlace &= stripCasts(ret.getOperand(i)) == func.getArgument(arg);
        });
        if (!inPlace) {
          func.emitError() << "the KV cache '" << tied.getValue()
                           << "' was not updated in place (bufferization "
                              "copied it)";
          return signalPassFailure();
        }
        drop.set(i);
      }
      if (drop.none())
        continue;
      func.walk([&](func::ReturnOp ret) { ret->eraseOperands(drop); });
      if (failed(func.eraseResults(drop))) {
        func.emitError() << "cannot remove the KV-cache results";
        return signalPassFailure();
      }
    }
  }
};

} // namespace
