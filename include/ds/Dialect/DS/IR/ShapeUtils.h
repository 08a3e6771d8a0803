//===- ShapeUtils.h - shape helpers shared by ds verifiers --------*- C++
//-*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_IR_SHAPEUTILS_H
#define DS_DIALECT_DS_IR_SHAPEUTILS_H

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "mlir/Support/LLVM.h"

#include <string>

namespace mlir {
namespace ds {

/// True when two dimensions may be equal: equal, or either is dynamic.
bool dimsAgree(int64_t a, int64_t b);

/// True when two shapes have one rank and agree dimension by dimension.
bool shapesAgree(ArrayRef<int64_t> a, ArrayRef<int64_t> b);

/// Formats a shape as `[2, ?, 64]`.
std::string shapeStr(ArrayRef<int64_t> shape);

/// Numpy broadcast of two static-or-dynamic shapes (trailing dimensions
/// aligned). A dimension of 1 takes the other side's size; a dynamic
/// dimension against a static one other than 1 takes the static size; two
/// dynamic dimensions stay dynamic. Fails when two static sizes differ and
/// neither is 1.
FailureOr<SmallVector<int64_t>> broadcastShapes(ArrayRef<int64_t> a,
                                                ArrayRef<int64_t> b);

} // namespace ds
} // namespace mlir

#endif // DS_DIALECT_DS_IR_SHAPEUTILS_H
