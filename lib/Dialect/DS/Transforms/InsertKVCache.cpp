//===- InsertKVCache.cpp - placeholder until the pass lands ----------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/Transforms/Passes.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSINSERTKVCACHE
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

namespace {
struct InsertKVCachePass : ds::impl::DSInsertKVCacheBase<InsertKVCachePass> {
  using Base::Base;
  void runOnOperation() override {}
};
} // namespace
