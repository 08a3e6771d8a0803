//===- KVCache.cpp - lower ds.kv_cache.append and ds.kv_cache.read --------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The cache ops are slices: append is a tensor.insert_slice of the update
// at sequence offset `offset` (in place once bufferized, since the result
// replaces the cache), read a tensor.extract_slice of the first `length`
// positions (a subview once bufferized). `offset + S <= capacity` is the
// runtime's check, not the kernel's.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

namespace {

/// One tensor.insert_slice per sequence in an scf.for over the batch:
/// sequence b's rows go to its own offset. The loop carries the cache, so
/// bufferization writes in place into the cache argument.
struct KVCacheAppendOpLowering : OpRewritePattern<KVCacheAppendOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(KVCacheAppendOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getCache().getType().getRank() != 4 ||
        op.getUpdate().getType().getRank() != 4)
      return rewriter.notifyMatchFailure(op, "expected rank-4 cache and "
                                             "update");
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, op.getUpdate());
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value batch = getValueOrCreateConstantIndexOp(rewriter, loc, sizes[0]);
    auto loop = scf::ForOp::create(
        rewriter, loc, zero, batch, one, ValueRange{op.getCache()},
        [&](OpBuilder &b, Location nloc, Value bi, ValueRange iter) {
          Value off = tensor::ExtractOp::create(b, nloc, op.getOffset(), bi);
          off = arith::IndexCastOp::create(b, nloc, b.getIndexType(), off);
          SmallVector<OpFoldResult> rowSizes(sizes);
          rowSizes[0] = b.getIndexAttr(1);
          SmallVector<OpFoldResult> strides(4, b.getIndexAttr(1));
          SmallVector<OpFoldResult> srcOffsets = {bi, b.getIndexAttr(0),
                                                  b.getIndexAttr(0),
                                                  b.getIndexAttr(0)};
          Value row = tensor::ExtractSliceOp::create(
              b, nloc, op.getUpdate(), srcOffsets, rowSizes, strides);
          SmallVector<OpFoldResult> dstOffsets = {bi, b.getIndexAttr(0), off,
                                                  b.getIndexAttr(0)};
          Value next = tensor::InsertSliceOp::create(
              b, nloc, row, iter[0], dstOffsets, rowSizes, strides);
          scf::YieldOp::create(b, nloc, next);
        });
    rewriter.replaceOp(op, castToType(rewriter, loc, loop.getResult(0),
                                      op.getResult().getType()));
    return success();
  }
};

struct KVCacheReadOpLowering : OpRewritePattern<KVCacheReadOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(KVCacheReadOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType resultType = op.getResult().getType();
    if (op.getCache().getType().getRank() != 4 || resultType.getRank() != 4)
      return rewriter.notifyMatchFailure(op, "expected a rank-4 cache and "
                                             "result");
    Location loc = op.getLoc();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, op.getCache());
    sizes[2] = op.getLength();
    // Static result dimensions (a static length included) become static
    // slice sizes, so the slice has exactly the result type.
    sizes = refineSizes(rewriter, resultType.getShape(), sizes);
    SmallVector<OpFoldResult> offsets(4, rewriter.getIndexAttr(0));
    SmallVector<OpFoldResult> strides(4, rewriter.getIndexAttr(1));
    Value result = tensor::ExtractSliceOp::create(rewriter, loc, op.getCache(),
                                                  offsets, sizes, strides);
    rewriter.replaceOp(op, castToType(rewriter, loc, result, resultType));
    return success();
  }
};

} // namespace

void lowering::populateKVCachePatterns(RewritePatternSet &patterns) {
  patterns.add<KVCacheAppendOpLowering, KVCacheReadOpLowering>(
      patterns.getContext());
}
