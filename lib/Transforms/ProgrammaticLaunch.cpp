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
// waited for itself waited for its predecessor). One kind of access may
// go first: a kernel that opens with L2 prefetches (the tensor-core GEMV
// prefetches its weights) keeps them, and the pure code computing their
// addresses, ahead of the wait. A prefetch is a hint and L2 is where
// global memory is coherent, so it cannot make a later load stale; it
// only starts the weight stream while the kernel before is running.
// Launched without the attribute, the wait returns at once. The gpu.modules it rewrites are
// listed in the module attribute `ds.programmatic_gpu_modules`; ds-compile
// marks their images `programmatic_launch` in the artifact, which tells
// the runtime it may launch their kernels so.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

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

/// `prefetch.L2` or `cp.async.bulk.prefetch.L2`: a hint that fills L2 and
/// nothing else.
bool isL2Prefetch(Operation &op) {
  if (isa<NVVM::CpAsyncBulkPrefetchOp>(op))
    return true;
  auto prefetch = dyn_cast<NVVM::PrefetchOp>(op);
  return prefetch && prefetch.getCacheLevel() == NVVM::PrefetchCacheLevel::L2 &&
         !prefetch.getUniform() && !prefetch.getTensormap() &&
         !prefetch.getPredicate();
}

/// Where the wait goes in `entry`: after its last L2 prefetch when only
/// pure ops and L2 prefetches come before it, else at the start.
Block::iterator waitPoint(Block &entry) {
  Block::iterator point = entry.begin();
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    if (isL2Prefetch(*it)) {
      point = std::next(it);
      continue;
    }
    if (!isMemoryEffectFree(&*it) || it->getNumRegions() != 0)
      break;
  }
  return point;
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
        if (llvm::any_of(entry, [](Operation &op) {
              return isGridDependencyControl(op,
                                             NVVM::GridDepActionKind::wait);
            }))
          continue;
        OpBuilder b(&entry, waitPoint(entry));
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
