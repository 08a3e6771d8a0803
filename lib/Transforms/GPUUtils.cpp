//===- GPUUtils.cpp - helpers of the kernel-building passes ----------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "GPUUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <limits>

using namespace mlir;

SmallVector<Value> mlir::ds::delinearizeIndex(OpBuilder &b, Location loc,
                                              Value linear,
                                              ArrayRef<Value> extents,
                                              Value total, bool keepRest) {
  size_t count = extents.size();
  size_t results = keepRest ? count + 1 : count;
  auto split = [&](OpBuilder &sb, Type type) {
    auto cast = [&](Value v) -> Value {
      return type.isIndex()
                 ? v
                 : arith::IndexCastUIOp::create(sb, loc, type, v).getResult();
    };
    auto back = [&](Value v) -> Value {
      return type.isIndex() ? v
                            : arith::IndexCastUIOp::create(
                                  sb, loc, sb.getIndexType(), v)
                                  .getResult();
    };
    SmallVector<Value> parts(results);
    Value rest = cast(linear);
    for (int d = static_cast<int>(count) - 1; d >= 0; --d) {
      if (d == 0 && !keepRest)
        break;
      Value extent = cast(extents[d]);
      parts[d] = back(arith::RemUIOp::create(sb, loc, rest, extent));
      rest = arith::DivUIOp::create(sb, loc, rest, extent);
    }
    parts[keepRest ? count : 0] = back(rest);
    return parts;
  };
  // The divisions that would run: by extents[1..] (and extents[0] with
  // keepRest).
  ArrayRef<Value> divisors = keepRest ? extents : extents.drop_front();
  bool allStatic = llvm::all_of(divisors, [](Value e) {
    return getConstantIntValue(e).has_value();
  });
  if (divisors.empty() || allStatic || !total)
    return split(b, b.getIndexType());
  Value fits = arith::CmpIOp::create(
      b, loc, arith::CmpIPredicate::ule, total,
      arith::ConstantIndexOp::create(b, loc,
                                     std::numeric_limits<int32_t>::max()));
  SmallVector<Type> types(results, b.getIndexType());
  auto choice =
      scf::IfOp::create(b, loc, TypeRange(types), fits, /*withElse=*/true);
  OpBuilder tb = OpBuilder::atBlockBegin(choice.thenBlock());
  scf::YieldOp::create(tb, loc, split(tb, tb.getI32Type()));
  OpBuilder eb = OpBuilder::atBlockBegin(choice.elseBlock());
  scf::YieldOp::create(eb, loc, split(eb, eb.getIndexType()));
  return SmallVector<Value>(choice.getResults());
}

Value mlir::ds::viewRoot(Value v) {
  while (Operation *def = v.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      break;
    v = view.getViewSource();
  }
  return v;
}

bool mlir::ds::hasAlignedRows(Value buffer, int64_t elements) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  if (type.getRank() == 0 || failed(type.getStridesAndOffset(strides, offset)) ||
      strides.back() != 1 || ShapedType::isDynamic(type.getShape().back()) ||
      type.getShape().back() % elements)
    return false;
  // An identity layout: every stride is a multiple of the last extent.
  if (type.getLayout().isIdentity())
    return true;
  bool staticAligned = !ShapedType::isDynamic(offset) && offset % elements == 0;
  for (int64_t stride : ArrayRef<int64_t>(strides).drop_back())
    staticAligned &= !ShapedType::isDynamic(stride) && stride % elements == 0;
  if (staticAligned)
    return true;
  Operation *def = buffer.getDefiningOp();
  if (!def)
    return false;
  if (auto subview = dyn_cast<memref::SubViewOp>(def)) {
    std::optional<int64_t> last =
        getConstantIntValue(subview.getMixedOffsets().back());
    std::optional<int64_t> step =
        getConstantIntValue(subview.getMixedStrides().back());
    return last && *last % elements == 0 && step && *step == 1 &&
           subview.getSourceType().getRank() == type.getRank() &&
           hasAlignedRows(subview.getSource(), elements);
  }
  if (isa<memref::ExpandShapeOp, memref::CollapseShapeOp, memref::CastOp>(
          def)) {
    Value source = cast<ViewLikeOpInterface>(def).getViewSource();
    auto sourceType = cast<MemRefType>(source.getType());
    return sourceType.getRank() > 0 &&
           sourceType.getShape().back() == type.getShape().back() &&
           hasAlignedRows(source, elements);
  }
  return false;
}

bool mlir::ds::BufferAccesses::independentOf(
    const BufferAccesses &other) const {
  for (Value w : writes)
    if (other.reads.contains(w) || other.writes.contains(w))
      return false;
  for (Value w : other.writes)
    if (reads.contains(w))
      return false;
  return true;
}

void mlir::ds::BufferAccesses::add(const BufferAccesses &other) {
  reads.insert(other.reads.begin(), other.reads.end());
  writes.insert(other.writes.begin(), other.writes.end());
}

bool mlir::ds::collectBufferAccesses(Operation *op, BufferAccesses &into) {
  WalkResult result = op->walk([&](Operation *nested) {
    auto iface = dyn_cast<MemoryEffectOpInterface>(nested);
    if (!iface) {
      // Ops with regions (scf.for, scf.if, gpu.launch) report through
      // their bodies.
      if (nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        return WalkResult::advance();
      return WalkResult::interrupt();
    }
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (const MemoryEffects::EffectInstance &effect : effects) {
      // Allocation and deallocation change no buffer contents.
      if (isa<MemoryEffects::Allocate, MemoryEffects::Free>(
              effect.getEffect()))
        continue;
      Value value = effect.getValue();
      if (!value || !isa<BaseMemRefType>(value.getType()))
        return WalkResult::interrupt();
      Value root = viewRoot(value);
      // A buffer made inside `op` (private or shared scratch) is its own.
      if (op->isAncestor(root.getParentRegion()->getParentOp()))
        continue;
      if (!root.getDefiningOp<memref::AllocOp>() &&
          !root.getDefiningOp<memref::GetGlobalOp>() &&
          !isa<BlockArgument>(root))
        return WalkResult::interrupt();
      if (isa<MemoryEffects::Write>(effect.getEffect()))
        into.writes.insert(root);
      else
        into.reads.insert(root);
    }
    return WalkResult::advance();
  });
  return !result.wasInterrupted();
}

void mlir::ds::markAlternatives(Operation *dispatch) {
  dispatch->setAttr("ds.alternatives", UnitAttr::get(dispatch->getContext()));
}
