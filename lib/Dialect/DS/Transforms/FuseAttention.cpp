//===- FuseAttention.cpp - fuse softmax(Q K^T) V into ds.attention --------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Anchors on `ds.softmax` over the last axis of rank-4 scores and matches
//
//   p = softmax(((Q * a) @ (K^T * b)) * c (/ d) + mask...)
//   o = p' @ V       (p' = p, or the NaN guard select(isnan(p), 0, p))
//
// with K^T a linalg.transpose of K, or collapse_shape -> transpose ->
// expand_shape (the dynamo form), and K/V possibly repeated for
// grouped-query attention by expand_shape + ds.broadcast + collapse_shape
// (the un-repeated tensors become the operands: ds.attention maps query
// head h to KV head h / (Hq / Hkv), which is exactly what that repeat does).
//
// Masks. An additive `select(c, 0, fill)` with `fill` -inf or at most half
// the lowest finite value of the type (the exporters' finfo.min) is the
// boolean mask `c`. `c` goes through a small sound abstract interpreter
// (MaskAnalysis below): each integer tensor maps to an affine function of
// its element indices and of opaque scalars (sizes), each boolean tensor to
// a constant or a conjunction of affine comparisons and opaque tensors.
// Everything the interpreter does not understand becomes opaque, never a
// guess. When one conjunct is exactly `key <= query + (T - S)` the mask
// becomes the `causal` flag and the other conjunct (if it is one opaque
// tensor: a padding mask) stays the mask operand.
//
// Two deliberate differences from the decomposed graph, both on rows whose
// every key is masked (pure padding rows): ds.attention gives zeros there,
// where a finite fill gives the average of V. With an -inf fill the graph
// gives NaN, which the exporters' NaN guard turns into zeros: the same as
// ds.attention, which is why folding the guard is exact. On any row with
// one visible key the softmax maximum is finite, exp(x - max) lies in
// [0, 1] and the sum is >= 1, so the guard never fires there.
//
// Integer arithmetic in masks is assumed not to wrap (positions and sizes
// are far below 2^63).
//
// Cleanup: a ds.attention mask that is an all-true boolean or an all-zero
// additive splat is dropped (also on ds.attention ops the pass did not
// create, e.g. from ONNX Attention).
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"
#include "MaskAnalysis.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/IR/ShapeUtils.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/Support/CheckedArithmetic.h"

#include <cmath>

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFUSEATTENTION
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

static constexpr llvm::StringLiteral kPass = "ds-fuse-attention";

using namespace mlir::ds::mask;

//===----------------------------------------------------------------------===//
// Pattern pieces
//===----------------------------------------------------------------------===//

