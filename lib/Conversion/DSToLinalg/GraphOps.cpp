//===- GraphOps.cpp - lower ds graph ops to linalg ------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// ds.broadcast, ds.matmul, ds.cumsum, ds.trilu and ds.sigmoid. Softmax and
// reductions live in Reductions.cpp, the gathers in Gathers.cpp.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

namespace {

//===----------------------------------------------------------------------===//
// ds.broadcast
//===----------------------------------------------------------------------===//

/// One all-parallel linalg.generic over the result; the input's map sends
/// every broadcast (static size-1) dimension to the constant 0.
struct BroadcastOpLowering : OpRewritePattern<BroadcastOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(BroadcastOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType in = op.getInput().getType();
    RankedTensorType out = op.getResult().getType();
    if (in.getRank() > out.getRank())
      return rewriter.notifyMatchFailure(op, "input rank exceeds result rank");
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes;
    auto dynamicDims = op.getDynamicDims();
    unsigned next = 0;
    for (int64_t d : out.getShape()) {
      if (!ShapedType::isDynamic(d)) {
        sizes.push_back(rewriter.getIndexAttr(d));
        continue;
      }
      if (next >= dynamicDims.size())
        return rewriter.notifyMatchFailure(op, "missing a dynamic size");
      sizes.push_back(dynamicDims[next++]);
    }
    AffineMap map = getTrailingBroadcastMap(rewriter.getContext(),
                                            out.getShape(), in.getShape());
    Value result = buildElementwise(
        rewriter, loc, op.getInput(), map, sizes, out.getElementType(),
        [](OpBuilder &, Location, ValueRange args) { return args[0]; });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// ds.matmul
//===----------------------------------------------------------------------===//

/// The size of batch loop `loop` of a matmul result: static when the result
/// type says so, else read from an operand whose aligned dimension is
/// dynamic (dynamic dimensions are never broadcast at run time), else the
/// largest static operand size.
static OpFoldResult batchSize(OpBuilder &b, Location loc, int64_t resultSize,
                              int64_t loop, int64_t numBatch, Value lhs,
                              ArrayRef<int64_t> lhsBatch, Value rhs,
                              ArrayRef<int64_t> rhsBatch) {
  if (!ShapedType::isDynamic(resultSize))
    return b.getIndexAttr(resultSize);
  int64_t largest = 1;
  for (auto [operand, batch] :
       {std::pair{lhs, lhsBatch}, std::pair{rhs, rhsBatch}}) {
    int64_t i = loop - (numBatch - static_cast<int64_t>(batch.size()));
    if (i < 0)
      continue;
    if (ShapedType::isDynamic(batch[i]))
      return tensor::DimOp::create(b, loc, operand, i).getResult();
    largest = std::max(largest, batch[i]);
  }
  return b.getIndexAttr(largest);
}

/// numpy matmul as one contraction linalg.generic over
/// `[batch..., M?, N?, K]`: broadcast batch dimensions map to the constant
/// 0, rank-1 operands have no M (or N) loop. f16/bf16 accumulate in f32 and
/// are truncated by a second generic; integers accumulate in their type.
struct MatMulOpLowering : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    Value lhs = op.getLhs(), rhs = op.getRhs();
    auto lhsType = cast<RankedTensorType>(lhs.getType());
    auto rhsType = cast<RankedTensorType>(rhs.getType());
    auto resultType = cast<RankedTensorType>(op.getResult().getType());
    Type elementType = resultType.getElementType();
    if (!isa<FloatType, IntegerType>(elementType))
      return rewriter.notifyMatchFailure(op, "expected float or integer "
                                             "elements");
    if (lhsType.getRank() < 1 || rhsType.getRank() < 1)
      return rewriter.notifyMatchFailure(op, "expected operands of rank >= 1");
    bool hasM = lhsType.getRank() > 1, hasN = rhsType.getRank() > 1;
    ArrayRef<int64_t> lhsBatch = lhsType.getShape().drop_back(hasM ? 2 : 1);
    ArrayRef<int64_t> rhsBatch = rhsType.getShape().drop_back(hasN ? 2 : 1);
    int64_t numBatch = resultType.getRank() - hasM - hasN;
    if (numBatch < static_cast<int64_t>(lhsBatch.size()) ||
        numBatch < static_cast<int64_t>(rhsBatch.size()))
      return rewriter.notifyMatchFailure(op, "result rank too small for the "
                                             "batch dimensions");

    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    int64_t numLoops = numBatch + hasM + hasN + 1;
    int64_t mLoop = numBatch, nLoop = numBatch + hasM, kLoop = numLoops - 1;

    // Loop sizes: batch, M, N (the result's sizes), then K.
    SmallVector<OpFoldResult> resultSizes;
    for (int64_t i = 0; i < numBatch; ++i)
      resultSizes.push_back(batchSize(rewriter, loc, resultType.getDimSize(i),
                                      i, numBatch, lhs, lhsBatch, rhs,
                                      rhsBatch));
    if (hasM)
      resultSizes.push_back(
          tensor::getMixedSize(rewriter, loc, lhs, lhsType.getRank() - 2));
    if (hasN)
      resultSizes.push_back(
          tensor::getMixedSize(rewriter, loc, rhs, rhsType.getRank() - 1));
    resultSizes = refineSizes(rewriter, resultType.getShape(), resultSizes);
    SmallVector<int64_t> loopShape = staticShape(resultSizes);
    loopShape.push_back(lhsType.getShape().back());

    // Indexing maps.
    auto batchExprs = [&](ArrayRef<int64_t> batch) {
      SmallVector<int64_t> loops;
      for (size_t i = 0; i < batch.size(); ++i)
        loops.push_back(numBatch - batch.size() + i);
      AffineMap map = getBroadcastMap(ctx, loopShape, batch, loops);
      return SmallVector<AffineExpr>(map.getResults());
    };
    SmallVector<AffineExpr> lhsExprs = batchExprs(lhsBatch);
    if (hasM)
      lhsExprs.push_back(rewriter.getAffineDimExpr(mLoop));
    lhsExprs.push_back(rewriter.getAffineDimExpr(kLoop));
    SmallVector<AffineExpr> rhsExprs = batchExprs(rhsBatch);
    rhsExprs.push_back(rewriter.getAffineDimExpr(kLoop));
    if (hasN)
      rhsExprs.push_back(rewriter.getAffineDimExpr(nLoop));
    SmallVector<AffineMap> maps = {AffineMap::get(numLoops, 0, lhsExprs, ctx),
                                   AffineMap::get(numLoops, 0, rhsExprs, ctx),
                                   getDropDimsMap(ctx, numLoops, {kLoop})};

    Type accType = getComputeType(elementType);
    Value init = filledTensor(rewriter, loc, resultSizes,
                              zeroConstant(rewriter, loc, accType));
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()}, ValueRange{lhs, rhs},
        ValueRange{init}, maps, getIterators(numLoops, {kLoop}),
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value a = castScalar(b, nloc, args[0], accType);
          Value c = castScalar(b, nloc, args[1], accType);
          Value sum;
          if (isa<FloatType>(accType))
            sum = arith::AddFOp::create(b, nloc, args[2],
                                        arith::MulFOp::create(b, nloc, a, c));
          else
            sum = arith::AddIOp::create(b, nloc, args[2],
                                        arith::MulIOp::create(b, nloc, a, c));
          linalg::YieldOp::create(b, nloc, sum);
        });
    Value result = castTensor(rewriter, loc, generic.getResult(0), elementType,
                              resultSizes);
    rewriter.replaceOp(op, castToType(rewriter, loc, result, resultType));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// ds.cumsum
