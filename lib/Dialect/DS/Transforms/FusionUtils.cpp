//===- FusionUtils.cpp - helpers shared by the fusion passes --------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ds;

void fusion::remarkMissed(bool enabled, Operation *anchor, StringRef pass,
                          const Twine &reason) {
  if (!enabled || !anchor)
    return;
  emitRemark(anchor->getLoc()) << pass << ": not fused: " << reason;
}

Value fusion::stripBroadcasts(Value v) {
  while (auto b = v.getDefiningOp<BroadcastOp>())
    v = b->getOperand(0);
  return v;
}

/// The splat attribute `v` is made of, through broadcasts and splats.
static Attribute getSplatAttr(Value v) {
  v = fusion::stripBroadcasts(v);
  if (auto splat = v.getDefiningOp<tensor::SplatOp>())
    v = splat.getInput();
  Attribute attr;
  if (auto cst = v.getDefiningOp<arith::ConstantOp>())
    attr = cst.getValue();
  else
    return {};
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (!dense.isSplat())
      return {};
    return dense.getSplatValue<Attribute>();
  }
  return attr;
}

std::optional<double> fusion::getSplatFloat(Value v) {
  if (auto f = dyn_cast_or_null<FloatAttr>(getSplatAttr(v)))
    return f.getValueAsDouble();
  return std::nullopt;
}

std::optional<int64_t> fusion::getSplatInt(Value v) {
  if (auto i = dyn_cast_or_null<IntegerAttr>(getSplatAttr(v))) {
    if (i.getType().isInteger(1))
      return i.getValue().getBoolValue() ? 1 : 0;
    return i.getValue().getSExtValue();
  }
  return std::nullopt;
}

bool fusion::approxEqual(double a, double b, double relTol) {
  return std::fabs(a - b) <= relTol * std::max(std::fabs(a), std::fabs(b));
}

/// The attribute `name` of `v` when it is an entry-block argument of a
/// function.
static Attribute getFuncArgAttr(Value v, StringRef name) {
  auto arg = dyn_cast<BlockArgument>(v);
  if (!arg || !arg.getOwner()->isEntryBlock())
    return {};
  auto func = dyn_cast_or_null<func::FuncOp>(arg.getOwner()->getParentOp());
  if (!func)
    return {};
  return func.getArgAttr(arg.getArgNumber(), name);
}

bool fusion::isWeight(Value v) {
  if (v.getDefiningOp<arith::ConstantOp>())
    return true;
  return getFuncArgAttr(v, "ds.weight") || getFuncArgAttr(v, "ds.derived");
}

StringRef fusion::getWeightName(Value v) {
  if (auto name = dyn_cast_or_null<StringAttr>(getFuncArgAttr(v, "ds.weight")))
    return name.getValue();
  return {};
}

bool fusion::derivesFromWeights(Value v, int depth) {
  if (isWeight(v))
    return true;
  Operation *op = v.getDefiningOp();
  if (!op || depth > 8 || !isPure(op) || op->getNumRegions() > 1)
    return false;
  if (op->getNumRegions() == 1 && !isa<linalg::LinalgOp>(op))
    return false;
  return llvm::all_of(op->getOperands(), [&](Value operand) {
    return derivesFromWeights(operand, depth + 1);
  });
}
