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

/// Recursion limit of the analyses: mask chains are a few dozen ops deep;
/// anything deeper is treated as unknown rather than risking the stack.
static constexpr unsigned kMaxDepth = 128;

//===----------------------------------------------------------------------===//
// Symbolic integers
//===----------------------------------------------------------------------===//

namespace {

/// `constant + sum(coef * atom)`: an integer scalar in terms of SSA values
/// the analysis does not look through (a sequence length, a past length).
/// Equal SSA values are equal at run time, so equal expressions are equal.
struct SymExpr {
  int64_t constant = 0;
  /// Sorted by the atom's opaque pointer; no zero coefficients.
  SmallVector<std::pair<Value, int64_t>, 2> terms;

  static SymExpr of(int64_t c) {
    SymExpr e;
    e.constant = c;
    return e;
  }
  static SymExpr atom(Value v) {
    SymExpr e;
    e.terms.push_back({v, 1});
    return e;
  }
  bool isConstant() const { return terms.empty(); }
  bool operator==(const SymExpr &o) const {
    return constant == o.constant && terms == o.terms;
  }
  bool operator!=(const SymExpr &o) const { return !(*this == o); }
};

/// `a + k * b`, or nullopt on overflow.
std::optional<SymExpr> addSym(const SymExpr &a, const SymExpr &b,
                              int64_t k = 1) {
  SymExpr r;
  std::optional<int64_t> kb = llvm::checkedMul(k, b.constant);
  if (!kb)
    return std::nullopt;
  std::optional<int64_t> c = llvm::checkedAdd(a.constant, *kb);
  if (!c)
    return std::nullopt;
  r.constant = *c;
  auto less = [](Value x, Value y) {
    return x.getAsOpaquePointer() < y.getAsOpaquePointer();
  };
  size_t i = 0, j = 0;
  while (i < a.terms.size() || j < b.terms.size()) {
    if (j == b.terms.size() ||
        (i < a.terms.size() && less(a.terms[i].first, b.terms[j].first))) {
      r.terms.push_back(a.terms[i++]);
      continue;
    }
    std::optional<int64_t> kt = llvm::checkedMul(k, b.terms[j].second);
    if (!kt)
      return std::nullopt;
    if (i == a.terms.size() || less(b.terms[j].first, a.terms[i].first)) {
      if (*kt != 0)
        r.terms.push_back({b.terms[j].first, *kt});
      ++j;
      continue;
    }
    std::optional<int64_t> sum = llvm::checkedAdd(a.terms[i].second, *kt);
    if (!sum)
      return std::nullopt;
    if (*sum != 0)
      r.terms.push_back({a.terms[i].first, *sum});
    ++i;
    ++j;
  }
  return r;
}

std::optional<SymExpr> scaleSym(const SymExpr &a, int64_t k) {
  return addSym(SymExpr::of(0), a, k);
}

/// The per-element value of an integer tensor:
/// `base + sum(coefs[d] * index[d])`.
struct IndexForm {
  SymExpr base;
  SmallVector<int64_t, 4> coefs;

  static IndexForm uniform(SymExpr base, unsigned rank) {
    IndexForm f;
    f.base = std::move(base);
    f.coefs.assign(rank, 0);
    return f;
  }
  bool isUniform() const {
    return llvm::all_of(coefs, [](int64_t c) { return c == 0; });
  }
  bool isConstant() const { return isUniform() && base.isConstant(); }
  bool operator==(const IndexForm &o) const {
    return base == o.base && coefs == o.coefs;
  }
};

/// `a + k * b` for forms of one rank.
std::optional<IndexForm> addForms(const IndexForm &a, const IndexForm &b,
                                  int64_t k = 1) {
  if (a.coefs.size() != b.coefs.size())
    return std::nullopt;
  std::optional<SymExpr> base = addSym(a.base, b.base, k);
  if (!base)
    return std::nullopt;
  IndexForm r;
  r.base = std::move(*base);
  for (auto [x, y] : llvm::zip_equal(a.coefs, b.coefs)) {
    std::optional<int64_t> ky = llvm::checkedMul(k, y);
    if (!ky)
      return std::nullopt;
    std::optional<int64_t> s = llvm::checkedAdd(x, *ky);
    if (!s)
      return std::nullopt;
    r.coefs.push_back(*s);
  }
  return r;
}

std::optional<IndexForm> scaleForm(const IndexForm &a, int64_t k) {
  return addForms(IndexForm::uniform(SymExpr::of(0), a.coefs.size()), a, k);
}

/// A dimension of static size 1 has index 0: its coefficient is irrelevant
/// and is zeroed so that equal functions have equal forms.
void normalize(IndexForm &f, RankedTensorType type) {
  for (auto [c, size] : llvm::zip_equal(f.coefs, type.getShape()))
    if (size == 1)
      c = 0;
}

/// One conjunct of a boolean mask.
struct Atom {
  enum Kind { LE, EQ, NE, Opaque } kind;
  /// LE/EQ/NE: `expr <= 0`, `expr == 0`, `expr != 0`.
  IndexForm expr;
  /// Opaque: an i1 tensor broadcasting (trailing dimensions aligned) to the
  /// frame of the mask it is a conjunct of.
  Value value;
};

/// A boolean tensor: false, or the conjunction of `atoms` (true if empty).
struct BoolForm {
  bool isFalse = false;
  SmallVector<Atom, 2> atoms;

