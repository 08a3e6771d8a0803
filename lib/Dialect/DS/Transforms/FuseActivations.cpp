//===- FuseActivations.cpp - fuse GELU, SiLU and SwiGLU --------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// GELU anchors on `math.erf` / `math.tanh`: the argument must be
// `x / sqrt(2)` (or `x * (1/sqrt(2))`) resp. `sqrt(2/pi) * (x + 0.044715 *
// x^3)`, the user `1 + erf/tanh`, and the product of that with `x` and 0.5
// (grouped in any order, e.g. `(0.5 * x) * t` or `(x * t) * 0.5`) is the
// result. SiLU anchors on `ds.sigmoid` (or `1 / (1 + exp(-x))`) multiplied
// by its own argument. `silu(gate) * up` becomes `ds.swiglu` only when gate
// and up are the two halves of one tensor (ds.swiglu reads a merged
// gate/up projection); otherwise the ds.silu stays and ds-merge-projections
// creates the merged form.
//
//===----------------------------------------------------------------------===//

#include "FusionUtils.h"

#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/RegionUtils.h"

#include <cmath>

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFUSEACTIVATIONS
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

static constexpr llvm::StringLiteral kPass = "ds-fuse-activations";

namespace {

Value otherOperand(Operation *op, Value known) {
  if (!op || op->getNumOperands() != 2)
    return {};
  if (op->getOperand(0) == known)
    return op->getOperand(1);
  if (op->getOperand(1) == known)
    return op->getOperand(0);
  return {};
}

bool isSplat(Value v, double expected, double tol = 1e-5) {
  std::optional<double> f = fusion::getSplatFloat(v);
  return f && fusion::approxEqual(*f, expected, tol);
}

/// For `v = c * y` or `y * c` with splat c, returns y and sets `c`.
Value matchScaled(Value v, double &c) {
  auto mul = v.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return {};
  if (std::optional<double> f = fusion::getSplatFloat(mul.getRhs())) {
    c = *f;
    return mul.getLhs();
  }
  if (std::optional<double> f = fusion::getSplatFloat(mul.getLhs())) {
    c = *f;
    return mul.getRhs();
  }
  return {};
}

/// The value cubed by `v` (powf(x, 3), x*x*x in either grouping), or null.
Value getCubed(Value v) {
  if (auto pow = v.getDefiningOp<math::PowFOp>()) {
    std::optional<double> e = fusion::getSplatFloat(pow.getRhs());
    return e && *e == 3.0 ? pow.getLhs() : Value();
  }
  auto mul = v.getDefiningOp<arith::MulFOp>();
  if (!mul)
    return {};
  for (auto [sq, x] : {std::pair(mul.getLhs(), mul.getRhs()),
                       std::pair(mul.getRhs(), mul.getLhs())}) {
    auto inner = sq.getDefiningOp<arith::MulFOp>();
    if (inner && inner.getLhs() == x && inner.getRhs() == x)
      return x;
  }
  return {};
}

/// The leaves of a product tree rooted at `v` whose inner multiplications
/// have a single use (so they disappear when the tree is replaced).
void collectFactors(Value v, bool root, SmallVectorImpl<Value> &leaves) {
  auto mul = v.getDefiningOp<arith::MulFOp>();
  if (mul && (root || v.hasOneUse()) && leaves.size() < 8) {
    collectFactors(mul.getLhs(), false, leaves);
    collectFactors(mul.getRhs(), false, leaves);
    return;
  }
  leaves.push_back(v);
}

/// Whether the product rooted at `root` is exactly `x * 0.5 * t`.
bool isHalfXTimes(Value root, Value x, Value t) {
  SmallVector<Value> leaves;
  collectFactors(root, true, leaves);
  if (leaves.size() != 3)
    return false;
  bool seenX = false, seenT = false, seenHalf = false;
  for (Value l : leaves) {
    if (l == x && !seenX)
      seenX = true;
    else if (l == t && !seenT)
      seenT = true;
    else if (!seenHalf && isSplat(l, 0.5))
      seenHalf = true;
    else
      return false;
  }
  return seenX && seenT && seenHalf;
}

struct FuseActivationsPass
    : ds::impl::DSFuseActivationsBase<FuseActivationsPass> {
  using Base::Base;

  void remark(Operation *at, const Twine &why) {
    fusion::remarkMissed(emitRemarks, at, kPass, why);
  }

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<Operation *> anchors;
    func.walk([&](Operation *op) {
      if (isa<math::ErfOp, math::TanhOp, SigmoidOp, math::ExpOp>(op))
        anchors.push_back(op);
    });
    bool changed = false;
    for (Operation *op : anchors) {
      if (isa<math::ErfOp, math::TanhOp>(op))
        changed |= succeeded(tryGelu(op));
      else
        changed |= succeeded(trySilu(op));
    }
    // SwiGLU over the fused SiLUs.
    SmallVector<SiluOp> silus;
    func.walk([&](SiluOp op) { silus.push_back(op); });
    for (SiluOp silu : silus)
      changed |= succeeded(trySwiGLU(silu));
    if (changed) {
      IRRewriter rewriter(func.getContext());
      (void)runRegionDCE(rewriter, func->getRegions());
    }
  }

