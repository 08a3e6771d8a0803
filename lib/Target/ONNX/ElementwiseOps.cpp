//===- ElementwiseOps.cpp - ONNX elementwise ops --------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// N-ary elementwise ops: arith/math on tensors of one type after
// an explicit ds.broadcast to the numpy-broadcast result shape. Integral
// operands that are known at import (shape arithmetic) are evaluated on
// their elements instead; constant operands fold.
//
//===----------------------------------------------------------------------===//

#include "Elementwise.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

FailureOr<Operands> importer::broadcastOperands(NodeImporter &n,
                                                ArrayRef<unsigned> idx) {
  Operands ops;
  SmallVector<SmallVector<OpFoldResult>> shapes;
  for (unsigned i : idx)
    shapes.push_back(n.input(i).dims);
  FailureOr<SmallVector<OpFoldResult>> dims = broadcastDims(n, shapes);
  if (failed(dims))
    return failure();
  ops.dims = *dims;
  RankedTensorType shapeType =
      tensorTypeFor(ops.dims, n.b.getI1Type()); // element type unused
  bool smallStatic = shapeType.hasStaticShape() &&
                     shapeType.getNumElements() <= n.options().maxFoldElements;
  for (unsigned i : idx) {
    TensorValue &in = n.input(i);
    if (in.constant && !smallStatic && !in.constant.isSplat())
      ops.fold = false;
    if (in.constant && smallStatic) {
      auto type = RankedTensorType::get(shapeType.getShape(), in.elementType());
      if (type == in.type) {
        ops.values.push_back(n.tensor(i));
        continue;
      }
      ArrayRef<int64_t> inShape = in.type.getShape();
      ArrayRef<int64_t> outShape = type.getShape();
      SmallVector<int64_t> inStrides = rowMajorStrides(inShape);
      SmallVector<int64_t> outStrides = rowMajorStrides(outShape);
      size_t lead = outShape.size() - inShape.size();
      DenseElementsAttr attr =
          remapElements(in.constant, type, [&](int64_t linear) {
            int64_t src = 0;
            for (size_t d = 0; d < inShape.size(); ++d) {
              int64_t coord =
                  (linear / outStrides[lead + d]) % outShape[lead + d];
              if (inShape[d] != 1)
                src += coord * inStrides[d];
            }
            return src;
          });
      ops.values.push_back(arith::ConstantOp::create(n.b, n.loc, attr));
      continue;
    }
    ops.values.push_back(n.graph.broadcastTo(n.tensor(i), ops.dims, n.loc));
  }
  return ops;
}
//===----------------------------------------------------------------------===//
// Known values
//===----------------------------------------------------------------------===//

FailureOr<bool> importer::tryKnown(NodeImporter &n, ArrayRef<unsigned> idx,
                                   DType resultType, KnownFn fn) {
  for (unsigned i : idx)
    if (!n.hasInput(i) || !n.input(i).known)
      return false;
  if (!isIntegralDType(resultType))
    return false;
  SmallVector<SmallVector<OpFoldResult>> shapes;
  for (unsigned i : idx)
    shapes.push_back(n.input(i).dims);
  FailureOr<SmallVector<OpFoldResult>> dims = broadcastDims(n, shapes);
  if (failed(dims))
    return failure();
  SmallVector<int64_t> outShape = staticShapeOf(*dims);
  std::optional<int64_t> numel = checkedProduct(outShape, kMaxKnownElements);
  if (!numel)
    return false;
  SmallVector<int64_t> outStrides = rowMajorStrides(outShape);
  SmallVector<OpFoldResult> result;
  for (int64_t linear = 0; linear < *numel; ++linear) {
    SmallVector<OpFoldResult> operands;
    for (unsigned i : idx) {
      TensorValue &in = n.input(i);
      ArrayRef<int64_t> inShape = in.type.getShape();
      SmallVector<int64_t> inStrides = rowMajorStrides(inShape);
      size_t lead = outShape.size() - inShape.size();
      int64_t src = 0;
      for (size_t d = 0; d < inShape.size(); ++d) {
        int64_t coord = (linear / outStrides[lead + d]) % outShape[lead + d];
        if (inShape[d] != 1)
          src += coord * inStrides[d];
      }
      operands.push_back((*in.known)[src]);
    }
    FailureOr<OpFoldResult> r = fn(operands);
    if (failed(r))
      return failure();
    result.push_back(*r);
  }
  if (failed(n.setOutput(0, n.graph.knownValue(resultType, outShape, result))))
    return failure();
  return true;
}
//===----------------------------------------------------------------------===//
// Binary ops
//===----------------------------------------------------------------------===//

