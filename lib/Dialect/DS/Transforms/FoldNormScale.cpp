//===- FoldNormScale.cpp - an RMSNorm's scale into the next weights -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFOLDNORMSCALE
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

namespace {

/// The size of the reduction dimension of `op`'s weight when it is a
/// static 2-D tensor, else -1.
int64_t weightK(LinearOp op) {
  auto type = dyn_cast<RankedTensorType>(op.getWeight().getType());
  if (!type || type.getRank() != 2 || !type.hasStaticShape())
    return -1;
  return type.getDimSize(op.getTransposeWeight() ? 1 : 0);
}

/// True when scaling `op`'s weight keeps no second copy of it: the weight
/// is computed already (a concatenation of merged projections), or it is
/// [K, N], which ds-pretranspose-weights copies into [N, K] anyway.
bool scalesInPlace(LinearOp op) {
  Value w = op.getWeight();
  if (!isa<BlockArgument>(w) && !w.getDefiningOp<arith::ConstantOp>())
    return true;
  return !op.getTransposeWeight();
}

/// `w` with its reduction dimension (1 with `transposed`, else 0)
/// multiplied by `scale`, in f32 (f64 for f64 weights) rounded once to
/// `w`'s element type.
Value scaleWeight(OpBuilder &b, Location loc, Value w, Value scale,
                  bool transposed) {
  auto type = cast<RankedTensorType>(w.getType());
  Type elt = type.getElementType();
  Type compute = elt.isF64() ? elt : b.getF32Type();
  MLIRContext *ctx = b.getContext();
  AffineMap id = AffineMap::getMultiDimIdentityMap(2, ctx);
  AffineMap along = AffineMap::get(2, 0, getAffineDimExpr(transposed ? 1 : 0, ctx));
  Value init = tensor::EmptyOp::create(b, loc, type.getShape(), elt);
  auto cast = [&](OpBuilder &nb, Location nloc, Value v, Type to) -> Value {
    if (v.getType() == to)
      return v;
    if (v.getType().getIntOrFloatBitWidth() < to.getIntOrFloatBitWidth())
      return arith::ExtFOp::create(nb, nloc, to, v);
    return arith::TruncFOp::create(nb, nloc, to, v);
  };
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, ValueRange{w, scale}, ValueRange{init},
      ArrayRef<AffineMap>{id, along, id},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel,
                                    utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value product = arith::MulFOp::create(
            nb, nloc, cast(nb, nloc, args[0], compute),
            cast(nb, nloc, args[1], compute));
        linalg::YieldOp::create(nb, nloc, cast(nb, nloc, product, elt));
      });
  return generic.getResult(0);
}

/// A per-K scale of a linear's input: `scaled` = `unscaled` times the
/// weight-derived vector `scale` along the last dimension.
struct Scaling {
  Value scaled, scale;
  RMSNormOp norm;   // `scaled` is this norm's result (its scale), or
  Value unscaled;   // `scaled` is a mulf of this and a broadcast scale
};

/// `v` as the vector it broadcasts along the last dimension when it is a
/// ds.broadcast (or a chain) of a rank-1 weight-derived tensor of `k`
/// elements, else null.
Value broadcastScale(Value v, int64_t k) {
  if (!v.getDefiningOp<BroadcastOp>())
    return {};
  Value root = fusion::stripBroadcasts(v);
  auto type = dyn_cast<RankedTensorType>(root.getType());
  if (!type || type.getRank() != 1 || type.getDimSize(0) != k ||
      !fusion::derivesFromWeights(root))
    return {};
  return root;
}

/// True when `scale` is all ones already (nothing to move).
bool isOnes(Value scale) {
  std::optional<double> splat = fusion::getSplatFloat(scale);
  return splat && *splat == 1.0;
}

/// The scaling `op` performs, if it is one: an RMSNorm over the last
/// dimension with a weight-derived scale, or a mulf by a broadcast
/// weight-derived vector (Llama's `weight * norm(x).to(bf16)`).
std::optional<Scaling> matchScaling(Operation *op) {
  Scaling s;
  if (auto norm = dyn_cast<RMSNormOp>(op)) {
    auto inputType = dyn_cast<RankedTensorType>(norm.getInput().getType());
    auto scaleType = dyn_cast<RankedTensorType>(norm.getScale().getType());
    if (!inputType || !scaleType || scaleType.getRank() != 1 ||
        !scaleType.hasStaticShape())
      return std::nullopt;
    int64_t axis = norm.getAxis();
    if (axis < 0)
      axis += inputType.getRank();
    if (axis != inputType.getRank() - 1 ||
        !fusion::derivesFromWeights(norm.getScale()))
      return std::nullopt;
    s.norm = norm;
    s.scale = norm.getScale();
    s.scaled = norm.getResult();
  } else if (auto mul = dyn_cast<arith::MulFOp>(op)) {
    auto type = dyn_cast<RankedTensorType>(mul.getType());
    if (!type || type.getRank() < 1 ||
        type.isDynamicDim(type.getRank() - 1))
      return std::nullopt;
    int64_t k = type.getDimSize(type.getRank() - 1);
    for (int i = 0; i < 2 && !s.scale; ++i) {
      if (Value scale = broadcastScale(mul->getOperand(i), k)) {
        s.scale = scale;
        s.unscaled = mul->getOperand(1 - i);
      }
    }
    if (!s.scale)
      return std::nullopt;
    s.scaled = mul.getResult();
  } else {
    return std::nullopt;
  }
  if (isOnes(s.scale))
    return std::nullopt;
  return s;
}

struct FoldNormScalePass
    : public ds::impl::DSFoldNormScaleBase<FoldNormScalePass> {
  using DSFoldNormScaleBase::DSFoldNormScaleBase;

  void runOnOperation() override {
    SmallVector<Scaling> scalings;
    getOperation().walk([&](Operation *op) {
      if (std::optional<Scaling> s = matchScaling(op))
        scalings.push_back(*s);
    });
    for (Scaling &s : scalings)
      fold(s);
  }

  /// Moves `s`'s scale into the weights of the linears reading
  /// `s.scaled`, when those are all its users.
  void fold(Scaling &s) {
    int64_t k = cast<RankedTensorType>(s.scale.getType()).getDimSize(0);
    SmallVector<LinearOp> linears;
    for (OpOperand &use : s.scaled.getUses()) {
      auto linear = dyn_cast<LinearOp>(use.getOwner());
      if (!linear || &use != &linear.getInputMutable() ||
          weightK(linear) != k ||
          !fusion::derivesFromWeights(linear.getWeight()) ||
          (!copyWeights && !scalesInPlace(linear)))
        return;
      linears.push_back(linear);
    }
    if (linears.empty())
      return;
    for (LinearOp linear : linears) {
      OpBuilder b(linear);
      linear.getWeightMutable().assign(
          scaleWeight(b, linear.getLoc(), linear.getWeight(), s.scale,
                      linear.getTransposeWeight()));
    }
    if (!s.norm) {
      for (LinearOp linear : linears)
        linear.getInputMutable().assign(s.unscaled);
      if (Operation *mul = s.scaled.getDefiningOp(); mul->use_empty())
        mul->erase();
      return;
    }
    OpBuilder b(s.norm);
    auto scaleType = cast<RankedTensorType>(s.scale.getType());
    Value ones = arith::ConstantOp::create(
        b, s.norm.getLoc(), scaleType,
        DenseElementsAttr::get(
            scaleType, b.getFloatAttr(scaleType.getElementType(), 1.0)));
    s.norm.getScaleMutable().assign(ones);
  }
};

} // namespace
