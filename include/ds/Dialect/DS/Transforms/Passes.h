//===- Passes.h - ds graph passes: fusion and KV cache ------------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_TRANSFORMS_PASSES_H
#define DS_DIALECT_DS_TRANSFORMS_PASSES_H

#include "ds/Dialect/DS/IR/DSDialect.h"
#include "ds/Dialect/DS/IR/DSOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace ds {

#define GEN_PASS_DECL
#include "ds/Dialect/DS/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "ds/Dialect/DS/Transforms/Passes.h.inc"

} // namespace ds
} // namespace mlir

#endif // DS_DIALECT_DS_TRANSFORMS_PASSES_H