  static BoolForm constant(bool b) {
    BoolForm f;
    f.isFalse = !b;
    return f;
  }
  static BoolForm opaque(Value v) {
    BoolForm f;
    f.atoms.push_back({Atom::Opaque, {}, v});
    return f;
  }
  std::optional<bool> getConstant() const {
    if (isFalse)
      return false;
    if (atoms.empty())
      return true;
    return std::nullopt;
  }
};

/// Folds a comparison atom whose truth does not depend on the element:
/// a constant, or `c + sum(a_d * i_d) <= 0` with every index `i_d >= 0`
/// and all `a_d <= 0, c <= 0` (true) or all `a_d >= 0, c > 0` (false).
BoolForm simplifyAtom(Atom atom) {
  const IndexForm &e = atom.expr;
  if (atom.kind != Atom::Opaque && e.base.isConstant()) {
    int64_t c = e.base.constant;
    if (e.isUniform()) {
      switch (atom.kind) {
      case Atom::LE:
        return BoolForm::constant(c <= 0);
      case Atom::EQ:
        return BoolForm::constant(c == 0);
      case Atom::NE:
        return BoolForm::constant(c != 0);
      case Atom::Opaque:
        break;
      }
    }
    if (atom.kind == Atom::LE) {
      if (c <= 0 && llvm::all_of(e.coefs, [](int64_t a) { return a <= 0; }))
        return BoolForm::constant(true);
      if (c > 0 && llvm::all_of(e.coefs, [](int64_t a) { return a >= 0; }))
        return BoolForm::constant(false);
    }
  }
  BoolForm f;
  f.atoms.push_back(std::move(atom));
  return f;
}

BoolForm conjoin(const BoolForm &a, const BoolForm &b) {
  if (a.isFalse || b.isFalse)
    return BoolForm::constant(false);
  BoolForm r = a;
  r.atoms.append(b.atoms.begin(), b.atoms.end());
  return r;
}

/// The negation of `f` when it is a constant or one comparison.
std::optional<BoolForm> negate(const BoolForm &f) {
  if (std::optional<bool> c = f.getConstant())
    return BoolForm::constant(!*c);
  if (f.atoms.size() != 1)
    return std::nullopt;
  Atom a = f.atoms.front();
  switch (a.kind) {
  case Atom::LE: {
    // !(e <= 0)  <=>  e >= 1  <=>  -e + 1 <= 0 over the integers.
    std::optional<IndexForm> ne = scaleForm(a.expr, -1);
    if (!ne)
      return std::nullopt;
    std::optional<SymExpr> b = addSym(ne->base, SymExpr::of(1));
    if (!b)
      return std::nullopt;
    ne->base = *b;
    return simplifyAtom({Atom::LE, *ne, {}});
  }
  case Atom::EQ:
    return simplifyAtom({Atom::NE, a.expr, {}});
  case Atom::NE:
    return simplifyAtom({Atom::EQ, a.expr, {}});
  case Atom::Opaque:
    return std::nullopt;
  }
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Index-expression analysis
//===----------------------------------------------------------------------===//

/// Maps integer tensors to IndexForms and boolean tensors to BoolForms
/// through the ops causal-mask subgraphs are built from. Sound by
/// construction: an op it has no rule for makes an integer unknown and a
/// boolean opaque.
class MaskAnalysis {
public:
  std::optional<SymExpr> scalar(Value v);
  std::optional<SymExpr> dimSize(Value tensor, unsigned d);
  std::optional<IndexForm> intForm(Value v);
  BoolForm boolForm(Value v);

private:
  std::optional<SymExpr> scalarImpl(Value v);
  std::optional<SymExpr> dimSizeImpl(Value tensor, unsigned d);
  std::optional<IndexForm> intFormImpl(Value v);
  BoolForm boolFormImpl(Value v);
  std::optional<SymExpr> ofr(OpFoldResult r);
  std::optional<IndexForm> bodyForm(Value v, Block *body);

  /// Rank-changing and data-movement ops: the form of the result from the
  /// form of operand 0 (or of all inputs for a concat). `f` lives in the
  /// index space of `op`'s first operand.
  std::optional<IndexForm> transfer(Operation *op, const IndexForm &f);
  std::optional<IndexForm> transferConcat(tensor::ConcatOp op,
                                          ArrayRef<IndexForm> forms);
  std::optional<BoolForm> transferBool(Operation *op, const BoolForm &f);

  DenseMap<Value, std::optional<SymExpr>> scalarCache;
  DenseMap<std::pair<Value, unsigned>, std::optional<SymExpr>> dimCache;
  DenseMap<Value, std::optional<IndexForm>> intCache;
  DenseMap<Value, BoolForm> boolCache;
  unsigned depth = 0;
};

/// RAII depth counter for the recursive analyses.
struct DepthGuard {
  unsigned &depth;
  explicit DepthGuard(unsigned &d) : depth(d) { ++depth; }
  ~DepthGuard() { --depth; }
  bool exceeded() const { return depth > kMaxDepth; }
};

bool isElementwise(Operation *op) {
  return op->hasTrait<OpTrait::Elementwise>() ||
         op->hasTrait<OpTrait::SameOperandsAndResultType>();
}

} // namespace

std::optional<SymExpr> MaskAnalysis::ofr(OpFoldResult r) {
  if (std::optional<int64_t> c = getConstantIntValue(r))
    return SymExpr::of(*c);
  return scalar(cast<Value>(r));
}

std::optional<SymExpr> MaskAnalysis::scalar(Value v) {
  auto it = scalarCache.find(v);
  if (it != scalarCache.end())
    return it->second;
  DepthGuard guard(depth);
  std::optional<SymExpr> r = guard.exceeded()
                                 ? std::optional<SymExpr>(SymExpr::atom(v))
                                 : scalarImpl(v);
  scalarCache[v] = r;
  return r;
}

std::optional<SymExpr> MaskAnalysis::scalarImpl(Value v) {
  if (!v.getType().isIntOrIndex())
    return std::nullopt;
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return SymExpr::of(*c);
  Operation *op = v.getDefiningOp();
  if (!op)
    return SymExpr::atom(v);
  // Casts between index and the integer types the exporters use keep the
  // value (no wrap-around, see the file comment).
  if (isa<arith::IndexCastOp, arith::ExtSIOp>(op))
    return scalar(op->getOperand(0));
  if (isa<arith::AddIOp, arith::SubIOp>(op)) {
    std::optional<SymExpr> a = scalar(op->getOperand(0));
    std::optional<SymExpr> b = scalar(op->getOperand(1));
    if (a && b)
      if (std::optional<SymExpr> r =
              addSym(*a, *b, isa<arith::AddIOp>(op) ? 1 : -1))
        return r;
    return SymExpr::atom(v);
  }
  if (isa<arith::MulIOp>(op)) {
    std::optional<SymExpr> a = scalar(op->getOperand(0));
    std::optional<SymExpr> b = scalar(op->getOperand(1));
    if (a && b) {
      if (a->isConstant())
        std::swap(a, b);
      if (b->isConstant())
        if (std::optional<SymExpr> r = scaleSym(*a, b->constant))
          return r;
    }
    return SymExpr::atom(v);
  }
  if (auto dim = dyn_cast<tensor::DimOp>(op))
    if (std::optional<int64_t> index = dim.getConstantIndex())
      if (*index >= 0)
        if (std::optional<SymExpr> size =
                dimSize(dim.getSource(), static_cast<unsigned>(*index)))
          return size;
  return SymExpr::atom(v);
}

std::optional<SymExpr> MaskAnalysis::dimSize(Value tensor, unsigned d) {
  auto key = std::make_pair(tensor, d);
  auto it = dimCache.find(key);
  if (it != dimCache.end())
    return it->second;
  DepthGuard guard(depth);
  std::optional<SymExpr> r =
      guard.exceeded() ? std::nullopt : dimSizeImpl(tensor, d);
  dimCache[key] = r;
  return r;
}

/// The position of dynamic dimension `d` among the dynamic dimensions.
static unsigned dynamicIndex(RankedTensorType type, unsigned d) {
  unsigned n = 0;
  for (unsigned i = 0; i < d; ++i)
    n += type.isDynamicDim(i);
  return n;
}

std::optional<SymExpr> MaskAnalysis::dimSizeImpl(Value tensor, unsigned d) {
  auto type = dyn_cast<RankedTensorType>(tensor.getType());
  if (!type || d >= type.getRank())
    return std::nullopt;
  if (!type.isDynamicDim(d))
    return SymExpr::of(type.getDimSize(d));
  Operation *op = tensor.getDefiningOp();
  if (!op)
    return std::nullopt;
  unsigned dyn = dynamicIndex(type, d);
  if (auto b = dyn_cast<BroadcastOp>(op)) {
    if (dyn < b.getDynamicDims().size())
      return scalar(b.getDynamicDims()[dyn]);
    return std::nullopt;
  }
  if (auto e = dyn_cast<tensor::EmptyOp>(op))
    return scalar(e.getDynamicSize(d));
  if (auto s = dyn_cast<tensor::SplatOp>(op)) {
    if (dyn < s.getDynamicSizes().size())
      return scalar(s.getDynamicSizes()[dyn]);
    return std::nullopt;
  }
  if (auto g = dyn_cast<tensor::GenerateOp>(op)) {
    if (dyn < g.getDynamicExtents().size())
      return scalar(g.getDynamicExtents()[dyn]);
    return std::nullopt;
  }
  if (auto e = dyn_cast<tensor::ExpandShapeOp>(op)) {
    SmallVector<OpFoldResult> shape = e.getMixedOutputShape();
    if (d < shape.size())
      return ofr(shape[d]);
    return std::nullopt;
  }
  if (auto s = dyn_cast<tensor::ExtractSliceOp>(op)) {
    llvm::SmallBitVector dropped = s.getDroppedDims();
    SmallVector<OpFoldResult> sizes = s.getMixedSizes();
    unsigned r = 0;
    for (unsigned k = 0; k < sizes.size(); ++k) {
      if (dropped.test(k))
        continue;
      if (r++ == d)
        return ofr(sizes[k]);
    }
    return std::nullopt;
  }
  if (auto c = dyn_cast<tensor::CollapseShapeOp>(op)) {
    SmallVector<ReassociationIndices, 4> groups = c.getReassociationIndices();
    if (d >= groups.size())
      return std::nullopt;
    // The product of the group: linear when at most one size is symbolic.
    SymExpr product = SymExpr::of(1);
    for (int64_t k : groups[d]) {
      std::optional<SymExpr> size = dimSize(c.getSrc(), k);
      if (!size)
        return std::nullopt;
      if (size->isConstant()) {
        std::optional<SymExpr> p = scaleSym(product, size->constant);
        if (!p)
          return std::nullopt;
        product = *p;
      } else if (product.isConstant()) {
        std::optional<SymExpr> p = scaleSym(*size, product.constant);
        if (!p)
          return std::nullopt;
        product = *p;
      } else {
        return std::nullopt;
      }
    }
    return product;
  }
  if (auto c = dyn_cast<tensor::ConcatOp>(op)) {
    if (c.getDim() != d) {
      for (Value in : c.getInputs())
        if (std::optional<SymExpr> size = dimSize(in, d))
          return size;
      return std::nullopt;
    }
    SymExpr sum = SymExpr::of(0);
    for (Value in : c.getInputs()) {
      std::optional<SymExpr> size = dimSize(in, d);
      if (!size)
        return std::nullopt;
      std::optional<SymExpr> s = addSym(sum, *size);
      if (!s)
        return std::nullopt;
      sum = *s;
    }
    return sum;
  }
  if (auto t = dyn_cast<linalg::TransposeOp>(op)) {
    if (t->getNumResults() != 1)
      return std::nullopt;
    if (std::optional<SymExpr> size = dimSize(t.getInit(), d))
      return size;
    ArrayRef<int64_t> perm = t.getPermutation();
    if (d < perm.size())
      return dimSize(t.getInput(), perm[d]);
    return std::nullopt;
  }
  if (auto m = dyn_cast<MatMulOp>(op)) {
    auto lhs = cast<RankedTensorType>(m.getLhs().getType());
    auto rhs = cast<RankedTensorType>(m.getRhs().getType());
    unsigned rank = type.getRank();
    if (lhs.getRank() != rank || rhs.getRank() != rank || rank < 2)
      return std::nullopt;
    if (d == rank - 1)
      return dimSize(m.getRhs(), d);
    if (d == rank - 2)
      return dimSize(m.getLhs(), d);
    if (std::optional<SymExpr> size = dimSize(m.getLhs(), d))
      return size;
    return dimSize(m.getRhs(), d);
  }
  if (isElementwise(op) || isa<arith::SelectOp>(op)) {
    for (Value operand : op->getOperands()) {
      auto t = dyn_cast<RankedTensorType>(operand.getType());
      if (!t || t.getShape() != type.getShape())
        continue;
      if (std::optional<SymExpr> size = dimSize(operand, d))
        return size;
    }
  }
  return std::nullopt;
}

std::optional<IndexForm> MaskAnalysis::intForm(Value v) {
  auto it = intCache.find(v);
  if (it != intCache.end())
    return it->second;
  DepthGuard guard(depth);
  std::optional<IndexForm> r = guard.exceeded() ? std::nullopt : intFormImpl(v);
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (r && (!type || r->coefs.size() != static_cast<size_t>(type.getRank())))
    r = std::nullopt;
  if (r)
    normalize(*r, type);
  intCache[v] = r;
  return r;
}

std::optional<IndexForm> MaskAnalysis::bodyForm(Value v, Block *body) {
  unsigned rank = body->getNumArguments();
  if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getOwner() == body) {
    IndexForm f = IndexForm::uniform(SymExpr::of(0), rank);
    f.coefs[arg.getArgNumber()] = 1;
    return f;
  }
  // Values from outside the generate body are the same for every element.
  if (!body->getParent()->isAncestor(v.getParentRegion())) {
    std::optional<SymExpr> s = scalar(v);
    if (!s)
      return std::nullopt;
    return IndexForm::uniform(*s, rank);
  }
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return IndexForm::uniform(SymExpr::of(*c), rank);
  if (isa<arith::IndexCastOp, arith::ExtSIOp>(op))
    return bodyForm(op->getOperand(0), body);
  if (isa<arith::AddIOp, arith::SubIOp, arith::MulIOp>(op)) {
    std::optional<IndexForm> a = bodyForm(op->getOperand(0), body);
    std::optional<IndexForm> b = bodyForm(op->getOperand(1), body);
    if (!a || !b)
      return std::nullopt;
    if (isa<arith::MulIOp>(op)) {
      if (a->isConstant())
        std::swap(a, b);
      if (!b->isConstant())
        return std::nullopt;
      return scaleForm(*a, b->base.constant);
    }
    return addForms(*a, *b, isa<arith::AddIOp>(op) ? 1 : -1);
  }
  return std::nullopt;
}

