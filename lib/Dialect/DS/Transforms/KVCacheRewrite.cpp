//===- KVCacheRewrite.cpp - helpers of ds-insert-kv-cache ----------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "KVCacheRewrite.h"
#include "MaskAnalysis.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::kvcache;

/// `tensor.generate` producing `index_cast(i)`: an iota.
bool kvcache::isIota(Value v) {
  auto gen = v.getDefiningOp<tensor::GenerateOp>();
  if (!gen || gen.getType().getRank() != 1)
    return false;
  Block &body = gen.getBody().front();
  auto yield = dyn_cast<tensor::YieldOp>(body.getTerminator());
  if (!yield)
    return false;
  auto cast = yield.getValue().getDefiningOp<arith::IndexCastOp>();
  return cast && cast.getIn() == body.getArgument(0);
}

/// The name of a graph input, for messages.
std::string kvcache::inputName(func::FuncOp func, BlockArgument arg) {
  auto name =
      func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "ds.input");
  return name ? name.getValue().str() : "?";
}

/// Makes every `tensor.dim` of dimension `dim` of the `sources` read one
/// value (created at the start of the body when there is none), so that
/// the mask analysis sees one symbol for one size. The sources are graph
/// inputs whose sizes are equal by the feeding convention (all past
/// keys/values have the past length).
Value kvcache::unifyDims(func::FuncOp func, ArrayRef<Value> sources,
                       int64_t dim) {
  SmallVector<tensor::DimOp> dims;
  func.walk([&](tensor::DimOp d) {
    std::optional<int64_t> idx = d.getConstantIndex();
    if (idx && *idx == dim && llvm::is_contained(sources, d.getSource()))
      dims.push_back(d);
  });
  Block &entry = func.getBody().front();
  Value keep;
  for (tensor::DimOp d : dims)
    if (d->getBlock() == &entry && !keep) {
      d->moveBefore(&entry, entry.begin());
      // Its index constant must dominate it.
      Value idx = d.getIndex();
      if (Operation *c = idx.getDefiningOp())
        c->moveBefore(d);
      keep = d.getResult();
    }
  if (!keep) {
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    keep = tensor::DimOp::create(b, func.getLoc(), sources.front(), dim);
  }
  for (tensor::DimOp d : dims)
    if (d.getResult() != keep) {
      d.getResult().replaceAllUsesWith(keep);
      d->erase();
    }
  return keep;
}

/// The sequence-iota generators in `fn` (those the common rewrite offsets).
SmallVector<tensor::GenerateOp> kvcache::sequenceIotas(func::FuncOp fn,
                                                     Value tok) {
  SmallVector<tensor::GenerateOp> iotas;
  fn.walk([&](tensor::GenerateOp gen) {
    if (isIota(gen.getResult()) && gen.getDynamicExtents().size() == 1) {
      Value extent = gen.getDynamicExtents()[0];
      auto dim = extent.getDefiningOp<tensor::DimOp>();
      std::optional<int64_t> idx = dim ? dim.getConstantIndex() : std::nullopt;
      if (dim && dim.getSource() == tok && idx && *idx == 1)
        iotas.push_back(gen);
    }
  });
  return iotas;
}