namespace {
enum class Bin {
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Max,
  Min,
  And,
  Or,
  Xor,
  Eq,
  Lt,
  Le,
  Gt,
  Ge
};
} // namespace

static bool isCompare(Bin k) {
  return k == Bin::Eq || k == Bin::Lt || k == Bin::Le || k == Bin::Gt ||
         k == Bin::Ge;
}

static bool isLogical(Bin k) {
  return k == Bin::And || k == Bin::Or || k == Bin::Xor;
}

/// One step of a binary op on broadcast operands.
static Value emitBinary(NodeImporter &n, Bin k, Value a, Value c, DType dtype,
                        ArrayRef<OpFoldResult> dims, bool fold, bool fmod) {
  using namespace arith;
  if (isFloatDType(dtype)) {
    switch (k) {
    case Bin::Add:
      return make<AddFOp>(n, fold, a, c);
    case Bin::Sub:
      return make<SubFOp>(n, fold, a, c);
    case Bin::Mul:
      return make<MulFOp>(n, fold, a, c);
    case Bin::Div:
      return make<DivFOp>(n, fold, a, c);
    case Bin::Mod:
      return make<RemFOp>(n, fold, a, c);
    case Bin::Max:
      return make<MaximumFOp>(n, fold, a, c);
    case Bin::Min:
      return make<MinimumFOp>(n, fold, a, c);
    case Bin::Eq:
      return make<CmpFOp>(n, fold, CmpFPredicate::OEQ, a, c);
    case Bin::Lt:
      return make<CmpFOp>(n, fold, CmpFPredicate::OLT, a, c);
    case Bin::Le:
      return make<CmpFOp>(n, fold, CmpFPredicate::OLE, a, c);
    case Bin::Gt:
      return make<CmpFOp>(n, fold, CmpFPredicate::OGT, a, c);
    case Bin::Ge:
      return make<CmpFOp>(n, fold, CmpFPredicate::OGE, a, c);
    default:
      llvm_unreachable("not a float op");
    }
  }
  bool u = isUnsignedDType(dtype);
  switch (k) {
  case Bin::Add:
    return make<AddIOp>(n, fold, a, c);
  case Bin::Sub:
    return make<SubIOp>(n, fold, a, c);
  case Bin::Mul:
    return make<MulIOp>(n, fold, a, c);
  case Bin::Div:
    return u ? make<DivUIOp>(n, fold, a, c) : make<DivSIOp>(n, fold, a, c);
  case Bin::Mod: {
    if (u)
      return make<RemUIOp>(n, fold, a, c);
    Value r = make<RemSIOp>(n, fold, a, c);
    if (fmod)
      return r;
    // Python's `%`: the remainder takes the divisor's sign.
    auto type = cast<RankedTensorType>(a.getType());
    Value zero =
        n.graph.splat(IntegerAttr::get(type.getElementType(), 0), dims, n.loc);
    Value rNeg = make<CmpIOp>(n, fold, CmpIPredicate::slt, r, zero);
    Value cNeg = make<CmpIOp>(n, fold, CmpIPredicate::slt, c, zero);
    Value differ = make<XOrIOp>(n, fold, rNeg, cNeg);
    Value nonZero = make<CmpIOp>(n, fold, CmpIPredicate::ne, r, zero);
    Value fix = make<AndIOp>(n, fold, differ, nonZero);
    Value adjusted = make<AddIOp>(n, fold, r, c);
    return make<SelectOp>(n, fold, fix, adjusted, r);
  }
  case Bin::Max:
    return u ? make<MaxUIOp>(n, fold, a, c) : make<MaxSIOp>(n, fold, a, c);
  case Bin::Min:
    return u ? make<MinUIOp>(n, fold, a, c) : make<MinSIOp>(n, fold, a, c);
  case Bin::And:
    return make<AndIOp>(n, fold, a, c);
  case Bin::Or:
    return make<OrIOp>(n, fold, a, c);
  case Bin::Xor:
    return make<XOrIOp>(n, fold, a, c);
  case Bin::Eq:
    return make<CmpIOp>(n, fold, CmpIPredicate::eq, a, c);
  case Bin::Lt:
    return make<CmpIOp>(n, fold, u ? CmpIPredicate::ult : CmpIPredicate::slt, a,
                        c);
  case Bin::Le:
    return make<CmpIOp>(n, fold, u ? CmpIPredicate::ule : CmpIPredicate::sle, a,
                        c);
  case Bin::Gt:
    return make<CmpIOp>(n, fold, u ? CmpIPredicate::ugt : CmpIPredicate::sgt, a,
                        c);
  case Bin::Ge:
    return make<CmpIOp>(n, fold, u ? CmpIPredicate::uge : CmpIPredicate::sge, a,
                        c);
  }
  llvm_unreachable("unknown binary op");
}

