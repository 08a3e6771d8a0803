//===- FuseLinear.cpp - weight matmuls to ds.linear with an epilogue ------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// A `ds.matmul` whose right operand is a 2-D weight becomes `ds.linear`.
// Following ops then fold into the linear's epilogue in the order the op
// defines, `activation(x @ W + bias) + residual`:
//
//   bias        arith.addf with a broadcast [N] weight or constant
//   activation  ds.gelu (both forms), ds.silu, relu (arith.maximumf with 0)
//   residual    arith.addf with any tensor of the same type, either order
//
// Reshapes between the matmul and its epilogue: exporters that collapse
// [B, S, K] to [B*S, K] for the GEMM expand the result back before the
// adds. We keep the ds.linear on the GEMM's own shape and look through
// `tensor.expand_shape` ops that only split leading dimensions (the last
// dimension, N, is a group of its own): bias and activation commute with
// such reshapes, and a residual is collapsed back to the GEMM's shape with
// the same reassociation. The linear's result is then expanded as before.
// (Folding the collapse into the linear's input would need proof that the
// expand restores the same leading sizes, which symbolic dims do not
// always give.) `tensor.collapse_shape` after the GEMM is not looked
// through.
//
// Gated MLPs: a SiLU whose only use multiplies it by a sibling projection
// of the same input (`silu(x @ Wg) * (x @ Wu)`, Llama's gate and up) does
// not fold. ds-merge-projections turns the pair into one GEMM over the
// concatenated weights followed by `ds.swiglu`, and folds the SiLU back
// into the gate's linear when the pair cannot merge.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFUSELINEAR
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

static constexpr StringLiteral kPass = "ds-fuse-linear";

namespace {

/// What the right operand of a matmul is, as a ds.linear weight.
struct WeightOperand {
  Value weight;
  bool transposed = false;
};

/// One fused epilogue under construction.
struct Epilogue {
  Value bias;
  Value residual;
  Activation activation = Activation::none;
  /// The expand_shape ops between the GEMM and `tip`, in order.
  SmallVector<tensor::ExpandShapeOp> reshapes;
  /// Every op folded into the epilogue (reshapes included), in order.
  SmallVector<Operation *> folded;
  /// The value the fused chain computes so far.
  Value tip;
};

struct FuseLinearPass : ds::impl::DSFuseLinearBase<FuseLinearPass> {
  using Base::Base;
  void runOnOperation() override;

private:
  void fuse(MatMulOp matmul);
  void remark(Operation *op, const Twine &reason) {
    fusion::remarkMissed(emitRemarks, op, kPass, reason);
  }
};

} // namespace

/// `rhs` as a [K, N] weight, or a [N, K] weight read transposed when it is
/// a 2-D linalg.transpose of one. Sets `why` when it is neither.
static std::optional<WeightOperand> matchWeight(Value rhs, std::string &why) {
  auto type = dyn_cast<RankedTensorType>(rhs.getType());
  if (fusion::isWeight(rhs)) {
    if (!type || type.getRank() != 2) {
      why = "right operand is a weight of rank " +
            std::to_string(type ? type.getRank() : -1) + ", not a matrix";
      return std::nullopt;
    }
    return WeightOperand{rhs, false};
  }
  if (auto transpose = rhs.getDefiningOp<linalg::TransposeOp>()) {
    Value src = transpose.getInput();
    if (fusion::isWeight(src) && transpose.getPermutation().size() == 2 &&
        transpose.getPermutation()[0] == 1 &&
        transpose.getPermutation()[1] == 0 && transpose->getNumResults() == 1)
      return WeightOperand{src, true};
  }
  why = "right operand is an activation, not a weight";
  return std::nullopt;
}

/// The [N] bias `v` broadcasts, when `v` is a ds.broadcast of a rank-1
/// weight or constant of `n` elements of `elementType`.
static Value matchBias(Value v, int64_t n, Type elementType) {
  Value src = fusion::stripBroadcasts(v);
  auto type = dyn_cast<RankedTensorType>(src.getType());
  if (!type || type.getRank() != 1 || type.getElementType() != elementType ||
      type.getDimSize(0) != n || ShapedType::isDynamic(n))
    return {};
  if (!fusion::isWeight(src))
    return {};
  return src;
}

/// True when the expand_shape splits leading dimensions only: the source's
/// last dimension is a group of its own.
static bool splitsLeadingDimsOnly(tensor::ExpandShapeOp expand) {
  SmallVector<ReassociationIndices> groups =
      expand.getReassociationIndices();
  if (groups.empty())
    return false;
  return groups.back().size() == 1;
}

