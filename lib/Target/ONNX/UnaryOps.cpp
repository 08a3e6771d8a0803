//===- UnaryOps.cpp - ONNX unary elementwise ops and Clip -----------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Activations and math functions on one tensor: arith/math ops, ds.sigmoid
// (kept whole so SiLU stays recognisable), Clip as max/min with its bounds.
//
//===----------------------------------------------------------------------===//

#include "Elementwise.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

//===----------------------------------------------------------------------===//
// Unary ops
//===----------------------------------------------------------------------===//

namespace {
enum class Un {
  Relu,
  LeakyRelu,
  Sigmoid,
  Tanh,
  Erf,
  Exp,
  Log,
  Sqrt,
  Abs,
  Neg,
  Reciprocal,
  Not,
  IsNaN,
  IsInf,
  Sin,
  Cos,
  Floor,
  Ceil,
  Round
};
} // namespace

static bool needsFloat(Un k) {
  return k != Un::Relu && k != Un::Abs && k != Un::Neg && k != Un::Not;
}

template <Un K> static LogicalResult importUnary(NodeImporter &n) {
  TensorValue &in = n.input(0);
  DType dtype = in.dtype;
  if (K == Un::Not && !isBoolDType(dtype))
    return n.error() << "expected a bool tensor, got " << dtypeName(dtype);
  if (K != Un::Not && isBoolDType(dtype))
    return n.error() << "expected a numeric tensor, got BOOL";
  if (needsFloat(K) && failed(n.requireFloat(0)))
    return failure();

  if (K == Un::Neg || K == Un::Abs || K == Un::Not) {
    FailureOr<bool> done =
        tryKnown(n, {0}, dtype, [&](ArrayRef<OpFoldResult> ops) {
          OpFoldResult zero = n.b.getIndexAttr(0);
          OpFoldResult r;
          if (K == Un::Neg)
            r = n.sym.sub(n.loc, zero, ops[0]);
          else if (K == Un::Abs)
            r = n.sym.max(n.loc, ops[0], n.sym.sub(n.loc, zero, ops[0]));
          else
            r = n.sym.cmp(n.loc, arith::CmpIPredicate::eq, ops[0], zero);
          return FailureOr<OpFoldResult>(r);
        });
    if (failed(done) || *done)
      return failure(failed(done));
  }

  FailureOr<Operands> ops = broadcastOperands(n, {0});
  if (failed(ops))
    return failure();
  bool fold = ops->fold;
  Value x = ops->values[0];
  Type elem = in.elementType();
  auto scalar = [&](double v) {
    return n.graph.splat(n.graph.scalarAttr(elem, v), ops->dims, n.loc);
  };
  bool isFloat = isFloatDType(dtype);
  Value r;
  DType resultType = dtype;
  switch (K) {
  case Un::Relu:
    r = isFloat ? make<arith::MaximumFOp>(n, fold, x, scalar(0))
                : make<arith::MaxSIOp>(n, fold, x, scalar(0));
    break;
  case Un::LeakyRelu: {
    FailureOr<float> alpha = n.floatAttr("alpha", 0.01f);
    if (failed(alpha))
      return failure();
    Value neg =
        make<arith::CmpFOp>(n, fold, arith::CmpFPredicate::OLT, x, scalar(0));
    Value scaled = make<arith::MulFOp>(n, fold, x, scalar(*alpha));
    r = make<arith::SelectOp>(n, fold, neg, scaled, x);
    break;
  }
  case Un::Sigmoid:
    r = SigmoidOp::create(n.b, n.loc, x);
    break;
  case Un::Tanh:
    r = make<math::TanhOp>(n, fold, x);
    break;
  case Un::Erf:
    r = make<math::ErfOp>(n, fold, x);
    break;
  case Un::Exp:
    r = make<math::ExpOp>(n, fold, x);
    break;
  case Un::Log:
    r = make<math::LogOp>(n, fold, x);
    break;
  case Un::Sqrt:
    r = make<math::SqrtOp>(n, fold, x);
    break;
  case Un::Sin:
    r = make<math::SinOp>(n, fold, x);
    break;
  case Un::Cos:
    r = make<math::CosOp>(n, fold, x);
    break;
  case Un::Floor:
    r = make<math::FloorOp>(n, fold, x);
    break;
  case Un::Ceil:
    r = make<math::CeilOp>(n, fold, x);
    break;
  case Un::Round:
    r = make<math::RoundEvenOp>(n, fold, x);
    break;
  case Un::Abs:
    if (isFloat)
      r = make<math::AbsFOp>(n, fold, x);
    else if (isUnsignedDType(dtype))
      r = x;
    else
      r = make<math::AbsIOp>(n, fold, x);
    break;
  case Un::Neg:
    r = isFloat ? make<arith::NegFOp>(n, fold, x)
                : make<arith::SubIOp>(n, fold, scalar(0), x);
    break;
  case Un::Reciprocal:
    r = make<arith::DivFOp>(n, fold, scalar(1), x);
    break;
  case Un::Not:
    r = make<arith::XOrIOp>(n, fold, x, scalar(1));
    break;
  case Un::IsNaN:
    r = make<arith::CmpFOp>(n, fold, arith::CmpFPredicate::UNO, x, x);
    resultType = onnx::TensorProto_DataType_BOOL;
    break;
  case Un::IsInf: {
    FailureOr<int64_t> detectNeg = n.intAttr("detect_negative", 1);
    FailureOr<int64_t> detectPos = n.intAttr("detect_positive", 1);
    if (failed(detectNeg) || failed(detectPos))
      return failure();
    Value pos = make<arith::CmpFOp>(n, fold, arith::CmpFPredicate::OEQ, x,
                                    scalar(INFINITY));
    Value neg = make<arith::CmpFOp>(n, fold, arith::CmpFPredicate::OEQ, x,
                                    scalar(-INFINITY));
    if (*detectPos && *detectNeg)
      r = make<arith::OrIOp>(n, fold, pos, neg);
    else if (*detectPos)
      r = pos;
    else if (*detectNeg)
      r = neg;
    else
      r = n.graph.splat(n.b.getBoolAttr(false), ops->dims, n.loc);
    resultType = onnx::TensorProto_DataType_BOOL;
    break;
  }
  }
  return n.setOutput(0, r, resultType, ops->dims);
}

