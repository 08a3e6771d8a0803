//===- ProgrammaticLaunch.cpp - kernels that may start early --------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// A decode step is a chain of a few hundred kernels, most of them a few
// microseconds long. Between two kernels of a CUDA graph the GPU drains the
// first grid, flushes its writes, then launches and schedules the second:
// about a microsecond a kernel in which no kernel runs. On sm_90 a kernel
// launched with programmatic stream serialization may start before the
// kernel ahead of it has finished, provided it waits for it with
// `griddepcontrol.wait` before touching memory.
//
// This pass makes every kernel begin with
//
//   nvvm.griddepcontrol wait               // the previous grid has finished
//                                          // and its writes are visible
//   nvvm.griddepcontrol launch_dependents  // the next grid may launch
//
// so that the next kernel's launch and block scheduling overlap this one's
// run. The wait comes before any memory access, so the order of every read
// and write is the plain stream order (and waiting is transitive: the grid
// waited for itself waited for its predecessor). Launched without the
// attribute, the wait returns at once. The gpu.modules it rewrites are
// listed in the module attribute `ds.programmatic_gpu_modules`; ds-compile
// marks their images `programmatic_launch` in the artifact, which tells
// the runtime it may launch their kernels so.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/Builders.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSGPUPROGRAMMATICLAUNCH
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

bool isGridDependencyControl(Operation &op, NVVM::GridDepActionKind kind) {
  auto control = dyn_cast<NVVM::GriddepcontrolOp>(op);
  return control && control.getKind() == kind;
}

struct GPUProgrammaticLaunchPass
    : public ds::impl::DSGPUProgrammaticLaunchBase<GPUProgrammaticLaunchPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<Attribute> names;
    for (auto gpuModule : module.getOps<gpu::GPUModuleOp>()) {
      for (auto func : gpuModule.getOps<gpu::GPUFuncOp>()) {
        if (!func.isKernel() || func.getBody().empty())
          continue;
        Block &entry = func.getBody().front();
        // Already rewritten (the pass is idempotent).
        if (!entry.empty() &&
            isGridDependencyControl(entry.front(),
                                    NVVM::GridDepActionKind::wait))
          continue;
        OpBuilder b = OpBuilder::atBlockBegin(&entry);
        Location loc = func.getLoc();
        NVVM::GriddepcontrolOp::create(b, loc, NVVM::GridDepActionKind::wait);
        NVVM::GriddepcontrolOp::create(
            b, loc, NVVM::GridDepActionKind::launch_dependents);
      }
      names.push_back(gpuModule.getNameAttr());
    }
    if (!names.empty())
      module->setAttr("ds.programmatic_gpu_modules",
                      ArrayAttr::get(ctx, names));
  }
};

} // namespace
