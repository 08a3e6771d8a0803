//===- Elementwise.h - shared by the elementwise op families ----*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_TARGET_ONNX_ELEMENTWISE_H
#define DS_LIB_TARGET_ONNX_ELEMENTWISE_H

#include "ImporterImpl.h"

namespace mlir {
namespace ds {
namespace importer {

/// The operands of one node, broadcast to their common sizes `dims`, and
/// whether ops on them may fold (their result has at most maxFoldElements
/// or every constant operand is a splat).
struct Operands {
  SmallVector<Value> values;
  SmallVector<OpFoldResult> dims;
  bool fold = true;
};

/// Creates `OpTy`, folding it when allowed and its operands are constants.
template <typename OpTy, typename... Args>
Value make(NodeImporter &n, bool fold, Args &&...args) {
  if (fold)
    return n.b.createOrFold<OpTy>(n.loc, std::forward<Args>(args)...);
  return OpTy::create(n.b, n.loc, std::forward<Args>(args)...);
}

/// Broadcasts inputs `idx` to their common shape. Small constant inputs are
/// broadcast at import so the op can fold.
FailureOr<Operands> broadcastOperands(NodeImporter &n, ArrayRef<unsigned> idx);

using KnownFn =
    function_ref<FailureOr<OpFoldResult>(ArrayRef<OpFoldResult> operands)>;

/// Evaluates the node on the known elements of inputs `idx` when they all
/// have some and the result is small, defining output 0. Returns false when
/// not applicable.
FailureOr<bool> tryKnown(NodeImporter &n, ArrayRef<unsigned> idx,
                         DType resultType, KnownFn fn);

} // namespace importer
} // namespace ds
} // namespace mlir

#endif // DS_LIB_TARGET_ONNX_ELEMENTWISE_H
