//===- Pipelines.cpp - the ds compile pipeline, phase by phase ------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Pipelines/Pipelines.h"

#include <cstdlib>

#include "ds/Conversion/Passes.h"
#include "ds/Dialect/DS/Transforms/Passes.h"
#include "ds/Transforms/Passes.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace mlir::ds;

static constexpr StringRef kPhaseNames[] = {
    "import", "graph-opt", "fusion", "kv-cache", "lower", "bufferize", "llvm"};

ArrayRef<StringRef> mlir::ds::getPhaseNames() { return kPhaseNames; }

std::optional<Phase> mlir::ds::parsePhase(StringRef name) {
  for (auto [i, phaseName] : llvm::enumerate(kPhaseNames))
    if (phaseName == name)
      return static_cast<Phase>(i);
  return std::nullopt;
}

StringRef mlir::ds::stringifyPhase(Phase phase) {
  return kPhaseNames[static_cast<size_t>(phase)];
}

static void addCleanup(OpPassManager &pm) {
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createCSEPass());
}

static void addGraphOpt(OpPassManager &pm) {
  // Folding runs through op folders (arith on dense constants, ds
  // folders); the importer already evaluated shape subgraphs.
  addCleanup(pm);
  pm.addPass(createSymbolDCEPass());
}

static void addFusion(OpPassManager &pm, const PipelineConfig &config) {
  bool remarks = config.fusionRemarks;
  OpPassManager &func = pm.nest<func::FuncOp>();
  // Norms and activations first: attention and RoPE patterns then see
  // fused ops instead of their decompositions, and ds-fuse-linear folds
  // the fused activations into GEMM epilogues.
  func.addPass(createDSFuseNorms({remarks}));
  func.addPass(createDSFuseActivations({remarks}));
  func.addPass(createDSFuseRope({remarks}));
  func.addPass(createDSFuseAttention({remarks}));
  func.addPass(createCanonicalizerPass());
  func.addPass(createCSEPass());
  func.addPass(createDSFuseLinear({remarks}));
  func.addPass(createDSMergeProjections({remarks}));
  // CUDA: an RMSNorm's scale moves into the weights of the linears it
  // feeds (weight preparation), so that the norm ds-gemv-to-gpu folds into
  // their GEMVs is the activation times one row factor.
  if (config.target == Target::CUDA)
    func.addPass(createDSFoldNormScale());
  addCleanup(pm);
}

static void addKVCache(OpPassManager &pm, const PipelineConfig &config) {
  if (config.kvCache == KVCacheMode::Off)
    return;
  DSInsertKVCacheOptions options;
  options.required = config.kvCache == KVCacheMode::On;
  pm.addPass(createDSInsertKVCache(options));
  // Prefill's logits at each row's last prompt position only.
  pm.addPass(createDSPrefillLastLogits());
  addCleanup(pm);
}

static void addLower(OpPassManager &pm, const PipelineConfig &config) {
  // The GPU's GEMV kernels read [N, K] weights along K; the transposes
  // are weight preparation, hoisted below.
  if (config.target == Target::CUDA)
    pm.addNestedPass<func::FuncOp>(createDSPretransposeWeights());
  // Weight-only computations (merged projection weights, transposes) run
  // once at load in @prepare, not in every forward.
  pm.addPass(createDSHoistWeightPrep());
  OpPassManager &func = pm.nest<func::FuncOp>();
  if (config.target == Target::CUDA) {
    func.addPass(createDSReadWholeKVCache());
    // Attention stays whole for ds-attention-to-gpu's flash kernel.
    func.addPass(createDSFormFusedAttention({config.fusionRemarks}));
  }
  func.addPass(createDSLowerToLinalg());
  func.addPass(createConvertElementwiseToLinalgPass());
  func.addPass(createCanonicalizerPass());
  // With the shapes the canonicalizer refined (S = 1 in @decode), the
  // head transposes become views.
  func.addPass(createDSFoldUnitTransposes());
  if (config.target == Target::CUDA) {
    // Linear layers stay one matmul each for the GEMV kernels. (No
    // ds-split-reductions: with warp-per-row reductions, splitting the
    // norms' sums only added launches; on an H200 GPT-2's batch-1 step
    // went from 0.90 to 0.85 ms without it, Llama-1B's was unchanged.)
    func.addPass(createDSFuseElementwise());
  } else {
    func.addPass(createLinalgElementwiseOpFusionPass());
  }
  // Greedy sampling's argmax in the generated code: the runtime then reads
  // token ids, not logits.
  if (config.kvCache != KVCacheMode::Off)
    pm.addPass(createDSAppendNextTokens());
  addCleanup(pm);
}

