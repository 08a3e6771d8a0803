//===- Rope.cpp - lower ds.rope to linalg ---------------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// One linalg.generic over the whole input writes every element of a fresh
// tensor. With d the last index and R the rotated width (`rotary_dim`, else
// head_dim), each element is rotated with its pair partner, read through a
// second use of the input whose indexing map names the partner's index,
// by cos/sin read at the pair's table index:
//
//   rotate_half: partner (d + R/2) mod R,              table d mod R/2
//   interleaved: partner (d mod R) + 1 - 2 (d mod 2),  table (d mod R) div 2
//
//   out = x * cos - partner * sin   first of a pair (d < R/2, or d even)
//   out = x * cos + partner * sin   second of a pair
//   out = x                         d >= R (partial rotary_dim)
//
// (`d mod R` only where R may be less than head_dim.) cos/sin broadcast
// over the leading dimensions through their map. The `mod`s keep every
// read in bounds, the pass-through entries' too.
//
// Why not slices: the former lowering rotated strided extract_slice views
// of the two halves with a two-result generic and wrote them back with two
// tensor.insert_slice ops. Bufferized, those became two memref.copy ops,
// each a kernel of its own on the CUDA path next to the rotation's: three
// launches per rope per layer where one does. The products and the
// subtraction or addition are the former ones (x1 * c - x2 * s and
// x2 * c + x1 * s, with x the element written), so results are bitwise
// the same.
//
// The maps need R as a constant: with neither `rotary_dim` nor a static
// head_dim, the former lowering remains, with R/2 computed at run time.
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

/// x * c - partner * s when `first` (the first of its pair), else
/// x * c + partner * s. With x the element written, these are the former
/// lowering's x1 * c - x2 * s and x2 * c + x1 * s operand for operand,
/// which keeps results bitwise the same.
Value rotate(OpBuilder &b, Location loc, Value x, Value partner, Value c,
             Value s, Value first) {
  Value xc = arith::MulFOp::create(b, loc, x, c);
  Value ps = arith::MulFOp::create(b, loc, partner, s);
  Value diff = arith::SubFOp::create(b, loc, xc, ps);
  Value sum = arith::AddFOp::create(b, loc, xc, ps);
  return arith::SelectOp::create(b, loc, first, diff, sum);
}

/// The former lowering, kept for a rotated width only known at run time:
/// strided extract_slice views of the two halves of each pair, one generic
/// with two results, and two insert_slice ops back into the input.
LogicalResult lowerWithSlices(RopeOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  Value input = op.getInput();
  RankedTensorType type = op.getInput().getType();
  RankedTensorType cosType = op.getCos().getType();
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, input);
  Value two = arith::ConstantIndexOp::create(rewriter, loc, 2);
  OpFoldResult half =
      arith::DivUIOp::create(rewriter, loc, cast<Value>(sizes.back()), two)
          .getResult();

  bool interleaved = op.getMode() == RopeMode::interleaved;
  SmallVector<OpFoldResult> halfSizes(sizes);
  halfSizes.back() = half;
  SmallVector<OpFoldResult> firstOffsets(rank, rewriter.getIndexAttr(0));
  SmallVector<OpFoldResult> secondOffsets(firstOffsets);
  secondOffsets.back() = interleaved ? rewriter.getIndexAttr(1) : half;
  SmallVector<OpFoldResult> strides(rank, rewriter.getIndexAttr(1));
  if (interleaved)
    strides.back() = rewriter.getIndexAttr(2);
  Value first = tensor::ExtractSliceOp::create(
      rewriter, loc, input, firstOffsets, halfSizes, strides);
  Value second = tensor::ExtractSliceOp::create(
      rewriter, loc, input, secondOffsets, halfSizes, strides);

  Type elementType = type.getElementType();
  Type ct = getComputeType(elementType);
  SmallVector<int64_t> loopShape = staticShape(halfSizes);
  AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
  AffineMap tableMap = getTrailingBroadcastMap(rewriter.getContext(), loopShape,
                                               cosType.getShape());
  Value firstInit = emptyTensor(rewriter, loc, halfSizes, elementType);
  Value secondInit = emptyTensor(rewriter, loc, halfSizes, elementType);
  auto rotated = linalg::GenericOp::create(
      rewriter, loc, TypeRange{firstInit.getType(), secondInit.getType()},
      ValueRange{first, second, op.getCos(), op.getSin()},
      ValueRange{firstInit, secondInit},
      ArrayRef<AffineMap>{identity, identity, tableMap, tableMap, identity,
                          identity},
      getIterators(rank), [&](OpBuilder &b, Location nloc, ValueRange args) {
        Value x1 = castScalar(b, nloc, args[0], ct);
        Value x2 = castScalar(b, nloc, args[1], ct);
        Value c = castScalar(b, nloc, args[2], ct);
        Value s = castScalar(b, nloc, args[3], ct);
        Value x1c = arith::MulFOp::create(b, nloc, x1, c);
        Value x2s = arith::MulFOp::create(b, nloc, x2, s);
        Value r1 = arith::SubFOp::create(b, nloc, x1c, x2s);
        Value x2c = arith::MulFOp::create(b, nloc, x2, c);
        Value x1s = arith::MulFOp::create(b, nloc, x1, s);
        Value r2 = arith::AddFOp::create(b, nloc, x2c, x1s);
        linalg::YieldOp::create(
            b, nloc,
            ValueRange{castScalar(b, nloc, r1, elementType),
                       castScalar(b, nloc, r2, elementType)});
      });

  Value result =
      tensor::InsertSliceOp::create(rewriter, loc, rotated.getResult(0), input,
                                    firstOffsets, halfSizes, strides);
  result =
      tensor::InsertSliceOp::create(rewriter, loc, rotated.getResult(1), result,
                                    secondOffsets, halfSizes, strides);
  rewriter.replaceOp(op, result);
  return success();
}