namespace {

/// `v` without multiplications and divisions by scalar constants, with
/// their product in `scale`.
Value peelScale(Value v, double &scale) {
  for (;;) {
    Operation *op = v.getDefiningOp();
    if (auto mul = dyn_cast_or_null<arith::MulFOp>(op)) {
      if (std::optional<double> c = fusion::getSplatFloat(mul.getRhs())) {
        scale *= *c;
        v = mul.getLhs();
        continue;
      }
      if (std::optional<double> c = fusion::getSplatFloat(mul.getLhs())) {
        scale *= *c;
        v = mul.getRhs();
        continue;
      }
    }
    if (auto div = dyn_cast_or_null<arith::DivFOp>(op))
      if (std::optional<double> c = fusion::getSplatFloat(div.getRhs())) {
        scale /= *c;
        v = div.getLhs();
        continue;
      }
    return v;
  }
}

/// True when `v` is a ds.matmul reached through the ops a score chain is
/// made of (scaling and mask additions).
bool reachesMatmul(Value v, unsigned depth = 0) {
  if (depth > 8)
    return false;
  Operation *op = v.getDefiningOp();
  if (!op)
    return false;
  if (isa<MatMulOp>(op))
    return true;
  if (isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::DivFOp>(op))
    return reachesMatmul(op->getOperand(0), depth + 1) ||
           reachesMatmul(op->getOperand(1), depth + 1);
  return false;
}

/// Un-repeats grouped-query K/V: `y` [B, Hkv, G, T, D] =
/// broadcast(expand_shape(x [B, Hkv, T, D]) [B, Hkv, 1, T, D]) gives x.
Value unrepeat5(Value y) {
  auto yType = dyn_cast<RankedTensorType>(y.getType());
  if (!yType || yType.getRank() != 5)
    return {};
  auto b = y.getDefiningOp<BroadcastOp>();
  if (!b || b.getInput().getType().getRank() != 5)
    return {};
  auto e = b.getInput().getDefiningOp<tensor::ExpandShapeOp>();
  if (!e)
    return {};
  Value x = e.getSrc();
  auto xType = cast<RankedTensorType>(x.getType());
  RankedTensorType eType = e.getResultType();
  if (xType.getRank() != 4 || eType.getDimSize(2) != 1)
    return {};
  SmallVector<ReassociationIndices, 4> groups = e.getReassociationIndices();
  SmallVector<ReassociationIndices> a = {{0}, {1, 2}, {3}, {4}};
  SmallVector<ReassociationIndices> c = {{0}, {1}, {2, 3}, {4}};
  if (!llvm::equal(groups, a) && !llvm::equal(groups, c))
    return {};
  // Only the unit group dimension may be broadcast: a broadcast batch or
  // sequence would not be a head repeat.
  static constexpr std::pair<unsigned, unsigned> kept[] = {
      {0, 0}, {1, 1}, {2, 3}, {3, 4}};
  for (auto [xd, yd] : kept)
    if (!dimsAgree(xType.getDimSize(xd), yType.getDimSize(yd)))
      return {};
  return x;
}

/// `v` [B, Hq, T, D] without a grouped-query repeat, or `v` itself.
Value unrepeatKV(Value v) {
  if (auto c = v.getDefiningOp<tensor::CollapseShapeOp>()) {
    SmallVector<ReassociationIndices> groups = {{0}, {1, 2}, {3}, {4}};
    if (llvm::equal(c.getReassociationIndices(), groups))
      if (Value x = unrepeat5(c.getSrc()))
        return x;
  }
  return v;
}

/// How to obtain K [B, H, T, D] from the right operand of Q K^T.
struct KeyPlan {
  enum Kind { Direct, Transpose, Collapse } kind = Direct;
  Value source;
  SmallVector<int64_t, 4> perm;
  RankedTensorType type;
};

/// Recognises K^T [B, H, D, T] as a transpose of K: linalg.transpose whose
/// permutation moves the source's last (head) dimension to position 2, or
/// expand_shape(transpose(collapse_shape(X), [0, 2, 1])) where X is K or
/// the grouped-query repeat of K.
std::optional<KeyPlan> matchKeyTransposed(Value kt) {
  auto ktType = dyn_cast<RankedTensorType>(kt.getType());
  if (!ktType || ktType.getRank() != 4)
    return std::nullopt;
  if (auto t = kt.getDefiningOp<linalg::TransposeOp>()) {
    Value x = t.getInput();
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    ArrayRef<int64_t> p = t.getPermutation();
    if (!xType || xType.getRank() != 4 || p.size() != 4 || p[2] != 3)
      return std::nullopt;
    KeyPlan plan;
    plan.perm = {p[0], p[1], p[3], p[2]};
    SmallVector<int64_t> shape;
    for (int64_t d : plan.perm)
      shape.push_back(xType.getDimSize(d));
    plan.type = xType.clone(shape);
    bool identity = plan.perm == SmallVector<int64_t, 4>{0, 1, 2, 3};
    plan.kind = identity ? KeyPlan::Direct : KeyPlan::Transpose;
    plan.source = x;
    if (identity) {
      plan.source = unrepeatKV(x);
      plan.type = cast<RankedTensorType>(plan.source.getType());
    }
    return plan;
  }
  auto e = kt.getDefiningOp<tensor::ExpandShapeOp>();
  if (!e)
    return std::nullopt;
  SmallVector<ReassociationIndices> eGroups = {{0, 1}, {2}, {3}};
  if (!llvm::equal(e.getReassociationIndices(), eGroups))
    return std::nullopt;
  auto t = e.getSrc().getDefiningOp<linalg::TransposeOp>();
  if (!t || t.getPermutation() != ArrayRef<int64_t>{0, 2, 1})
    return std::nullopt;
  auto c = t.getInput().getDefiningOp<tensor::CollapseShapeOp>();
  if (!c)
    return std::nullopt;
  Value x = c.getSrc();
  auto xType = cast<RankedTensorType>(x.getType());
  int64_t n = xType.getRank();
  if (n != 4 && n != 5)
    return std::nullopt;
  ReassociationIndices lead;
  for (int64_t i = 0; i < n - 2; ++i)
    lead.push_back(i);
  SmallVector<ReassociationIndices> cGroups = {lead, {n - 2}, {n - 1}};
  if (!llvm::equal(c.getReassociationIndices(), cGroups))
    return std::nullopt;
  // The leading [B*H] must split back into the same heads.
  int64_t heads = ktType.getDimSize(1);
  if (ShapedType::isDynamic(heads))
    return std::nullopt;
  KeyPlan plan;
  plan.source = x;
  if (n == 4) {
    if (xType.getDimSize(1) != heads)
      return std::nullopt;
    plan.source = unrepeatKV(x);
    plan.type = cast<RankedTensorType>(plan.source.getType());
    return plan;
  }
  if (xType.isDynamicDim(1) || xType.isDynamicDim(2) ||
      xType.getDimSize(1) * xType.getDimSize(2) != heads)
    return std::nullopt;
  if (Value k = unrepeat5(x)) {
    plan.source = k;
    plan.type = cast<RankedTensorType>(k.getType());
    return plan;
  }
  plan.kind = KeyPlan::Collapse;
  plan.type = xType.clone(
      {xType.getDimSize(0), heads, xType.getDimSize(3), xType.getDimSize(4)});
  return plan;
}

Value materializeKey(OpBuilder &b, Location loc, const KeyPlan &plan) {
  switch (plan.kind) {
  case KeyPlan::Direct:
    return plan.source;
  case KeyPlan::Transpose: {
    SmallVector<OpFoldResult> sizes =
        tensor::getMixedSizes(b, loc, plan.source);
    SmallVector<OpFoldResult> outSizes;
    for (int64_t d : plan.perm)
      outSizes.push_back(sizes[d]);
    Value init =
        tensor::EmptyOp::create(b, loc, outSizes, plan.type.getElementType());
    return linalg::TransposeOp::create(b, loc, plan.source, init, plan.perm)
        ->getResult(0);
  }
  case KeyPlan::Collapse: {
    SmallVector<ReassociationIndices> groups = {{0}, {1, 2}, {3}, {4}};
    return tensor::CollapseShapeOp::create(b, loc, plan.type, plan.source,
                                           groups);
  }
  }
  return {};
}

/// A mask element type's "minus infinity" fill: -inf, or at most half the
/// lowest finite value (torch.finfo(dtype).min, which the exporters use).
bool isMaskFill(double fill, Type elementType) {
  if (std::isinf(fill) && fill < 0)
    return true;
  auto ft = dyn_cast<FloatType>(elementType);
  if (!ft)
    return false;
  double lowest =
      llvm::APFloat::getLargest(ft.getFloatSemantics(), /*Negative=*/true)
          .convertToDouble();
  return fill <= 0.5 * lowest;
}

/// Whether `mask` may be ds.attention's mask for scores `scores`
/// (attention_c8, attention_c9).
bool isUsableMask(Value mask, ArrayRef<int64_t> scores, Type queryElement) {
  auto type = dyn_cast<RankedTensorType>(mask.getType());
  if (!type || type.getRank() < 2 || type.getRank() > 4)
    return false;
  if (!type.getElementType().isInteger(1) &&
      type.getElementType() != queryElement)
    return false;
  ArrayRef<int64_t> tail = scores.take_back(type.getRank());
  for (auto [md, sd] : llvm::zip_equal(type.getShape(), tail))
    if (md != 1 && !dimsAgree(md, sd))
      return false;
  return true;
}

/// What one additive mask contributes to the fused op.
struct MaskResult {
  bool causal = false;
  /// The mask operand that remains (null: none).
  Value operand;
  /// Why a remaining mask is not the causal flag (for the remark).
  std::string notCausal;
};

struct FuseAttentionPass : ds::impl::DSFuseAttentionBase<FuseAttentionPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  void tryFuse(SoftmaxOp softmax);
  std::optional<MaskResult> analyzeMask(Value added, Value scores,
                                        ArrayRef<int64_t> scoreShape,
                                        Type queryElement);
  void removeConstantMasks();

