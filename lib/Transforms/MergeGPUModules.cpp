//===- MergeGPUModules.cpp - one gpu.module per artifact ------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// gpu-kernel-outlining puts every kernel in a gpu.module of its own. Each
// module becomes one device image: one ptxas run at compile time and one
// cuModuleLoadData at load. This pass moves every kernel into the first
// module (renaming on a clash) and points the launches at it.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSMERGEGPUMODULES
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {
struct MergeGPUModulesPass
    : public ds::impl::DSMergeGPUModulesBase<MergeGPUModulesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
    if (modules.size() < 2)
      return;
    gpu::GPUModuleOp target = modules.front();
    SymbolTable targetSymbols(target);
    // (old module, old kernel) -> new kernel name.
    DenseMap<SymbolRefAttr, SymbolRefAttr> renamed;
    for (gpu::GPUModuleOp source : llvm::drop_begin(modules)) {
      if (source->getAttrDictionary() != target->getAttrDictionary() &&
          source.getTargetsAttr() != target.getTargetsAttr()) {
        source.emitError("ds-merge-gpu-modules: modules with different "
                         "targets");
        return signalPassFailure();
      }
      for (Operation &op :
           llvm::make_early_inc_range(source.getBody()->getOperations())) {
        auto symbol = dyn_cast<SymbolOpInterface>(&op);
        if (!symbol)
          continue;
        StringAttr oldName = symbol.getNameAttr();
        op.moveBefore(target.getBody(), target.getBody()->end());
        // insert() renames on a clash and returns the final name.
        StringAttr newName = targetSymbols.insert(&op);
        renamed[SymbolRefAttr::get(source.getNameAttr(),
                                   {FlatSymbolRefAttr::get(oldName)})] =
            SymbolRefAttr::get(target.getNameAttr(),
                               {FlatSymbolRefAttr::get(newName)});
      }
      source.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      auto it = renamed.find(launch.getKernel());
      if (it != renamed.end())
        launch.setKernelAttr(it->second);
    });
  }
};
} // namespace
