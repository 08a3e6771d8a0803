//===- InsertKVCache.cpp - prefill and decode over a KV cache -------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Turns `@forward(weights..., tokens [B, S]) -> logits [B, S, V]` of a
// decoder into `@prefill` and `@decode` over a KV cache (docs/Compiler.md,
// "KV cache"):
//
//   - a new input `start` (`tensor<?xi64>`, one entry per sequence) is the
//     number of tokens already in each sequence's cache;
//   - every position tensor (an iota over the sequence, reshaped to [1, S],
//     possibly broadcast to [B, S]) becomes `start[b] + s` ([B, S]) in the
//     two ops that consume positions after fusion: `ds.gather` of a
//     position-embedding table and `ds.rope_table`;
//   - every causal `ds.attention` appends its keys and values to the layer's
//     caches at `start`, reads the filled prefix (up to max(start) + S) and
//     attends with `kv_length = start + S`, so each sequence sees its own
//     keys only;
//   - a cache is an argument `[B, Hkv, max_seq_len, D]` updated in place:
//     its new value is returned as a result tied to the argument
//     (`ds.cache_result`), which bufferization makes the argument itself and
//     ds-drop-cache-results removes.
//
// A graph exported with past keys/values (`past_*` inputs concatenated in
// front of each attention's keys/values, `present_*` outputs, positions
// offset by the past length) is first brought to the shape of one without
// past, its past inputs becoming the caches ("Graphs exported with past
// keys/values" below).
//
// The rewrite is sound only when nothing outside attention mixes sequence
// positions (a token's hidden state depends on earlier tokens through
// attention alone). A forward propagation of "which dimensions index the
// sequence" checks that, op by op, before anything changes; an op it does
// not understand is a refusal that names the op.
//
//===----------------------------------------------------------------------===//

#include "KVCacheRewrite.h"
#include "MaskAnalysis.h"
#include "SequenceAxisAnalysis.h"

#include "ds/Dialect/DS/Transforms/Passes.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSINSERTKVCACHE
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::kvcache;

namespace {

//===----------------------------------------------------------------------===//
// The rewrite
//===----------------------------------------------------------------------===//

struct KVCacheRewriter {
  func::FuncOp forward;
  BlockArgument tokens;
  Value seqLength; // tensor.dim(tokens, 1) in @forward.
  /// For a graph exported with past keys/values: the past inputs of each
  /// attention (key, value), which become its caches.
  SmallVector<std::pair<BlockArgument, BlockArgument>> pastLayers;

  /// Checks and describes why the model cannot be cached.
  std::optional<Refusal> analyze();
  /// Builds @prefill (then @decode) from a clone of @forward.
  LogicalResult build(func::FuncOp prefill, Refusal &refusal);
};

/// The token input: the one rank-2 integer graph input. Rank-4 float inputs
/// are candidate past keys/values (`[B, Hkv, P, D]`, from exports with a
/// cache); mapPastInputs checks how they are used.
static FailureOr<BlockArgument>
findTokens(func::FuncOp func, Refusal &refusal,
           SmallVectorImpl<BlockArgument> &pasts) {
  BlockArgument found;
  for (BlockArgument arg : func.getArguments()) {
    if (!func.getArgAttr(arg.getArgNumber(), "ds.input"))
      continue;
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "ds.input");
    if (type && type.getRank() == 2 && type.getElementType().isInteger(64) &&
        (!name || name.getValue() != "attention_mask")) {
      if (found) {
        refusal = {func, "more than one token-id input"};
        return failure();
      }
      found = arg;
      continue;
    }
    if (name && name.getValue() == "attention_mask")
      continue;
    if (type && type.getRank() == 4 && isa<FloatType>(type.getElementType())) {
      pasts.push_back(arg);
      continue;
    }
    refusal = {func, "input '" + (name ? name.getValue().str() : "?") +
                         "' is not token ids or an attention mask; only "
                         "models fed by token ids can be cached"};
    return failure();
  }
  if (!found) {
    refusal = {func, "no token-id input (a rank-2 i64 graph input)"};
    return failure();
  }
  return found;
}

