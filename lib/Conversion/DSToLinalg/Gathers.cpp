//===- Gathers.cpp - lower ds gathers and ds.embedding to linalg ----------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Every gather is an all-parallel linalg.generic over the result that reads
// the indices through its indexing maps (or tensor.extract for gather_nd)
// and the data with tensor.extract. Indices wrap once when negative and are
// clamped to the dimension, so no read goes out of bounds.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

/// The size of dimension `dim` of `tensor` as an index value.
static Value dimValue(OpBuilder &b, Location loc, Value tensor, int64_t dim) {
  return getValueOrCreateConstantIndexOp(
      b, loc, tensor::getMixedSize(b, loc, tensor, dim));
}

/// ONNX Gather along `axis`:
/// `result[i..., j..., k...] = data[i..., indices[j...], k...]`.
static Value buildGather(OpBuilder &b, Location loc, Value data, Value indices,
                         int64_t axis, RankedTensorType resultType) {
  auto dataType = cast<RankedTensorType>(data.getType());
  auto indicesType = cast<RankedTensorType>(indices.getType());
  int64_t rank = dataType.getRank(), q = indicesType.getRank();
  SmallVector<OpFoldResult> dataSizes = getSizes(b, loc, data);
  SmallVector<OpFoldResult> sizes(
      ArrayRef<OpFoldResult>(dataSizes).take_front(axis));
  llvm::append_range(sizes, getSizes(b, loc, indices));
  llvm::append_range(sizes,
                     ArrayRef<OpFoldResult>(dataSizes).drop_front(axis + 1));
  sizes = refineSizes(b, resultType.getShape(), sizes);

  int64_t numLoops = sizes.size();
  SmallVector<AffineExpr> indexExprs;
  for (int64_t d = 0; d < q; ++d)
    indexExprs.push_back(b.getAffineDimExpr(axis + d));
  AffineMap indexMap = AffineMap::get(numLoops, 0, indexExprs, b.getContext());
  Value axisSize = getValueOrCreateConstantIndexOp(b, loc, dataSizes[axis]);

  Value result = buildElementwise(
      b, loc, indices, indexMap, sizes, dataType.getElementType(),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        SmallVector<Value> coords;
        for (int64_t d = 0; d < axis; ++d)
          coords.push_back(linalg::IndexOp::create(nb, nloc, d));
        coords.push_back(wrapAndClampIndex(nb, nloc, args[0], axisSize));
        for (int64_t d = axis + 1; d < rank; ++d)
          coords.push_back(linalg::IndexOp::create(nb, nloc, d + q - 1));
        return Value(tensor::ExtractOp::create(nb, nloc, data, coords));
      });
  return castToType(b, loc, result, resultType);
}

namespace {

struct GatherOpLowering : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    auto dataType = cast<RankedTensorType>(op.getData().getType());
    int64_t rank = dataType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return rewriter.notifyMatchFailure(op, "axis out of range");
    rewriter.replaceOp(op, buildGather(rewriter, op.getLoc(), op.getData(),
                                       op.getIndices(), axis,
                                       op.getResult().getType()));
    return success();
  }
};

/// `result[i] = data[i with i[axis] replaced by indices[i]]`.
struct GatherElementsOpLowering : OpRewritePattern<GatherElementsOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatherElementsOp op,
                                PatternRewriter &rewriter) const override {
    auto dataType = cast<RankedTensorType>(op.getData().getType());
    int64_t rank = dataType.getRank();
    int64_t axis = op.getAxis() < 0 ? op.getAxis() + rank : op.getAxis();
    if (axis < 0 || axis >= rank)
      return rewriter.notifyMatchFailure(op, "axis out of range");
    if (op.getIndices().getType().getRank() != rank)
      return rewriter.notifyMatchFailure(op, "expected indices of the data's "
                                             "rank");
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getResult().getType();
    SmallVector<OpFoldResult> sizes =
        refineSizes(rewriter, resultType.getShape(),
                    getSizes(rewriter, loc, op.getIndices()));
    Value axisSize = dimValue(rewriter, loc, op.getData(), axis);
    Value data = op.getData();
    Value result = buildElementwise(
        rewriter, loc, op.getIndices(), rewriter.getMultiDimIdentityMap(rank),
        sizes, dataType.getElementType(),
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          SmallVector<Value> coords;
          for (int64_t d = 0; d < rank; ++d)
            coords.push_back(d == axis
                                 ? wrapAndClampIndex(b, nloc, args[0], axisSize)
                                 : Value(linalg::IndexOp::create(b, nloc, d)));
          return Value(tensor::ExtractOp::create(b, nloc, data, coords));
        });
    rewriter.replaceOp(op, castToType(rewriter, loc, result, resultType));
    return success();
  }
};