/// The activation of a linear epilogue that `op` applies to `input`, if any.
static std::optional<Activation> matchActivation(Operation *op, Value input) {
  if (auto gelu = dyn_cast<GeluOp>(op))
    return gelu.getApproximation() == GeluApproximation::tanh
               ? Activation::gelu_tanh
               : Activation::gelu;
  if (isa<SiluOp>(op))
    return Activation::silu;
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(op)) {
    Value other = op->getOperand(0) == input ? op->getOperand(1)
                                             : op->getOperand(0);
    std::optional<double> zero = fusion::getSplatFloat(other);
    if (zero && *zero == 0.0 && other != input)
      return Activation::relu;
  }
  return std::nullopt;
}

/// The GEMM behind `v` when `v` is a weight projection of `input` other
/// than `self`: a ds.matmul of `input` by a weight or a ds.linear of
/// `input` without activation or residual, seen through leading
/// expand_shapes and an optional bias add.
static Operation *getSiblingProjection(Value v, Value input, Operation *self) {
  auto stripExpands = [](Value v) {
    while (auto expand = v.getDefiningOp<tensor::ExpandShapeOp>())
      v = expand.getSrc();
    return v;
  };
  v = stripExpands(v);
  if (auto add = v.getDefiningOp<arith::AddFOp>()) {
    for (auto [gemm, bias] : {std::pair(add.getLhs(), add.getRhs()),
                              std::pair(add.getRhs(), add.getLhs())}) {
      Value src = fusion::stripBroadcasts(bias);
      auto type = dyn_cast<RankedTensorType>(src.getType());
      if (type && type.getRank() == 1 && fusion::isWeight(src) &&
          stripExpands(gemm).getDefiningOp<MatMulOp>()) {
        v = stripExpands(gemm);
        break;
      }
    }
  }
  Operation *op = v.getDefiningOp();
  if (!op || op == self || op->getBlock() != self->getBlock())
    return nullptr;
  if (auto matmul = dyn_cast<MatMulOp>(op)) {
    std::string why;
    if (matmul.getLhs() == input && matchWeight(matmul.getRhs(), why))
      return op;
  }
  if (auto linear = dyn_cast<LinearOp>(op))
    if (linear.getInput() == input && !linear.getResidual() &&
        linear.getActivation() == Activation::none)
      return op;
  return nullptr;
}

/// True when the SiLU `silu` (applied to the GEMM `self` of `input`) has
/// one use, a multiplication by a sibling projection of `input`: the gate
/// of a gated MLP, left for ds-merge-projections.
static bool gatesSiblingProjection(Operation *silu, Value input,
                                   Operation *self) {
  Value s = silu->getResult(0);
  if (!s.hasOneUse())
    return false;
  auto mul = dyn_cast<arith::MulFOp>(*s.getUsers().begin());
  if (!mul || mul.getLhs() == mul.getRhs())
    return false;
  Value other = mul.getLhs() == s ? mul.getRhs() : mul.getLhs();
  return other.getType() == s.getType() &&
         getSiblingProjection(other, input, self);
}

void FuseLinearPass::runOnOperation() {
  SmallVector<MatMulOp> matmuls;
  getOperation().walk([&](MatMulOp op) { matmuls.push_back(op); });
  for (MatMulOp op : matmuls)
    fuse(op);
}