static void addBufferize(OpPassManager &pm) {
  pm.addPass(createDSPrepareEntryPoints());
  bufferization::OneShotBufferizePassOptions options;
  options.bufferizeFunctionBoundaries = true;
  options.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(options));
  pm.addPass(createCanonicalizerPass());
  pm.addPass(createDSDropCacheResults());
  pm.addNestedPass<func::FuncOp>(createDSFreshResults());
  bufferization::buildBufferDeallocationPipeline(pm);
  // The deallocation pipeline may insert bufferization.clone.
  pm.addPass(createConvertBufferizationToMemRefPass());
  addCleanup(pm);
}

static void addLLVM(OpPassManager &pm) {
  pm.addNestedPass<func::FuncOp>(createDSStridedCopyToLinalg());
  pm.addNestedPass<func::FuncOp>(createConvertLinalgToLoopsPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addNestedPass<func::FuncOp>(createDSExpandShapeToReinterpretCast());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  // LLVM intrinsics where they exist (sqrt, exp, ...), libm for the rest
  // (erf, tanh, ...).
  // bf16 arithmetic and math in f32, rounded back after each op (x86 has
  // no bf16 arithmetic: LLVM would promote it the same way, through
  // compiler-rt's __truncsfbf2), then bf16 <-> f32 conversions as integer
  // arithmetic, since Debian 12's libgcc lacks __truncsfbf2.
  pm.addPass(math::createMathExtendToSupportedTypes());
  arith::ArithEmulateUnsupportedFloatsOptions emulate;
  emulate.sourceTypeStrs = {"bf16"};
  pm.addPass(arith::createArithEmulateUnsupportedFloats(emulate));
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  // Integer powers (math.ipowi/fpowi) become small loops in the module.
  pm.addPass(createConvertMathToFuncs());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createDSEmitEntryPoints());
  pm.addPass(createReconcileUnrealizedCastsPass());
  addCleanup(pm);
}

/// sm_90 and sm_90a: griddepcontrol, cp.async.bulk.prefetch and PTX 8.0
/// (the other accepted arch is sm_80).
static bool isHopper(const PipelineConfig &config) {
  return config.cudaArch != "sm_80";
}

/// The generic CUDA path (docs/CUDA.md): every loop nest becomes a kernel
/// of one thread per output element; the host part is lowered like the CPU
/// target's and calls the runtime for memory and launches.
static void addCUDA(OpPassManager &pm, const PipelineConfig &config) {
  {
    OpPassManager &func = pm.nest<func::FuncOp>();
    DSStridedCopyToLinalgOptions copies;
    copies.contiguous = true;
    func.addPass(createDSStridedCopyToLinalg(copies));
    func.addPass(createDSAttentionToGPU());
    // Linear layers get GEMV kernels, row reductions a warp per output;
    // everything else the generic path.
    // cp.async.bulk.prefetch needs sm_90 (and PTX 8.0); under programmatic
    // launch the weights stream in ahead of the wait.
    DSGemvToGPUOptions gemv;
    gemv.prefetchWeights = isHopper(config);
    func.addPass(createDSGemvToGPU(gemv));
    func.addPass(createDSReductionsToGPU());
    func.addPass(createConvertLinalgToParallelLoopsPass());
    func.addPass(createCanonicalizerPass());
    func.addPass(createDSFuseParallelProducers());
    func.addPass(createDSMapToGPU());
    func.addPass(createDSMergeSiblingLaunches());
    func.addPass(createDSRecordAlternativeLaunches());
  }
  // The canonicalizer hoisted constants out of the launches; without
  // sinking them back, outlining would pass every constant (strides,
  // the warp size, loop bounds) as a kernel parameter and the kernels
  // would divide by runtime values.
  pm.addPass(createGpuLaunchSinkIndexComputationsPass());
  pm.addPass(createGpuKernelOutliningPass());
  pm.addPass(createDSMergeGPUModules());
  // griddepcontrol needs sm_90; the runtime overlaps each kernel's launch
  // with the end of the one before it.
  if (isHopper(config))
    pm.addPass(createDSGPUProgrammaticLaunch());
  pm.addPass(createLowerAffinePass());
  pm.addNestedPass<func::FuncOp>(createDSExpandShapeToReinterpretCast());
  // Before scf-to-cf: this pass's greedy driver merges identical blocks,
  // quadratic on the GEMV kernels' unrolled branches once they are a CFG
  // (24 s for the tiny Llama, against 0.3 s here).
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());

  GpuNVVMAttachTargetOptions target;
  target.chip = config.cudaArch;
  target.optLevel = 3;
  // PTX 8.0 (CUDA 12.0): wgmma on sm_90a, cp.async.bulk.prefetch on both
  // sm_90s.
  if (isHopper(config))
    target.features = "+ptx80";
  pm.addPass(createGpuNVVMAttachTarget(target));
  {
    OpPassManager &kernels = pm.nest<gpu::GPUModuleOp>();
    kernels.addPass(arith::createArithExpandOpsPass());
    kernels.addPass(createConvertGpuOpsToNVVMOps());
    kernels.addPass(createReconcileUnrealizedCastsPass());
  }
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = config.cudaToolkit;
  // A fatbin holds the SASS for the chosen arch and the PTX, which the
  // driver compiles for other (newer) archs.
  binary.compilationTarget = "fatbin";
  pm.addPass(createGpuModuleToBinaryPass(binary));

  // Host code, as on the CPU target.
  pm.addPass(createFinalizeMemRefToLLVMConversionPass());
  arith::ArithExpandOpsPassOptions expand;
  expand.includeBf16 = true;
  pm.addPass(arith::createArithExpandOpsPass(expand));
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertIndexToLLVMPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createGpuToLLVMConversionPass());
  pm.addPass(createDSEmitEntryPoints());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createDSLowerGPULaunches());
  addCleanup(pm);
}

