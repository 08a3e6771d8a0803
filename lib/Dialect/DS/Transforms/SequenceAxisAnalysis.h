//===- SequenceAxisAnalysis.h - which dimensions carry positions -*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The soundness check of ds-insert-kv-cache: a KV cache is correct only
// if a token's hidden state depends on other positions through attention
// alone. The analysis tracks, op by op, which dimensions of each tensor
// index the sequence and refuses any op outside attention that mixes them.
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_DIALECT_DS_TRANSFORMS_SEQUENCEAXISANALYSIS_H
#define DS_LIB_DIALECT_DS_TRANSFORMS_SEQUENCEAXISANALYSIS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallBitVector.h"

#include <optional>
#include <string>

namespace mlir {
namespace ds {
namespace kvcache {

/// A refusal: the op that stops the rewrite and why.
struct Refusal {
  Operation *op = nullptr;
  std::string reason;
};

using DimSet = llvm::SmallBitVector;

/// Forward analysis over one function: `seqDims[v]` has bit d set when
/// dimension d of tensor v varies with the token position. An op may move
/// those dimensions around (reshape, transpose, broadcast) or compute within
/// one position (elementwise, matmul over features, norms over features);
/// reducing, slicing, scanning or concatenating along them is a refusal.
class SequenceAxisAnalysis {
public:
  explicit SequenceAxisAnalysis(Value seqLength) : seqLength(seqLength) {}

  void seed(Value v, DimSet dims) { seqDims[v] = std::move(dims); }

  /// Runs over `func`'s body. Attention ops are the one place where
  /// positions may mix.
  std::optional<Refusal> run(func::FuncOp func);

  DimSet get(Value v) const {
    auto it = seqDims.find(v);
    if (it != seqDims.end())
      return it->second;
    if (auto t = dyn_cast<RankedTensorType>(v.getType()))
      return DimSet(t.getRank());
    return DimSet();
  }

  /// `tensor.dim` of the token input's sequence dimension.
  bool isSequenceLength(Value v) const;

private:
  std::optional<Refusal> visit(Operation *op);
  bool isFullSize(OpFoldResult size, Value source, int64_t dim) const;

  Value seqLength;
  DenseMap<Value, DimSet> seqDims;
};

} // namespace kvcache
} // namespace ds
} // namespace mlir

#endif // DS_LIB_DIALECT_DS_TRANSFORMS_SEQUENCEAXISANALYSIS_H