/// Replaces an `attention_mask` input by ones: during generation every
/// cached position is real, and per-sequence lengths take the mask's place.
/// Canonicalization then folds the mask computations away. In a graph with
/// past keys/values the mask covers the past and the new tokens: it becomes
/// `[batch, total]` ones (total = past length + S), sizes included.
static LogicalResult replaceAttentionMaskByOnes(func::FuncOp func, Value batch,
                                                Value total,
                                                Refusal &refusal) {
  for (BlockArgument arg : func.getArguments()) {
    auto name =
        func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "ds.input");
    if (!name || name.getValue() != "attention_mask" || arg.use_empty())
      continue;
    auto type = cast<RankedTensorType>(arg.getType());
    if (total && type.getRank() != 2) {
      refusal = {func, "attention_mask is not [batch, past + sequence]"};
      return failure();
    }
    SmallVector<OpOperand *> uses;
    for (OpOperand &use : arg.getUses())
      if (total || !isa<tensor::DimOp>(use.getOwner()))
        uses.push_back(&use);
    OpBuilder b(func.getContext());
    if (total)
      b.setInsertionPointAfterValue(total);
    else
      b.setInsertionPointToStart(&func.getBody().front());
    Location loc = arg.getLoc();
    Value one = arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(type.getElementType(), 1));
    SmallVector<Value> dyn;
    for (int64_t d = 0; d < type.getRank(); ++d)
      if (type.isDynamicDim(d))
        dyn.push_back(total ? (d == 0 ? batch : total)
                            : Value(tensor::DimOp::create(b, loc, arg, d)));
    Value ones = tensor::SplatOp::create(b, loc, type, one, dyn);
    for (OpOperand *use : uses)
      use->set(ones);
  }
  return success();
}

std::optional<Refusal> KVCacheRewriter::analyze() {
  SequenceAxisAnalysis analysis(seqLength);
  DimSet tokenDims(2);
  tokenDims.set(1);
  analysis.seed(tokens, tokenDims);
  // Position iotas over the sequence carry the sequence axis too.
  forward.walk([&](tensor::GenerateOp gen) {
    if (isIota(gen.getResult()) && gen.getDynamicExtents().size() == 1 &&
        analysis.isSequenceLength(gen.getDynamicExtents()[0])) {
      DimSet d(1);
      d.set(0);
      analysis.seed(gen.getResult(), d);
    }
  });
  if (std::optional<Refusal> r = analysis.run(forward))
    return r;
  auto ret = cast<func::ReturnOp>(forward.getBody().front().getTerminator());
  if (ret.getNumOperands() != 1)
    return Refusal{ret, "expected one result (the logits)"};
  auto logits = dyn_cast<RankedTensorType>(ret.getOperand(0).getType());
  if (!logits || logits.getRank() != 3 ||
      !isa<FloatType>(logits.getElementType()))
    return Refusal{ret, "expected logits [batch, seq, vocab]"};
  DimSet d = analysis.get(ret.getOperand(0));
  if (!d.test(1) || d.test(2) || d.test(0))
    return Refusal{ret, "the logits' sequence axis is not dimension 1"};
  int64_t layers = 0;
  forward.walk([&](AttentionOp) { ++layers; });
  if (layers == 0)
    return Refusal{forward, "no causal ds.attention: nothing to cache"};
  return std::nullopt;
}

} // namespace

/// `start[b] + s` as a [B, S] i64 tensor.
static Value buildPositions(OpBuilder &b, Location loc, Value start,
                            Value batch, Value seq) {
  auto type = RankedTensorType::get({ShapedType::kDynamic, ShapedType::kDynamic},
                                    b.getI64Type());
  return tensor::GenerateOp::create(
      b, loc, type, ValueRange{batch, seq},
      [&](OpBuilder &nb, Location nloc, ValueRange idx) {
        Value s = tensor::ExtractOp::create(nb, nloc, start, idx[0]);
        Value i = arith::IndexCastOp::create(nb, nloc, nb.getI64Type(),
                                             idx[1]);
        tensor::YieldOp::create(nb, nloc,
                                Value(arith::AddIOp::create(nb, nloc, s, i)));
      });
}