//===----------------------------------------------------------------------===//

/// A generic over `[input loops..., j]` with `j` a reduction loop over the
/// scanned axis: `out[.., i, ..] += (j selected for i) ? in[.., j, ..] : 0`.
/// Quadratic in the axis length but fully parallel and dynamic-shape
/// friendly; the axis is a sequence length at most.
struct CumSumOpLowering : OpRewritePattern<CumSumOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(CumSumOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getInput().getType());
    Type elementType = type.getElementType();
    if (!isa<FloatType, IntegerType>(elementType))
      return rewriter.notifyMatchFailure(op, "expected float or integer "
                                             "elements");
    int64_t rank = type.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return rewriter.notifyMatchFailure(op, "axis out of range");

    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    int64_t numLoops = rank + 1, jLoop = rank;
    SmallVector<AffineExpr> inExprs;
    for (int64_t d = 0; d < rank; ++d)
      inExprs.push_back(rewriter.getAffineDimExpr(d == axis ? jLoop : d));
    AffineMap inMap = AffineMap::get(numLoops, 0, inExprs, ctx);

    Type accType = getComputeType(elementType);
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, op.getInput());
    Value init = filledTensor(rewriter, loc, sizes,
                              zeroConstant(rewriter, loc, accType));
    bool exclusive = op.getExclusive(), reverse = op.getReverse();
    Value zero = zeroConstant(rewriter, loc, accType);
    Value sum = buildReduction(
        rewriter, loc, op.getInput(), inMap, numLoops, {jLoop}, init,
        [&](OpBuilder &b, Location nloc, ValueRange args, Value acc) {
          Value i = linalg::IndexOp::create(b, nloc, axis);
          Value j = linalg::IndexOp::create(b, nloc, jLoop);
          arith::CmpIPredicate pred =
              reverse ? (exclusive ? arith::CmpIPredicate::sgt
                                   : arith::CmpIPredicate::sge)
                      : (exclusive ? arith::CmpIPredicate::slt
                                   : arith::CmpIPredicate::sle);
          Value take = arith::CmpIOp::create(b, nloc, pred, j, i);
          Value x = castScalar(b, nloc, args[0], accType);
          Value term = arith::SelectOp::create(b, nloc, take, x, zero);
          if (isa<FloatType>(accType))
            return Value(arith::AddFOp::create(b, nloc, acc, term));
          return Value(arith::AddIOp::create(b, nloc, acc, term));
        });
    Value result = castTensor(rewriter, loc, sum, elementType, sizes);
    rewriter.replaceOp(op, castToType(rewriter, loc, result, type));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// ds.trilu