  MaskAnalysis analysis;
  SmallVector<Operation *> deadRoots;
};

} // namespace

std::optional<MaskResult>
FuseAttentionPass::analyzeMask(Value added, Value scores,
                               ArrayRef<int64_t> scoreShape,
                               Type queryElement) {
  MaskResult result;
  if (std::optional<double> c = fusion::getSplatFloat(added); c && *c == 0.0)
    return result;
  Value m = fusion::stripBroadcasts(added);
  auto mType = dyn_cast<RankedTensorType>(m.getType());
  auto sel = m.getDefiningOp<arith::SelectOp>();
  std::optional<double> keep, fill;
  if (sel && mType && mType.getRank() >= 2 && mType.getRank() <= 4) {
    keep = fusion::getSplatFloat(sel.getTrueValue());
    fill = fusion::getSplatFloat(sel.getFalseValue());
  }
  if (!keep || *keep != 0.0 || !fill ||
      !isMaskFill(*fill, mType.getElementType())) {
    // A plain additive tensor: it stays as it is.
    result.notCausal = "the mask is an additive tensor";
    if (isUsableMask(m, scoreShape, queryElement))
      result.operand = m;
    else if (isUsableMask(added, scoreShape, queryElement))
      result.operand = added;
    else
      return std::nullopt;
    return result;
  }

  Value cond = sel.getCondition();
  BoolForm form = analysis.boolForm(cond);
  if (std::optional<bool> c = form.getConstant()) {
    if (*c)
      return result;
    result.operand = cond;
    result.notCausal = "the mask is all false";
    return result;
  }

  // The causal conjunct in the mask's frame [..., S, T]:
  // key - query - (T - S) <= 0, with the index of a dimension the scores
  // have as static 1 dropped (it is 0).
  unsigned rank = mType.getRank();
  std::optional<SymExpr> s, t;
  for (Value v : {added, scores}) {
    if (!s)
      s = analysis.dimSize(v, 2);
    if (!t)
      t = analysis.dimSize(v, 3);
  }
  std::optional<IndexForm> expected;
  if (s && t) {
    if (std::optional<SymExpr> diff = addSym(*t, *s, -1)) {
      if (std::optional<SymExpr> base = scaleSym(*diff, -1)) {
        expected = IndexForm::uniform(*base, rank);
        expected->coefs[rank - 1] = scoreShape[3] == 1 ? 0 : 1;
        expected->coefs[rank - 2] = scoreShape[2] == 1 ? 0 : -1;
      }
    }
  }

  // Split the conjunction into the causal comparison, other comparisons
  // and opaque tensors.
  bool causal = false, compares = false, otherCompares = false;
  SmallVector<Value> opaque;
  for (const Atom &a : form.atoms) {
    if (a.kind == Atom::Opaque) {
      opaque.push_back(a.value);
      continue;
    }
    compares = true;
    if (expected && a.kind == Atom::LE && a.expr == *expected)
      causal = true;
    else
      otherCompares = true;
  }

  if (causal && !otherCompares && opaque.size() <= 1) {
    if (opaque.empty()) {
      result.causal = true;
      return result;
    }
    if (isUsableMask(opaque.front(), scoreShape, queryElement)) {
      result.causal = true;
      result.operand = opaque.front();
      return result;
    }
  }
  if (!compares && opaque.size() == 1 &&
      isUsableMask(opaque.front(), scoreShape, queryElement)) {
    result.operand = opaque.front();
    result.notCausal = "the mask depends on data";
    return result;
  }
  result.operand = cond;
  if (!isUsableMask(cond, scoreShape, queryElement))
    return std::nullopt;
  if (!expected)
    result.notCausal = "the score sizes are not known symbolically";
  else if (compares)
    result.notCausal = "its position comparisons are not key <= query + "
                       "(T - S)";
  else
    result.notCausal = "the mask depends on data";
  return result;
}

