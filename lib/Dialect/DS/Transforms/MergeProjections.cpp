//===- MergeProjections.cpp - one GEMM for projections of one input -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// ds.linear ops that read the same input (Q/K/V of an attention block,
// gate/up of a gated MLP) become one ds.linear over the weights
// concatenated along N, followed by one tensor.extract_slice per original
// result: one GEMM reads the input once and fills the machine better than
// two or three narrow ones. The weight (and bias) concatenation depends on
// weights only; ds-hoist-weight-prep moves it into @prepare.
//
// Projections merge when they have no residual, no activation, the same
// weight layout (transpose_weight), the same K, static N, and either all or
// none have a bias. When the projections' results feed one tensor.concat
// along the last dimension (a gate/up pair concatenated for ds.swiglu),
// they are merged in the concat's order and the concat becomes the merged
// result.
//
// Gated MLPs first: `silu(gate) * up` with gate and up projections of one
// input (each seen through the same tensor.expand_shape, the dynamo form
// of a GEMM on [B*S, K]) becomes one ds.linear over [Wgate | Wup] and
// `ds.swiglu`, which computes silu of the first half times the second.
// The SiLU'd projection goes first whichever side of the multiplication
// it is on. ds-fuse-linear leaves such a SiLU out of the gate's epilogue;
// when the pair cannot merge (the reason is a remark), the SiLU folds back
// into the gate's linear as its activation.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSMERGEPROJECTIONS
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

static constexpr StringLiteral kPass = "ds-merge-projections";

namespace {

struct MergeProjectionsPass
    : ds::impl::DSMergeProjectionsBase<MergeProjectionsPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  void mergeGroup(SmallVector<LinearOp> group, DominanceInfo &dom);
  void mergeGatedPair(SiluOp silu, DominanceInfo &dom);
  /// Gates of pairs that did not merge: their remark says why already.
  llvm::SmallPtrSet<Operation *, 8> explained;
  void remark(Operation *op, const Twine &reason) {
    fusion::remarkMissed(emitRemarks, op, kPass, reason);
  }
};

/// What must agree between projections that merge.
struct MergeKey {
  bool transposed;
  bool hasBias;
  int64_t k;
  Type elementType;
  Type inputType;
  bool operator<(const MergeKey &o) const {
    return std::make_tuple(transposed, hasBias, k,
                           elementType.getAsOpaquePointer(),
                           inputType.getAsOpaquePointer()) <
           std::make_tuple(o.transposed, o.hasBias, o.k,
                           o.elementType.getAsOpaquePointer(),
                           o.inputType.getAsOpaquePointer());
  }
};

} // namespace

static StringRef activationName(Activation a) { return stringifyActivation(a); }

/// Why `op` cannot be part of a merged gate/up projection, or null.
static const char *whyNotMergeable(LinearOp op) {
  if (op.getResidual())
    return "has a residual";
  if (op.getActivation() != Activation::none)
    return "has an activation";
  if (op.getTileAttr())
    return "is already tiled";
  auto wType = op.getWeight().getType();
  if (wType.getRank() != 2 ||
      ShapedType::isDynamic(wType.getDimSize(op.getTransposeWeight() ? 0 : 1)))
    return "has a dynamic output size";
  return nullptr;
}

/// The weights and biases of `group` concatenated along N (created at
/// `b`'s insertion point) and one ds.linear over them; `sizes` receives
/// each projection's N. The projections must agree on input, weight
/// layout, K, element type and bias presence.
static LinearOp createMergedLinear(OpBuilder &b, ArrayRef<LinearOp> group,
                                   SmallVectorImpl<int64_t> &sizes) {
  LinearOp front = group.front();
  bool transposed = front.getTransposeWeight();
  int64_t nDim = transposed ? 0 : 1;
  Location loc = b.getFusedLoc(llvm::map_to_vector(
      group, [](LinearOp op) { return op.getLoc(); }));
  SmallVector<Value> weights, biases;
  int64_t total = 0;
  for (LinearOp op : group) {
    weights.push_back(op.getWeight());
    if (op.getBias())
      biases.push_back(op.getBias());
    int64_t n = op.getWeight().getType().getDimSize(nDim);
    sizes.push_back(n);
    total += n;
  }
  Value weight = tensor::ConcatOp::create(b, loc, nDim, weights);
  Value bias;
  if (!biases.empty())
    bias = tensor::ConcatOp::create(b, loc, 0, biases);

  RankedTensorType resultType = front.getResult().getType();
  SmallVector<int64_t> shape(resultType.getShape());
  shape.back() = total;
  return LinearOp::create(
      b, loc, resultType.clone(shape), front.getInput(), weight, bias,
      Value(), ActivationAttr::get(b.getContext(), Activation::none),
      transposed ? b.getUnitAttr() : UnitAttr(), TileAttr());
}