/// Rewrites the consumers of one position iota to read `positions`.
static LogicalResult rewritePositionUses(Value iota, Value positions,
                                         Value batch, Refusal &refusal) {
  SmallVector<Operation *> users(iota.getUsers().begin(),
                                 iota.getUsers().end());
  for (Operation *user : users) {
    auto expand = dyn_cast<tensor::ExpandShapeOp>(user);
    if (!expand || expand.getResultType().getRank() != 2 ||
        expand.getResultType().getDimSize(0) != 1) {
      // Dead mask code is erased before this runs; anything else reads
      // positions in a way the rewrite does not know how to offset.
      refusal = {user, "positions are used by '" +
                           user->getName().getStringRef().str() +
                           "'; the KV-cache rewrite offsets positions only "
                           "in position-embedding gathers and RoPE tables"};
      return failure();
    }
    // Consumers read the [1, S] positions, or the positions broadcast over
    // the batch ([B, S], cumsum-style position ids).
    SmallVector<std::pair<Operation *, Value>> consumers;
    SmallVector<BroadcastOp> broadcasts;
    auto overBatch = [&](BroadcastOp bc) {
      auto type = bc.getResult().getType();
      if (type.getRank() != 2)
        return false;
      auto batchDim = batch.getDefiningOp<tensor::DimOp>();
      auto tokType = cast<RankedTensorType>(batchDim.getSource().getType());
      if (!type.isDynamicDim(0))
        return !tokType.isDynamicDim(0) &&
               tokType.getDimSize(0) == type.getDimSize(0);
      auto d = bc.getDynamicDims()[0].getDefiningOp<tensor::DimOp>();
      return d && d.getSource() == batchDim.getSource() &&
             d.getConstantIndex() == std::optional<int64_t>(0);
    };
    for (Operation *u : expand->getUsers()) {
      auto bc = dyn_cast<BroadcastOp>(u);
      if (bc && overBatch(bc)) {
        broadcasts.push_back(bc);
        for (Operation *bu : bc->getUsers())
          consumers.push_back({bu, bc.getResult()});
        continue;
      }
      consumers.push_back({u, expand.getResult()});
    }
    // An op reading the positions twice is rewritten once.
    {
      SmallVector<std::pair<Operation *, Value>> unique;
      for (auto c : consumers)
        if (!llvm::is_contained(unique, c))
          unique.push_back(c);
      consumers = std::move(unique);
    }
    for (auto [u, indices] : consumers) {
      OpBuilder b(u);
      bool batched = indices != expand.getResult();
      if (auto gather = dyn_cast<GatherOp>(u)) {
        auto oldType = gather.getResult().getType();
        if (gather.getIndices() != indices ||
            (!batched && oldType.getDimSize(0) != 1)) {
          refusal = {u, "unexpected position-embedding gather"};
          return failure();
        }
        // A position table of N rows supports N positions: the runtime
        // refuses longer generations (module attribute ds.max_positions).
        int64_t rows = gather.getData().getType().getDimSize(0);
        if (auto module = gather->getParentOfType<ModuleOp>();
            module && !ShapedType::isDynamic(rows)) {
          auto old = module->getAttrOfType<IntegerAttr>("ds.max_positions");
          if (!old || old.getInt() > rows)
            module->setAttr("ds.max_positions",
                            IntegerAttr::get(IntegerType::get(
                                                 module.getContext(), 64),
                                             rows));
        }
        SmallVector<int64_t> shape(oldType.getShape());
        shape[0] = ShapedType::kDynamic;
        shape[1] = ShapedType::kDynamic;
        auto newGather = GatherOp::create(
            b, gather.getLoc(), oldType.clone(shape), gather.getData(),
            positions, gather.getAxisAttr());
        if (batched) {
          // Already [B, S, E].
          Value v = newGather.getResult();
          if (v.getType() != oldType)
            v = tensor::CastOp::create(b, gather.getLoc(), oldType, v);
          gather.getResult().replaceAllUsesWith(v);
          gather->erase();
          continue;
        }
        // The old [1, S, E] result was broadcast to [B, S, E].
        for (Operation *gu :
             llvm::make_early_inc_range(gather.getResult().getUsers())) {
          auto bc = dyn_cast<BroadcastOp>(gu);
          if (!bc || bc.getResult().getType().getRank() != 3) {
            refusal = {gu, "position embeddings used before their "
                           "broadcast over the batch"};
            return failure();
          }
          OpBuilder cb(bc);
          Value v = newGather.getResult();
          if (v.getType() != bc.getResult().getType())
            v = tensor::CastOp::create(cb, bc.getLoc(),
                                       bc.getResult().getType(), v);
          bc.getResult().replaceAllUsesWith(v);
          bc->erase();
        }
        gather->erase();
        continue;
      }
      if (auto table = dyn_cast<RopeTableOp>(u)) {
        auto oldType = table.getCos().getType();
        SmallVector<int64_t> shape(oldType.getShape());
        shape[0] = ShapedType::kDynamic;
        shape[1] = ShapedType::kDynamic;
        auto newType = oldType.clone(shape);
        auto newTable = RopeTableOp::create(
            b, table.getLoc(), TypeRange{newType, newType}, positions,
            table.getInvFreq(), table.getAttentionScalingAttr());
        for (auto [oldResult, newResult] :
             llvm::zip(table->getResults(), newTable->getResults())) {
          for (Operation *tu :
               llvm::make_early_inc_range(oldResult.getUsers())) {
            // Sizes of the sequence and table dimensions do not change.
            if (auto d = dyn_cast<tensor::DimOp>(tu)) {
              std::optional<int64_t> idx = d.getConstantIndex();
              if (idx && *idx != 0) {
                d->setOperand(0, newResult);
                continue;
              }
            }
            auto e = dyn_cast<tensor::ExpandShapeOp>(tu);
            if (!e || e.getResultType().getRank() != 4) {
              refusal = {tu, "RoPE table used other than through a "
                             "[P, 1, S, H] reshape"};
              return failure();
            }
            OpBuilder eb(e);
            SmallVector<int64_t> eshape(e.getResultType().getShape());
            eshape[0] = ShapedType::kDynamic;
            eshape[2] = ShapedType::kDynamic;
            Value h = tensor::DimOp::create(eb, e.getLoc(), newResult, 2);
            Value s = tensor::DimOp::create(eb, e.getLoc(), newResult, 1);
            SmallVector<OpFoldResult> outShape = {
                batch, eb.getIndexAttr(1), s,
                e.getResultType().isDynamicDim(3)
                    ? OpFoldResult(h)
                    : OpFoldResult(eb.getIndexAttr(
                          e.getResultType().getDimSize(3)))};
            auto ne = tensor::ExpandShapeOp::create(
                eb, e.getLoc(), e.getResultType().clone(eshape), newResult,
                e.getReassociationIndices(), outShape);
            for (OpOperand &use :
                 llvm::make_early_inc_range(e.getResult().getUses())) {
              if (!isa<RopeOp>(use.getOwner())) {
                refusal = {use.getOwner(), "RoPE table used outside ds.rope"};
                return failure();
              }
              use.set(ne.getResult());
            }
            e->erase();
          }
        }
        table->erase();
        continue;
      }
      refusal = {u, "positions are used by '" +
                        u->getName().getStringRef().str() +
                        "'; the KV-cache rewrite offsets positions only in "
                        "position-embedding gathers and RoPE tables"};
      return failure();
    }
    for (BroadcastOp bc : broadcasts)
      if (bc->use_empty())
        bc->erase();
    if (expand->use_empty())
      expand->erase();
  }
  return success();
}