  /// Replaces the root of the matched product with `ds.gelu x`.
  LogicalResult tryGelu(Operation *anchor) {
    bool exact = isa<math::ErfOp>(anchor);
    StringRef name = exact ? "GELU (erf) candidate: " : "GELU (tanh) candidate: ";
    Value arg = anchor->getOperand(0);
    Value x;
    if (exact) {
      // x / sqrt(2) or x * (1 / sqrt(2)).
      if (auto div = arg.getDefiningOp<arith::DivFOp>()) {
        if (!isSplat(div.getRhs(), std::sqrt(2.0))) {
          remark(anchor, Twine(name) + "erf's argument is not x / sqrt(2)");
          return failure();
        }
        x = div.getLhs();
      } else {
        double c = 0;
        x = matchScaled(arg, c);
        if (!x || !fusion::approxEqual(c, 1.0 / std::sqrt(2.0))) {
          remark(anchor, Twine(name) + "erf's argument is not x / sqrt(2)");
          return failure();
        }
      }
    } else {
      // sqrt(2/pi) * (x + 0.044715 * x^3)
      double c = 0;
      Value inner = matchScaled(arg, c);
      if (!inner || !fusion::approxEqual(c, std::sqrt(2.0 / M_PI), 1e-4)) {
        remark(anchor, Twine(name) + "tanh's argument is not sqrt(2/pi) "
                                     "times a polynomial");
        return failure();
      }
      auto add = inner.getDefiningOp<arith::AddFOp>();
      if (!add) {
        remark(anchor, Twine(name) + "tanh's argument is not sqrt(2/pi) * "
                                     "(x + 0.044715 x^3)");
        return failure();
      }
      for (auto [a, b] : {std::pair(add.getLhs(), add.getRhs()),
                          std::pair(add.getRhs(), add.getLhs())}) {
        double k = 0;
        Value cube = matchScaled(b, k);
        if (cube && getCubed(cube) == a) {
          if (!fusion::approxEqual(k, 0.044715, 1e-4)) {
            remark(anchor, Twine(name) + "the cubic coefficient is " +
                               std::to_string(k) + ", not 0.044715");
            return failure();
          }
          x = a;
          break;
        }
      }
      if (!x) {
        remark(anchor, Twine(name) + "tanh's argument is not sqrt(2/pi) * "
                                     "(x + 0.044715 x^3)");
        return failure();
      }
    }
    // 1 + erf(...) / 1 + tanh(...)
    Value t = anchor->getResult(0);
    arith::AddFOp onePlus;
    for (Operation *user : t.getUsers())
      if (auto add = dyn_cast<arith::AddFOp>(user))
        if (isSplat(otherOperand(add, t), 1.0))
          onePlus = add;
    if (!onePlus) {
      remark(anchor, Twine(name) + "the result is not added to 1");
      return failure();
    }
    // Climb the single-use multiplications above 1 + t to the root whose
    // factors are x, 0.5 and 1 + t.
    Value cur = onePlus.getResult();
    Operation *root = nullptr;
    for (int depth = 0; depth < 3; ++depth) {
      if (!cur.hasOneUse())
        break;
      auto mul = dyn_cast<arith::MulFOp>(*cur.getUsers().begin());
      if (!mul)
        break;
      cur = mul.getResult();
      if (isHalfXTimes(cur, x, onePlus.getResult())) {
        root = mul;
        break;
      }
    }
    if (!root) {
      remark(anchor, Twine(name) + "1 + " + (exact ? "erf" : "tanh") +
                         " is not multiplied by exactly 0.5 * x");
      return failure();
    }
    if (root->getResult(0).getType() != x.getType() ||
        !isa<FloatType>(getElementTypeOrSelf(x.getType()))) {
      remark(anchor, Twine(name) + "the result is broadcast beyond x");
      return failure();
    }
    OpBuilder b(root);
    auto gelu = GeluOp::create(
        b, root->getLoc(), x,
        exact ? GeluApproximation::none : GeluApproximation::tanh);
    root->getResult(0).replaceAllUsesWith(gelu.getResult());
    return success();
  }

