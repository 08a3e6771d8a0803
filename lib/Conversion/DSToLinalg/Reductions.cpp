//===- Reductions.cpp - lower ds.softmax and ds.reduce to linalg ----------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Reductions are linalg.generic ops with reduction iterators into
// linalg.fill-initialised tensors. f16/bf16 accumulate in f32 and the
// result is cast back once at the end.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

/// `sizes` without the dimensions in `dropped`.
static SmallVector<OpFoldResult> dropSizes(ArrayRef<OpFoldResult> sizes,
                                           ArrayRef<int64_t> dropped) {
  SmallVector<OpFoldResult> kept;
  for (auto [d, size] : llvm::enumerate(sizes))
    if (!llvm::is_contained(dropped, static_cast<int64_t>(d)))
      kept.push_back(size);
  return kept;
}

namespace {

//===----------------------------------------------------------------------===//
// ds.softmax
//===----------------------------------------------------------------------===//

/// Three generics: the row maximum, the sum of `exp(x - max)`, and the
/// normalisation `exp(x - max) / sum` (or `x - max - log(sum)` with `log`).
struct SoftmaxOpLowering : OpRewritePattern<SoftmaxOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SoftmaxOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getInput().getType();
    int64_t rank = type.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return rewriter.notifyMatchFailure(op, "axis out of range");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = op.getInput();
    Type elementType = type.getElementType();
    Type computeType = getComputeType(elementType);

    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, input);
    SmallVector<OpFoldResult> rowSizes = dropSizes(sizes, {axis});
    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    AffineMap rowMap = getDropDimsMap(ctx, rank, {axis});

    Value maxInit = filledTensor(
        rewriter, loc, rowSizes,
        infConstant(rewriter, loc, computeType, /*negative=*/true));
    Value max = buildReduction(
        rewriter, loc, input, identity, rank, {axis}, maxInit,
        [&](OpBuilder &b, Location nloc, ValueRange args, Value acc) {
          Value x = castScalar(b, nloc, args[0], computeType);
          return Value(arith::MaximumFOp::create(b, nloc, acc, x));
        });

    Value sumInit = filledTensor(rewriter, loc, rowSizes,
                                 floatConstant(rewriter, loc, computeType, 0));
    Value sum = buildReduction(
        rewriter, loc, ValueRange{input, max}, {identity, rowMap}, rank, {axis},
        sumInit, [&](OpBuilder &b, Location nloc, ValueRange args, Value acc) {
          Value x = castScalar(b, nloc, args[0], computeType);
          Value shifted = arith::SubFOp::create(b, nloc, x, args[1]);
          Value e = math::ExpOp::create(b, nloc, shifted);
          return Value(arith::AddFOp::create(b, nloc, acc, e));
        });

    bool log = op.getLog();
    Value result = buildElementwise(
        rewriter, loc, ValueRange{input, max, sum}, {identity, rowMap, rowMap},
        sizes, elementType, [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x = castScalar(b, nloc, args[0], computeType);
          Value shifted = arith::SubFOp::create(b, nloc, x, args[1]);
          Value r;
          if (log)
            r = arith::SubFOp::create(b, nloc, shifted,
                                      math::LogOp::create(b, nloc, args[2]));
          else
            r = arith::DivFOp::create(
                b, nloc, math::ExpOp::create(b, nloc, shifted), args[2]);
          return castScalar(b, nloc, r, elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// ds.reduce
//===----------------------------------------------------------------------===//

/// The identity of a reduction kind in `type`.
static Value reductionInit(OpBuilder &b, Location loc, ReduceKind kind,
                           Type type) {
  bool isFloat = isa<FloatType>(type);
  switch (kind) {
  case ReduceKind::sum:
  case ReduceKind::mean:
    return zeroConstant(b, loc, type);
  case ReduceKind::prod:
    return isFloat
               ? floatConstant(b, loc, type, 1.0)
               : arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, 1))
                     .getResult();
  case ReduceKind::max:
  case ReduceKind::min: {
    bool isMax = kind == ReduceKind::max;
    if (isFloat)
      return infConstant(b, loc, type, /*negative=*/isMax);
    unsigned width = type.getIntOrFloatBitWidth();
    APInt bound = isMax ? APInt::getSignedMinValue(width)
                        : APInt::getSignedMaxValue(width);
    return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, bound));
  }
  }
  llvm_unreachable("unknown reduce kind");
}

