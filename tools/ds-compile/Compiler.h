//===- Compiler.h - the ds-compile driver -------------------------*- C++
//-*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_TOOLS_DS_COMPILE_COMPILER_H
#define DS_TOOLS_DS_COMPILE_COMPILER_H

#include <string>
#include <vector>

namespace ds {

/// Every ds-compile flag, in one place (STYLE.md 3).
struct CompileOptions {
  std::string inputPath;
  std::string outputPath;
  std::string target = "cpu";
  std::string cudaArch = "sm_90";
  std::string precision = "fp32";
  std::vector<std::string> shapes;
  std::string compileTo;
  bool printStats = false;
  bool symbolicInputs = false;
  std::string cpu = "generic";
  /// Fusion passes report every candidate that did not fuse.
  bool fusionRemarks = false;
  /// auto | on | off: when to derive prefill/decode over a KV cache.
  std::string kvCache = "auto";
};

/// Runs ds-compile. Errors are printed as one `error: <file>: ...` line
/// each; returns false when any occurred.
bool runCompiler(const CompileOptions &options);

} // namespace ds

#endif // DS_TOOLS_DS_COMPILE_COMPILER_H
