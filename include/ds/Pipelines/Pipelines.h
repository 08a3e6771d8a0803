//===- Pipelines.h - the ds compile pipeline, phase by phase ------*- C++
//-*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// One C++ definition of the pipeline serves ds-compile (`--compile-to`),
// ds-opt (`--ds-compile-pipeline`) and the Python package.
//
//===----------------------------------------------------------------------===//

#ifndef DS_PIPELINES_PIPELINES_H
#define DS_PIPELINES_PIPELINES_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Support/LLVM.h"

#include <optional>
#include <string>

namespace mlir {
namespace ds {

/// The phases of DESIGN.md §2 that exist so far, in pipeline order. Each
/// names the IR after it has run; `--compile-to=<phase>` prints that IR.
enum class Phase {
  /// ONNX protobuf -> ds + func/arith/math/tensor (the importer).
  Import,
  /// Canonicalization, constant folding, CSE, dead-code elimination.
  GraphOpt,
  /// Attention, norm, activation, RoPE and GEMM-epilogue fusion; QKV and
  /// gate/up merging.
  Fusion,
  /// A decoder's prefill and decode entry points over a KV cache.
  KVCache,
  /// ds -> linalg/tensor/arith/math; elementwise fusion.
  Lower,
  /// Tensors -> buffers; returned buffers owned by the caller; deallocation.
  Bufferize,
  /// Loops -> the LLVM dialect with the artifact's entry points.
  LLVM,
};

/// Phase names as `--compile-to` spells them, in pipeline order.
ArrayRef<StringRef> getPhaseNames();
std::optional<Phase> parsePhase(StringRef name);
StringRef stringifyPhase(Phase phase);

/// When the KV-cache rewrite runs.
enum class KVCacheMode {
  /// Rewrite decoders; leave other models alone, recording why in the
  /// module attribute `ds.kv_cache`.
  Auto,
  /// Rewrite, and fail with the reason when the model cannot be cached.
  On,
  /// Never rewrite.
  Off,
};

/// Choices that change what the phases do (ds-compile flags).
/// Where the generated code runs (`ds-compile --target`).
enum class Target { CPU, CUDA };

struct PipelineConfig {
  /// Fusion passes emit a remark for every candidate that did not fuse.
  bool fusionRemarks = false;
  KVCacheMode kvCache = KVCacheMode::Auto;
  Target target = Target::CPU;
  /// `--cuda-arch`: sm_80, sm_90 or sm_90a (CUDA target only).
  std::string cudaArch = "sm_90";
  /// The CUDA toolkit whose ptxas and fatbinary assemble the kernels.
  std::string cudaToolkit = "/usr/local/cuda";
};

/// Adds the passes of phases `first` through `last` (inclusive) to `pm`,
/// which must run on a builtin.module. `Import` has no passes: it is the
/// importer.
void buildDSCompilePipeline(OpPassManager &pm, Phase first, Phase last,
                            const PipelineConfig &config = {});

/// Registers `ds-compile-pipeline` with `from`/`to` phase options for
/// ds-opt.
void registerDSPipelines();

} // namespace ds
} // namespace mlir

#endif // DS_PIPELINES_PIPELINES_H