/// Combines accumulator `acc` with element `x` for one reduction kind.
static Value reductionCombine(OpBuilder &b, Location loc, ReduceKind kind,
                              Value acc, Value x) {
  bool isFloat = isa<FloatType>(acc.getType());
  switch (kind) {
  case ReduceKind::sum:
  case ReduceKind::mean:
    return isFloat ? Value(arith::AddFOp::create(b, loc, acc, x))
                   : Value(arith::AddIOp::create(b, loc, acc, x));
  case ReduceKind::prod:
    return isFloat ? Value(arith::MulFOp::create(b, loc, acc, x))
                   : Value(arith::MulIOp::create(b, loc, acc, x));
  case ReduceKind::max:
    return isFloat ? Value(arith::MaximumFOp::create(b, loc, acc, x))
                   : Value(arith::MaxSIOp::create(b, loc, acc, x));
  case ReduceKind::min:
    return isFloat ? Value(arith::MinimumFOp::create(b, loc, acc, x))
                   : Value(arith::MinSIOp::create(b, loc, acc, x));
  }
  llvm_unreachable("unknown reduce kind");
}

/// One reduction generic into the kept dimensions, a division by the
/// element count for `mean`, a cast back for f16/bf16, and a
/// tensor.expand_shape re-inserting unit dimensions for `keep_dims`.
struct ReduceOpLowering : OpRewritePattern<ReduceOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(ReduceOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elementType = type.getElementType();
    if (!isa<FloatType, IntegerType>(elementType))
      return rewriter.notifyMatchFailure(op, "expected float or integer "
                                             "elements");
    int64_t rank = type.getRank();
    ArrayRef<int64_t> axes = op.getAxes();
    for (int64_t axis : axes)
      if (axis < 0 || axis >= rank)
        return rewriter.notifyMatchFailure(op, "axis out of range");

    Location loc = op.getLoc();
    ReduceKind kind = op.getKind();
    Type computeType = getComputeType(elementType);
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, op.getInput());
    SmallVector<OpFoldResult> keptSizes = dropSizes(sizes, axes);

    Value init = filledTensor(rewriter, loc, keptSizes,
                              reductionInit(rewriter, loc, kind, computeType));
    Value reduced = buildReduction(
        rewriter, loc, op.getInput(), rewriter.getMultiDimIdentityMap(rank),
        rank, axes, init,
        [&](OpBuilder &b, Location nloc, ValueRange args, Value acc) {
          Value x = castScalar(b, nloc, args[0], computeType);
          return reductionCombine(b, nloc, kind, acc, x);
        });

    if (kind == ReduceKind::mean) {
      Value count;
      if (isa<FloatType>(computeType)) {
        count = countAsFloat(rewriter, loc, sizes, axes, computeType);
      } else {
        Value n =
            countAsFloat(rewriter, loc, sizes, axes, rewriter.getF64Type());
        count = castScalar(rewriter, loc, n, computeType);
      }
      reduced = buildElementwise(
          rewriter, loc, reduced, keptSizes, computeType,
          [&](OpBuilder &b, Location nloc, ValueRange args) {
            if (isa<FloatType>(computeType))
              return Value(arith::DivFOp::create(b, nloc, args[0], count));
            return Value(arith::DivSIOp::create(b, nloc, args[0], count));
          });
    }
    reduced = castTensor(rewriter, loc, reduced, elementType, keptSizes);

    if (op.getKeepDims()) {
      // Unit dimensions join the group of the kept dimension before them
      // (or the first group when they lead).
      SmallVector<ReassociationIndices> groups;
      SmallVector<OpFoldResult> outSizes;
      ReassociationIndices leading;
      for (int64_t d = 0; d < rank; ++d) {
        bool isReduced = llvm::is_contained(axes, d);
        outSizes.push_back(isReduced ? rewriter.getIndexAttr(1) : sizes[d]);
        if (isReduced) {
          if (groups.empty())
            leading.push_back(d);
          else
            groups.back().push_back(d);
          continue;
        }
        ReassociationIndices group = leading;
        leading.clear();
        group.push_back(d);
        groups.push_back(group);
      }
      auto expandedType =
          RankedTensorType::get(staticShape(outSizes), elementType);
      reduced = tensor::ExpandShapeOp::create(rewriter, loc, expandedType,
                                              reduced, groups, outSizes);
    }
    rewriter.replaceOp(op, castToType(rewriter, loc, reduced, resultType));
    return success();
  }
};

} // namespace

void lowering::populateReductionPatterns(RewritePatternSet &patterns) {
  patterns.add<SoftmaxOpLowering, ReduceOpLowering>(patterns.getContext());
}
