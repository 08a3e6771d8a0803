//===- Attention.cpp - decompose ds.attention into linalg -----------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// With a static number of KV heads the query is viewed as
// [B, Hkv, G, S, D] (G = Hq / Hkv query heads per KV head) through
// tensor.expand_shape, so all query heads of a group index the same K/V head
// through the indexing maps and no repeated K/V is materialised. Then, all
// in f32 for f16/bf16 inputs (row loops R = [b, hkv, g, s]):
//
//   scores[R, t] = sum_d Q[R, d] K[b, hkv, t, d]
//   masked[R, t] = visible ? scale * scores (+ additive mask) : -inf
//   m[R]         = max_t masked             (shifted by 0 if all are -inf)
//   e[R, t]      = exp(masked - m),  l[R] = sum_t e
//   o[R, v]      = (sum_t e V[b, hkv, t, v]) / l     (0 when l is 0)
//
// and o is collapsed back to [B, Hq, S, Dv]. A key is visible when the
// boolean mask keeps it, it is at or before `i + T - S` (causal, queries
// aligned to the end of the keys, or of sequence b's `kv_length[b]` keys)
// and it is below `kv_length[b]`; a row with no visible key gives zeros
// rather than NaN.
//
// With a dynamic number of KV heads the grouped view would need a reshape
// group with two dynamic sizes, which LLVM 22's expand-strided-metadata
// cannot lower (llvm/llvm-project#186830). The row loops are then
// [b, hq, s] and K/V are read with tensor.extract at head `hq / G`: slower,
// but still with no repeated K/V, and real models have static head counts.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

/// The first static size among `sizes`, else the first one.
static OpFoldResult preferStatic(ArrayRef<OpFoldResult> sizes) {
  for (OpFoldResult size : sizes)
    if (isa<Attribute>(size))
      return size;
  return sizes.front();
}

/// Views rank-4 `t` = [X, H, Y, Z] of sizes `sizes` as [X, hkv, g, Y, Z]
/// with H = hkv * g (`hkv` static). Casts dimension 1 first when its
/// staticness differs from the group's.
static Value expandHeads(OpBuilder &b, Location loc, Value t,
                         ArrayRef<OpFoldResult> sizes, OpFoldResult hkv,
                         OpFoldResult g) {
  auto type = cast<RankedTensorType>(t.getType());
  std::optional<int64_t> hkvStatic = getConstantIntValue(hkv);
  std::optional<int64_t> gStatic = getConstantIntValue(g);
  SmallVector<int64_t> sourceShape(type.getShape());
  sourceShape[1] =
      hkvStatic && gStatic ? *hkvStatic * *gStatic : ShapedType::kDynamic;
  t = castToType(b, loc, t, type.clone(sourceShape));
  SmallVector<OpFoldResult> outSizes = {sizes[0], hkv, g, sizes[2], sizes[3]};
  auto outType =
      RankedTensorType::get(staticShape(outSizes), type.getElementType());
  SmallVector<ReassociationIndices> groups = {{0}, {1, 2}, {3}, {4}};
  return tensor::ExpandShapeOp::create(b, loc, outType, t, groups, outSizes);
}

namespace {

/// State shared by the steps of one attention lowering.
struct AttentionLowering {
  PatternRewriter &rewriter;
  Location loc;
  MLIRContext *ctx;
  Type ct;
  /// Row loops [b, hkv, g, s] (grouped) or [b, hq, s].
  bool grouped;
  unsigned rowLoops;
  /// G as an index value, for the tensor.extract head mapping.
  Value group;

  AffineMap dimsMap(unsigned numLoops, ArrayRef<unsigned> dims) const {
    SmallVector<AffineExpr> exprs;
    for (unsigned d : dims)
      exprs.push_back(getAffineDimExpr(d, ctx));
    return AffineMap::get(numLoops, 0, exprs, ctx);
  }

