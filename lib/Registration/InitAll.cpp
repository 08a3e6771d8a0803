//===- InitAll.cpp - register everything ds uses --------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/InitAll.h"
#include "ds/Conversion/Passes.h"
#include "ds/Dialect/DS/IR/DSDialect.h"
#include "ds/Dialect/DS/Transforms/BufferizableOpInterfaceImpl.h"
#include "ds/Dialect/DS/Transforms/Passes.h"
#include "ds/Pipelines/Pipelines.h"
#include "ds/Transforms/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

void mlir::ds::registerAllDialects(DialectRegistry &registry) {
  registry.insert<DSDialect>();
  registerBufferizableOpInterfaceExternalModels(registry);
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // gpu-module-to-binary translates gpu.module (NVVM) to LLVM IR.
  mlir::registerAllToLLVMIRTranslations(registry);
}

void mlir::ds::registerAllPasses() {
  mlir::registerAllPasses();
  registerDSConversionPasses();
  registerDSTransformsPasses();
  registerDSDialectTransformsPasses();
  registerDSPipelines();
}