/// Clip(x, min?, max?): maximum then minimum with the (scalar) bounds.
static LogicalResult importClip(NodeImporter &n) {
  DType dtype = n.input(0).dtype;
  if (isBoolDType(dtype))
    return n.error() << "expected a numeric tensor, got BOOL";
  SmallVector<unsigned> idx = {0};
  for (unsigned i : {1u, 2u}) {
    if (!n.hasInput(i))
      continue;
    if (n.input(i).rank() > 1 ||
        (n.input(i).rank() == 1 && n.input(i).type.getDimSize(0) != 1))
      return n.error() << "expected scalar bounds, got a tensor of rank "
                       << n.input(i).rank();
    idx.push_back(i);
  }
  if (failed(n.requireSameElementType(idx)))
    return failure();
  FailureOr<Operands> ops = broadcastOperands(n, idx);
  if (failed(ops))
    return failure();
  bool fold = ops->fold;
  Value r = ops->values[0];
  bool isFloat = isFloatDType(dtype), u = isUnsignedDType(dtype);
  unsigned next = 1;
  if (n.hasInput(1)) {
    Value lo = ops->values[next++];
    r = isFloat ? make<arith::MaximumFOp>(n, fold, r, lo)
        : u     ? make<arith::MaxUIOp>(n, fold, r, lo)
                : make<arith::MaxSIOp>(n, fold, r, lo);
  }
  if (n.hasInput(2)) {
    Value hi = ops->values[next++];
    r = isFloat ? make<arith::MinimumFOp>(n, fold, r, hi)
        : u     ? make<arith::MinUIOp>(n, fold, r, hi)
                : make<arith::MinSIOp>(n, fold, r, hi);
  }
  return n.setOutput(0, r, dtype, ops->dims);
}
ArrayRef<OpInfo> importer::getUnaryOps() {
  static const OpInfo ops[] = {
      {"Relu", 1, 1, 1, 1, importUnary<Un::Relu>},
      {"LeakyRelu", 1, 1, 1, 1, importUnary<Un::LeakyRelu>},
      {"Sigmoid", 1, 1, 1, 1, importUnary<Un::Sigmoid>},
      {"Tanh", 1, 1, 1, 1, importUnary<Un::Tanh>},
      {"Erf", 1, 1, 1, 1, importUnary<Un::Erf>},
      {"Exp", 1, 1, 1, 1, importUnary<Un::Exp>},
      {"Log", 1, 1, 1, 1, importUnary<Un::Log>},
      {"Sqrt", 1, 1, 1, 1, importUnary<Un::Sqrt>},
      {"Abs", 1, 1, 1, 1, importUnary<Un::Abs>},
      {"Neg", 1, 1, 1, 1, importUnary<Un::Neg>},
      {"Reciprocal", 1, 1, 1, 1, importUnary<Un::Reciprocal>},
      {"Not", 1, 1, 1, 1, importUnary<Un::Not>},
      {"IsNaN", 1, 1, 1, 1, importUnary<Un::IsNaN>},
      {"IsInf", 1, 1, 1, 1, importUnary<Un::IsInf>},
      {"Sin", 1, 1, 1, 1, importUnary<Un::Sin>},
      {"Cos", 1, 1, 1, 1, importUnary<Un::Cos>},
      {"Floor", 1, 1, 1, 1, importUnary<Un::Floor>},
      {"Ceil", 1, 1, 1, 1, importUnary<Un::Ceil>},
      {"Round", 1, 1, 1, 1, importUnary<Un::Round>},
      {"Clip", 1, 3, 1, 1, importClip},
  };
  return ops;
}