void FuseAttentionPass::tryFuse(SoftmaxOp softmax) {
  Value scores = softmax.getInput();
  if (!reachesMatmul(scores))
    return;
  auto miss = [&](const Twine &reason) {
    fusion::remarkMissed(emitRemarks, softmax, kPass, reason);
  };
  auto scoreType = cast<RankedTensorType>(scores.getType());
  if (scoreType.getRank() != 4)
    return miss("scores are not rank 4 [batch, heads, query, key]");
  int64_t axis = softmax.getAxis();
  if (axis < 0)
    axis += 4;
  if (axis != 3)
    return miss("softmax axis is not the key axis");
  if (softmax.getLog())
    return miss("softmax is a log-softmax");

  // The probabilities, through the exporters' NaN guard
  // select(cmpf uno(p, p), 0, p) (see the file comment for why it folds).
  Value probs = softmax.getResult();
  llvm::SmallSetVector<Operation *, 2> users(probs.getUsers().begin(),
                                             probs.getUsers().end());
  if (users.size() == 2) {
    arith::CmpFOp cmp;
    arith::SelectOp sel;
    for (Operation *user : users) {
      if (auto c = dyn_cast<arith::CmpFOp>(user))
        cmp = c;
      else if (auto s = dyn_cast<arith::SelectOp>(user))
        sel = s;
    }
    std::optional<double> zero =
        sel ? fusion::getSplatFloat(sel.getTrueValue()) : std::nullopt;
    if (!cmp || !sel || cmp.getPredicate() != arith::CmpFPredicate::UNO ||
        cmp.getLhs() != probs || cmp.getRhs() != probs ||
        !cmp.getResult().hasOneUse() || sel.getCondition() != cmp.getResult() ||
        sel.getFalseValue() != probs || !zero || *zero != 0.0)
      return miss("the probabilities have users other than P @ V");
    probs = sel.getResult();
  }
  if (!probs.hasOneUse())
    return miss("the probabilities have users other than P @ V");
  auto pv = dyn_cast<MatMulOp>(*probs.getUsers().begin());
  if (!pv || pv.getLhs() != probs)
    return miss("the probabilities do not feed a matmul with V");

  // scores = (Q K^T) * scale + masks: walking from the softmax towards the
  // matmul, the masks come first. A scale outside a mask would scale the
  // mask too.
  SmallVector<Value> masks;
  double scale = 1.0;
  bool sawScale = false;
  Value cur = scores;
  MatMulOp qk;
  for (unsigned steps = 0; steps < 16 && !qk; ++steps) {
    Operation *op = cur.getDefiningOp();
    if (auto m = dyn_cast_or_null<MatMulOp>(op)) {
      qk = m;
      break;
    }
    if (auto add = dyn_cast_or_null<arith::AddFOp>(op)) {
      bool lhsScores = reachesMatmul(add.getLhs());
      bool rhsScores = reachesMatmul(add.getRhs());
      if (lhsScores == rhsScores)
        return miss("scores do not come from a matmul of Q and K^T");
      if (sawScale)
        return miss("the scale is applied after the mask");
      masks.push_back(lhsScores ? add.getRhs() : add.getLhs());
      cur = lhsScores ? add.getLhs() : add.getRhs();
      continue;
    }
    double factor = 1.0;
    Value inner = peelScale(cur, factor);
    if (inner == cur)
      return miss("scores do not come from a matmul of Q and K^T");
    sawScale = true;
    scale *= factor;
    cur = inner;
  }
  if (!qk)
    return miss("scores do not come from a matmul of Q and K^T");

  Value q = peelScale(qk.getLhs(), scale);
  Value kt = peelScale(qk.getRhs(), scale);
  std::optional<KeyPlan> key = matchKeyTransposed(kt);
  auto qType = dyn_cast<RankedTensorType>(q.getType());
  if (!key || !qType || qType.getRank() != 4)
    return miss("scores do not come from a matmul of Q and K^T");
  Value v = unrepeatKV(pv.getRhs());
  auto vType = dyn_cast<RankedTensorType>(v.getType());
  auto rType = dyn_cast<RankedTensorType>(pv.getResult().getType());
  RankedTensorType kType = key->type;
  if (!vType || vType.getRank() != 4 || !rType || rType.getRank() != 4)
    return miss("V is not a rank-4 [batch, kv_heads, key, head_dim] tensor");
  Type elt = qType.getElementType();
  if (kType.getElementType() != elt || vType.getElementType() != elt ||
      rType.getElementType() != elt)
    return miss("query, key and value element types differ");
  int64_t hq = qType.getDimSize(1), hkv = kType.getDimSize(1);
  bool shapesOk = dimsAgree(qType.getDimSize(0), kType.getDimSize(0)) &&
                  dimsAgree(qType.getDimSize(0), vType.getDimSize(0)) &&
                  dimsAgree(qType.getDimSize(3), kType.getDimSize(3)) &&
                  dimsAgree(kType.getDimSize(1), vType.getDimSize(1)) &&
                  dimsAgree(kType.getDimSize(2), vType.getDimSize(2)) &&
                  (ShapedType::isDynamic(hq) || ShapedType::isDynamic(hkv) ||
                   (hkv != 0 && hq % hkv == 0)) &&
                  dimsAgree(rType.getDimSize(1), hq) &&
                  dimsAgree(rType.getDimSize(2), qType.getDimSize(2)) &&
                  dimsAgree(rType.getDimSize(3), vType.getDimSize(3));
  if (!shapesOk)
    return miss("query, key and value do not have attention shapes");
  if (!(scale > 0.0) || !std::isfinite(scale))
    return miss("the scale is not positive and finite");

  // Masks: the causal flag from any of them, at most one operand left.
  SmallVector<int64_t> scoreShape = {qType.getDimSize(0), hq,
                                     qType.getDimSize(2), kType.getDimSize(2)};
  bool causal = false;
  Value maskOperand;
  std::string notCausal;
  for (Value added : masks) {
    std::optional<MaskResult> r = analyzeMask(added, scores, scoreShape, elt);
    if (!r)
      return miss("mask is not a known pattern and not a plain tensor");
    causal |= r->causal;
    if (!r->operand)
      continue;
    if (maskOperand)
      return miss("more than one mask remains after extracting causality");
    maskOperand = r->operand;
    notCausal = r->notCausal;
  }

  OpBuilder b(pv);
  Location loc = pv.getLoc();
  Value k = materializeKey(b, loc, *key);
  FloatAttr scaleAttr;
  int64_t headDim = qType.getDimSize(3);
  if (ShapedType::isDynamic(headDim) ||
      !fusion::approxEqual(scale, 1.0 / std::sqrt(double(headDim)), 1e-6))
    scaleAttr = b.getF32FloatAttr(static_cast<float>(scale));
  auto attention = AttentionOp::create(
      b, loc, rType, q, k, v, maskOperand, /*kv_length=*/Value(), scaleAttr,
      causal ? b.getUnitAttr() : UnitAttr(), /*tile=*/TileAttr());
  pv.getResult().replaceAllUsesWith(attention.getResult());
  deadRoots.push_back(pv);
  if (emitRemarks && maskOperand && !causal)
    emitRemark(softmax.getLoc())
        << kPass
        << ": mask not proven causal, kept as an operand: " << notCausal;
}