void mlir::ds::buildDSCompilePipeline(OpPassManager &pm, Phase first,
                                      Phase last,
                                      const PipelineConfig &config) {
  for (int p = static_cast<int>(first); p <= static_cast<int>(last); ++p) {
    switch (static_cast<Phase>(p)) {
    case Phase::Import:
      break;
    case Phase::GraphOpt:
      addGraphOpt(pm);
      break;
    case Phase::Fusion:
      addFusion(pm, config);
      break;
    case Phase::KVCache:
      addKVCache(pm, config);
      break;
    case Phase::Lower:
      addLower(pm, config);
      break;
    case Phase::Bufferize:
      addBufferize(pm);
      break;
    case Phase::LLVM:
      if (config.target == Target::CUDA)
        addCUDA(pm, config);
      else
        addLLVM(pm);
      break;
    }
  }
}

namespace {
struct PipelineOptions : public PassPipelineOptions<PipelineOptions> {
  Option<std::string> from{*this, "from",
                           llvm::cl::desc("first phase to run (the input is "
                                          "the IR after the phase before)"),
                           llvm::cl::init("graph-opt")};
  Option<std::string> to{*this, "to", llvm::cl::desc("last phase to run"),
                         llvm::cl::init("llvm")};
  Option<std::string> target{*this, "target",
                             llvm::cl::desc("cpu or cuda"),
                             llvm::cl::init("cpu")};
  Option<std::string> cudaArch{*this, "cuda-arch",
                               llvm::cl::desc("sm_80, sm_90 or sm_90a"),
                               llvm::cl::init("sm_90")};
};
} // namespace

void mlir::ds::registerDSPipelines() {
  PassPipelineRegistration<PipelineOptions>(
      "ds-compile-pipeline",
      "the ds-compile pipeline from one phase to another (phases: import, "
      "graph-opt, fusion, kv-cache, lower, bufferize, llvm)",
      [](OpPassManager &pm, const PipelineOptions &options) {
        std::optional<Phase> from = parsePhase(options.from);
        std::optional<Phase> to = parsePhase(options.to);
        // Invalid names leave the pipeline empty; ds-opt reports nothing
        // ran, so say it here.
        if (!from || !to || *from > *to) {
          llvm::errs() << "error: ds-compile-pipeline: invalid phase range '"
                       << options.from << "' to '" << options.to << "'\n";
          return;
        }
        if (options.target != "cpu" && options.target != "cuda") {
          llvm::errs() << "error: ds-compile-pipeline: invalid target '"
                       << options.target << "' (cpu or cuda)\n";
          return;
        }
        PipelineConfig config;
        config.target =
            options.target == "cuda" ? Target::CUDA : Target::CPU;
        config.cudaArch = options.cudaArch;
        if (const char *toolkit = std::getenv("DS_CUDA_TOOLKIT"))
          config.cudaToolkit = toolkit;
        buildDSCompilePipeline(pm, *from, *to, config);
      });
}