std::optional<IndexForm> MaskAnalysis::intFormImpl(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.getElementType().isIntOrIndex() ||
      type.getElementType().isInteger(1))
    return std::nullopt;
  unsigned rank = type.getRank();
  if (std::optional<int64_t> c = fusion::getSplatInt(v))
    return IndexForm::uniform(SymExpr::of(*c), rank);
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;

  if (auto g = dyn_cast<tensor::GenerateOp>(op)) {
    Block &body = g.getBody().front();
    auto yield = dyn_cast<tensor::YieldOp>(body.getTerminator());
    if (!yield || body.getNumArguments() != rank)
      return std::nullopt;
    return bodyForm(yield.getValue(), &body);
  }
  if (auto s = dyn_cast<tensor::SplatOp>(op)) {
    std::optional<SymExpr> e = scalar(s.getInput());
    if (!e)
      return std::nullopt;
    return IndexForm::uniform(*e, rank);
  }
  if (auto f = dyn_cast<tensor::FromElementsOp>(op)) {
    if (f.getElements().size() != 1)
      return std::nullopt;
    std::optional<SymExpr> e = scalar(f.getElements().front());
    if (!e)
      return std::nullopt;
    return IndexForm::uniform(*e, rank);
  }
  if (isa<arith::AddIOp, arith::SubIOp, arith::MulIOp>(op)) {
    std::optional<IndexForm> a = intForm(op->getOperand(0));
    std::optional<IndexForm> b = intForm(op->getOperand(1));
    if (!a || !b)
      return std::nullopt;
    if (isa<arith::MulIOp>(op)) {
      if (a->isConstant())
        std::swap(a, b);
      if (!b->isConstant())
        return std::nullopt;
      return scaleForm(*a, b->base.constant);
    }
    return addForms(*a, *b, isa<arith::AddIOp>(op) ? 1 : -1);
  }
  if (isa<arith::IndexCastOp, arith::ExtSIOp>(op))
    return intForm(op->getOperand(0));
  if (auto ext = dyn_cast<arith::ExtUIOp>(op)) {
    auto inType = dyn_cast<RankedTensorType>(ext.getIn().getType());
    if (!inType || !inType.getElementType().isInteger(1))
      return std::nullopt;
    if (std::optional<bool> c = boolForm(ext.getIn()).getConstant())
      return IndexForm::uniform(SymExpr::of(*c ? 1 : 0), rank);
    return std::nullopt;
  }
  if (auto sel = dyn_cast<arith::SelectOp>(op)) {
    if (!isa<RankedTensorType>(sel.getCondition().getType()))
      return std::nullopt;
    std::optional<bool> c = boolForm(sel.getCondition()).getConstant();
    if (c)
      return intForm(*c ? sel.getTrueValue() : sel.getFalseValue());
    std::optional<IndexForm> a = intForm(sel.getTrueValue());
    std::optional<IndexForm> b = intForm(sel.getFalseValue());
    if (a && b && *a == *b)
      return a;
    return std::nullopt;
  }
  if (auto cs = dyn_cast<CumSumOp>(op)) {
    // The running sum of a constant c along an axis: c * (i + 1), or c * i
    // when exclusive (reversed sums need the axis size; only c = 0 then).
    std::optional<IndexForm> in = intForm(cs.getInput());
    if (!in || !in->isConstant())
      return std::nullopt;
    int64_t c = in->base.constant;
    if (c == 0)
      return in;
    int64_t axis = cs.getAxis();
    if (axis < 0)
      axis += rank;
    if (cs.getReverse() || axis < 0 || axis >= static_cast<int64_t>(rank))
      return std::nullopt;
    IndexForm r =
        IndexForm::uniform(SymExpr::of(cs.getExclusive() ? 0 : c), rank);
    r.coefs[axis] = c;
    return r;
  }
  // Gathering from a tensor whose elements are all equal gives that value.
  if (isa<GatherOp, GatherNDOp, GatherElementsOp>(op)) {
    std::optional<IndexForm> data = intForm(op->getOperand(0));
    if (data && data->isUniform())
      return IndexForm::uniform(data->base, rank);
    return std::nullopt;
  }
  if (auto c = dyn_cast<tensor::ConcatOp>(op)) {
    SmallVector<IndexForm> forms;
    for (Value in : c.getInputs()) {
      std::optional<IndexForm> f = intForm(in);
      if (!f)
        return std::nullopt;
      forms.push_back(*f);
    }
    return transferConcat(c, forms);
  }
  if (isa<BroadcastOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp,
          tensor::ExtractSliceOp, linalg::TransposeOp>(op)) {
    std::optional<IndexForm> in = intForm(op->getOperand(0));
    if (!in)
      return std::nullopt;
    return transfer(op, *in);
  }
  return std::nullopt;
}

