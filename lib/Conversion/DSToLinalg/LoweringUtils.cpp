//===- LoweringUtils.cpp - helpers shared by the ds lowerings -------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <cmath>

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

//===----------------------------------------------------------------------===//
// Types and scalars
//===----------------------------------------------------------------------===//

Type lowering::getComputeType(Type elementType) {
  if (auto floatType = dyn_cast<FloatType>(elementType))
    if (floatType.getWidth() < 32)
      return Float32Type::get(elementType.getContext());
  return elementType;
}

Value lowering::castScalar(OpBuilder &b, Location loc, Value v, Type to,
                           bool isUnsigned) {
  Type from = v.getType();
  if (from == to)
    return v;
  // index <-> integer / float goes through i64.
  if (from.isIndex()) {
    Type i64 = b.getI64Type();
    if (to.isInteger())
      return isUnsigned ? Value(arith::IndexCastUIOp::create(b, loc, to, v))
                        : Value(arith::IndexCastOp::create(b, loc, to, v));
    return castScalar(b, loc, arith::IndexCastOp::create(b, loc, i64, v), to,
                      isUnsigned);
  }
  if (to.isIndex()) {
    if (from.isInteger())
      return isUnsigned ? Value(arith::IndexCastUIOp::create(b, loc, to, v))
                        : Value(arith::IndexCastOp::create(b, loc, to, v));
    Value i64 = castScalar(b, loc, v, b.getI64Type(), isUnsigned);
    return arith::IndexCastOp::create(b, loc, to, i64);
  }
  auto fromFloat = dyn_cast<FloatType>(from);
  auto toFloat = dyn_cast<FloatType>(to);
  if (fromFloat && toFloat) {
    if (fromFloat.getWidth() < toFloat.getWidth())
      return arith::ExtFOp::create(b, loc, to, v);
    if (fromFloat.getWidth() > toFloat.getWidth())
      return arith::TruncFOp::create(b, loc, to, v);
    // Same width, other format (f16 <-> bf16): through f32.
    Value wide = arith::ExtFOp::create(b, loc, b.getF32Type(), v);
    return arith::TruncFOp::create(b, loc, to, wide);
  }
  // i1 is a boolean: true converts to 1, never to -1.
  bool fromUnsigned = isUnsigned || from.isInteger(1);
  if (toFloat)
    return fromUnsigned ? Value(arith::UIToFPOp::create(b, loc, to, v))
                        : Value(arith::SIToFPOp::create(b, loc, to, v));
  if (fromFloat)
    return isUnsigned ? Value(arith::FPToUIOp::create(b, loc, to, v))
                      : Value(arith::FPToSIOp::create(b, loc, to, v));
  unsigned fromWidth = from.getIntOrFloatBitWidth();
  unsigned toWidth = to.getIntOrFloatBitWidth();
  if (fromWidth > toWidth)
    return arith::TruncIOp::create(b, loc, to, v);
  return fromUnsigned ? Value(arith::ExtUIOp::create(b, loc, to, v))
                      : Value(arith::ExtSIOp::create(b, loc, to, v));
}

Value lowering::floatConstant(OpBuilder &b, Location loc, Type type,
                              double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

Value lowering::infConstant(OpBuilder &b, Location loc, Type type,
                            bool negative) {
  auto floatType = cast<FloatType>(type);
  APFloat inf = APFloat::getInf(floatType.getFloatSemantics(), negative);
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, inf));
}

Value lowering::zeroConstant(OpBuilder &b, Location loc, Type type) {
  if (!isa<FloatType, IntegerType, IndexType>(type))
    return nullptr;
  return arith::ConstantOp::create(b, loc,
                                   cast<TypedAttr>(b.getZeroAttr(type)));
}

Value lowering::countAsFloat(OpBuilder &b, Location loc,
                             ArrayRef<OpFoldResult> sizes,
                             ArrayRef<int64_t> dims, Type type) {
  int64_t staticCount = 1;
  Value dynamicCount;
  for (int64_t d : dims) {
    if (std::optional<int64_t> c = getConstantIntValue(sizes[d])) {
      staticCount *= *c;
      continue;
    }
    Value size = cast<Value>(sizes[d]);
    dynamicCount =
        dynamicCount ? Value(arith::MulIOp::create(b, loc, dynamicCount, size))
                     : size;
  }
  if (!dynamicCount)
    return floatConstant(b, loc, type, static_cast<double>(staticCount));
  if (staticCount != 1)
    dynamicCount = arith::MulIOp::create(
        b, loc, dynamicCount,
        arith::ConstantIndexOp::create(b, loc, staticCount));
  return castScalar(b, loc, dynamicCount, type);
}

