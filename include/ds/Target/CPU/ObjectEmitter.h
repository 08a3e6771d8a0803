//===- ObjectEmitter.h - LLVM dialect to a CPU shared object ------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_TARGET_CPU_OBJECTEMITTER_H
#define DS_TARGET_CPU_OBJECTEMITTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class DialectRegistry;
namespace ds {

struct CPUTargetOptions {
  /// LLVM CPU name. "generic" code runs on any x86-64 machine (an artifact
  /// compiled here also runs on the GPU machine's host); "native" tunes for
  /// this machine.
  std::string cpu = "generic";
  /// LLVM optimization level, 0-3.
  unsigned optLevel = 3;
};

/// The compiled native code of one module.
struct CPUObject {
  std::string triple;
  /// A position-independent ELF shared object.
  std::vector<uint8_t> sharedObject;
};

/// Translates an LLVM-dialect module to LLVM IR, optimizes it, emits an
/// object file for the host triple and links it into a shared object with
/// the system C compiler driver (`cc`, found on PATH; libm is linked).
/// Reports failures as located errors on `module`.
FailureOr<CPUObject> emitCPUSharedObject(ModuleOp module,
                                         const CPUTargetOptions &options);

/// Adds the translations from MLIR to LLVM IR that `emitCPUSharedObject`
/// needs.
void registerCPUTargetTranslations(DialectRegistry &registry);

} // namespace ds
} // namespace mlir

#endif // DS_TARGET_CPU_OBJECTEMITTER_H
