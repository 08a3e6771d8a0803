//===- ImportTranslation.h - the import-onnx translation --------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_TARGET_ONNX_IMPORTTRANSLATION_H
#define DS_TARGET_ONNX_IMPORTTRANSLATION_H

namespace mlir {
namespace ds {

/// Registers the `--import-onnx` translation (ONNX protobuf -> MLIR) with
/// mlir-translate style drivers, along with its `--import-*` options. The
/// model's path is the input buffer's identifier, so external data resolves
/// next to it.
void registerImportONNXTranslation();

} // namespace ds
} // namespace mlir

#endif // DS_TARGET_ONNX_IMPORTTRANSLATION_H