//===----------------------------------------------------------------------===//
// Shapes and tensors
//===----------------------------------------------------------------------===//

SmallVector<OpFoldResult> lowering::getSizes(OpBuilder &b, Location loc,
                                             Value tensor) {
  return tensor::getMixedSizes(b, loc, tensor);
}

SmallVector<OpFoldResult> lowering::refineSizes(OpBuilder &b,
                                                ArrayRef<int64_t> shape,
                                                ArrayRef<OpFoldResult> sizes) {
  SmallVector<OpFoldResult> refined(sizes);
  for (auto [i, d] : llvm::enumerate(shape))
    if (!ShapedType::isDynamic(d))
      refined[i] = b.getIndexAttr(d);
  return refined;
}

SmallVector<int64_t> lowering::staticShape(ArrayRef<OpFoldResult> sizes) {
  SmallVector<int64_t> shape;
  for (OpFoldResult size : sizes) {
    auto attr = dyn_cast<Attribute>(size);
    shape.push_back(attr ? cast<IntegerAttr>(attr).getInt()
                         : ShapedType::kDynamic);
  }
  return shape;
}

Value lowering::emptyTensor(OpBuilder &b, Location loc,
                            ArrayRef<OpFoldResult> sizes, Type elementType) {
  return tensor::EmptyOp::create(b, loc, sizes, elementType);
}

Value lowering::filledTensor(OpBuilder &b, Location loc,
                             ArrayRef<OpFoldResult> sizes, Value value) {
  Value empty = emptyTensor(b, loc, sizes, value.getType());
  return linalg::FillOp::create(b, loc, ValueRange{value}, ValueRange{empty})
      .getResult(0);
}

Value lowering::castToType(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return tensor::CastOp::create(b, loc, type, v);
}

//===----------------------------------------------------------------------===//
// Indexing maps
//===----------------------------------------------------------------------===//

SmallVector<utils::IteratorType>
lowering::getIterators(unsigned numLoops, ArrayRef<int64_t> reductionDims) {
  SmallVector<utils::IteratorType> iterators(numLoops,
                                             utils::IteratorType::parallel);
  for (int64_t d : reductionDims)
    iterators[d] = utils::IteratorType::reduction;
  return iterators;
}

AffineMap lowering::getDropDimsMap(MLIRContext *ctx, unsigned numLoops,
                                   ArrayRef<int64_t> dropped) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d = 0; d < numLoops; ++d)
    if (!llvm::is_contained(dropped, static_cast<int64_t>(d)))
      exprs.push_back(getAffineDimExpr(d, ctx));
  return AffineMap::get(numLoops, 0, exprs, ctx);
}

AffineMap lowering::getBroadcastMap(MLIRContext *ctx,
                                    ArrayRef<int64_t> loopShape,
                                    ArrayRef<int64_t> operandShape,
                                    ArrayRef<int64_t> loopDims) {
  assert(operandShape.size() == loopDims.size() && "one loop per dimension");
  SmallVector<AffineExpr> exprs;
  for (auto [size, loop] : llvm::zip_equal(operandShape, loopDims)) {
    bool broadcast = size == 1 && loopShape[loop] != 1;
    exprs.push_back(broadcast ? getAffineConstantExpr(0, ctx)
                              : getAffineDimExpr(loop, ctx));
  }
  return AffineMap::get(loopShape.size(), 0, exprs, ctx);
}

AffineMap lowering::getTrailingBroadcastMap(MLIRContext *ctx,
                                            ArrayRef<int64_t> loopShape,
                                            ArrayRef<int64_t> operandShape) {
  assert(operandShape.size() <= loopShape.size() && "operand rank too big");
  SmallVector<int64_t> loopDims;
  for (size_t i = 0; i < operandShape.size(); ++i)
    loopDims.push_back(loopShape.size() - operandShape.size() + i);
  return getBroadcastMap(ctx, loopShape, operandShape, loopDims);
}

//===----------------------------------------------------------------------===//
// linalg.generic builders
//===----------------------------------------------------------------------===//