//===----------------------------------------------------------------------===//

/// Elementwise select on `j - i` against the diagonal, from linalg.index of
/// the last two loops.
struct TriluOpLowering : OpRewritePattern<TriluOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(TriluOp op,
                                PatternRewriter &rewriter) const override {
    auto type = cast<RankedTensorType>(op.getInput().getType());
    int64_t rank = type.getRank();
    if (rank < 2)
      return rewriter.notifyMatchFailure(op, "expected rank >= 2");
    Type elementType = type.getElementType();
    if (!isa<FloatType, IntegerType, IndexType>(elementType))
      return rewriter.notifyMatchFailure(op, "expected float, integer or "
                                             "index elements");
    Location loc = op.getLoc();
    Value diagonal =
        arith::ConstantIndexOp::create(rewriter, loc, op.getDiagonal());
    Value zero = zeroConstant(rewriter, loc, elementType);
    bool upper = op.getUpper();
    Value result = buildElementwise(
        rewriter, loc, op.getInput(), getSizes(rewriter, loc, op.getInput()),
        elementType, [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value i = linalg::IndexOp::create(b, nloc, rank - 2);
          Value j = linalg::IndexOp::create(b, nloc, rank - 1);
          Value diff = arith::SubIOp::create(b, nloc, j, i);
          Value keep = arith::CmpIOp::create(b, nloc,
                                             upper ? arith::CmpIPredicate::sge
                                                   : arith::CmpIPredicate::sle,
                                             diff, diagonal);
          return Value(arith::SelectOp::create(b, nloc, keep, args[0], zero));
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

//===----------------------------------------------------------------------===//
// ds.sigmoid
//===----------------------------------------------------------------------===//

/// `1 / (1 + exp(-x))`, in f32 for f16/bf16.
struct SigmoidOpLowering : OpRewritePattern<SigmoidOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(SigmoidOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    Type elementType = op.getInput().getType().getElementType();
    Type computeType = getComputeType(elementType);
    Value result = buildElementwise(
        rewriter, loc, op.getInput(), getSizes(rewriter, loc, op.getInput()),
        elementType, [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x = castScalar(b, nloc, args[0], computeType);
          return castScalar(b, nloc, buildSigmoid(b, nloc, x), elementType);
        });
    rewriter.replaceOp(op, result);
    return success();
  }
};

} // namespace

void lowering::populateGraphOpPatterns(RewritePatternSet &patterns) {
  patterns.add<BroadcastOpLowering, MatMulOpLowering, CumSumOpLowering,
               TriluOpLowering, SigmoidOpLowering>(patterns.getContext());
}
