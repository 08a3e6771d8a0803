//===- FuseNorms.cpp - fuse decomposed LayerNorm and RMSNorm ---------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Anchors on `ds.reduce mean` ops over the last axis:
//
//   RMSNorm:   r = mean(x^2)            (x^2 as powf(x, 2) or x * x)
//   LayerNorm: m = mean(x); d = x - m; r = mean(d^2)
//
// and then the shared tail `r + eps` (or `eps + r`) `-> sqrt -> x / s` or
// `1 / s` / `rsqrt(...)` times the numerator (either operand order),
// followed by an optional `* gamma` (and `+ beta` for LayerNorm) that
// folds into the fused op. Without a gamma the scale is ones: a constant,
// or a broadcast to the runtime size of a dynamic last dimension. Every
// candidate that does not fuse gets a remark with the reason when
// emit-remarks is set.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFUSENORMS
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

static constexpr llvm::StringLiteral kPass = "ds-fuse-norms";

namespace {

/// The operand of binary `op` that is not `known`, or null when neither
/// operand is `known`.
Value otherOperand(Operation *op, Value known) {
  if (op->getNumOperands() != 2)
    return {};
  if (op->getOperand(0) == known)
    return op->getOperand(1);
  if (op->getOperand(1) == known)
    return op->getOperand(0);
  return {};
}

/// `v` and the results of the ds.broadcast ops that read it: the values an
/// elementwise consumer of `v` can see.
SmallVector<Value> withBroadcasts(Value v) {
  SmallVector<Value> values = {v};
  for (Operation *user : v.getUsers())
    if (auto b = dyn_cast<BroadcastOp>(user))
      values.push_back(b.getResult());
  return values;
}

/// The first user of `v` (or of a broadcast of it) of type OpTy whose other
/// operand is `other` (at operand `otherIndex` when not commutative).
template <typename OpTy>
OpTy findBinaryUser(Value v, Value other, bool commutative,
                    unsigned otherIndex = 0) {
  for (Value c : withBroadcasts(v))
    for (Operation *user : c.getUsers()) {
      auto op = dyn_cast<OpTy>(user);
      if (!op)
        continue;
      if (commutative ? otherOperand(op, c) == other
                      : (op->getOperand(otherIndex) == other &&
                         op->getOperand(1 - otherIndex) == c))
        return op;
    }
  return {};
}

/// The value squared by `v` (powf(x, 2) or x * x), or null.
Value getSquared(Value v) {
  if (auto pow = v.getDefiningOp<math::PowFOp>()) {
    std::optional<double> e = fusion::getSplatFloat(pow.getRhs());
    return e && *e == 2.0 ? pow.getLhs() : Value();
  }
  if (auto mul = v.getDefiningOp<arith::MulFOp>())
    return mul.getLhs() == mul.getRhs() ? mul.getLhs() : Value();
  return {};
}

/// True when `reduce` is a keep-dims mean over exactly the last axis.
LogicalResult checkLastAxisMean(ReduceOp reduce, std::string &why) {
  auto type = cast<RankedTensorType>(reduce.getInput().getType());
  int64_t rank = type.getRank();
  if (reduce.getKind() != ReduceKind::mean) {
    why = "not a mean";
    return failure();
  }
  if (rank < 1 || reduce.getAxes().size() != 1 ||
      reduce.getAxes()[0] != rank - 1) {
    why = "the mean is not over the last axis alone";
    return failure();
  }
  if (!reduce.getKeepDims()) {
    why = "the mean does not keep the reduced dimension";
    return failure();
  }
  return success();
}

/// Matches `num * rsqrt(r + eps)`, `num / sqrt(r + eps)` and
/// `num * (1 / sqrt(r + eps))` and returns the normalized value's op.
Operation *matchNormTail(Value r, Value num, double &eps, std::string &why) {
  arith::AddFOp add;
  for (Operation *user : r.getUsers())
    if (auto a = dyn_cast<arith::AddFOp>(user)) {
      add = a;
      break;
    }
  if (!add) {
    why = "no epsilon is added to the mean";
    return nullptr;
  }
  std::optional<double> e = fusion::getSplatFloat(otherOperand(add, r));
  if (!e || *e < 0) {
    why = "the value added to the mean is not a non-negative constant "
          "epsilon";
    return nullptr;
  }
  eps = *e;
  for (Operation *user : add->getUsers()) {
    if (auto rsqrt = dyn_cast<math::RsqrtOp>(user))
      if (auto mul = findBinaryUser<arith::MulFOp>(rsqrt, num, true))
        return mul;
    auto sqrt = dyn_cast<math::SqrtOp>(user);
    if (!sqrt)
      continue;
    if (auto div = findBinaryUser<arith::DivFOp>(sqrt, num, false, 0))
      return div;
    for (Operation *sqrtUser : sqrt->getUsers()) {
      auto recip = dyn_cast<arith::DivFOp>(sqrtUser);
      if (!recip || recip.getRhs() != sqrt.getResult())
        continue;
      std::optional<double> one = fusion::getSplatFloat(recip.getLhs());
      if (!one || *one != 1.0)
        continue;
      if (auto mul = findBinaryUser<arith::MulFOp>(recip, num, true))
        return mul;
    }
  }
  why = "the numerator is not divided by sqrt(mean + eps) (or multiplied by "
        "its reciprocal)";
  return nullptr;
}

/// `g` (a broadcast source) as a tensor<D x T> scale/bias operand, creating
/// a reshape or constant before `at`; null when it is not shaped like the
/// last dimension.
Value asLastDimOperand(OpBuilder &b, Location loc, Value g, int64_t d,
                       Type elemType) {
  auto type = dyn_cast<RankedTensorType>(g.getType());
  if (!type || type.getElementType() != elemType)
    return {};
  auto target = RankedTensorType::get({d}, elemType);
  if (type.getRank() >= 1 && type.getShape().back() == d &&
      !ShapedType::isDynamic(d) &&
      llvm::all_of(type.getShape().drop_back(),
                   [](int64_t s) { return s == 1; })) {
    if (type.getRank() == 1)
      return g;
    SmallVector<ReassociationIndices> reassoc(1);
    for (int64_t i = 0; i < type.getRank(); ++i)
      reassoc[0].push_back(i);
    return tensor::CollapseShapeOp::create(b, loc, target, g, reassoc);
  }
  // A splat constant of any broadcastable shape (e.g. tensor<f32>).
  if (!ShapedType::isDynamic(d))
    if (std::optional<double> v = fusion::getSplatFloat(g))
      return arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(target, b.getFloatAttr(elemType, *v)));
  return {};
}

