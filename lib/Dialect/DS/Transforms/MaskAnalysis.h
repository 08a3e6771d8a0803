//===- MaskAnalysis.h - symbolic values of attention-mask tensors -*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// A small sound abstract interpreter over the ops exporters build attention
// masks from (iotas, reshapes, broadcasts, slices, concats, compares,
// cumsum, gathers): each integer tensor maps to an affine function of its
// element indices and of opaque scalars (sizes), each boolean tensor to a
// constant or a conjunction of affine comparisons and opaque tensors.
// Anything without a rule is unknown (integers) or opaque (booleans), never
// a guess. ds-fuse-attention uses it to prove a mask causal.
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_DIALECT_DS_TRANSFORMS_MASKANALYSIS_H
#define DS_LIB_DIALECT_DS_TRANSFORMS_MASKANALYSIS_H

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Block.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir {
namespace ds {
namespace mask {

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
                              int64_t k = 1);
std::optional<SymExpr> scaleSym(const SymExpr &a, int64_t k);

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

} // namespace mask
} // namespace ds
} // namespace mlir

#endif // DS_LIB_DIALECT_DS_TRANSFORMS_MASKANALYSIS_H