  /// `x * sigmoid(x)` with sigmoid as ds.sigmoid or 1 / (1 + exp(-x)).
  LogicalResult trySilu(Operation *anchor) {
    Value sig, x;
    if (auto s = dyn_cast<SigmoidOp>(anchor)) {
      sig = s.getResult();
      x = s.getInput();
    } else {
      auto neg = anchor->getOperand(0).getDefiningOp<arith::NegFOp>();
      if (!neg)
        return failure(); // exp of something else: not a candidate
      x = neg.getOperand();
      Value e = anchor->getResult(0);
      for (Operation *user : e.getUsers()) {
        auto add = dyn_cast<arith::AddFOp>(user);
        if (!add || !isSplat(otherOperand(add, e), 1.0))
          continue;
        for (Operation *addUser : add->getUsers()) {
          auto div = dyn_cast<arith::DivFOp>(addUser);
          if (div && div.getRhs() == add.getResult() &&
              isSplat(div.getLhs(), 1.0))
            sig = div.getResult();
        }
      }
      if (!sig) {
        remark(anchor, "SiLU candidate: exp(-x) does not complete "
                       "1 / (1 + exp(-x))");
        return failure();
      }
    }
    arith::MulFOp mul;
    for (Operation *user : sig.getUsers())
      if (auto m = dyn_cast<arith::MulFOp>(user))
        if (otherOperand(m, sig) == x)
          mul = m;
    if (!mul) {
      // A bare sigmoid is a legitimate op of its own; remark only on the
      // expanded form, which is a SiLU candidate by construction.
      if (!isa<SigmoidOp>(anchor))
        remark(anchor, "SiLU candidate: the sigmoid is not multiplied by "
                       "its own argument");
      return failure();
    }
    if (mul.getType() != x.getType())
      return failure();
    OpBuilder b(mul);
    auto silu = SiluOp::create(b, mul.getLoc(), x);
    mul.getResult().replaceAllUsesWith(silu.getResult());
    return success();
  }

  /// `silu(t[..., :F]) * t[..., F:]` -> `ds.swiglu t`.
  LogicalResult trySwiGLU(SiluOp silu) {
    arith::MulFOp mul;
    for (Operation *user : silu->getUsers())
      if (auto m = dyn_cast<arith::MulFOp>(user))
        mul = m;
    if (!mul || !silu->hasOneUse())
      return failure();
    Value up = otherOperand(mul, silu.getResult());
    if (!up || up.getType() != silu.getType())
      return failure();
    auto gateSlice = silu.getInput().getDefiningOp<tensor::ExtractSliceOp>();
    auto upSlice = up.getDefiningOp<tensor::ExtractSliceOp>();
    // Separate gate and up projections are no miss: ds-merge-projections
    // merges them into one GEMM and ds.swiglu (and says why when not).
    if (!gateSlice || !upSlice)
      return failure();
    auto why = [&]() -> const char * {
      if (gateSlice.getSource() != upSlice.getSource())
        return "gate and up are slices of different tensors";
      auto src = gateSlice.getSourceType();
      auto res = gateSlice.getResultType();
      int64_t rank = src.getRank();
      if (res.getRank() != rank || rank < 1 || src.isDynamicDim(rank - 1) ||
          src.getShape().back() != 2 * res.getShape().back())
        return "the slices are not the two halves of the last dimension";
      if (!gateSlice.hasUnitStride() || !upSlice.hasUnitStride())
        return "strided slices";
      int64_t f = res.getShape().back();
      for (auto [slice, off] : {std::pair(gateSlice, int64_t(0)),
                                std::pair(upSlice, f)}) {
        SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
        SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
        for (int64_t i = 0; i < rank; ++i) {
          std::optional<int64_t> o = getConstantIntValue(offsets[i]);
          if (!o || *o != (i == rank - 1 ? off : 0))
            return "the slices are not the two halves of the last dimension";
          if (i == rank - 1)
            continue;
          std::optional<int64_t> s = getConstantIntValue(sizes[i]);
          if (src.isDynamicDim(i)) {
            // A dynamic full-size slice reads tensor.dim of the source.
            auto dim = dyn_cast_if_present<Value>(sizes[i]);
            auto dimOp = dim ? dim.getDefiningOp<tensor::DimOp>() : nullptr;
            std::optional<int64_t> idx =
                dimOp ? dimOp.getConstantIndex() : std::nullopt;
            if (!dimOp || dimOp.getSource() != slice.getSource() || idx != i)
              return "the slices do not cover the leading dimensions";
          } else if (!s || *s != src.getDimSize(i)) {
            return "the slices do not cover the leading dimensions";
          }
        }
      }
      return nullptr;
    }();
    if (why) {
      remark(mul, Twine("SwiGLU candidate: ") + why);
      return failure();
    }
    if (mul.getType() != silu.getType())
      return failure();
    OpBuilder b(mul);
    auto swiglu = SwiGLUOp::create(b, mul.getLoc(), mul.getType(),
                                   gateSlice.getSource());
    mul.getResult().replaceAllUsesWith(swiglu.getResult());
    return success();
  }
};
} // namespace