std::optional<IndexForm> MaskAnalysis::transfer(Operation *op,
                                                const IndexForm &f) {
  if (op->getNumResults() != 1)
    return std::nullopt;
  auto inType = dyn_cast<RankedTensorType>(op->getOperand(0).getType());
  auto outType = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!inType || !outType ||
      f.coefs.size() != static_cast<size_t>(inType.getRank()))
    return std::nullopt;
  unsigned outRank = outType.getRank();

  if (isa<BroadcastOp>(op)) {
    // Trailing dimensions align; broadcast dimensions (size 1 in the input,
    // coefficient already 0) and new leading ones do not move the value.
    if (inType.getRank() > outRank)
      return std::nullopt;
    unsigned off = outRank - inType.getRank();
    IndexForm r = IndexForm::uniform(f.base, outRank);
    for (unsigned d = 0; d < inType.getRank(); ++d)
      r.coefs[off + d] = f.coefs[d];
    return r;
  }
  if (auto t = dyn_cast<linalg::TransposeOp>(op)) {
    ArrayRef<int64_t> perm = t.getPermutation();
    if (perm.size() != outRank || inType.getRank() != outRank)
      return std::nullopt;
    IndexForm r = IndexForm::uniform(f.base, outRank);
    for (unsigned d = 0; d < outRank; ++d)
      r.coefs[d] = f.coefs[perm[d]];
    return r;
  }
  if (auto e = dyn_cast<tensor::ExpandShapeOp>(op)) {
    // in[g] = sum_k out[k] * (product of the sizes after k in the group).
    IndexForm r = IndexForm::uniform(f.base, outRank);
    for (auto [i, group] : llvm::enumerate(e.getReassociationIndices())) {
      int64_t stride = 1;
      bool strideKnown = true;
      for (int64_t k : llvm::reverse(group)) {
        int64_t size = outType.getDimSize(k);
        if (size != 1 && f.coefs[i] != 0) {
          if (!strideKnown)
            return std::nullopt;
          std::optional<int64_t> c = llvm::checkedMul(f.coefs[i], stride);
          if (!c)
            return std::nullopt;
          r.coefs[k] = *c;
        }
        if (ShapedType::isDynamic(size)) {
          strideKnown = false;
        } else if (std::optional<int64_t> s = llvm::checkedMul(stride, size)) {
          stride = *s;
        } else {
          strideKnown = false;
        }
      }
    }
    return r;
  }
  if (auto c = dyn_cast<tensor::CollapseShapeOp>(op)) {
    // Affine only when at most one dimension of a group is not a unit one
    // (then it is the collapsed index) or the group does not affect the value.
    IndexForm r = IndexForm::uniform(f.base, outRank);
    for (auto [j, group] : llvm::enumerate(c.getReassociationIndices())) {
      SmallVector<int64_t> live;
      for (int64_t k : group)
        if (inType.getDimSize(k) != 1)
          live.push_back(k);
      if (live.size() == 1) {
        r.coefs[j] = f.coefs[live.front()];
        continue;
      }
      if (llvm::any_of(live, [&](int64_t k) { return f.coefs[k] != 0; }))
        return std::nullopt;
    }
    return r;
  }
  if (auto s = dyn_cast<tensor::ExtractSliceOp>(op)) {
    // in[k] = offset[k] + stride[k] * out[r]; dropped dims stay at offset.
    llvm::SmallBitVector dropped = s.getDroppedDims();
    SmallVector<OpFoldResult> offsets = s.getMixedOffsets();
    SmallVector<OpFoldResult> strides = s.getMixedStrides();
    if (offsets.size() != static_cast<size_t>(inType.getRank()))
      return std::nullopt;
    IndexForm r = IndexForm::uniform(f.base, outRank);
    unsigned outDim = 0;
    for (unsigned k = 0; k < inType.getRank(); ++k) {
      if (f.coefs[k] != 0) {
        std::optional<SymExpr> off = ofr(offsets[k]);
        if (!off)
          return std::nullopt;
        std::optional<SymExpr> b = addSym(r.base, *off, f.coefs[k]);
        if (!b)
          return std::nullopt;
        r.base = *b;
      }
      if (dropped.test(k))
        continue;
      if (outDim >= outRank)
        return std::nullopt;
      if (f.coefs[k] != 0) {
        std::optional<int64_t> stride = getConstantIntValue(strides[k]);
        if (!stride)
          return std::nullopt;
        std::optional<int64_t> c = llvm::checkedMul(f.coefs[k], *stride);
        if (!c)
          return std::nullopt;
        r.coefs[outDim] = *c;
      }
      ++outDim;
    }
    return r;
  }
  return std::nullopt;
}