/// The same op on known elements.
static FailureOr<OpFoldResult>
knownBinary(NodeImporter &n, Bin k, OpFoldResult a, OpFoldResult c, bool fmod) {
  SymbolicIndexBuilder &s = n.sym;
  Location loc = n.loc;
  FailureOr<OpFoldResult> r;
  switch (k) {
  case Bin::Add:
    return s.add(loc, a, c);
  case Bin::Sub:
    return s.sub(loc, a, c);
  case Bin::Mul:
  case Bin::And:
    return s.mul(loc, a, c);
  case Bin::Div:
    r = s.divTrunc(loc, a, c);
    break;
  case Bin::Mod:
    r = fmod ? s.remTrunc(loc, a, c) : s.remFloor(loc, a, c);
    break;
  case Bin::Max:
  case Bin::Or:
    return s.max(loc, a, c);
  case Bin::Min:
    return s.min(loc, a, c);
  case Bin::Xor:
    return s.cmp(loc, arith::CmpIPredicate::ne, a, c);
  case Bin::Eq:
    return s.cmp(loc, arith::CmpIPredicate::eq, a, c);
  case Bin::Lt:
    return s.cmp(loc, arith::CmpIPredicate::slt, a, c);
  case Bin::Le:
    return s.cmp(loc, arith::CmpIPredicate::sle, a, c);
  case Bin::Gt:
    return s.cmp(loc, arith::CmpIPredicate::sgt, a, c);
  case Bin::Ge:
    return s.cmp(loc, arith::CmpIPredicate::sge, a, c);
  }
  if (failed(r))
    return n.error() << "integer division by zero";
  return r;
}

