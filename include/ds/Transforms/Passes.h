//===- Passes.h - dialect-agnostic ds passes ----------------------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_TRANSFORMS_PASSES_H
#define DS_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir {
namespace ds {

/// Prefix of the entry-point symbols the runtime looks up.
inline constexpr llvm::StringLiteral kEntryPointPrefix = "ds_entry_";

#define GEN_PASS_DECL
#include "ds/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "ds/Transforms/Passes.h.inc"

} // namespace ds
} // namespace mlir

#endif // DS_TRANSFORMS_PASSES_H
