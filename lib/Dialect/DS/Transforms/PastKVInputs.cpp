//===- PastKVInputs.cpp - exports with past keys/values onto the cache ---===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The part of ds-insert-kv-cache for graphs exported with past/present
// key-value inputs and outputs (KVCacheRewrite.h describes the mapping).
//
//===----------------------------------------------------------------------===//

#include "KVCacheRewrite.h"
#include "MaskAnalysis.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::kvcache;

/// Checks the past inputs' structure and rewrites the graph to the shape of
/// one without past (KVCacheRewrite.h); positions are done by rewritePastPositions
/// after canonicalization.
FailureOr<PastInputs> kvcache::mapPastInputs(func::FuncOp fn, Value seqLength,
                                           Value batch,
                                           ArrayRef<BlockArgument> pasts,
                                           Refusal &refusal) {
  MLIRContext *ctx = fn.getContext();
  Block &entry = fn.getBody().front();
  PastInputs result;
  result.args.assign(pasts.begin(), pasts.end());
  result.length = unifyDims(fn, result.args, 2);
  OpBuilder b(ctx);
  Operation *last = result.length.getDefiningOp();
  for (Value v : {seqLength, batch})
    if (last->isBeforeInBlock(v.getDefiningOp()))
      last = v.getDefiningOp();
  b.setInsertionPointAfter(last);
  result.total = arith::AddIOp::create(b, fn.getLoc(), result.length,
                                       seqLength);

  auto refuseUse = [&](Operation *user, BlockArgument past) {
    refusal = {user, "reads input '" + inputName(fn, past) +
                         "', which is not token ids or an attention mask, "
                         "and past keys/values may only be concatenated in "
                         "front of the new keys or values of one attention "
                         "(along dimension 2)"};
    return failure();
  };
  auto ret = cast<func::ReturnOp>(entry.getTerminator());
  llvm::SmallBitVector present(ret.getNumOperands());
  SmallVector<tensor::ConcatOp> concats;
  DenseMap<Operation *, std::pair<BlockArgument, BlockArgument>> attnPast;
  for (BlockArgument past : pasts) {
    auto type = cast<RankedTensorType>(past.getType());
    if (type.isDynamicDim(1) || type.isDynamicDim(3)) {
      refusal = {fn, "past input '" + inputName(fn, past) +
                         "' has dynamic heads or head size"};
      return failure();
    }
    // Its uses: sizes, and one concatenation [past, new] along dimension 2.
    tensor::ConcatOp concat;
    for (OpOperand &use : llvm::make_early_inc_range(past.getUses())) {
      Operation *user = use.getOwner();
      if (auto d = dyn_cast<tensor::DimOp>(user)) {
        std::optional<int64_t> idx = d.getConstantIndex();
        if (idx && *idx == 0) {
          d.getResult().replaceAllUsesWith(batch);
          d->erase();
          continue;
        }
        if (idx && *idx == 2)
          continue; // the past length
        if (idx && (*idx == 1 || *idx == 3)) {
          OpBuilder cb(d);
          d.getResult().replaceAllUsesWith(arith::ConstantIndexOp::create(
              cb, d.getLoc(), type.getDimSize(*idx)).getResult());
          d->erase();
          continue;
        }
        return refuseUse(user, past);
      }
      auto c = dyn_cast<tensor::ConcatOp>(user);
      if (!c || concat || c.getDim() != 2 || c.getInputs().size() != 2 ||
          use.getOperandNumber() != 0 || c.getInputs()[1] == past)
        return refuseUse(user, past);
      concat = c;
    }
    if (!concat) {
      refusal = {fn, "past input '" + inputName(fn, past) +
                         "' is not concatenated with new keys or values"};
      return failure();
    }
    // The concatenation: the keys or values of one attention, a present
    // output, and sizes.
    AttentionOp attn;
    bool isKey = false;
    for (OpOperand &use :
         llvm::make_early_inc_range(concat.getResult().getUses())) {
      Operation *user = use.getOwner();
      if (auto a = dyn_cast<AttentionOp>(user)) {
        bool key = use.getOperandNumber() ==
                   a.getKeyMutable().getOperandNumber();
        bool value = use.getOperandNumber() ==
                     a.getValueMutable().getOperandNumber();
        if (!attn && (key || value) && !(a.getKey() == a.getValue())) {
          attn = a;
          isKey = key;
          continue;
        }
        refusal = {user, "the concatenation of past input '" +
                             inputName(fn, past) +
                             "' is not the keys or values of one attention"};
        return failure();
      }
      if (isa<func::ReturnOp>(user) && use.getOperandNumber() != 0) {
        present.set(use.getOperandNumber());
        continue;
      }
      if (auto d = dyn_cast<tensor::DimOp>(user)) {
        std::optional<int64_t> idx = d.getConstantIndex();
        if (idx && (*idx == 0 || *idx == 2)) {
          d.getResult().replaceAllUsesWith(*idx == 0 ? batch : result.total);
          d->erase();
          continue;
        }
        if (idx && (*idx == 1 || *idx == 3)) {
          OpBuilder cb(d);
          d.getResult().replaceAllUsesWith(
              arith::ConstantIndexOp::create(
                  cb, d.getLoc(), concat.getType().getDimSize(*idx))
                  .getResult());
          d->erase();
          continue;
        }
      }
      refusal = {user, "reads the concatenation of past input '" +
                           inputName(fn, past) +
                           "' with new keys/values: only attention and the "
                           "present outputs may"};
      return failure();
    }
    if (!attn) {
      refusal = {concat, "past input '" + inputName(fn, past) +
                             "' does not reach attention"};
      return failure();
    }
    auto &slot = attnPast[attn];
    (isKey ? slot.first : slot.second) = past;
    concats.push_back(concat);
  }

  // Every attention reads past keys and values; it now reads the new ones
  // only, the cache taking the concatenation's place.
  SmallVector<AttentionOp> attentions;
  fn.walk([&](AttentionOp a) { attentions.push_back(a); });
  for (AttentionOp a : attentions) {
    auto it = attnPast.find(a);
    if (it == attnPast.end() || !it->second.first || !it->second.second) {
      refusal = {a, "attention that does not concatenate past keys and "
                    "values with its own: with past inputs every layer must"};
      return failure();
    }
    result.layers.push_back(it->second);
    a.getKeyMutable().set(a.getKey().getDefiningOp<tensor::ConcatOp>()
                              .getInputs()[1]);
    a.getValueMutable().set(a.getValue().getDefiningOp<tensor::ConcatOp>()
                                .getInputs()[1]);
  }

  // Results: the present keys/values are the cache; the rest stays (the
  // check of the rewrite wants the logits alone).
  auto names = fn->getAttrOfType<ArrayAttr>("ds.output_names");
  SmallVector<Value> kept;
  SmallVector<Type> keptTypes;
  SmallVector<DictionaryAttr> keptAttrs;
  SmallVector<Attribute> keptNames;
  for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
    if (present.test(i))
      continue;
    kept.push_back(v);
    keptTypes.push_back(v.getType());
    DictionaryAttr attrs = fn.getResultAttrDict(i);
    keptAttrs.push_back(attrs ? attrs : DictionaryAttr::get(ctx));
    if (names && i < names.size())
      keptNames.push_back(names[i]);
  }
  ret.getOperandsMutable().assign(kept);
  fn.setFunctionType(
      FunctionType::get(ctx, entry.getArgumentTypes(), keptTypes));
  fn.setAllResultAttrs(keptAttrs);
  if (names)
    fn->setAttr("ds.output_names", ArrayAttr::get(ctx, keptNames));
  for (tensor::ConcatOp c : concats)
    if (c->use_empty())
      c->erase();
  return result;
}