/// Add, Sub, ..., Max/Min/Sum (variadic), comparisons, logical ops.
template <Bin K> static LogicalResult importBinary(NodeImporter &n) {
  SmallVector<unsigned> idx;
  for (unsigned i = 0; i < n.numInputs(); ++i) {
    if (!n.hasInput(i))
      return n.error() << "input " << i << " is missing";
    idx.push_back(i);
  }
  if (failed(n.requireSameElementType(idx)))
    return failure();
  DType dtype = n.input(0).dtype;
  if (isLogical(K) && !isBoolDType(dtype))
    return n.error() << "expected bool operands, got " << dtypeName(dtype);
  if (!isLogical(K) && !isCompare(K) && isBoolDType(dtype))
    return n.error() << "expected numeric operands, got BOOL";
  FailureOr<int64_t> fmod = n.intAttr("fmod", 0);
  if (failed(fmod))
    return failure();
  if (K == Bin::Mod && isFloatDType(dtype) && *fmod == 0)
    return n.error() << "fmod must be 1 for float operands";
  DType resultType = isCompare(K) ? onnx::TensorProto_DataType_BOOL : dtype;

  FailureOr<bool> done =
      tryKnown(n, idx, resultType, [&](ArrayRef<OpFoldResult> ops) {
        FailureOr<OpFoldResult> acc = ops[0];
        for (OpFoldResult e : ops.drop_front())
          if (succeeded(acc))
            acc = knownBinary(n, K, *acc, e, *fmod != 0);
        return acc;
      });
  if (failed(done) || *done)
    return failure(failed(done));

  FailureOr<Operands> ops = broadcastOperands(n, idx);
  if (failed(ops))
    return failure();
  bool fold = ops->fold;
  Value acc = ops->values[0];
  for (Value v : ArrayRef<Value>(ops->values).drop_front())
    acc = emitBinary(n, K, acc, v, dtype, ops->dims, fold, *fmod != 0);
  return n.setOutput(0, acc, resultType, ops->dims);
}

/// Mean: the sum divided by the number of inputs.
static LogicalResult importMean(NodeImporter &n) {
  SmallVector<unsigned> idx;
  for (unsigned i = 0; i < n.numInputs(); ++i)
    idx.push_back(i);
  if (failed(n.requireSameElementType(idx)) || failed(n.requireFloat(0)))
    return failure();
  FailureOr<Operands> ops = broadcastOperands(n, idx);
  if (failed(ops))
    return failure();
  bool fold = ops->fold;
  DType dtype = n.input(0).dtype;
  Value acc = ops->values[0];
  for (Value v : ArrayRef<Value>(ops->values).drop_front())
    acc = emitBinary(n, Bin::Add, acc, v, dtype, ops->dims, fold, false);
  Type elem = n.input(0).elementType();
  Value count =
      n.graph.splat(n.graph.scalarAttr(elem, static_cast<double>(idx.size())),
                    ops->dims, n.loc);
  acc = make<arith::DivFOp>(n, fold, acc, count);
  return n.setOutput(0, acc, dtype, ops->dims);
}

/// Pow: float bases take the exponent converted to their type; integer
/// bases use math.ipowi with an integer exponent.
static LogicalResult importPow(NodeImporter &n) {
  DType baseType = n.input(0).dtype, expType = n.input(1).dtype;
  if (isBoolDType(baseType) || isBoolDType(expType))
    return n.error() << "expected numeric operands, got BOOL";
  FailureOr<Operands> ops = broadcastOperands(n, {0, 1});
  if (failed(ops))
    return failure();
  bool fold = ops->fold;
  Value base = ops->values[0], exp = ops->values[1];
  Type baseElem = n.input(0).elementType();
  auto expTensor = cast<RankedTensorType>(exp.getType()).clone(baseElem);
  if (isFloatDType(baseType)) {
    if (isFloatDType(expType)) {
      unsigned from = n.input(1).elementType().getIntOrFloatBitWidth();
      unsigned to = baseElem.getIntOrFloatBitWidth();
      if (n.input(1).elementType() != baseElem) {
        if (from < to)
          exp = make<arith::ExtFOp>(n, fold, expTensor, exp);
        else if (from > to)
          exp = make<arith::TruncFOp>(n, fold, expTensor, exp);
        else // f16 <-> bf16
          exp = make<arith::TruncFOp>(
              n, fold, expTensor,
              make<arith::ExtFOp>(n, fold, expTensor.clone(n.b.getF32Type()),
                                  exp));
      }
    } else {
      exp = isUnsignedDType(expType)
                ? make<arith::UIToFPOp>(n, fold, expTensor, exp)
                : make<arith::SIToFPOp>(n, fold, expTensor, exp);
    }
    Value r = make<math::PowFOp>(n, fold, base, exp);
    return n.setOutput(0, r, baseType, ops->dims);
  }
  if (isFloatDType(expType)) {
    // Integer base, float exponent: compute in the exponent's type.
    auto fType = cast<RankedTensorType>(exp.getType());
    Value fb = isUnsignedDType(baseType)
                   ? make<arith::UIToFPOp>(n, fold, fType, base)
                   : make<arith::SIToFPOp>(n, fold, fType, base);
    Value r = make<math::PowFOp>(n, fold, fb, exp);
    r = make<arith::FPToSIOp>(n, fold, base.getType(), r);
    return n.setOutput(0, r, baseType, ops->dims);
  }
  unsigned from = n.input(1).elementType().getIntOrFloatBitWidth();
  unsigned to = baseElem.getIntOrFloatBitWidth();
  if (from < to)
    exp = make<arith::ExtSIOp>(n, fold, expTensor, exp);
  else if (from > to)
    exp = make<arith::TruncIOp>(n, fold, expTensor, exp);
  Value r = make<math::IPowIOp>(n, fold, base, exp);
  return n.setOutput(0, r, baseType, ops->dims);
}