void FuseAttentionPass::removeConstantMasks() {
  SmallVector<AttentionOp> ops;
  getOperation().walk([&](AttentionOp op) { ops.push_back(op); });
  for (AttentionOp op : ops) {
    Value mask = op.getMask();
    if (!mask)
      continue;
    auto type = cast<RankedTensorType>(mask.getType());
    bool neutral = false;
    if (type.getElementType().isInteger(1)) {
      std::optional<int64_t> c = fusion::getSplatInt(mask);
      neutral = c && *c != 0;
    } else {
      std::optional<double> c = fusion::getSplatFloat(mask);
      neutral = c && *c == 0.0;
    }
    if (!neutral)
      continue;
    OpBuilder b(op);
    auto replacement = AttentionOp::create(
        b, op.getLoc(), op.getResult().getType(), op.getQuery(), op.getKey(),
        op.getValue(), /*mask=*/Value(), op.getKvLength(), op.getScaleAttr(),
        op.getCausalAttr(), op.getTileAttr());
    op.getResult().replaceAllUsesWith(replacement.getResult());
    deadRoots.push_back(op);
  }
}

void FuseAttentionPass::runOnOperation() {
  // Pass instances are reused across functions: start from empty caches so
  // that no value of an earlier run (possibly erased since) is looked up.
  analysis = MaskAnalysis();
  deadRoots.clear();
  SmallVector<SoftmaxOp> softmaxes;
  getOperation().walk([&](SoftmaxOp op) { softmaxes.push_back(op); });
  // Nothing is erased until every candidate has been looked at, so the
  // analysis caches never see a freed value.
  for (SoftmaxOp op : softmaxes)
    tryFuse(op);
  removeConstantMasks();

  // Erase what the rewrites left dead, operands first in line after users.
  SmallVector<Operation *> worklist(deadRoots.begin(), deadRoots.end());
  llvm::SmallPtrSet<Operation *, 32> erased;
  while (!worklist.empty()) {
    Operation *op = worklist.pop_back_val();
    if (erased.contains(op) || !isOpTriviallyDead(op))
      continue;
    for (Value operand : op->getOperands())
      if (Operation *def = operand.getDefiningOp())
        worklist.push_back(def);
    erased.insert(op);
    op->erase();
  }
}