/// `v` as a ds.linear result seen through at most one expand_shape (set
/// in `expand`), or null.
static LinearOp getProjection(Value v, tensor::ExpandShapeOp &expand) {
  expand = v.getDefiningOp<tensor::ExpandShapeOp>();
  if (expand)
    v = expand.getSrc();
  return v.getDefiningOp<LinearOp>();
}

/// `silu(gate) * up` (either order) with gate and up projections of one
/// input: merged into one ds.linear and ds.swiglu. A pair that does not
/// merge gets its SiLU folded into the gate's epilogue.
void MergeProjectionsPass::mergeGatedPair(SiluOp silu, DominanceInfo &dom) {
  Value s = silu.getResult();
  if (!s.hasOneUse())
    return;
  auto mul = dyn_cast<arith::MulFOp>(*s.getUsers().begin());
  if (!mul || mul.getLhs() == mul.getRhs())
    return;
  Value upValue = mul.getLhs() == s ? mul.getRhs() : mul.getLhs();
  tensor::ExpandShapeOp gateExpand, upExpand;
  LinearOp gate = getProjection(silu.getInput(), gateExpand);
  LinearOp up = getProjection(upValue, upExpand);
  if (!gate || !up || gate == up || gate.getInput() != up.getInput() ||
      gate->getBlock() != up->getBlock())
    return; // not a gate/up pair

  // arith.mulf makes silu(gate) and up one type.
  auto why = [&]() -> std::string {
    for (LinearOp op : {gate, up})
      if (const char *w = whyNotMergeable(op))
        return (op == gate ? "gate " : "up ") + std::string(w);
    if (!gate->hasOneUse() || !up->hasOneUse() ||
        (gateExpand && !gateExpand->hasOneUse()) ||
        (upExpand && !upExpand->hasOneUse()))
      return "gate or up has other uses";
    // With both results expanded to one type, the two expands are the
    // same row-major reshape, which commutes with elementwise ops.
    if (gate.getType() != up.getType() ||
        gate.getTransposeWeight() != up.getTransposeWeight() ||
        gate.getWeight().getType() != up.getWeight().getType())
      return "gate and up differ in shape or weight layout";
    if (static_cast<bool>(gate.getBias()) != static_cast<bool>(up.getBias()))
      return "only one of gate and up has a bias";
    Operation *first = gate->isBeforeInBlock(up) ? gate : up;
    for (LinearOp op : {gate, up})
      for (Value v : {op.getWeight(), op.getBias()})
        if (v && !dom.properlyDominates(v, first))
          return "weight or bias is defined after the first projection";
    return {};
  }();
  if (!why.empty()) {
    remark(gate, "gate/up pair: " + why);
    explained.insert(gate);
    // Fold the SiLU into the gate's epilogue, as ds-fuse-linear would have.
    if (gate.getActivation() == Activation::none && !gate.getResidual() &&
        gate->hasOneUse() && (!gateExpand || gateExpand->hasOneUse())) {
      gate.setActivation(Activation::silu);
      s.replaceAllUsesWith(silu.getInput());
      silu.erase();
    }
    return;
  }

  Operation *first = gate->isBeforeInBlock(up) ? gate : up;
  OpBuilder b(first);
  SmallVector<int64_t> sizes;
  LinearOp merged = createMergedLinear(b, {gate, up}, sizes);
  b.setInsertionPoint(mul);
  Value result =
      SwiGLUOp::create(b, mul.getLoc(), gate.getType(), merged.getResult());
  if (gateExpand)
    result = tensor::ExpandShapeOp::create(
        b, gateExpand.getLoc(), gateExpand.getResultType(), result,
        gateExpand.getReassociationIndices(),
        gateExpand.getMixedOutputShape());
  mul.getResult().replaceAllUsesWith(result);
  mul.erase();
  silu.erase();
  for (Operation *op : {gateExpand.getOperation(), upExpand.getOperation()})
    if (op)
      op->erase();
  gate.erase();
  up.erase();
}