  /// `out[R, x] = sum_r lhs[R, r] * kv[b, head, ., .]` over loops
  /// `[R..., x, r]`: the K/V operand is indexed `(x, r)` (Q K^T) or, with
  /// `transposed`, `(r, x)` (P V).
  Value contract(Value lhs, Value kv, bool transposed,
                 ArrayRef<OpFoldResult> outSizes) const {
    unsigned numLoops = rowLoops + 2, x = rowLoops, r = rowLoops + 1;
    SmallVector<unsigned> lhsDims;
    for (unsigned d = 0; d < rowLoops; ++d)
      lhsDims.push_back(d);
    lhsDims.push_back(r);
    SmallVector<unsigned> kvDims = {0, 1, transposed ? r : x,
                                    transposed ? x : r};
    SmallVector<Value> inputs = {lhs};
    SmallVector<AffineMap> maps = {dimsMap(numLoops, lhsDims)};
    if (grouped) {
      inputs.push_back(kv);
      maps.push_back(dimsMap(numLoops, kvDims));
    }
    maps.push_back(getDropDimsMap(ctx, numLoops, {r}));
    Value init = filledTensor(rewriter, loc, outSizes,
                              floatConstant(rewriter, loc, ct, 0.0));
    return linalg::GenericOp::create(
               rewriter, loc, TypeRange{init.getType()}, inputs,
               ValueRange{init}, maps, getIterators(numLoops, {r}),
               [&](OpBuilder &b, Location nloc, ValueRange args) {
                 Value kvElem;
                 if (grouped) {
                   kvElem = args[1];
                 } else {
                   SmallVector<Value> coords;
                   for (unsigned d : kvDims)
                     coords.push_back(linalg::IndexOp::create(b, nloc, d));
                   coords[1] =
                       arith::DivUIOp::create(b, nloc, coords[1], group);
                   kvElem = tensor::ExtractOp::create(b, nloc, kv, coords);
                 }
                 Value x = castScalar(b, nloc, args[0], ct);
                 Value y = castScalar(b, nloc, kvElem, ct);
                 Value p = arith::MulFOp::create(b, nloc, x, y);
                 Value sum = arith::AddFOp::create(b, nloc, args.back(), p);
                 linalg::YieldOp::create(b, nloc, sum);
               })
        .getResult(0);
  }
};

struct AttentionOpLowering : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(AttentionOp op,
                                PatternRewriter &rewriter) const override {
    Value query = op.getQuery(), key = op.getKey(), value = op.getValue();
    RankedTensorType qType = op.getQuery().getType();
    if (qType.getRank() != 4 || op.getKey().getType().getRank() != 4 ||
        op.getValue().getType().getRank() != 4)
      return rewriter.notifyMatchFailure(op, "expected rank-4 query, key and "
                                             "value");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type elementType = qType.getElementType();
    Type ct = getComputeType(elementType);

    SmallVector<OpFoldResult> qs = getSizes(rewriter, loc, query);
    SmallVector<OpFoldResult> ks = getSizes(rewriter, loc, key);
    SmallVector<OpFoldResult> vs = getSizes(rewriter, loc, value);
    OpFoldResult batch = preferStatic({qs[0], ks[0], vs[0]});
    OpFoldResult kvHeads = preferStatic({ks[1], vs[1]});
    OpFoldResult seqQ = qs[2], seqK = preferStatic({ks[2], vs[2]});

    // G = Hq / Hkv query heads per KV head.
    OpFoldResult group;
    std::optional<int64_t> hq = getConstantIntValue(qs[1]);
    std::optional<int64_t> hkv = getConstantIntValue(kvHeads);
    if (hq && hkv) {
      if (*hkv == 0 || *hq % *hkv != 0)
        return rewriter.notifyMatchFailure(op, "kv heads do not divide query "
                                               "heads");
      group = rewriter.getIndexAttr(*hq / *hkv);
    } else {
      Value qHeads = getValueOrCreateConstantIndexOp(rewriter, loc, qs[1]);
      Value kHeads = getValueOrCreateConstantIndexOp(rewriter, loc, kvHeads);
      group = arith::DivUIOp::create(rewriter, loc, qHeads, kHeads).getResult();
    }
    bool grouped = hkv.has_value();
    AttentionLowering l{rewriter,
                        loc,
                        ctx,
                        ct,
                        grouped,
                        grouped ? 4u : 3u,
                        grouped ? Value() : cast<Value>(group)};

    // The scale: the attribute, or 1 / sqrt(D) (at run time for dynamic D).
    Value scale;
    if (std::optional<double> s = op.getEffectiveScale()) {
      scale = floatConstant(rewriter, loc, ct, *s);
    } else {
      Value d =
          castScalar(rewriter, loc,
                     getValueOrCreateConstantIndexOp(rewriter, loc, qs[3]), ct);
      Value one = floatConstant(rewriter, loc, ct, 1.0);
      Value sqrtD = math::SqrtOp::create(rewriter, loc, d);
      scale = arith::DivFOp::create(rewriter, loc, one, sqrtD);
    }

    // Row sizes R and the scores' sizes [R, T].
    SmallVector<OpFoldResult> rowSizes =
        grouped ? SmallVector<OpFoldResult>{batch, kvHeads, group, seqQ}
                : SmallVector<OpFoldResult>{batch, qs[1], seqQ};
    SmallVector<OpFoldResult> scoreSizes(rowSizes);
    scoreSizes.push_back(seqK);
    SmallVector<int64_t> scoreShape = staticShape(scoreSizes);
    unsigned numLoops = l.rowLoops + 1, sLoop = l.rowLoops - 1,
             tLoop = l.rowLoops;
    AffineMap identity = rewriter.getMultiDimIdentityMap(numLoops);
    AffineMap rowMap = getDropDimsMap(ctx, numLoops, {tLoop});

    Value queryView =
        grouped ? expandHeads(rewriter, loc, query, qs, kvHeads, group) : query;
    Value scores = l.contract(queryView, key, /*transposed=*/false, scoreSizes);

    // The mask's indexing map over the score loops.
    Value mask = op.getMask();
    bool boolMask = false;
    AffineMap maskMap;
    if (mask) {
      auto maskType = cast<RankedTensorType>(mask.getType());
      boolMask = maskType.getElementType().isInteger(1);
      int64_t rank = maskType.getRank();
      if (rank < 2 || rank > 4)
        return rewriter.notifyMatchFailure(op, "expected a mask of rank 2 to "
                                               "4");
      if (grouped && rank == 4 && maskType.getDimSize(1) != 1) {
        // A per-head mask splits its head dimension like the query.
        mask = expandHeads(rewriter, loc, mask, getSizes(rewriter, loc, mask),
                           kvHeads, group);
        maskMap = getBroadcastMap(
            ctx, scoreShape, cast<RankedTensorType>(mask.getType()).getShape(),
            {0, 1, 2, 3, 4});
      } else {
        // [B, Hq, S, T] positions; a grouped head dimension here is 1.
        SmallVector<int64_t> loopOf = grouped
                                          ? SmallVector<int64_t>{0, 1, 3, 4}
                                          : SmallVector<int64_t>{0, 1, 2, 3};
        SmallVector<int64_t> loops;
        for (int64_t i = 0; i < rank; ++i)
          loops.push_back(loopOf[4 - rank + i]);
        maskMap = getBroadcastMap(ctx, scoreShape, maskType.getShape(), loops);
      }
    }
    // Causal: query i sees keys j <= i + (T - S), or with per-sequence
    // lengths j <= i + (kv_length[b] - S).
    Value queries = getValueOrCreateConstantIndexOp(rewriter, loc, seqQ);
    Value offset;
    Value kvLength = op.getKvLength();
    if (op.getCausal() && !kvLength) {
      Value keys = getValueOrCreateConstantIndexOp(rewriter, loc, seqK);
      offset = arith::SubIOp::create(rewriter, loc, keys, queries);
    }
    SmallVector<Value> maskInputs = {scores};
    SmallVector<AffineMap> maskMaps = {identity};
    if (mask) {
      maskInputs.push_back(mask);
      maskMaps.push_back(maskMap);
    }
    // kv_length[b] is read per score element through a map on the batch
    // loop (loop 0 in both the grouped and the plain loop nest).
    unsigned kvLengthArg = maskInputs.size();
    if (kvLength) {
      maskInputs.push_back(kvLength);
      maskMaps.push_back(AffineMap::get(numLoops, 0,
                                        rewriter.getAffineDimExpr(0), ctx));
    }
    Value negInf = infConstant(rewriter, loc, ct, /*negative=*/true);
    Value zero = floatConstant(rewriter, loc, ct, 0.0);
    Value masked = buildElementwise(
        rewriter, loc, maskInputs, maskMaps, scoreSizes, ct,
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value x = arith::MulFOp::create(b, nloc, args[0], scale);
          Value visible;
          auto require = [&](Value cond) {
            visible = visible
                          ? Value(arith::AndIOp::create(b, nloc, visible, cond))
                          : cond;
          };
          if (mask && boolMask)
            require(args[1]);
          else if (mask)
            x = arith::AddFOp::create(b, nloc, x,
                                      castScalar(b, nloc, args[1], ct));
          if (offset || kvLength) {
            Value t = linalg::IndexOp::create(b, nloc, tLoop);
            Value length;
            if (kvLength) {
              length = arith::IndexCastOp::create(
                  b, nloc, b.getIndexType(), args[kvLengthArg]);
              require(arith::CmpIOp::create(b, nloc, arith::CmpIPredicate::slt,
                                            t, length));
            }
            if (op.getCausal()) {
              Value shift =
                  offset ? offset
                         : Value(arith::SubIOp::create(b, nloc, length,
                                                       queries));
              Value s = linalg::IndexOp::create(b, nloc, sLoop);
              Value last = arith::AddIOp::create(b, nloc, s, shift);
              require(arith::CmpIOp::create(b, nloc, arith::CmpIPredicate::sle,
                                            t, last));
            }
          }
          if (!visible)
            return x;
          return Value(arith::SelectOp::create(b, nloc, visible, x, negInf));
        });