std::optional<IndexForm>
MaskAnalysis::transferConcat(tensor::ConcatOp op, ArrayRef<IndexForm> forms) {
  auto outType = cast<RankedTensorType>(op.getResult().getType());
  unsigned d = op.getDim();
  if (forms.empty() || d >= outType.getRank())
    return std::nullopt;
  // Each piece in the result's coordinates: in[d] = out[d] - offset.
  SmallVector<IndexForm> global;
  SmallVector<SymExpr> offsets;
  SmallVector<bool> unit;
  SymExpr offset = SymExpr::of(0);
  if (forms.size() != op.getInputs().size())
    return std::nullopt;
  for (unsigned p = 0; p < forms.size(); ++p) {
    Value in = op.getInputs()[p];
    const IndexForm &f = forms[p];
    if (f.coefs.size() != static_cast<size_t>(outType.getRank()))
      return std::nullopt;
    IndexForm g = f;
    if (f.coefs[d] != 0) {
      std::optional<SymExpr> b = addSym(g.base, offset, -f.coefs[d]);
      if (!b)
        return std::nullopt;
      g.base = *b;
    }
    global.push_back(g);
    offsets.push_back(offset);
    auto inType = cast<RankedTensorType>(in.getType());
    unit.push_back(inType.getDimSize(d) == 1);
    if (p + 1 == forms.size())
      break;
    std::optional<SymExpr> size = dimSize(in, d);
    if (!size)
      return std::nullopt;
    std::optional<SymExpr> next = addSym(offset, *size);
    if (!next)
      return std::nullopt;
    offset = *next;
  }
  // One affine function must cover every piece. A unit piece only fixes the
  // function at its offset.
  const IndexForm *cand = nullptr;
  for (auto [g, isUnit] : llvm::zip_equal(global, unit))
    if (!isUnit) {
      cand = &g;
      break;
    }
  if (!cand)
    return forms.size() == 1 ? std::optional<IndexForm>(forms.front())
                             : std::nullopt;
  for (auto [g, off, isUnit] : llvm::zip_equal(global, offsets, unit)) {
    if (!isUnit) {
      if (!(g == *cand))
        return std::nullopt;
      continue;
    }
    for (unsigned k = 0; k < g.coefs.size(); ++k)
      if (k != d && g.coefs[k] != cand->coefs[k])
        return std::nullopt;
    std::optional<SymExpr> at = addSym(cand->base, off, cand->coefs[d]);
    if (!at || *at != g.base)
      return std::nullopt;
  }
  return *cand;
}