LogicalResult KVCacheRewriter::build(func::FuncOp fn, Refusal &refusal) {
  MLIRContext *ctx = fn.getContext();
  Block &entry = fn.getBody().front();
  BlockArgument tok = entry.getArgument(tokens.getArgNumber());
  OpBuilder b = OpBuilder::atBlockBegin(&entry);
  Location loc = fn.getLoc();

  // New arguments: start, then the caches (appended after the existing
  // ones; the artifact identifies arguments by attributes, not position).
  auto startType = RankedTensorType::get({ShapedType::kDynamic},
                                         b.getI64Type());
  unsigned startIndex = fn.getNumArguments();
  if (failed(fn.insertArgument(startIndex, startType,
                               b.getDictionaryAttr({b.getNamedAttr(
                                   "ds.input", b.getStringAttr("start"))}),
                               loc)))
    return failure();
  fn.setArgAttr(startIndex, "ds.dim_names",
                b.getArrayAttr({b.getStringAttr("batch")}));
  Value start = entry.getArgument(startIndex);

  b.setInsertionPointToStart(&entry);
  Value batch = tensor::DimOp::create(b, loc, tok, 0);
  Value seq = tensor::DimOp::create(b, loc, tok, 1);
  Value positions = buildPositions(b, loc, start, batch, seq);

  // kv_length = start + S and the number of filled cache positions,
  // max(start) + S, shared by every layer.
  Value seqI64 = arith::IndexCastOp::create(b, loc, b.getI64Type(), seq);
  Value seqTensor = tensor::SplatOp::create(b, loc, startType, seqI64,
                                            ValueRange{batch});
  Value kvLength = arith::AddIOp::create(b, loc, start, seqTensor);
  auto scalarType = RankedTensorType::get({}, b.getI64Type());
  Value maxStart = ReduceOp::create(
      b, loc, scalarType, ReduceKindAttr::get(b.getContext(), ReduceKind::max),
      start, b.getDenseI64ArrayAttr({0}), /*keep_dims=*/UnitAttr());
  Value maxStartScalar = tensor::ExtractOp::create(b, loc, maxStart);
  Value filled = arith::AddIOp::create(b, loc, maxStartScalar, seqI64);
  Value filledIndex =
      arith::IndexCastOp::create(b, loc, b.getIndexType(), filled);

  // Positions.
  for (tensor::GenerateOp iota : sequenceIotas(fn, tok))
    if (failed(rewritePositionUses(iota.getResult(), positions, batch,
                                   refusal)))
      return failure();

  // Attention layers.
  SmallVector<AttentionOp> attentions;
  fn.walk([&](AttentionOp a) { attentions.push_back(a); });
  if (!pastLayers.empty() && pastLayers.size() != attentions.size()) {
    refusal = {fn, "the attention layers changed while mapping the past "
                   "keys/values onto the cache"};
    return failure();
  }
  SmallVector<Value> newResults;
  SmallVector<unsigned> cacheArgs;
  for (auto [layer, attn] : llvm::enumerate(attentions)) {
    OpBuilder ab(attn);
    Location aloc = attn.getLoc();
    SmallVector<Value> full;
    SmallVector<Value, 2> keyValue = {attn.getKey(), attn.getValue()};
    for (auto [kind, kv] : llvm::enumerate(keyValue)) {
      auto kvType = cast<RankedTensorType>(kv.getType());
      if (kvType.isDynamicDim(1) || kvType.isDynamicDim(3)) {
        refusal = {attn, "key/value heads and head size must be static"};
        return failure();
      }
      auto cacheType = RankedTensorType::get(
          {ShapedType::kDynamic, kvType.getDimSize(1), ShapedType::kDynamic,
           kvType.getDimSize(3)},
          kvType.getElementType());
      std::string name = (kind == 0 ? "cache.key." : "cache.value.") +
                         std::to_string(layer);
      SmallVector<NamedAttribute> attrs = {
          b.getNamedAttr("ds.input", b.getStringAttr(name)),
          b.getNamedAttr("ds.dim_names",
                         b.getArrayAttr({b.getStringAttr("batch"),
                                         b.getStringAttr(""),
                                         b.getStringAttr("max_seq_len"),
                                         b.getStringAttr("")})),
          b.getNamedAttr(
              "ds.cache",
              b.getDictionaryAttr(
                  {b.getNamedAttr("layer", b.getI64IntegerAttr(layer)),
                   b.getNamedAttr("kind", b.getStringAttr(kind == 0
                                                              ? "key"
                                                              : "value"))}))};
      unsigned argIndex;
      if (!pastLayers.empty()) {
        // The past input becomes the cache: past = cache[:, :, :start].
        BlockArgument past = kind == 0 ? pastLayers[layer].first
                                       : pastLayers[layer].second;
        argIndex = past.getArgNumber();
        if (!past.use_empty()) {
          refusal = {*past.getUsers().begin(),
                     "a past input is still used after mapping it onto the "
                     "cache"};
          return failure();
        }
        past.setType(cacheType);
        fn.setArgAttrs(argIndex, b.getDictionaryAttr(attrs));
      } else {
        argIndex = fn.getNumArguments();
        if (failed(fn.insertArgument(argIndex, cacheType,
                                     b.getDictionaryAttr(attrs), aloc)))
          return failure();
      }
      cacheArgs.push_back(argIndex);
      Value cache = entry.getArgument(argIndex);
      Value appended =
          KVCacheAppendOp::create(ab, aloc, cacheType, cache, kv, start);
      newResults.push_back(appended);
      auto readType = RankedTensorType::get(
          {kvType.getDimSize(0), kvType.getDimSize(1), ShapedType::kDynamic,
           kvType.getDimSize(3)},
          kvType.getElementType());
      Value castCache = appended;
      if (!kvType.isDynamicDim(0)) {
        SmallVector<int64_t> s(cacheType.getShape());
        s[0] = kvType.getDimSize(0);
        castCache = tensor::CastOp::create(ab, aloc, cacheType.clone(s),
                                           appended);
      }
      full.push_back(
          KVCacheReadOp::create(ab, aloc, readType, castCache, filledIndex));
    }
    auto newAttn = AttentionOp::create(
        ab, aloc, attn.getResult().getType(), attn.getQuery(), full[0],
        full[1], /*mask=*/Value(), kvLength, attn.getScaleAttr(),
        attn.getCausalAttr(), attn.getTileAttr());
    attn.getResult().replaceAllUsesWith(newAttn.getResult());
    attn->erase();
  }

  // Results: logits, then each cache's new value tied to its argument.
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  SmallVector<Value> results(ret.getOperands());
  results.append(newResults);
  OpBuilder rb(ret);
  func::ReturnOp::create(rb, ret.getLoc(), results);
  ret->erase();
  SmallVector<Type> resultTypes;
  for (Value v : results)
    resultTypes.push_back(v.getType());
  SmallVector<DictionaryAttr> resultAttrs;
  for (unsigned i = 0; i < results.size(); ++i) {
    if (i == 0) {
      resultAttrs.push_back(fn.getResultAttrDict(0)
                                ? fn.getResultAttrDict(0)
                                : DictionaryAttr::get(ctx));
      continue;
    }
    resultAttrs.push_back(b.getDictionaryAttr({b.getNamedAttr(
        "ds.cache_result",
        fn.getArgAttrOfType<StringAttr>(cacheArgs[i - 1], "ds.input"))}));
  }
  fn.setFunctionType(
      FunctionType::get(ctx, entry.getArgumentTypes(), resultTypes));
  fn.setAllResultAttrs(resultAttrs);
  return success();
}

