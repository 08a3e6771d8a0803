//===- EmitHelpers.cpp - broadcasting, reshaping, splats ------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// IR the op families share: ds.broadcast to symbolic sizes, reshapes that
// become expand/collapse_shape when the sizes provably regroup, splats,
// transposes, and numpy broadcasting of OpFoldResult sizes.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

//===----------------------------------------------------------------------===//
// GraphImporter: emission helpers
//===----------------------------------------------------------------------===//

SmallVector<Value> GraphImporter::dynamicSizes(ArrayRef<OpFoldResult> dims,
                                               Location loc) {
  SmallVector<Value> out;
  for (OpFoldResult d : dims)
    if (!getConstantIntValue(d))
      out.push_back(sym.materialize(loc, d));
  return out;
}

Value GraphImporter::broadcastTo(Value value, ArrayRef<OpFoldResult> dims,
                                 Location loc) {
  auto type = cast<RankedTensorType>(value.getType());
  RankedTensorType target = tensorTypeFor(dims, type.getElementType());
  if (type == target)
    return value;
  return b.createOrFold<BroadcastOp>(loc, target, value,
                                     dynamicSizes(dims, loc));
}

TypedAttr GraphImporter::scalarAttr(Type elementType, double v) {
  if (auto f = dyn_cast<FloatType>(elementType))
    return FloatAttr::get(f, v);
  if (elementType.isInteger(1))
    return IntegerAttr::get(elementType, v != 0 ? 1 : 0);
  return IntegerAttr::get(elementType, static_cast<int64_t>(v));
}

Value GraphImporter::splat(TypedAttr scalar, ArrayRef<OpFoldResult> dims,
                           Location loc) {
  RankedTensorType type = tensorTypeFor(dims, scalar.getType());
  if (type.hasStaticShape())
    return arith::ConstantOp::create(b, loc,
                                     DenseElementsAttr::get(type, scalar));
  Value element = arith::ConstantOp::create(b, loc, scalar);
  return tensor::SplatOp::create(b, loc, element, type,
                                 dynamicSizes(dims, loc));
}

Value GraphImporter::emptyTensor(ArrayRef<OpFoldResult> dims, Type elementType,
                                 Location loc) {
  return tensor::EmptyOp::create(b, loc, tensorTypeFor(dims, elementType),
                                 dynamicSizes(dims, loc));
}

Value GraphImporter::transpose(Value value, ArrayRef<OpFoldResult> dims,
                               ArrayRef<int64_t> perm, Location loc) {
  SmallVector<OpFoldResult> outDims;
  for (int64_t p : perm)
    outDims.push_back(dims[p]);
  Type elem = cast<RankedTensorType>(value.getType()).getElementType();
  Value init = emptyTensor(outDims, elem, loc);
  return linalg::TransposeOp::create(b, loc, value, init, perm)->getResult(0);
}

namespace {
/// One group of a reshape: source dims `from` hold the same elements as
/// target dims `to`.
struct ReshapeGroup {
  ReassociationIndices from, to;
};
} // namespace

static bool sameProduct(const SymbolicProduct &x, const SymbolicProduct &y) {
  if (x.coefficient != y.coefficient || x.atoms.size() != y.atoms.size())
    return false;
  SmallVector<Value> ax(x.atoms), ay(y.atoms);
  auto less = [](Value a, Value c) {
    return a.getAsOpaquePointer() < c.getAsOpaquePointer();
  };
  llvm::sort(ax, less);
  llvm::sort(ay, less);
  return ax == ay;
}

/// True when `x` provably divides `y` (a sub-multiset of atoms, a dividing
/// non-zero coefficient).
static bool divides(const SymbolicProduct &x, const SymbolicProduct &y) {
  // Sizes have non-negative coefficients.
  if (x.coefficient <= 0 || y.coefficient < 0 ||
      y.coefficient % x.coefficient != 0)
    return false;
  SmallVector<Value> rest(y.atoms);
  for (Value a : x.atoms) {
    auto it = llvm::find(rest, a);
    if (it == rest.end())
      return false;
    rest.erase(it);
  }
  return true;
}

static void multiply(SymbolicProduct &acc, const SymbolicProduct &x) {
  acc.coefficient *= x.coefficient;
  llvm::append_range(acc.atoms, x.atoms);
}

/// Splits a reshape into groups whose products provably match; trailing 1s
/// join the last group. Fails when no such grouping is provable.
static std::optional<SmallVector<ReshapeGroup>>
groupReshape(SymbolicIndexBuilder &sym, ArrayRef<OpFoldResult> from,
             ArrayRef<OpFoldResult> to) {
  SmallVector<ReshapeGroup> groups;
  size_t i = 0, j = 0;
  while (i < from.size() && j < to.size()) {
    ReshapeGroup g;
    SymbolicProduct pf = sym.decompose(from[i]), pt = sym.decompose(to[j]);
    g.from.push_back(i++);
    g.to.push_back(j++);
    while (!sameProduct(pf, pt)) {
      if (divides(pt, pf) && j < to.size()) {
        multiply(pt, sym.decompose(to[j]));
        g.to.push_back(j++);
      } else if (divides(pf, pt) && i < from.size()) {
        multiply(pf, sym.decompose(from[i]));
        g.from.push_back(i++);
      } else {
        return std::nullopt;
      }
    }
    groups.push_back(std::move(g));
  }
  for (; i < from.size(); ++i) {
    if (getConstantIntValue(from[i]) != 1 || groups.empty())
      return std::nullopt;
    groups.back().from.push_back(i);
  }
  for (; j < to.size(); ++j) {
    if (getConstantIntValue(to[j]) != 1 || groups.empty())
      return std::nullopt;
    groups.back().to.push_back(j);
  }
  return groups;
}

