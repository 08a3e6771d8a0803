//===- ShapeOps.cpp - ONNX Shape, Size, ConstantOfShape and Range ---------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Shape and Size produce known values (static sizes and the `index` Values
// of symbolic ones) and emit no IR; ConstantOfShape and Range build
// tensors from known sizes and fold when the result is small.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

static LogicalResult importShape(NodeImporter &n) {
  TensorValue &in = n.input(0);
  int64_t rank = in.rank();
  FailureOr<int64_t> start = n.intAttr("start", 0);
  FailureOr<int64_t> end = n.intAttr("end", rank);
  if (failed(start) || failed(end))
    return failure();
  auto clamp = [&](int64_t v) {
    if (v < 0)
      v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  int64_t s = clamp(*start), e = std::max(clamp(*end), s);
  SmallVector<OpFoldResult> elems(in.dims.begin() + s, in.dims.begin() + e);
  return n.setOutput(
      0, n.graph.knownValue(onnx::TensorProto_DataType_INT64, {e - s}, elems));
}

static LogicalResult importSize(NodeImporter &n) {
  OpFoldResult numel = n.b.getIndexAttr(1);
  for (OpFoldResult d : n.input(0).dims)
    numel = n.sym.mul(n.loc, numel, d);
  return n.setOutput(
      0, n.graph.knownValue(onnx::TensorProto_DataType_INT64, {}, {numel}));
}

/// Fails with a node error when the static sizes in `dims` exceed the cap.
static LogicalResult checkCap(NodeImporter &n, ArrayRef<OpFoldResult> dims) {
  SmallVector<int64_t> sizes;
  for (OpFoldResult d : dims)
    sizes.push_back(getConstantIntValue(d).value_or(1));
  if (checkedProduct(sizes, n.options().maxTensorElements))
    return success();
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::interleaveComma(staticShapeOf(dims), os, [&](int64_t d) {
    if (ShapedType::isDynamic(d))
      os << "?";
    else
      os << d;
  });
  return n.error() << "result [" << s << "] has more than "
                   << n.options().maxTensorElements << " elements";
}

static LogicalResult importConstantOfShape(NodeImporter &n) {
  FailureOr<SmallVector<OpFoldResult>> dims = n.knownElements(0, "shape");
  if (failed(dims))
    return failure();
  if (n.input(0).rank() != 1)
    return n.error() << "expected a 1-D shape, got rank " << n.input(0).rank();
  for (OpFoldResult d : *dims)
    if (std::optional<int64_t> c = getConstantIntValue(d); c && *c < 0)
      return n.error() << "negative size " << *c << " in the shape";
  if (dims->size() > static_cast<size_t>(kMaxRank))
    return n.error() << "result rank " << dims->size()
                     << " exceeds the maximum of " << kMaxRank;
  if (failed(checkCap(n, *dims)))
    return failure();
  DType dtype = onnx::TensorProto_DataType_FLOAT;
  TypedAttr value = n.b.getF32FloatAttr(0.0f);
  if (const onnx::AttributeProto *a = n.attr("value")) {
    if (a->type() != onnx::AttributeProto_AttributeType_TENSOR)
      return n.error() << "attribute 'value' must be a tensor";
    FailureOr<DenseElementsAttr> attr =
        decodeTensor(n.graph, a->t(), "attribute 'value'");
    if (failed(attr))
      return failure();
    if (attr->getNumElements() != 1)
      return n.error() << "attribute 'value' must have one element, got "
                       << attr->getNumElements();
    dtype = a->t().data_type();
    value = cast<TypedAttr>(attr->getValues<Attribute>()[0]);
  }
  RankedTensorType type = tensorTypeFor(*dims, value.getType());
  if (type.hasStaticShape() && isIntegralDType(dtype) &&
      type.getNumElements() <= kMaxKnownElements) {
    int64_t v = cast<IntegerAttr>(value).getValue().getSExtValue();
    if (isUnsignedDType(dtype))
      v = cast<IntegerAttr>(value).getValue().getZExtValue();
    SmallVector<OpFoldResult> elems(type.getNumElements(), n.b.getIndexAttr(v));
    return n.setOutput(0, n.graph.knownValue(dtype, type.getShape(), elems));
  }
  Value r = n.graph.splat(value, *dims, n.loc);
  return n.setOutput(0, r, dtype, *dims);
}

/// Range over integers: known when small, else tensor.generate (possibly of
/// a symbolic length).
static LogicalResult importIntRange(NodeImporter &n, DType dtype) {
  SmallVector<OpFoldResult> args;
  for (unsigned i = 0; i < 3; ++i) {
    StringRef what = i == 0 ? "start" : i == 1 ? "limit" : "delta";
    FailureOr<SmallVector<OpFoldResult>> e = n.knownElements(i, what);
    if (failed(e))
      return failure();
    if (e->size() != 1)
      return n.error() << "'" << what << "' must be a scalar";
    args.push_back((*e)[0]);
  }
  OpFoldResult start = args[0], limit = args[1], delta = args[2];
  if (getConstantIntValue(delta) == 0)
    return n.error() << "delta must not be 0";
  FailureOr<OpFoldResult> steps =
      n.sym.ceilDiv(n.loc, n.sym.sub(n.loc, limit, start), delta);
  if (failed(steps))
    return n.error() << "delta must not be 0";
  OpFoldResult count = n.sym.max(n.loc, *steps, n.b.getIndexAttr(0));
  if (failed(checkCap(n, {count})))
    return failure();
  std::optional<int64_t> c = getConstantIntValue(count);
  std::optional<int64_t> s0 = getConstantIntValue(start);
  std::optional<int64_t> d0 = getConstantIntValue(delta);
  if (c && *c <= kMaxKnownElements) {
    SmallVector<OpFoldResult> elems;
    for (int64_t i = 0; i < *c; ++i)
      elems.push_back(n.sym.add(n.loc, start,
                                n.sym.mul(n.loc, delta, n.b.getIndexAttr(i))));
    return n.setOutput(0, n.graph.knownValue(dtype, {*c}, elems));
  }
  Type elem = elementTypeFor(&n.graph.ctx, dtype);
  if (c && s0 && d0 && *c <= n.options().maxFoldElements) {
    SmallVector<APInt> values;
    for (int64_t i = 0; i < *c; ++i)
      values.push_back(APInt(elem.getIntOrFloatBitWidth(), *s0 + i * *d0,
                             /*isSigned=*/true, /*implicitTrunc=*/true));
    auto type = RankedTensorType::get({*c}, elem);
    return n.setOutput(
        0, n.graph.constantValue(DenseElementsAttr::get(type, values), dtype));
  }
  Value startV = n.sym.materialize(n.loc, start);
  Value deltaV = n.sym.materialize(n.loc, delta);
  RankedTensorType type = tensorTypeFor({count}, elem);
  Value r = tensor::GenerateOp::create(
      n.b, n.loc, type, n.graph.dynamicSizes({count}, n.loc),
      [&](OpBuilder &b, Location loc, ValueRange ivs) {
        Value v = ivs[0];
        if (d0 != 1)
          v = arith::MulIOp::create(b, loc, v, deltaV);
        if (s0 != 0)
          v = arith::AddIOp::create(b, loc, startV, v);
        tensor::YieldOp::create(b, loc,
                                arith::IndexCastOp::create(b, loc, elem, v));
      });
  return n.setOutput(0, r, dtype, {count});
}

/// Range over floats: the bounds must be constants.
static LogicalResult importFloatRange(NodeImporter &n, DType dtype) {
  double args[3];
  for (unsigned i = 0; i < 3; ++i) {
    TensorValue &in = n.input(i);
    if (!in.constant || in.constant.getNumElements() != 1)
      return n.error() << "float Range bounds must be constant scalars";
    args[i] = (*in.constant.getValues<APFloat>().begin()).convertToDouble();
  }
  double start = args[0], limit = args[1], delta = args[2];
  if (delta == 0 || !std::isfinite(start) || !std::isfinite(limit) ||
      !std::isfinite(delta))
    return n.error() << "delta must be non-zero and the bounds finite";
  double steps = std::ceil((limit - start) / delta);
  if (steps > static_cast<double>(n.options().maxTensorElements))
    return n.error() << "result has more than " << n.options().maxTensorElements
                     << " elements";
  int64_t count = std::max<int64_t>(0, static_cast<int64_t>(steps));
  auto floatType = cast<FloatType>(elementTypeFor(&n.graph.ctx, dtype));
  auto type = RankedTensorType::get({count}, floatType);
  if (count <= n.options().maxFoldElements) {
    SmallVector<Attribute> values;
    for (int64_t i = 0; i < count; ++i)
      values.push_back(FloatAttr::get(floatType, start + i * delta));
    return n.setOutput(
        0, n.graph.constantValue(DenseElementsAttr::get(type, values), dtype));
  }
  Value startV =
      arith::ConstantOp::create(n.b, n.loc, FloatAttr::get(floatType, start));
  Value deltaV =
      arith::ConstantOp::create(n.b, n.loc, FloatAttr::get(floatType, delta));
  Value r = tensor::GenerateOp::create(
      n.b, n.loc, type, ValueRange{},
      [&](OpBuilder &b, Location loc, ValueRange ivs) {
        Value i = arith::IndexCastOp::create(b, loc, b.getI64Type(), ivs[0]);
        Value f = arith::SIToFPOp::create(b, loc, floatType, i);
        Value v = arith::AddFOp::create(
            b, loc, startV, arith::MulFOp::create(b, loc, f, deltaV));
        tensor::YieldOp::create(b, loc, v);
      });
  return n.setOutput(0, r, dtype, {n.b.getIndexAttr(count)});
}

static LogicalResult importRange(NodeImporter &n) {
  if (failed(n.requireSameElementType({0, 1, 2})))
    return failure();
  for (unsigned i = 0; i < 3; ++i)
    if (n.input(i).rank() != 0)
      return n.error() << "expected scalar inputs, got rank "
                       << n.input(i).rank() << " for input " << i;
  DType dtype = n.input(0).dtype;
  if (isFloatDType(dtype))
    return importFloatRange(n, dtype);
  if (isBoolDType(dtype))
    return n.error() << "expected numeric inputs, got BOOL";
  return importIntRange(n, dtype);
}

ArrayRef<OpInfo> importer::getShapeOps() {
  static const OpInfo ops[] = {
      {"Shape", 1, 1, 1, 1, importShape},
      {"Size", 1, 1, 1, 1, importSize},
      {"ConstantOfShape", 1, 1, 1, 1, importConstantOfShape},
      {"Range", 3, 3, 1, 1, importRange},
  };
  return ops;
}