Value lowering::buildElementwise(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, ArrayRef<OpFoldResult> sizes,
    Type resultType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  unsigned numLoops = sizes.size();
  Value init = emptyTensor(b, loc, sizes, resultType);
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(b.getMultiDimIdentityMap(numLoops));
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      getIterators(numLoops),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

Value lowering::buildElementwise(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<OpFoldResult> sizes,
    Type resultType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  SmallVector<AffineMap> maps(inputs.size(),
                              b.getMultiDimIdentityMap(sizes.size()));
  return buildElementwise(b, loc, inputs, maps, sizes, resultType, body);
}

Value lowering::buildReduction(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, unsigned numLoops,
    ArrayRef<int64_t> reducedDims, Value init,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(getDropDimsMap(b.getContext(), numLoops, reducedDims));
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
      getIterators(numLoops, reducedDims),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result = body(nb, nloc, args.drop_back(), args.back());
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

Value lowering::castTensor(OpBuilder &b, Location loc, Value tensor,
                           Type elementType, ArrayRef<OpFoldResult> sizes) {
  auto type = cast<RankedTensorType>(tensor.getType());
  if (type.getElementType() == elementType)
    return tensor;
  SmallVector<OpFoldResult> allSizes(sizes);
  if (allSizes.empty() && type.getRank() > 0)
    allSizes = getSizes(b, loc, tensor);
  return buildElementwise(b, loc, tensor, allSizes, elementType,
                          [&](OpBuilder &nb, Location nloc, ValueRange args) {
                            return castScalar(nb, nloc, args[0], elementType);
                          });
}

//===----------------------------------------------------------------------===//
// Scalar activations
//===----------------------------------------------------------------------===//

Value lowering::buildSigmoid(OpBuilder &b, Location loc, Value x) {
  Value one = floatConstant(b, loc, x.getType(), 1.0);
  Value negX = arith::NegFOp::create(b, loc, x);
  Value e = math::ExpOp::create(b, loc, negX);
  Value denom = arith::AddFOp::create(b, loc, one, e);
  return arith::DivFOp::create(b, loc, one, denom);
}

Value lowering::buildSilu(OpBuilder &b, Location loc, Value x) {
  return arith::MulFOp::create(b, loc, x, buildSigmoid(b, loc, x));
}

Value lowering::buildGelu(OpBuilder &b, Location loc, Value x, bool tanhForm) {
  Type type = x.getType();
  Value half = floatConstant(b, loc, type, 0.5);
  Value one = floatConstant(b, loc, type, 1.0);
  Value phi; // 1 + erf(..) or 1 + tanh(..)
  if (tanhForm) {
    // sqrt(2 / pi) * (x + 0.044715 x^3)
    Value coeff = floatConstant(b, loc, type, 0.044715);
    Value sqrt2OverPi = floatConstant(b, loc, type, std::sqrt(2.0 / M_PI));
    Value x2 = arith::MulFOp::create(b, loc, x, x);
    Value x3 = arith::MulFOp::create(b, loc, x2, x);
    Value inner = arith::AddFOp::create(
        b, loc, x, arith::MulFOp::create(b, loc, coeff, x3));
    Value scaled = arith::MulFOp::create(b, loc, sqrt2OverPi, inner);
    phi = arith::AddFOp::create(b, loc, one,
                                math::TanhOp::create(b, loc, scaled));
  } else {
    Value rsqrt2 = floatConstant(b, loc, type, M_SQRT1_2);
    Value scaled = arith::MulFOp::create(b, loc, x, rsqrt2);
    phi =
        arith::AddFOp::create(b, loc, one, math::ErfOp::create(b, loc, scaled));
  }
  Value halfX = arith::MulFOp::create(b, loc, half, x);
  return arith::MulFOp::create(b, loc, halfX, phi);
}

Value lowering::buildRelu(OpBuilder &b, Location loc, Value x) {
  Value zero = floatConstant(b, loc, x.getType(), 0.0);
  return arith::MaximumFOp::create(b, loc, x, zero);
}

//===----------------------------------------------------------------------===//
// Gather indices
//===----------------------------------------------------------------------===//

Value lowering::wrapAndClampIndex(OpBuilder &b, Location loc, Value idx,
                                  Value size) {
  Value i = castScalar(b, loc, idx, b.getIndexType());
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, i, zero);
  Value wrapped = arith::SelectOp::create(
      b, loc, negative, arith::AddIOp::create(b, loc, i, size), i);
  Value last = arith::SubIOp::create(b, loc, size, one);
  Value low = arith::MaxSIOp::create(b, loc, wrapped, zero);
  return arith::MinSIOp::create(b, loc, low, last);
}
