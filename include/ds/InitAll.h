//===- InitAll.h - register everything ds uses --------------------*- C++
//-*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// One place that names the dialects, extensions and passes the ds pipeline
// uses, so ds-opt, ds-compile and the Python package see the same set.
//
//===----------------------------------------------------------------------===//

#ifndef DS_INITALL_H
#define DS_INITALL_H

namespace mlir {
class DialectRegistry;
namespace ds {

/// Adds the ds dialect and the upstream dialects and interface extensions
/// the pipeline uses.
void registerAllDialects(DialectRegistry &registry);

/// Registers the ds passes and pipelines and the upstream passes.
void registerAllPasses();

} // namespace ds
} // namespace mlir

#endif // DS_INITALL_H