/// Pins the token input of @decode to one token per sequence.
static void specializeDecode(func::FuncOp decode, unsigned tokensIndex) {
  BlockArgument tok = decode.getArgument(tokensIndex);
  auto type = cast<RankedTensorType>(tok.getType());
  auto one = RankedTensorType::get({type.getDimSize(0), 1},
                                   type.getElementType());
  OpBuilder b = OpBuilder::atBlockBegin(&decode.getBody().front());
  tok.setType(one);
  auto cast = tensor::CastOp::create(b, decode.getLoc(), type, tok);
  tok.replaceAllUsesExcept(cast.getResult(), cast);
  decode.setFunctionType(FunctionType::get(
      decode.getContext(), decode.getBody().front().getArgumentTypes(),
      decode.getResultTypes()));
}

namespace {

struct InsertKVCachePass : ds::impl::DSInsertKVCacheBase<InsertKVCachePass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(module.getContext());
    auto record = [&](StringRef status) {
      module->setAttr("ds.kv_cache", b.getStringAttr(status));
    };
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    Refusal refusal;
    if (!forward || forward.isExternal()) {
      refusal = {module, "no @forward function"};
      return fail(refusal, record);
    }
    if (module.lookupSymbol("prefill") || module.lookupSymbol("decode")) {
      refusal = {module, "@prefill or @decode already exists"};
      return fail(refusal, record);
    }
    SmallVector<BlockArgument> forwardPasts;
    FailureOr<BlockArgument> tokens =
        findTokens(forward, refusal, forwardPasts);
    if (failed(tokens))
      return fail(refusal, record);

