//===- SymbolicValues.h - import-time index arithmetic ----------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The importer evaluates ONNX shape subgraphs (Shape -> Gather -> Concat ->
// Reshape, ...) at import. Their elements are `OpFoldResult`s: an
// IntegerAttr when constant, an `index` Value (`tensor.dim %x, 1`, or
// arithmetic on such values) otherwise. `SymbolicIndexBuilder` does that
// arithmetic: constants fold, identities simplify, an identical computation
// returns the Value built the first time, and products remember their
// factors, so that symbolic sizes can be compared (`s * 768 == 12 * s * 64`)
// and divided exactly (the `-1` of a Reshape).
//
//===----------------------------------------------------------------------===//

#ifndef DS_TARGET_ONNX_SYMBOLICVALUES_H
#define DS_TARGET_ONNX_SYMBOLICVALUES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/OpDefinition.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"

#include <map>
#include <optional>
#include <tuple>

namespace mlir {
namespace ds {

/// `coefficient * atoms[0] * atoms[1] * ...` with `index`-typed atoms that
/// are not themselves products built by a SymbolicIndexBuilder.
struct SymbolicProduct {
  int64_t coefficient = 1;
  llvm::SmallVector<Value> atoms;
};

/// Builds `index` arithmetic on OpFoldResults at the insertion point of the
/// builder it is given. All Values it returns dominate the later insertion
/// points of that builder only while it moves forward in one block: do not
/// use it to build inside a region.
class SymbolicIndexBuilder {
public:
  explicit SymbolicIndexBuilder(OpBuilder &builder) : b(builder) {}

  /// Integer arithmetic with two's complement wraparound on constants.
  OpFoldResult add(Location loc, OpFoldResult lhs, OpFoldResult rhs);
  OpFoldResult sub(Location loc, OpFoldResult lhs, OpFoldResult rhs);
  OpFoldResult mul(Location loc, OpFoldResult lhs, OpFoldResult rhs);
  OpFoldResult max(Location loc, OpFoldResult lhs, OpFoldResult rhs);
  OpFoldResult min(Location loc, OpFoldResult lhs, OpFoldResult rhs);
  /// Division rounding toward zero, toward negative infinity, and toward
  /// positive infinity; remainder with the sign of the dividend (`remTrunc`)
  /// or of the divisor (`remFloor`, Python's `%`). Fail on a constant zero
  /// divisor.
  FailureOr<OpFoldResult> divTrunc(Location loc, OpFoldResult lhs,
                                   OpFoldResult rhs);
  FailureOr<OpFoldResult> floorDiv(Location loc, OpFoldResult lhs,
                                   OpFoldResult rhs);
  FailureOr<OpFoldResult> ceilDiv(Location loc, OpFoldResult lhs,
                                  OpFoldResult rhs);
  FailureOr<OpFoldResult> remTrunc(Location loc, OpFoldResult lhs,
                                   OpFoldResult rhs);
  FailureOr<OpFoldResult> remFloor(Location loc, OpFoldResult lhs,
                                   OpFoldResult rhs);
  /// `lhs pred rhs` as 0 or 1.
  OpFoldResult cmp(Location loc, arith::CmpIPredicate pred, OpFoldResult lhs,
                   OpFoldResult rhs);
  /// `cond != 0 ? lhs : rhs`.
  OpFoldResult select(Location loc, OpFoldResult cond, OpFoldResult lhs,
                      OpFoldResult rhs);

  /// `value` as a product of a constant and atoms.
  SymbolicProduct decompose(OpFoldResult value) const;
  /// True when both sides are the same product (same coefficient, same atoms
  /// up to order). False means "not known to be equal".
  bool provablyEqual(OpFoldResult lhs, OpFoldResult rhs) const;
  /// `lhs / rhs` when `rhs`'s product divides `lhs`'s (its atoms are a
  /// sub-multiset and its coefficient divides), else nullopt.
  std::optional<OpFoldResult> exactDiv(Location loc, OpFoldResult lhs,
                                       OpFoldResult rhs);
  /// `value` as `base + offset` (base null for a constant).
  std::pair<Value, int64_t> linear(OpFoldResult value) const;
  /// `lhs - rhs` when both are one base plus constants.
  std::optional<int64_t> constantDifference(OpFoldResult lhs,
                                            OpFoldResult rhs) const;
  /// Rebuilds a product, reusing earlier multiplications.
  OpFoldResult build(Location loc, const SymbolicProduct &product);

  /// Records that `value` is at least `bound` at run time (a size: 0; an
  /// input's symbolic size: 1). Bounds propagate through sums, products,
  /// maxima and minima, and fold comparisons, `min` and `max`.
  void assumeAtLeast(Value value, int64_t bound);
  void assumeNonNegative(Value value) { assumeAtLeast(value, 0); }
  /// The known lower bound of `value` (itself for a constant).
  std::optional<int64_t> lowerBound(OpFoldResult value) const;
  bool isNonNegative(OpFoldResult value) const {
    std::optional<int64_t> lb = lowerBound(value);
    return lb && *lb >= 0;
  }

  /// An `index` Value for `value` (an arith.constant for a constant).
  Value materialize(Location loc, OpFoldResult value);

private:
  enum class Kind {
    Add,
    Sub,
    Mul,
    Max,
    Min,
    DivS,
    FloorDiv,
    CeilDiv,
    RemS,
    Cmp,
    Select
  };
  using Operand = std::pair<const void *, int64_t>;
  using Key = std::tuple<int, Operand, Operand, Operand>;

  Operand key(OpFoldResult v) const;
  /// Returns a cached Value for (kind, a, b[, c]) or builds one with `fn`.
  /// Shared by divTrunc and ceilDiv: folds constants and `x / 1`, uses
  /// exact symbolic quotients of non-negative operands, else emits `OpTy`
  /// (cached) and keeps non-negativity.
  template <typename OpTy>
  FailureOr<OpFoldResult> roundedDiv(Location loc, OpFoldResult lhs,
                                     OpFoldResult rhs, Kind kind,
                                     int64_t (*fold)(int64_t, int64_t));
  Value cached(Kind kind, int sub, ArrayRef<OpFoldResult> operands,
               bool commutative, llvm::function_ref<Value()> fn);

  OpBuilder &b;
  std::map<Key, Value> cache;
  llvm::DenseMap<Value, SymbolicProduct> products;
  llvm::DenseMap<Value, std::pair<Value, int64_t>> offsets;
  llvm::DenseMap<Value, int64_t> lowerBounds;
  /// Not a DenseMap: INT64_MAX/INT64_MIN (its empty and tombstone keys) are
  /// common bounds in Slice.
  std::map<int64_t, Value> constants;
};

} // namespace ds
} // namespace mlir

#endif // DS_TARGET_ONNX_SYMBOLICVALUES_H