struct RopeOpLowering : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(RopeOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType type = op.getInput().getType();
    int64_t rank = type.getRank();
    if (rank < 2)
      return rewriter.notifyMatchFailure(op, "expected rank >= 2");
    RankedTensorType cosType = op.getCos().getType();
    if (cosType != op.getSin().getType() || cosType.getRank() < 2 ||
        cosType.getRank() > rank)
      return rewriter.notifyMatchFailure(op, "expected cos and sin of one "
                                             "type and rank 2 to rank(input)");

    // The rotated width R.
    int64_t headDim = type.getShape().back();
    int64_t rotary;
    if (std::optional<int64_t> attr = op.getRotaryDim()) {
      rotary = *attr;
      if (rotary <= 0 || rotary % 2 != 0)
        return rewriter.notifyMatchFailure(op, "expected a positive even "
                                               "rotary_dim");
    } else if (!ShapedType::isDynamic(headDim)) {
      rotary = headDim;
      if (rotary % 2 != 0)
        return rewriter.notifyMatchFailure(op, "expected an even head_dim");
    } else {
      return lowerWithSlices(op, rewriter);
    }
    int64_t half = rotary / 2;
    // Entries past R pass through unless R is statically the whole head.
    bool partial = headDim != rotary;

    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Value input = op.getInput();
    SmallVector<OpFoldResult> sizes = getSizes(rewriter, loc, input);
    unsigned last = rank - 1;
    AffineExpr d = rewriter.getAffineDimExpr(last);
    bool interleaved = op.getMode() == RopeMode::interleaved;
    // For d >= R these still land inside [0, R): the pass-through entries
    // read (and discard) in-bounds values. d mod 2 is (d mod R) mod 2, R
    // being even.
    AffineExpr partnerExpr, tableExpr;
    if (interleaved) {
      AffineExpr wrapped = partial ? d % rotary : d;
      partnerExpr = wrapped + 1 - (d % 2) * 2;
      tableExpr = wrapped.floorDiv(2);
    } else {
      partnerExpr = (d + half) % rotary;
      tableExpr = d % half;
    }

    AffineMap identity = rewriter.getMultiDimIdentityMap(rank);
    SmallVector<AffineExpr> partnerExprs(identity.getResults());
    partnerExprs.back() = partnerExpr;
    AffineMap partnerMap = AffineMap::get(rank, 0, partnerExprs, ctx);
    // The tables broadcast as they did over the former loops of R/2
    // entries in the last dimension; that dimension is then read at the
    // pair's table index.
    SmallVector<int64_t> tableLoopShape = staticShape(sizes);
    tableLoopShape.back() = half;
    AffineMap tableMap =
        getTrailingBroadcastMap(ctx, tableLoopShape, cosType.getShape());
    SmallVector<AffineExpr> tableExprs(tableMap.getResults());
    if (isa<AffineDimExpr>(tableExprs.back()))
      tableExprs.back() = tableExpr;
    tableMap = AffineMap::get(rank, 0, tableExprs, ctx);

    Type elementType = type.getElementType();
    Type ct = getComputeType(elementType);
    Value init = emptyTensor(rewriter, loc, sizes, elementType);
    auto generic = linalg::GenericOp::create(
        rewriter, loc, TypeRange{init.getType()},
        ValueRange{input, input, op.getCos(), op.getSin()}, ValueRange{init},
        ArrayRef<AffineMap>{identity, partnerMap, tableMap, tableMap, identity},
        getIterators(rank), [&](OpBuilder &b, Location nloc, ValueRange args) {
          Value index = linalg::IndexOp::create(b, nloc, last);
          Value first;
          if (interleaved) {
            Value two = arith::ConstantIndexOp::create(b, nloc, 2);
            Value zero = arith::ConstantIndexOp::create(b, nloc, 0);
            Value parity = arith::RemUIOp::create(b, nloc, index, two);
            first = arith::CmpIOp::create(b, nloc, arith::CmpIPredicate::eq,
                                          parity, zero);
          } else {
            Value halfValue = arith::ConstantIndexOp::create(b, nloc, half);
            first = arith::CmpIOp::create(b, nloc, arith::CmpIPredicate::ult,
                                          index, halfValue);
          }
          Value x = castScalar(b, nloc, args[0], ct);
          Value partner = castScalar(b, nloc, args[1], ct);
          Value c = castScalar(b, nloc, args[2], ct);
          Value s = castScalar(b, nloc, args[3], ct);
          Value result = castScalar(
              b, nloc, rotate(b, nloc, x, partner, c, s, first), elementType);
          if (partial) {
            // The stored value itself, not a round trip through `ct`.
            Value rotaryValue = arith::ConstantIndexOp::create(b, nloc, rotary);
            Value rotated = arith::CmpIOp::create(
                b, nloc, arith::CmpIPredicate::ult, index, rotaryValue);
            result = arith::SelectOp::create(b, nloc, rotated, result, args[0]);
          }
          linalg::YieldOp::create(b, nloc, result);
        });
    rewriter.replaceOp(op, generic.getResult(0));
    return success();
  }
};

} // namespace

void lowering::populateRopePatterns(RewritePatternSet &patterns) {
  patterns.add<RopeOpLowering>(patterns.getContext());
}