/// A scale of ones for a norm of `x` without one: a [D] constant, or a
/// broadcast of 1 to the runtime size of `x`'s last dimension when D is
/// dynamic.
Value createUnitScale(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elemType = type.getElementType();
  int64_t d = type.getShape().back();
  FloatAttr one = b.getFloatAttr(elemType, 1.0);
  if (!ShapedType::isDynamic(d))
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(RankedTensorType::get({d}, elemType),
                                       one));
  Value scalar = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(RankedTensorType::get({}, elemType), one));
  Value size = tensor::DimOp::create(b, loc, x, type.getRank() - 1);
  Type scaleType = RankedTensorType::get({d}, elemType);
  return BroadcastOp::create(b, loc, scaleType, scalar, ValueRange{size});
}

struct FuseNormsPass : ds::impl::DSFuseNormsBase<FuseNormsPass> {
  using Base::Base;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<ReduceOp> reduces;
    func.walk([&](ReduceOp op) {
      if (op.getKind() == ReduceKind::mean)
        reduces.push_back(op);
    });
    llvm::SmallPtrSet<Operation *, 8> handled;
    bool changed = false;
    for (ReduceOp reduce : reduces) {
      if (handled.contains(reduce))
        continue;
      if (succeeded(tryLayerNorm(reduce, handled))) {
        changed = true;
        continue;
      }
      if (handled.contains(reduce))
        continue;
      if (succeeded(tryRMSNorm(reduce)))
        changed = true;
    }
    if (changed) {
      IRRewriter rewriter(func.getContext());
      (void)runRegionDCE(rewriter, func->getRegions());
    }
  }

  void remark(Operation *at, const Twine &why) {
    fusion::remarkMissed(emitRemarks, at, kPass, why);
  }

  /// Folds `* gamma` (and `+ beta` when `withBias`) following `norm`, the
  /// op computing the normalized value. Returns the last folded op and
  /// sets the operands (null when absent).
  Operation *foldAffine(Operation *norm, int64_t d, Type elemType,
                        bool withBias, Value &gamma, Value &beta) {
    gamma = beta = {};
    Value n = norm->getResult(0);
    if (!n.hasOneUse())
      return norm;
    auto mul = dyn_cast<arith::MulFOp>(*n.getUsers().begin());
    if (!mul)
      return norm;
    OpBuilder b(mul);
    Value g = fusion::stripBroadcasts(otherOperand(mul, n));
    gamma = asLastDimOperand(b, mul.getLoc(), g, d, elemType);
    if (!gamma || mul.getType() != n.getType())
      return gamma = {}, norm;
    if (!withBias || !mul->hasOneUse())
      return mul;
    auto add = dyn_cast<arith::AddFOp>(*mul->getUsers().begin());
    if (!add || add.getType() != n.getType())
      return mul;
    Value bsrc = fusion::stripBroadcasts(otherOperand(add, mul.getResult()));
    b.setInsertionPoint(add);
    beta = asLastDimOperand(b, add.getLoc(), bsrc, d, elemType);
    return beta ? add.getOperation() : mul.getOperation();
  }

  LogicalResult tryRMSNorm(ReduceOp reduce) {
    Value x = getSquared(reduce.getInput());
    if (!x)
      return failure(); // not a candidate
    std::string why;
    if (failed(checkLastAxisMean(reduce, why))) {
      remark(reduce, "RMSNorm candidate: " + why);
      return failure();
    }
    double eps = 0;
    Operation *norm = matchNormTail(reduce.getResult(), x, eps, why);
    if (!norm) {
      remark(reduce, "RMSNorm candidate: " + why);
      return failure();
    }
    auto type = cast<RankedTensorType>(x.getType());
    if (norm->getResult(0).getType() != type) {
      remark(reduce, "RMSNorm candidate: the normalized value is broadcast "
                     "beyond the input's shape");
      return failure();
    }
    int64_t d = type.getShape().back();
    Value gamma, beta;
    Operation *last = foldAffine(norm, d, type.getElementType(),
                                 /*withBias=*/false, gamma, beta);
    OpBuilder b(last);
    if (!gamma)
      gamma = createUnitScale(b, norm->getLoc(), x);
    auto op = RMSNormOp::create(b, last->getLoc(), type, x, gamma,
                                b.getF32FloatAttr(static_cast<float>(eps)),
                                b.getI64IntegerAttr(type.getRank() - 1));
    last->getResult(0).replaceAllUsesWith(op.getResult());
    return success();
  }

  LogicalResult tryLayerNorm(ReduceOp mean,
                             llvm::SmallPtrSet<Operation *, 8> &handled) {
    Value x = mean.getInput();
    // d = x - mean(x)
    auto sub = findBinaryUser<arith::SubFOp>(mean.getResult(), x, false, 0);
    if (!sub)
      return failure(); // not a candidate
    Value d = sub.getResult();
    ReduceOp var;
    for (Operation *user : d.getUsers()) {
      for (Value sq : user->getResults())
        if (getSquared(sq) == d)
          for (Operation *sqUser : sq.getUsers())
            if (auto r = dyn_cast<ReduceOp>(sqUser))
              var = r;
    }
    if (var)
      handled.insert(var);
    std::string why;
    if (failed(checkLastAxisMean(mean, why))) {
      remark(mean, "LayerNorm candidate: " + why);
      return failure();
    }
    if (!var) {
      remark(mean, "LayerNorm candidate: the centered value is not squared "
                   "and averaged");
      return failure();
    }
    if (failed(checkLastAxisMean(var, why))) {
      remark(mean, "LayerNorm candidate: variance: " + why);
      return failure();
    }
    double eps = 0;
    Operation *norm = matchNormTail(var.getResult(), d, eps, why);
    if (!norm) {
      remark(mean, "LayerNorm candidate: " + why);
      return failure();
    }
    auto type = cast<RankedTensorType>(x.getType());
    if (norm->getResult(0).getType() != type || d.getType() != type) {
      remark(mean, "LayerNorm candidate: the normalized value is broadcast "
                   "beyond the input's shape");
      return failure();
    }
    int64_t dim = type.getShape().back();
    Value gamma, beta;
    Operation *last = foldAffine(norm, dim, type.getElementType(),
                                 /*withBias=*/true, gamma, beta);
    OpBuilder b(last);
    if (!gamma)
      gamma = createUnitScale(b, norm->getLoc(), x);
    auto op = LayerNormOp::create(b, last->getLoc(), type, x, gamma, beta,
                                  b.getF32FloatAttr(static_cast<float>(eps)),
                                  b.getI64IntegerAttr(type.getRank() - 1));
    last->getResult(0).replaceAllUsesWith(op.getResult());
    return success();
  }
};
} // namespace
