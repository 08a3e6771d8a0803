//===- MergeGPUModules.cpp - one gpu.module per artifact ------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// gpu-kernel-outlining puts every kernel in a gpu.module of its own. Each
// module becomes one device image: one ptxas run at compile time and one
// cuModuleLoadData at load. This pass moves every kernel into the first
// module (renaming on a clash) and points the launches at it. Kernels
// that are identical but for their name (the same layer's kernel in every
// transformer block) are kept once: ptxas time and image size scale with
// distinct kernels, not launches.
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

/// `func` printed with a fixed name: equal for kernels that differ only in
/// their symbol. (Locations are not printed.)
std::string bodyKey(gpu::GPUFuncOp func) {
  StringAttr name = func.getNameAttr();
  func.setName("__ds_kernel");
  std::string key;
  llvm::raw_string_ostream os(key);
  func->print(os, OpPrintingFlags().useLocalScope());
  func.setName(name);
  return key;
}

struct MergeGPUModulesPass
    : public ds::impl::DSMergeGPUModulesBase<MergeGPUModulesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> modules(module.getOps<gpu::GPUModuleOp>());
    if (modules.size() < 2)
      return;
    gpu::GPUModuleOp target = modules.front();
    SymbolTable targetSymbols(target);
    llvm::StringMap<StringAttr> kernelByBody;
    for (auto func : target.getOps<gpu::GPUFuncOp>())
      kernelByBody.try_emplace(bodyKey(func), func.getNameAttr());
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
        auto oldRef = SymbolRefAttr::get(source.getNameAttr(),
                                         {FlatSymbolRefAttr::get(oldName)});
        auto func = dyn_cast<gpu::GPUFuncOp>(op);
        std::string key = func ? bodyKey(func) : std::string();
        if (func) {
          auto it = kernelByBody.find(key);
          if (it != kernelByBody.end()) {
            renamed[oldRef] = SymbolRefAttr::get(
                target.getNameAttr(), {FlatSymbolRefAttr::get(it->second)});
            op.erase();
            continue;
          }
        }
        op.moveBefore(target.getBody(), target.getBody()->end());
        // insert() renames on a clash and returns the final name.
        StringAttr newName = targetSymbols.insert(&op);
        if (func)
          kernelByBody.try_emplace(key, newName);
        renamed[oldRef] = SymbolRefAttr::get(
            target.getNameAttr(), {FlatSymbolRefAttr::get(newName)});
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