Value GraphImporter::reshape(Value value, ArrayRef<OpFoldResult> from,
                             ArrayRef<OpFoldResult> to, Location loc) {
  auto type = cast<RankedTensorType>(value.getType());
  RankedTensorType target = tensorTypeFor(to, type.getElementType());
  if (from.size() == to.size() &&
      llvm::all_of(llvm::zip_equal(from, to), [&](auto p) {
        return sym.provablyEqual(std::get<0>(p), std::get<1>(p));
      })) {
    if (type == target)
      return value;
    return tensor::CastOp::create(b, loc, target, value);
  }
  // Rank 0 <-> all ones.
  auto allOnes = [](ArrayRef<OpFoldResult> dims) {
    return llvm::all_of(
        dims, [](OpFoldResult d) { return getConstantIntValue(d) == 1; });
  };
  if (from.empty() && allOnes(to))
    return tensor::ExpandShapeOp::create(b, loc, target, value,
                                         ArrayRef<ReassociationIndices>(),
                                         SmallVector<OpFoldResult>(to));
  if (to.empty() && allOnes(from))
    return tensor::CollapseShapeOp::create(b, loc, target, value,
                                           ArrayRef<ReassociationIndices>());
  if (auto groups = groupReshape(sym, from, to)) {
    // Collapse each group's source dims, then expand into its target dims.
    SmallVector<ReassociationIndices> collapse, expand;
    SmallVector<OpFoldResult> mid;
    bool needCollapse = false, needExpand = false;
    for (const ReshapeGroup &g : *groups) {
      collapse.push_back(g.from);
      ReassociationIndices e;
      for (int64_t t : g.to)
        e.push_back(t);
      expand.push_back(e);
      needCollapse |= g.from.size() > 1;
      needExpand |= g.to.size() > 1;
      OpFoldResult size = b.getIndexAttr(1);
      for (int64_t f : g.from)
        size = sym.mul(loc, size, from[f]);
      mid.push_back(size);
    }
    Value cur = value;
    if (needCollapse) {
      cur = tensor::CollapseShapeOp::create(b, loc, cur, collapse);
      RankedTensorType midType = tensorTypeFor(mid, type.getElementType());
      if (cur.getType() != midType)
        cur = tensor::CastOp::create(b, loc, midType, cur);
    }
    if (needExpand)
      return tensor::ExpandShapeOp::create(b, loc, target, cur, expand,
                                           SmallVector<OpFoldResult>(to));
    if (cur.getType() != target)
      cur = tensor::CastOp::create(b, loc, target, cur);
    return cur;
  }
  SmallVector<Value> sizes;
  for (OpFoldResult d : to)
    sizes.push_back(sym.materialize(loc, d));
  auto shapeType = RankedTensorType::get({static_cast<int64_t>(to.size())},
                                         b.getIndexType());
  Value shape = tensor::FromElementsOp::create(b, loc, shapeType, sizes);
  return tensor::ReshapeOp::create(b, loc, target, value, shape);
}

//===----------------------------------------------------------------------===//
// Broadcasting
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<OpFoldResult>>
importer::broadcastDims(NodeImporter &n,
                        ArrayRef<SmallVector<OpFoldResult>> shapes) {
  size_t rank = 0;
  for (const auto &s : shapes)
    rank = std::max(rank, s.size());
  SmallVector<OpFoldResult> result;
  for (size_t i = 0; i < rank; ++i) {
    OpFoldResult size;
    for (const auto &s : shapes) {
      if (i < rank - s.size())
        continue;
      OpFoldResult d = s[i - (rank - s.size())];
      std::optional<int64_t> c = getConstantIntValue(d);
      if (!size) {
        size = d;
        continue;
      }
      std::optional<int64_t> cur = getConstantIntValue(size);
      if (c == 1)
        continue;
      if (cur == 1) {
        size = d;
        continue;
      }
      if (cur && c) {
        if (*cur != *c) {
          InFlightDiagnostic diag = n.error();
          diag << "operands of shapes ";
          llvm::interleave(
              shapes, diag, [&](const auto &sh) { diag << dimsString(sh); },
              " and ");
          diag << " do not broadcast";
          return failure();
        }
        continue;
      }
      // A static size wins over a dynamic one (which is assumed equal to
      // it); two dynamic sizes are assumed equal.
      if (c)
        size = d;
    }
    result.push_back(size ? size : OpFoldResult(n.b.getIndexAttr(1)));
  }
  if (failed(n.checkElements(result)))
    return failure();
  return result;
}