void FuseLinearPass::fuse(MatMulOp matmul) {
  auto lhsType = dyn_cast<RankedTensorType>(matmul.getLhs().getType());
  auto resultType = dyn_cast<RankedTensorType>(matmul.getResult().getType());
  if (!lhsType || !resultType || lhsType.getRank() < 1)
    return;
  std::string why;
  std::optional<WeightOperand> w = matchWeight(matmul.getRhs(), why);
  if (!w) {
    remark(matmul, why);
    return;
  }
  auto weightType = cast<RankedTensorType>(w->weight.getType());
  Type elementType = lhsType.getElementType();
  if (!isa<FloatType>(elementType) ||
      weightType.getElementType() != elementType ||
      resultType.getElementType() != elementType) {
    remark(matmul, "operands are not of one float element type");
    return;
  }
  int64_t k = weightType.getDimSize(w->transposed ? 1 : 0);
  int64_t n = weightType.getDimSize(w->transposed ? 0 : 1);
  // ds.linear's result is input[:-1] + [N]; the matmul's must be the same
  // (a rank-1 lhs drops its promoted dimension in both).
  ArrayRef<int64_t> lhsShape = lhsType.getShape();
  SmallVector<int64_t> expected(lhsShape.drop_back());
  expected.push_back(n);
  if (resultType.getShape() != ArrayRef<int64_t>(expected) ||
      (!ShapedType::isDynamic(k) && !lhsType.isDynamicDim(lhsType.getRank() - 1) &&
       lhsShape.back() != k)) {
    remark(matmul, "result shape is not the input's leading dims and N");
    return;
  }

  // Walk the single-use chain after the GEMM and collect what folds.
  Epilogue epi;
  epi.tip = matmul.getResult();
  // The chain's value as seen by epilogue ops, through the reshapes.
  Value seen = epi.tip;
  auto singleUser = [](Value v) -> Operation * {
    return v.hasOneUse() ? *v.getUsers().begin() : nullptr;
  };
  while (Operation *user = singleUser(seen)) {
    if (user->getBlock() != matmul->getBlock())
      break;
    if (auto expand = dyn_cast<tensor::ExpandShapeOp>(user)) {
      if (!splitsLeadingDimsOnly(expand))
        break;
      epi.reshapes.push_back(expand);
      seen = expand.getResult();
      continue;
    }
    if (user->getNumResults() != 1 || user->getResult(0).getType() != seen.getType())
      break;
    if (auto add = dyn_cast<arith::AddFOp>(user)) {
      Value other = add.getLhs() == seen ? add.getRhs() : add.getLhs();
      if (other == seen)
        break;
      if (!epi.bias && !epi.residual && epi.activation == Activation::none) {
        if (Value bias = matchBias(other, n, elementType)) {
          epi.bias = bias;
          epi.folded.push_back(add);
          seen = add.getResult();
          epi.tip = seen;
          continue;
        }
      }
      if (epi.residual)
        break;
      epi.residual = other;
      epi.folded.push_back(add);
      seen = add.getResult();
      epi.tip = seen;
      continue;
    }
    if (std::optional<Activation> act = matchActivation(user, seen)) {
      if (epi.activation != Activation::none || epi.residual)
        break;
      if (*act == Activation::silu &&
          gatesSiblingProjection(user, matmul.getLhs(), matmul))
        break;
      epi.activation = *act;
      epi.folded.push_back(user);
      seen = user->getResult(0);
      epi.tip = seen;
      continue;
    }
    break;
  }

  // Reshapes after the last folded op stay as they are.
  size_t usedReshapes = 0;
  if (!epi.folded.empty()) {
    for (auto [i, r] : llvm::enumerate(epi.reshapes))
      if (r->isBeforeInBlock(epi.folded.back()))
        usedReshapes = i + 1;
  }
  epi.reshapes.resize(usedReshapes);

  Operation *last = epi.folded.empty() ? matmul.getOperation()
                                       : epi.folded.back();
  OpBuilder b(last);
  Location loc = matmul.getLoc();
  Value residual = epi.residual;
  if (residual) {
    // Back to the GEMM's shape: collapse with each expand's reassociation,
    // innermost last.
    for (tensor::ExpandShapeOp expand : llvm::reverse(epi.reshapes))
      residual = tensor::CollapseShapeOp::create(
          b, loc, expand.getSrcType(), residual,
          expand.getReassociationIndices());
  }
  auto linear = LinearOp::create(
      b, loc, resultType, matmul.getLhs(), w->weight, epi.bias, residual,
      ActivationAttr::get(b.getContext(), epi.activation),
      w->transposed ? b.getUnitAttr() : UnitAttr(), TileAttr());
  if (epi.folded.empty()) {
    matmul.getResult().replaceAllUsesWith(linear.getResult());
    matmul.erase();
    return;
  }
  Value result = linear.getResult();
  for (tensor::ExpandShapeOp expand : epi.reshapes)
    result = tensor::ExpandShapeOp::create(
        b, expand.getLoc(), expand.getResultType(), result,
        expand.getReassociationIndices(), expand.getMixedOutputShape());
  epi.tip.replaceAllUsesWith(result);
  // The old chain is now dead: erase it from its end.
  SmallVector<Operation *> dead(epi.folded.begin(), epi.folded.end());
  for (tensor::ExpandShapeOp expand : epi.reshapes)
    dead.push_back(expand);
  dead.push_back(matmul);
  llvm::sort(dead, [](Operation *a, Operation *c) {
    return c->isBeforeInBlock(a);
  });
  for (Operation *op : dead)
    if (op->use_empty())
      op->erase();
}
