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
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Dominance.h"

#include "llvm/ADT/MapVector.h"

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

void MergeProjectionsPass::runOnOperation() {
  // Linear ops by input, in program order.
  llvm::MapVector<Value, SmallVector<LinearOp>> byInput;
  getOperation().walk(
      [&](LinearOp op) { byInput[op.getInput()].push_back(op); });
  DominanceInfo dom(getOperation());

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

  bool transposed = group.front().getTransposeWeight();
  int64_t nDim = transposed ? 0 : 1;
  OpBuilder b(first);
  Location loc = b.getFusedLoc(llvm::map_to_vector(
      group, [](LinearOp op) { return op.getLoc(); }));
  SmallVector<Value> weights, biases;
  SmallVector<int64_t> sizes;
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

  RankedTensorType resultType = group.front().getResult().getType();
  SmallVector<int64_t> shape(resultType.getShape());
  shape.back() = total;
  auto mergedType = resultType.clone(shape);
  auto merged = LinearOp::create(
      b, loc, mergedType, group.front().getInput(), weight, bias, Value(),
      ActivationAttr::get(b.getContext(), Activation::none),
      transposed ? b.getUnitAttr() : UnitAttr(), TileAttr());

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
