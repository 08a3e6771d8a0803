//===- AppendNextTokens.cpp - greedy next tokens as an entry point result -===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Greedy decoding needs one number per sequence, the argmax of its logits,
// but the logits are [batch, seq, vocab]: 128256 values a token for a
// Llama-3 vocabulary. Computing the argmax in the generated code lets the
// runtime read `batch` token ids instead of copying the logits out of the
// device and scanning them on the host (on an H200 that host work was more
// than half of a batch-16 Llama-1B decode step).
//
// This pass gives @prefill and @decode (the generation entry points of
// ds-insert-kv-cache) a second result, `next_tokens`: i64 [batch, seq], the
// index of the largest logit at each position, the lowest index on ties,
// NaNs ignored, 0 for a row of NaNs (the host sampler's greedy rule).
//
// The argmax is a "select reduction": a linalg.generic with a value and an
// index output whose body yields select(better, candidate, current) for
// both, seeded with (NaN, 0):
//
//   better = (current is NaN and candidate is not)
//          | candidate > current
//          | (candidate == current and index < current index)
//
// which is associative, commutative and idempotent, so it can be computed
// in any order (ds-reductions-to-gpu runs it as a warp/block reduction).
// A long vocabulary is reduced in two stages, chunks of L logits first,
// then the chunks' winners: one pass over the logits with many blocks,
// instead of one block per sequence streaming the whole row.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <limits>

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSAPPENDNEXTTOKENS
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

constexpr llvm::StringLiteral kResultName = "next_tokens";

/// The chunk length for the first stage over `vocab` logits: a divisor of
/// `vocab` in [kMinChunk, kMaxChunk] close to kChunk, or `vocab` itself
/// (one stage) when there is none.
int64_t chooseChunk(int64_t vocab) {
  constexpr int64_t kMinChunk = 512, kChunk = 2048, kMaxChunk = 8192;
  if (vocab <= kMaxChunk)
    return vocab;
  int64_t best = vocab;
  for (int64_t l = kMinChunk; l <= kMaxChunk; ++l)
    if (vocab % l == 0 &&
        (best == vocab || std::abs(l - kChunk) < std::abs(best - kChunk)))
      best = l;
  return best;
}

/// Emits the select-reduction body: candidate (`value`, `index`) against the
/// current (`curValue`, `curIndex`); yields the winner.
void yieldBetter(OpBuilder &b, Location loc, Value value, Value index,
                 Value curValue, Value curIndex) {
  using P = arith::CmpFPredicate;
  Value curNaN = arith::CmpFOp::create(b, loc, P::UNO, curValue, curValue);
  Value valueOrdered = arith::CmpFOp::create(b, loc, P::ORD, value, value);
  Value replacesNaN = arith::AndIOp::create(b, loc, curNaN, valueOrdered);
  Value greater = arith::CmpFOp::create(b, loc, P::OGT, value, curValue);
  Value equal = arith::CmpFOp::create(b, loc, P::OEQ, value, curValue);
  Value lower = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, index,
                                      curIndex);
  Value tie = arith::AndIOp::create(b, loc, equal, lower);
  Value better = arith::OrIOp::create(
      b, loc, arith::OrIOp::create(b, loc, replacesNaN, greater), tie);
  linalg::YieldOp::create(
      b, loc,
      ValueRange{arith::SelectOp::create(b, loc, better, value, curValue),
                 arith::SelectOp::create(b, loc, better, index, curIndex)});
}

/// Two filled [sizes] tensors, (NaN f32, 0 i64): the reduction's seed.
std::pair<Value, Value> seeds(OpBuilder &b, Location loc,
                              ArrayRef<OpFoldResult> sizes) {
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  Value nan = arith::ConstantOp::create(
      b, loc, b.getFloatAttr(f32, std::numeric_limits<float>::quiet_NaN()));
  Value zero = arith::ConstantOp::create(b, loc, b.getI64IntegerAttr(0));
  Value valuesInit = tensor::EmptyOp::create(b, loc, sizes, f32);
  Value indicesInit = tensor::EmptyOp::create(b, loc, sizes, i64);
  Value values =
      linalg::FillOp::create(b, loc, ValueRange{nan}, ValueRange{valuesInit})
          .getResult(0);
  Value indices =
      linalg::FillOp::create(b, loc, ValueRange{zero}, ValueRange{indicesInit})
          .getResult(0);
  return {values, indices};
}