/// `result[i..., k...] = data[i_batch..., indices[i..., :], k...]`: the
/// index tuple is read with tensor.extract from the indices.
struct GatherNDOpLowering : OpRewritePattern<GatherNDOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(GatherNDOp op,
                                PatternRewriter &rewriter) const override {
    auto dataType = cast<RankedTensorType>(op.getData().getType());
    auto indicesType = cast<RankedTensorType>(op.getIndices().getType());
    int64_t rank = dataType.getRank(), q = indicesType.getRank();
    int64_t batchDims = op.getBatchDims();
    int64_t depth = indicesType.getShape().back();
    if (ShapedType::isDynamic(depth) || depth < 1 || batchDims + depth > rank ||
        batchDims >= q)
      return rewriter.notifyMatchFailure(op, "expected a static index depth "
                                             "within the data rank");
    Location loc = op.getLoc();
    RankedTensorType resultType = op.getResult().getType();
    SmallVector<OpFoldResult> indexSizes =
        getSizes(rewriter, loc, op.getIndices());
    SmallVector<OpFoldResult> sizes(
        ArrayRef<OpFoldResult>(indexSizes).drop_back());
    SmallVector<OpFoldResult> dataSizes = getSizes(rewriter, loc, op.getData());
    llvm::append_range(
        sizes, ArrayRef<OpFoldResult>(dataSizes).drop_front(batchDims + depth));
    sizes = refineSizes(rewriter, resultType.getShape(), sizes);

    SmallVector<Value> bounds;
    for (int64_t c = 0; c < depth; ++c)
      bounds.push_back(getValueOrCreateConstantIndexOp(
          rewriter, loc, dataSizes[batchDims + c]));
    Value data = op.getData(), indices = op.getIndices();
    Value result = buildElementwise(
        rewriter, loc, ValueRange{}, ArrayRef<AffineMap>{}, sizes,
        dataType.getElementType(),
        [&](OpBuilder &b, Location nloc, ValueRange) {
          SmallVector<Value> outer;
          for (int64_t d = 0; d < q - 1; ++d)
            outer.push_back(linalg::IndexOp::create(b, nloc, d));
          SmallVector<Value> coords(
              ArrayRef<Value>(outer).take_front(batchDims));
          for (int64_t c = 0; c < depth; ++c) {
            SmallVector<Value> at(outer);
            at.push_back(arith::ConstantIndexOp::create(b, nloc, c));
            Value idx = tensor::ExtractOp::create(b, nloc, indices, at);
            coords.push_back(wrapAndClampIndex(b, nloc, idx, bounds[c]));
          }
          for (int64_t d = batchDims + depth; d < rank; ++d)
            coords.push_back(linalg::IndexOp::create(
                b, nloc, q - 1 + d - batchDims - depth));
          return Value(tensor::ExtractOp::create(b, nloc, data, coords));
        });
    rewriter.replaceOp(op, castToType(rewriter, loc, result, resultType));
    return success();
  }
};

/// A gather of table rows (axis 0). Token ids outside the vocabulary are
/// clamped like any gather index rather than read out of bounds.
struct EmbeddingOpLowering : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(EmbeddingOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getTable().getType().getRank() != 2)
      return rewriter.notifyMatchFailure(op, "expected a rank-2 table");
    rewriter.replaceOp(op, buildGather(rewriter, op.getLoc(), op.getTable(),
                                       op.getIndices(), /*axis=*/0,
                                       op.getResult().getType()));
    return success();
  }
};

} // namespace

void lowering::populateGatherPatterns(RewritePatternSet &patterns) {
  patterns.add<GatherOpLowering, GatherElementsOpLowering, GatherNDOpLowering,
               EmbeddingOpLowering>(patterns.getContext());
}
