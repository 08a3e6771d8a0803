//===- ReadWholeKVCache.cpp - static-shape cache reads for the GPU --------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// See the pass description in Passes.td: every ds.kv_cache.read reads the
// cache's whole capacity, so no buffer is sized from device data.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSREADWHOLEKVCACHE
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

namespace {
struct ReadWholeKVCachePass
    : public ds::impl::DSReadWholeKVCacheBase<ReadWholeKVCachePass> {
  void runOnOperation() override {
    getOperation().walk([](KVCacheReadOp op) {
      OpBuilder b(op);
      Value capacity = tensor::DimOp::create(b, op.getLoc(), op.getCache(), 2);
      op.getLengthMutable().assign(capacity);
    });
  }
};
} // namespace