/// Replaces every position tensor equal to `P + s` ([S], [1, S] or [B, S],
/// P the past length) by the same tensor built from an iota over the
/// sequence, which the common rewrite offsets by `start`. Afterwards
/// nothing may read P, and no other iota over the sequence may be left: it
/// would be a position that ignores the past, which the cache rewrite
/// could not reproduce.
LogicalResult kvcache::rewritePastPositions(func::FuncOp fn, BlockArgument tok,
                                          ArrayRef<Value> pastArgs,
                                          Value seqLength, Value batch,
                                          Refusal &refusal) {
  Block &entry = fn.getBody().front();
  // Canonicalization may have dropped or duplicated the size ops.
  Value length = unifyDims(fn, pastArgs, 2);
  mask::MaskAnalysis analysis;
  std::optional<mask::SymExpr> p = analysis.scalar(length);
  std::optional<mask::SymExpr> s = analysis.scalar(seqLength);
  std::optional<mask::SymExpr> bsz = analysis.scalar(batch);
  auto isPastPlusIndex = [&](Value v) {
    if (!p || !s || !bsz)
      return false; // nothing is replaced: the checks below refuse
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || type.getRank() < 1 || type.getRank() > 2 ||
        !type.getElementType().isSignlessInteger() ||
        type.getElementType().isInteger(1))
      return false;
    std::optional<mask::IndexForm> f = analysis.intForm(v);
    if (!f || f->base != *p || f->coefs.back() != 1)
      return false;
    int64_t last = type.getRank() - 1;
    if (analysis.dimSize(v, last) != s)
      return false;
    if (last == 1) {
      if (f->coefs[0] != 0)
        return false;
      if (type.getDimSize(0) != 1 && analysis.dimSize(v, 0) != bsz)
        return false;
    }
    return true;
  };
  SmallVector<Value> positions;
  DenseSet<Value> found;
  for (Operation &op : entry.without_terminator()) {
    // A tensor computed from a position tensor is handled by rewriting that
    // one: it is then computed from the iota.
    if (llvm::any_of(op.getOperands(),
                     [&](Value v) { return found.contains(v); }))
      continue;
    for (Value v : op.getResults())
      if (!v.use_empty() && isPastPlusIndex(v)) {
        positions.push_back(v);
        found.insert(v);
      }
  }
  DenseSet<Operation *> created;
  for (Value v : positions) {
    Location loc = v.getLoc();
    auto type = cast<RankedTensorType>(v.getType());
    Type elt = type.getElementType();
    OpBuilder b(fn.getContext());
    b.setInsertionPointAfterValue(v);
    auto iota = tensor::GenerateOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic}, elt),
        ValueRange{seqLength},
        [&](OpBuilder &nb, Location nloc, ValueRange idx) {
          tensor::YieldOp::create(
              nb, nloc,
              Value(arith::IndexCastOp::create(nb, nloc, elt, idx[0])));
        });
    created.insert(iota);
    Value repl = iota.getResult();
    if (type.getRank() == 2) {
      repl = tensor::ExpandShapeOp::create(
          b, loc, RankedTensorType::get({1, ShapedType::kDynamic}, elt), repl,
          ArrayRef<ReassociationIndices>{{0, 1}},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), seqLength});
      if (type.getDimSize(0) != 1)
        repl = BroadcastOp::create(
            b, loc,
            RankedTensorType::get(
                {ShapedType::kDynamic, ShapedType::kDynamic}, elt),
            repl, ValueRange{batch, seqLength});
    }
    if (repl.getType() != type)
      repl = tensor::CastOp::create(b, loc, type, repl);
    // Sizes of the position tensor are the sequence's (and batch's).
    for (OpOperand &use : llvm::make_early_inc_range(v.getUses())) {
      if (auto d = dyn_cast<tensor::DimOp>(use.getOwner())) {
        std::optional<int64_t> idx = d.getConstantIndex();
        if (idx && *idx == type.getRank() - 1) {
          d.getResult().replaceAllUsesWith(seqLength);
          d->erase();
          continue;
        }
        if (idx && *idx == 0 && type.getRank() == 2) {
          d.getResult().replaceAllUsesWith(batch);
          d->erase();
          continue;
        }
      }
      use.set(repl);
    }
  }
  IRRewriter rewriter(fn.getContext());
  (void)runRegionDCE(rewriter, fn->getRegions());

  for (tensor::GenerateOp gen : sequenceIotas(fn, tok))
    if (!created.contains(gen.getOperation())) {
      Operation *user = gen->use_empty() ? gen.getOperation()
                                         : *gen->getUsers().begin();
      refusal = {user, "reads positions over the new tokens that do not "
                       "add the past length, while the KV cache offsets "
                       "every position by the cached length"};
      return failure();
    }
  // DCE erased what only fed the replaced positions; what is left reading
  // the past length (or the past itself) is a refusal.
  for (Value arg : pastArgs)
    for (Operation *user : llvm::make_early_inc_range(arg.getUsers())) {
      auto d = dyn_cast<tensor::DimOp>(user);
      if (d && d->use_empty()) {
        d->erase();
        continue;
      }
      if (!d) {
        refusal = {user, "reads past input '" +
                             inputName(fn, cast<BlockArgument>(arg)) +
                             "' outside attention"};
        return failure();
      }
      // Name the op that consumes the length, past integer arithmetic and
      // the tensors filled with it (the attention mask's ones).
      auto isSizeArith = [](Operation *op) {
        if (op->getNumResults() != 1 || op->use_empty() ||
            (!isa<arith::ArithDialect>(op->getDialect()) &&
             !isa<tensor::SplatOp, tensor::FromElementsOp, BroadcastOp,
                  tensor::DimOp>(op)))
          return false;
        return getElementTypeOrSelf(op->getResult(0).getType())
            .isIntOrIndex();
      };
      auto next = [](Operation *op) {
        for (Operation *u : op->getUsers())
          if (!isa<tensor::DimOp>(u))
            return u;
        return *op->getUsers().begin();
      };
      Operation *consumer = next(d);
      for (int i = 0; i < 16 && isSizeArith(consumer); ++i)
        consumer = next(consumer);
      refusal = {consumer,
                 "reads the past length (dimension 2 of the past "
                 "keys/values) other than as positions (past length + s) "
                 "or in a mask proven to keep every key"};
      return failure();
    }
  return success();
}
