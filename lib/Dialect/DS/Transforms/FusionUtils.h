//===- FusionUtils.h - helpers shared by the fusion passes --------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_DIALECT_DS_TRANSFORMS_FUSIONUTILS_H
#define DS_LIB_DIALECT_DS_TRANSFORMS_FUSIONUTILS_H

#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/Twine.h"

#include <optional>

namespace mlir {
namespace ds {
namespace fusion {

/// Emits "<pass>: not fused: <reason>" as a remark at `anchor`'s location
/// when `enabled` (the pass's emit-remarks option).
void remarkMissed(bool enabled, Operation *anchor, llvm::StringRef pass,
                  const llvm::Twine &reason);

/// Looks through `ds.broadcast`, `tensor.splat` and splat `arith.constant`s
/// to the scalar every element of `v` equals, if it is a float constant.
std::optional<double> getSplatFloat(Value v);

/// Same for integer constants (including i1).
std::optional<int64_t> getSplatInt(Value v);

/// Returns the operand of a chain of `ds.broadcast` ops (or `v` itself).
Value stripBroadcasts(Value v);

/// True when `a` and `b` are within a relative tolerance (for matching
/// exporter constants such as sqrt(2/pi) or 1/sqrt(2)).
bool approxEqual(double a, double b, double relTol = 1e-5);

/// True when `v` is a model weight: an entry-block argument of a function
/// marked `ds.weight` (or `ds.derived`, a tensor @prepare computed from
/// weights), or the result of an `arith.constant` (small weights the
/// importer inlined).
bool isWeight(Value v);

/// The `ds.weight` name of a weight argument, else empty.
llvm::StringRef getWeightName(Value v);

/// True when `v` is computed from weights and constants alone (by pure
/// ops, linalg ops the only ones with a region, at most 8 deep): weight
/// preparation, which ds-hoist-weight-prep moves into @prepare.
bool derivesFromWeights(Value v, int depth = 0);

} // namespace fusion
} // namespace ds
} // namespace mlir

#endif // DS_LIB_DIALECT_DS_TRANSFORMS_FUSIONUTILS_H