/// Returns next_tokens i64 [batch, seq] for `logits` [batch, seq, vocab].
Value buildArgmax(OpBuilder &b, Location loc, Value logits) {
  auto type = cast<RankedTensorType>(logits.getType());
  int64_t vocab = type.getDimSize(2);
  int64_t chunk = chooseChunk(vocab);
  int64_t chunks = vocab / chunk;
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type(), i64 = b.getI64Type();
  auto toF32 = [&](OpBuilder &nb, Location nloc, Value v) -> Value {
    if (v.getType() == f32)
      return v;
    if (v.getType().getIntOrFloatBitWidth() < 32)
      return arith::ExtFOp::create(nb, nloc, f32, v);
    return arith::TruncFOp::create(nb, nloc, f32, v);
  };
  SmallVector<OpFoldResult> rows = {
      tensor::getMixedSize(b, loc, logits, 0),
      tensor::getMixedSize(b, loc, logits, 1)};

  // Stage 1: [batch, seq, chunks, chunk] -> [batch, seq, chunks].
  SmallVector<int64_t> expandedShape = {type.getDimSize(0), type.getDimSize(1),
                                        chunks, chunk};
  SmallVector<OpFoldResult> expandedSizes = {rows[0], rows[1],
                                             b.getIndexAttr(chunks),
                                             b.getIndexAttr(chunk)};
  Value expanded = tensor::ExpandShapeOp::create(
      b, loc,
      RankedTensorType::get(expandedShape, type.getElementType()), logits,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}}, expandedSizes);
  SmallVector<OpFoldResult> partialSizes = {rows[0], rows[1],
                                            b.getIndexAttr(chunks)};
  auto [partialValues, partialIndices] = seeds(b, loc, partialSizes);
  auto par = utils::IteratorType::parallel;
  auto red = utils::IteratorType::reduction;
  auto identity4 = AffineMap::getMultiDimIdentityMap(4, ctx);
  auto drop4 = AffineMap::get(
      4, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx),
             getAffineDimExpr(2, ctx)},
      ctx);
  auto stage1 = linalg::GenericOp::create(
      b, loc, TypeRange{partialValues.getType(), partialIndices.getType()},
      ValueRange{expanded}, ValueRange{partialValues, partialIndices},
      ArrayRef<AffineMap>{identity4, drop4, drop4},
      ArrayRef<utils::IteratorType>{par, par, par, red},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value c = linalg::IndexOp::create(nb, nloc, 2);
        Value l = linalg::IndexOp::create(nb, nloc, 3);
        Value flat = arith::AddIOp::create(
            nb, nloc,
            arith::MulIOp::create(
                nb, nloc, c, arith::ConstantIndexOp::create(nb, nloc, chunk)),
            l);
        Value index = arith::IndexCastOp::create(nb, nloc, i64, flat);
        yieldBetter(nb, nloc, toF32(nb, nloc, args[0]), index, args[1],
                    args[2]);
      });
  if (chunks == 1)
    return tensor::CollapseShapeOp::create(
        b, loc, stage1.getResult(1),
        SmallVector<ReassociationIndices>{{0}, {1, 2}});

  // Stage 2: the chunks' winners, [batch, seq, chunks] -> [batch, seq].
  auto [values, indices] = seeds(b, loc, rows);
  auto identity3 = AffineMap::getMultiDimIdentityMap(3, ctx);
  auto drop3 = AffineMap::get(
      3, 0, {getAffineDimExpr(0, ctx), getAffineDimExpr(1, ctx)}, ctx);
  auto stage2 = linalg::GenericOp::create(
      b, loc, TypeRange{values.getType(), indices.getType()},
      ValueRange{stage1.getResult(0), stage1.getResult(1)},
      ValueRange{values, indices},
      ArrayRef<AffineMap>{identity3, identity3, drop3, drop3},
      ArrayRef<utils::IteratorType>{par, par, red},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        yieldBetter(nb, nloc, args[0], args[1], args[2], args[3]);
      });
  return stage2.getResult(1);
}

struct AppendNextTokensPass
    : public ds::impl::DSAppendNextTokensBase<AppendNextTokensPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    for (StringRef name : {"prefill", "decode"}) {
      auto func = module.lookupSymbol<func::FuncOp>(name);
      if (!func || func.isExternal() || func.getNumResults() == 0)
        continue;
      auto logitsType = dyn_cast<RankedTensorType>(func.getResultTypes()[0]);
      if (!logitsType || logitsType.getRank() != 3 ||
          logitsType.isDynamicDim(2) || logitsType.getDimSize(2) == 0 ||
          !isa<FloatType>(logitsType.getElementType()) ||
          logitsType.getElementType().getIntOrFloatBitWidth() > 32) {
        func.emitError() << "expected logits [batch, seq, vocab] of f16, "
                            "bf16 or f32 with a static vocab as result 0, got "
                         << func.getResultTypes()[0];
        return signalPassFailure();
      }
      auto names = func->getAttrOfType<ArrayAttr>("ds.output_names");
      if (names && llvm::any_of(names, [](Attribute a) {
            auto s = dyn_cast<StringAttr>(a);
            return s && s.getValue() == kResultName;
          })) {
        func.emitError() << "a model output is already named '"
                         << kResultName << "'";
        return signalPassFailure();
      }
      // One return: the functions ds-insert-kv-cache builds.
      SmallVector<func::ReturnOp> returns;
      func.walk([&](func::ReturnOp r) { returns.push_back(r); });
      if (returns.size() != 1) {
        func.emitError() << "expected a single return";
        return signalPassFailure();
      }
      func::ReturnOp ret = returns.front();
      OpBuilder b(ret);
      Value tokens = buildArgmax(b, ret.getLoc(), ret.getOperand(0));
      // Result 1, right after the logits: cache results are found by
      // their ds.cache_result attribute, not their position.
      if (failed(func.insertResult(1, tokens.getType(), DictionaryAttr()))) {
        func.emitError() << "cannot add the " << kResultName << " result";
        return signalPassFailure();
      }
      ret->insertOperands(1, tokens);
      SmallVector<Attribute> newNames;
      newNames.push_back(names && !names.empty()
                             ? names[0]
                             : StringAttr::get(&getContext(), "output0"));
      newNames.push_back(StringAttr::get(&getContext(), kResultName));
      if (names)
        for (Attribute a : names.getValue().drop_front())
          newNames.push_back(a);
      func->setAttr("ds.output_names",
                    ArrayAttr::get(&getContext(), newNames));
    }
  }
};

} // namespace
