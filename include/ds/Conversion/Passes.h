//===- Passes.h - ds conversion passes --------------------------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_CONVERSION_PASSES_H
#define DS_CONVERSION_PASSES_H

#include "ds/Conversion/DSToLinalg/DSToLinalg.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace ds {

#define GEN_PASS_DECL
#include "ds/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "ds/Conversion/Passes.h.inc"

} // namespace ds
} // namespace mlir

#endif // DS_CONVERSION_PASSES_H