    // Work on a copy: @forward stays as the full-recompute entry point.
    OpBuilder mb(module.getContext());
    mb.setInsertionPointAfter(forward);
    auto prefill = cast<func::FuncOp>(mb.clone(*forward));
    prefill.setSymName("prefill");
    auto refuse = [&](const Refusal &r) {
      // Diagnostics point into the copy: report before erasing it.
      fail(r, record);
      prefill->erase();
    };
    BlockArgument tok = prefill.getArgument(tokens->getArgNumber());
    OpBuilder fb = OpBuilder::atBlockBegin(&prefill.getBody().front());
    Value seqLength = tensor::DimOp::create(fb, prefill.getLoc(), tok, 1);
    // Uses of the sequence length all read the same value.
    prefill.walk([&](tensor::DimOp d) {
      std::optional<int64_t> idx = d.getConstantIndex();
      if (d.getResult() != seqLength && d.getSource() == tok && idx &&
          *idx == 1)
        d.getResult().replaceAllUsesWith(seqLength);
    });
    // A graph exported with past keys/values takes the shape of one
    // without (mapPastInputs).
    SmallVector<BlockArgument> pasts;
    for (BlockArgument arg : forwardPasts)
      pasts.push_back(prefill.getArgument(arg.getArgNumber()));
    SmallVector<Value> pastValues(pasts.begin(), pasts.end());
    std::optional<PastInputs> past;
    Value batch;
    if (!pasts.empty()) {
      batch = unifyDims(prefill, {tok}, 0);
      FailureOr<PastInputs> mapped =
          mapPastInputs(prefill, seqLength, batch, pasts, refusal);
      if (failed(mapped))
        return refuse(refusal);
      past = std::move(*mapped);
    }
    if (failed(replaceAttentionMaskByOnes(prefill, batch,
                                          past ? past->total : Value(),
                                          refusal)))
      return refuse(refusal);
    // Fold what the all-ones mask makes constant and drop what fusion left
    // dead (mask subgraphs) before checking.
    {
      MLIRContext *ctx = module.getContext();
      RewritePatternSet patterns(ctx);
      for (Dialect *dialect : ctx->getLoadedDialects())
        dialect->getCanonicalizationPatterns(patterns);
      for (RegisteredOperationName op : ctx->getRegisteredOperations())
        op.getCanonicalizationPatterns(patterns, ctx);
      (void)applyPatternsGreedily(prefill, std::move(patterns));
      // Padding masks computed from the all-ones mask keep every key:
      // the mask interpreter of ds-fuse-attention proves them true.
      mask::MaskAnalysis masks;
      prefill.walk([&](AttentionOp a) {
        if (Value m = a.getMask();
            m && masks.boolForm(m).getConstant() == std::optional<bool>(true))
          a.getMaskMutable().clear();
      });
      IRRewriter rewriter(ctx);
      (void)runRegionDCE(rewriter, prefill->getRegions());
    }
    // Canonicalization may have erased or duplicated the size ops.
    seqLength = unifyDims(prefill, {tok}, 1);
    if (past) {
      batch = unifyDims(prefill, {tok}, 0);
      if (failed(rewritePastPositions(prefill, tok, pastValues, seqLength,
                                      batch, refusal)))
        return refuse(refusal);
    }
    KVCacheRewriter rewriter{prefill, tok, seqLength, {}};
    if (past)
      rewriter.pastLayers = past->layers;
    if (std::optional<Refusal> r = rewriter.analyze())
      return refuse(*r);
    if (failed(rewriter.build(prefill, refusal)))
      return refuse(refusal);
    // Input names: the attention mask is gone from the interface.
    for (int i = prefill.getNumArguments() - 1; i >= 0; --i) {
      auto name = prefill.getArgAttrOfType<StringAttr>(i, "ds.input");
      if (name && name.getValue() == "attention_mask") {
        BlockArgument arg = prefill.getArgument(i);
        if (!arg.use_empty()) {
          // tensor.dim of the mask survived; read the tokens' instead.
          for (OpOperand &use : llvm::make_early_inc_range(arg.getUses())) {
            auto d = dyn_cast<tensor::DimOp>(use.getOwner());
            if (!d) {
              refusal = {use.getOwner(), "attention_mask is used other than "
                                         "for masking attention"};
              fail(refusal, record);
              prefill->erase();
              return;
            }
            use.set(tok);
          }
        }
        (void)prefill.eraseArgument(i);
      }
    }
    mb.setInsertionPointAfter(prefill);
    auto decode = cast<func::FuncOp>(mb.clone(*prefill));
    decode.setSymName("decode");
    specializeDecode(decode, tok.getArgNumber());
    record("ok");
  }

  void fail(const Refusal &r, llvm::function_ref<void(StringRef)> record) {
    Operation *op = r.op ? r.op : getOperation().getOperation();
    std::string message;
    llvm::raw_string_ostream os(message);
    os << "cannot derive a KV-cached decoder: ";
    if (r.op && r.op != getOperation().getOperation() &&
        !isa<func::FuncOp>(r.op))
      os << "'" << r.op->getName() << "' ";
    os << r.reason;
    if (required) {
      op->emitError() << message;
      return signalPassFailure();
    }
    record(message);
  }
};

} // namespace