std::optional<BoolForm> MaskAnalysis::transferBool(Operation *op,
                                                   const BoolForm &f) {
  if (f.getConstant())
    return f;
  BoolForm r;
  for (const Atom &a : f.atoms) {
    if (a.kind == Atom::Opaque) {
      // A broadcast only moves the frame an opaque conjunct broadcasts to.
      if (!isa<BroadcastOp>(op))
        return std::nullopt;
      r.atoms.push_back(a);
      continue;
    }
    std::optional<IndexForm> e = transfer(op, a.expr);
    if (!e)
      return std::nullopt;
    normalize(*e, cast<RankedTensorType>(op->getResult(0).getType()));
    BoolForm s = simplifyAtom({a.kind, *e, {}});
    r = conjoin(r, s);
  }
  return r;
}

BoolForm MaskAnalysis::boolForm(Value v) {
  auto it = boolCache.find(v);
  if (it != boolCache.end())
    return it->second;
  DepthGuard guard(depth);
  BoolForm r = guard.exceeded() ? BoolForm::opaque(v) : boolFormImpl(v);
  boolCache[v] = r;
  return r;
}

BoolForm MaskAnalysis::boolFormImpl(Value v) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.getElementType().isInteger(1))
    return BoolForm::opaque(v);
  if (std::optional<int64_t> c = fusion::getSplatInt(v))
    return BoolForm::constant(*c != 0);
  Operation *op = v.getDefiningOp();
  if (!op)
    return BoolForm::opaque(v);

  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    std::optional<IndexForm> a = intForm(cmp.getLhs());
    std::optional<IndexForm> b = intForm(cmp.getRhs());
    if (!a || !b)
      return BoolForm::opaque(v);
    // Everything as `e <= 0`, `e == 0` or `e != 0` over the integers.
    std::optional<IndexForm> e;
    int64_t bias = 0;
    Atom::Kind kind = Atom::LE;
    switch (cmp.getPredicate()) {
    case arith::CmpIPredicate::sle:
      e = addForms(*a, *b, -1);
      break;
    case arith::CmpIPredicate::slt:
      e = addForms(*a, *b, -1);
      bias = 1;
      break;
    case arith::CmpIPredicate::sge:
      e = addForms(*b, *a, -1);
      break;
    case arith::CmpIPredicate::sgt:
      e = addForms(*b, *a, -1);
      bias = 1;
      break;
    case arith::CmpIPredicate::eq:
      e = addForms(*a, *b, -1);
      kind = Atom::EQ;
      break;
    case arith::CmpIPredicate::ne:
      e = addForms(*a, *b, -1);
      kind = Atom::NE;
      break;
    default:
      return BoolForm::opaque(v);
    }
    if (!e)
      return BoolForm::opaque(v);
    std::optional<SymExpr> base = addSym(e->base, SymExpr::of(bias));
    if (!base)
      return BoolForm::opaque(v);
    e->base = *base;
    normalize(*e, type);
    return simplifyAtom({kind, *e, {}});
  }
  if (auto andOp = dyn_cast<arith::AndIOp>(op))
    return conjoin(boolForm(andOp.getLhs()), boolForm(andOp.getRhs()));
  if (auto orOp = dyn_cast<arith::OrIOp>(op)) {
    BoolForm a = boolForm(orOp.getLhs()), b = boolForm(orOp.getRhs());
    if (a.getConstant())
      std::swap(a, b);
    if (std::optional<bool> c = b.getConstant())
      return *c ? BoolForm::constant(true) : a;
    return BoolForm::opaque(v);
  }
  if (auto xorOp = dyn_cast<arith::XOrIOp>(op)) {
    BoolForm a = boolForm(xorOp.getLhs()), b = boolForm(xorOp.getRhs());
    if (a.getConstant())
      std::swap(a, b);
    if (std::optional<bool> c = b.getConstant()) {
      if (!*c)
        return a;
      if (std::optional<BoolForm> n = negate(a))
        return *n;
    }
    return BoolForm::opaque(v);
  }
  if (auto sel = dyn_cast<arith::SelectOp>(op)) {
    if (isa<RankedTensorType>(sel.getCondition().getType()))
      if (std::optional<bool> c = boolForm(sel.getCondition()).getConstant())
        return boolForm(*c ? sel.getTrueValue() : sel.getFalseValue());
    return BoolForm::opaque(v);
  }
  if (isa<GatherOp, GatherNDOp, GatherElementsOp>(op)) {
    if (std::optional<bool> c = boolForm(op->getOperand(0)).getConstant())
      return BoolForm::constant(*c);
    return BoolForm::opaque(v);
  }
  if (auto c = dyn_cast<tensor::ConcatOp>(op)) {
    std::optional<bool> all;
    for (Value in : c.getInputs()) {
      std::optional<bool> b = boolForm(in).getConstant();
      if (!b || (all && *all != *b))
        return BoolForm::opaque(v);
      all = b;
    }
    if (all)
      return BoolForm::constant(*all);
    return BoolForm::opaque(v);
  }
  if (isa<BroadcastOp, tensor::ExpandShapeOp, tensor::CollapseShapeOp,
          tensor::ExtractSliceOp, linalg::TransposeOp>(op)) {
    if (std::optional<BoolForm> r =
            transferBool(op, boolForm(op->getOperand(0))))
      return *r;
    return BoolForm::opaque(v);
  }
  return BoolForm::opaque(v);
}

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
