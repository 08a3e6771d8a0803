//===- Import.h - ONNX model importer ---------------------------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Imports an ONNX model (protobuf) into one `func.func @forward` over the ds,
// func, arith, math, tensor and linalg dialects. Weights become leading
// function arguments described by `WeightInfo` (their bytes are never read
// when they live in external data); small constants are inlined; shape
// subgraphs are evaluated at import (docs/Importer.md).
//
//===----------------------------------------------------------------------===//

#ifndef DS_TARGET_ONNX_IMPORT_H
#define DS_TARGET_ONNX_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
class MLIRContext;

namespace ds {

struct ImportOptions {
  /// --shape NAME=DxD...: pins an input's shape (replaces dim_param/unknown
  /// dims).
  llvm::StringMap<llvm::SmallVector<int64_t>> pinnedShapes;
  /// --symbolic-inputs: make every input dim dynamic (named d<input>_<i>
  /// unless it has a dim_param).
  bool symbolicInputs = false;
  /// Initializers/Constants with at most this many elements and no external
  /// data become arith.constant (foldable); bigger ones become weights.
  int64_t maxInlineConstantElements = 4096;
  /// Import-time folding of known values only when the result has at most
  /// this many elements.
  int64_t maxFoldElements = 1 << 16;
  /// Cap on any tensor's element count (static or known at import); larger is
  /// an error.
  int64_t maxTensorElements = int64_t(1) << 34;
};

/// One weight: a leading argument of `@forward`, in order.
struct WeightInfo {
  std::string name;
  /// ONNX TensorProto.DataType code.
  int32_t dtype = 0;
  llvm::SmallVector<int64_t> shape;
  /// True: the bytes live in `file` at `offset`/`size` (ONNX external data).
  bool external = false;
  /// Absolute, canonical path of the external file (validated inside the
  /// model folder).
  std::string file;
  uint64_t offset = 0, size = 0;
  /// Embedded initializer bytes (raw little-endian, converted from typed
  /// fields if needed) when !external.
  std::string data;
};

struct ImportedModel {
  OwningOpRef<ModuleOp> module;
  /// In the order of the func's leading weight arguments.
  std::vector<WeightInfo> weights;
};

/// Imports the ONNX model at `path`. Errors are reported through the
/// context's diagnostic engine.
FailureOr<ImportedModel> importONNXFile(llvm::StringRef path, MLIRContext &ctx,
                                        const ImportOptions &options);

/// Registers the dialects the importer emits.
void registerImportDialects(DialectRegistry &registry);

/// ONNX op types (default domain) the importer supports, for the node-test
/// runner.
llvm::ArrayRef<llvm::StringRef> getSupportedONNXOps();

} // namespace ds
} // namespace mlir

#endif // DS_TARGET_ONNX_IMPORT_H