void MergeProjectionsPass::runOnOperation() {
  explained.clear();
  DominanceInfo dom(getOperation());
  SmallVector<SiluOp> silus;
  getOperation().walk([&](SiluOp op) { silus.push_back(op); });
  for (SiluOp silu : silus)
    mergeGatedPair(silu, dom);

  // Linear ops by input, in program order.
  llvm::MapVector<Value, SmallVector<LinearOp>> byInput;
  getOperation().walk(
      [&](LinearOp op) { byInput[op.getInput()].push_back(op); });

  for (auto &[input, linears] : byInput) {
    if (linears.size() < 2)
      continue;
    // Candidates that may merge at all, then groups that agree.
    std::map<MergeKey, SmallVector<LinearOp>> groups;
    SmallVector<LinearOp> candidates;
    for (LinearOp op : linears) {
      auto wType = op.getWeight().getType();
      if (op.getResidual()) {
        remark(op, "projection has a residual");
        continue;
      }
      if (op.getActivation() != Activation::none) {
        if (!explained.contains(op))
          remark(op, "projection has activation '" +
                         activationName(op.getActivation()) +
                         "', the others of its input none");
        continue;
      }
      if (op.getTileAttr()) {
        remark(op, "projection is already tiled");
        continue;
      }
      int64_t n = wType.getDimSize(op.getTransposeWeight() ? 0 : 1);
      if (wType.getRank() != 2 || ShapedType::isDynamic(n)) {
        remark(op, "projection has a dynamic output size");
        continue;
      }
      if (op->getBlock() != linears.front()->getBlock()) {
        remark(op, "projection is in another block than its siblings");
        continue;
      }
      MergeKey key{op.getTransposeWeight(), op.getBias() != nullptr,
                   wType.getDimSize(op.getTransposeWeight() ? 1 : 0),
                   wType.getElementType(), op.getInput().getType()};
      groups[key].push_back(op);
    }
    if (groups.size() > 1) {
      for (auto &[key, group] : groups)
        for (LinearOp op : group)
          remark(op, "projections of this input differ in weight layout, "
                     "bias or element type; merging those that agree");
    }
    for (auto &[key, group] : groups) {
      if (group.size() >= 2)
        mergeGroup(group, dom);
    }
  }
}

/// When every projection's result is an operand of one tensor.concat along
/// the last dimension, with nothing else in it and no other use, that
/// concat.
static tensor::ConcatOp getCommonConcat(ArrayRef<LinearOp> group) {
  tensor::ConcatOp concat;
  for (LinearOp op : group) {
    Value r = op.getResult();
    if (!r.hasOneUse())
      return {};
    auto c = dyn_cast<tensor::ConcatOp>(*r.getUsers().begin());
    if (!c || (concat && c != concat))
      return {};
    concat = c;
  }
  if (!concat || concat.getInputs().size() != group.size() ||
      static_cast<int64_t>(concat.getDim()) != concat.getRank() - 1)
    return {};
  return concat;
}

void MergeProjectionsPass::mergeGroup(SmallVector<LinearOp> group,
                                      DominanceInfo &dom) {
  // Program order, or the order a consuming concat wants.
  llvm::sort(group, [](LinearOp a, LinearOp c) {
    return a->isBeforeInBlock(c);
  });
  Operation *first = group.front();
  tensor::ConcatOp concat = getCommonConcat(group);
  if (concat) {
    SmallVector<LinearOp> ordered;
    for (Value v : concat.getInputs())
      ordered.push_back(v.getDefiningOp<LinearOp>());
    group = ordered;
  }
  // Weights and biases must be available where the merged GEMM goes.
  for (LinearOp op : group) {
    for (Value v : {op.getWeight(), op.getBias()}) {
      if (v && !dom.properlyDominates(v, first)) {
        remark(op, "weight or bias is defined after the first projection");
        return;
      }
    }
  }

  OpBuilder b(first);
  SmallVector<int64_t> sizes;
  LinearOp merged = createMergedLinear(b, group, sizes);
  Location loc = merged.getLoc();
  RankedTensorType mergedType = merged.getType();

  if (concat && concat.getType() == mergedType) {
    concat.getResult().replaceAllUsesWith(merged.getResult());
    concat.erase();
  } else {
    int64_t rank = mergedType.getRank();
    SmallVector<OpFoldResult> mixedSizes =
        tensor::getMixedSizes(b, loc, merged.getResult());
    SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
    int64_t offset = 0;
    for (auto [op, n] : llvm::zip(group, sizes)) {
      SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
      offsets.back() = b.getIndexAttr(offset);
      mixedSizes.back() = b.getIndexAttr(n);
      auto slice = tensor::ExtractSliceOp::create(
          b, op.getLoc(), op.getResult().getType(), merged.getResult(),
          offsets, mixedSizes, strides);
      op.getResult().replaceAllUsesWith(slice.getResult());
      offset += n;
    }
  }
  for (LinearOp op : group)
    op.erase();
}
