//===- CastOps.cpp - ONNX Cast and CastLike -------------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Element type conversions as arith casts: float -> int truncates toward
// zero, anything -> bool compares with zero, unsigned sources and bool
// zero-extend. Known integral values convert on their elements.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

/// Creates `OpTy`, folding it when allowed and its operand is a constant.
template <typename OpTy, typename... Args>
static Value make(NodeImporter &n, bool fold, Args &&...args) {
  if (fold)
    return n.b.createOrFold<OpTy>(n.loc, std::forward<Args>(args)...);
  return OpTy::create(n.b, n.loc, std::forward<Args>(args)...);
}

/// Converts `x` (ONNX type `from`) to ONNX type `to`.
static Value convert(NodeImporter &n, Value x, DType from, DType to,
                     ArrayRef<OpFoldResult> dims, bool fold) {
  auto srcType = cast<RankedTensorType>(x.getType());
  Type dstElem = elementTypeFor(&n.graph.ctx, to);
  Type srcElem = srcType.getElementType();
  auto dstType = srcType.clone(dstElem);
  if (srcElem == dstElem)
    return x;
  unsigned sw = srcElem.getIntOrFloatBitWidth();
  unsigned dw = dstElem.getIntOrFloatBitWidth();
  bool srcFloat = isFloatDType(from), dstFloat = isFloatDType(to);
  if (isBoolDType(to)) {
    Value zero = n.graph.splat(n.graph.scalarAttr(srcElem, 0), dims, n.loc);
    if (srcFloat)
      return make<arith::CmpFOp>(n, fold, arith::CmpFPredicate::UNE, x, zero);
    return make<arith::CmpIOp>(n, fold, arith::CmpIPredicate::ne, x, zero);
  }
  if (srcFloat && dstFloat) {
    if (sw < dw)
      return make<arith::ExtFOp>(n, fold, dstType, x);
    if (sw > dw)
      return make<arith::TruncFOp>(n, fold, dstType, x);
    // f16 <-> bf16 goes through f32.
    Value wide =
        make<arith::ExtFOp>(n, fold, srcType.clone(n.b.getF32Type()), x);
    return make<arith::TruncFOp>(n, fold, dstType, wide);
  }
  if (srcFloat)
    return isUnsignedDType(to) ? make<arith::FPToUIOp>(n, fold, dstType, x)
                               : make<arith::FPToSIOp>(n, fold, dstType, x);
  if (dstFloat)
    return isUnsignedDType(from) ? make<arith::UIToFPOp>(n, fold, dstType, x)
                                 : make<arith::SIToFPOp>(n, fold, dstType, x);
  if (sw < dw)
    return isUnsignedDType(from) ? make<arith::ExtUIOp>(n, fold, dstType, x)
                                 : make<arith::ExtSIOp>(n, fold, dstType, x);
  return make<arith::TruncIOp>(n, fold, dstType, x);
}

static LogicalResult importCastTo(NodeImporter &n, DType to) {
  if (!elementTypeFor(&n.graph.ctx, to))
    return n.error() << "unsupported target type " << dtypeName(to);
  TensorValue &in = n.input(0);
  DType from = in.dtype;
  // Known integral values: convert the elements.
  if (in.known && isIntegralDType(to)) {
    SmallVector<OpFoldResult> elems;
    for (OpFoldResult e : *in.known) {
      if (isBoolDType(to))
        elems.push_back(
            n.sym.cmp(n.loc, arith::CmpIPredicate::ne, e, n.b.getIndexAttr(0)));
      else
        elems.push_back(e);
    }
    return n.setOutput(0, n.graph.knownValue(to, in.type.getShape(), elems));
  }
  if (in.elementType() == elementTypeFor(&n.graph.ctx, to)) {
    TensorValue out = in;
    out.dtype = to;
    if (out.known && !isIntegralDType(to))
      out.known.reset();
    if (out.constant)
      return n.setOutput(0, n.graph.constantValue(out.constant, to));
    return n.setOutput(0, std::move(out));
  }
  // Small or splat constants fold.
  bool fold = !in.constant || in.constant.isSplat() ||
              in.type.getNumElements() <= n.options().maxFoldElements;
  Value x = n.tensor(0);
  Value r = convert(n, x, from, to, in.dims, fold);
  return n.setOutput(0, r, to, in.dims);
}

static LogicalResult importCast(NodeImporter &n) {
  FailureOr<int64_t> to = n.intAttr("to");
  if (failed(to))
    return failure();
  return importCastTo(n, static_cast<DType>(*to));
}

static LogicalResult importCastLike(NodeImporter &n) {
  return importCastTo(n, n.input(1).dtype);
}

ArrayRef<OpInfo> importer::getCastOps() {
  static const OpInfo ops[] = {
      {"Cast", 1, 1, 1, 1, importCast},
      {"CastLike", 2, 2, 1, 1, importCastLike},
  };
  return ops;
}