    // Numerically stable softmax over t, normalised after P V.
    Value rowMax = buildReduction(
        rewriter, loc, masked, identity, numLoops, {tLoop},
        filledTensor(rewriter, loc, rowSizes, negInf),
        [](OpBuilder &b, Location nloc, ValueRange args, Value acc) {
          return Value(arith::MaximumFOp::create(b, nloc, acc, args[0]));
        });
    Value exps = buildElementwise(
        rewriter, loc, ValueRange{masked, rowMax}, {identity, rowMap},
        scoreSizes, ct, [&](OpBuilder &b, Location nloc, ValueRange args) {
          // A row with no visible key has max -inf; shifting it by 0 keeps
          // every exp at 0 instead of NaN.
          Value noKey = arith::CmpFOp::create(
              b, nloc, arith::CmpFPredicate::OEQ, args[1], negInf);
          Value shift = arith::SelectOp::create(b, nloc, noKey, zero, args[1]);
          Value shifted = arith::SubFOp::create(b, nloc, args[0], shift);
          return Value(math::ExpOp::create(b, nloc, shifted));
        });
    Value rowSum = buildReduction(
        rewriter, loc, exps, identity, numLoops, {tLoop},
        filledTensor(rewriter, loc, rowSizes, zero),
        [](OpBuilder &b, Location nloc, ValueRange args, Value acc) {
          return Value(arith::AddFOp::create(b, nloc, acc, args[0]));
        });

    SmallVector<OpFoldResult> outSizes(rowSizes);
    outSizes.push_back(vs[3]);
    Value weighted = l.contract(exps, value, /*transposed=*/true, outSizes);
    Value normalized = buildElementwise(
        rewriter, loc, ValueRange{weighted, rowSum}, {identity, rowMap},
        outSizes, elementType,
        [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value empty = arith::CmpFOp::create(
              b, nloc, arith::CmpFPredicate::OEQ, args[1], zero);
          Value o = arith::DivFOp::create(b, nloc, args[0], args[1]);
          Value r = arith::SelectOp::create(b, nloc, empty, zero, o);
          return castScalar(b, nloc, r, elementType);
        });
    Value result = normalized;
    if (grouped)
      result = tensor::CollapseShapeOp::create(
          rewriter, loc, normalized,
          ArrayRef<ReassociationIndices>{{0}, {1, 2}, {3}, {4}});
    rewriter.replaceOp(
        op, castToType(rewriter, loc, result, op.getResult().getType()));
    return success();
  }
};

} // namespace

void lowering::populateAttentionPatterns(RewritePatternSet &patterns) {
  patterns.add<AttentionOpLowering>(patterns.getContext());
}