/// Where(cond, x, y) -> arith.select.
static LogicalResult importWhere(NodeImporter &n) {
  if (!isBoolDType(n.input(0).dtype))
    return n.error() << "expected a bool condition, got "
                     << dtypeName(n.input(0).dtype);
  if (failed(n.requireSameElementType({1, 2})))
    return failure();
  DType dtype = n.input(1).dtype;
  FailureOr<bool> done =
      tryKnown(n, {0, 1, 2}, dtype, [&](ArrayRef<OpFoldResult> ops) {
        return FailureOr<OpFoldResult>(
            n.sym.select(n.loc, ops[0], ops[1], ops[2]));
      });
  if (failed(done) || *done)
    return failure(failed(done));
  FailureOr<Operands> ops = broadcastOperands(n, {0, 1, 2});
  if (failed(ops))
    return failure();
  bool fold = ops->fold;
  Value r = make<arith::SelectOp>(n, fold, ops->values[0], ops->values[1],
                                  ops->values[2]);
  return n.setOutput(0, r, dtype, ops->dims);
}
ArrayRef<OpInfo> importer::getElementwiseOps() {
  static const OpInfo ops[] = {
      {"Add", 2, 2, 1, 1, importBinary<Bin::Add>},
      {"Sub", 2, 2, 1, 1, importBinary<Bin::Sub>},
      {"Mul", 2, 2, 1, 1, importBinary<Bin::Mul>},
      {"Div", 2, 2, 1, 1, importBinary<Bin::Div>},
      {"Mod", 2, 2, 1, 1, importBinary<Bin::Mod>},
      {"Max", 1, kVariadic, 1, 1, importBinary<Bin::Max>},
      {"Min", 1, kVariadic, 1, 1, importBinary<Bin::Min>},
      {"Sum", 1, kVariadic, 1, 1, importBinary<Bin::Add>},
      {"Mean", 1, kVariadic, 1, 1, importMean},
      {"And", 2, 2, 1, 1, importBinary<Bin::And>},
      {"Or", 2, 2, 1, 1, importBinary<Bin::Or>},
      {"Xor", 2, 2, 1, 1, importBinary<Bin::Xor>},
      {"Equal", 2, 2, 1, 1, importBinary<Bin::Eq>},
      {"Less", 2, 2, 1, 1, importBinary<Bin::Lt>},
      {"LessOrEqual", 2, 2, 1, 1, importBinary<Bin::Le>},
      {"Greater", 2, 2, 1, 1, importBinary<Bin::Gt>},
      {"GreaterOrEqual", 2, 2, 1, 1, importBinary<Bin::Ge>},
      {"Pow", 2, 2, 1, 1, importPow},
      {"Where", 3, 3, 1, 1, importWhere},
  };
  return ops;
}
