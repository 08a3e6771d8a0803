//===- BufferizableOpInterfaceImpl.h - ds ops in one-shot bufferize -*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
#define DS_DIALECT_DS_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H

namespace mlir {
class DialectRegistry;

namespace ds {
/// Lets one-shot bufferization rewrite the ds ops that survive lowering to
/// linalg (ds.fused_attention) into their buffer forms.
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);
} // namespace ds
} // namespace mlir

#endif // DS_DIALECT_DS_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
