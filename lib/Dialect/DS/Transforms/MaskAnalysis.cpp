//===- MaskAnalysis.cpp - symbolic values of attention-mask tensors -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "MaskAnalysis.h"

#include "FusionUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/IR/ShapeUtils.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"

#include "llvm/ADT/SmallBitVector.h"
#include "llvm/Support/CheckedArithmetic.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::mask;

/// Recursion limit of the analyses: mask chains are a few dozen ops deep;
/// anything deeper is treated as unknown rather than risking the stack.
static constexpr unsigned kMaxDepth = 128;

//===----------------------------------------------------------------------===//
// Symbolic integers
//===----------------------------------------------------------------------===//

namespace mlir {
namespace ds {
namespace mask {


/// `a + k * b`, or nullopt on overflow.
std::optional<SymExpr> addSym(const SymExpr &a, const SymExpr &b,
                              int64_t k) {
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

} // namespace mask
} // namespace ds
} // namespace mlir

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

