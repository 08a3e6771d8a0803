//===- EntryPoints.cpp - the artifact calling convention ------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Two passes apply the calling convention of docs/Artifact.md: one before
// bufferization (read-only arguments, C-interface request), one after
// convert-func-to-llvm (the `void ds_entry_<name>(void **)` wrappers).
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#define DEBUG_TYPE "ds-emit-entry-points"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSPREPAREENTRYPOINTS
#define GEN_PASS_DEF_DSEMITENTRYPOINTS
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

/// Prefix convert-func-to-llvm gives C-interface wrappers.
static constexpr llvm::StringLiteral kCInterfacePrefix = "_mlir_ciface_";

namespace {

struct PrepareEntryPointsPass
    : public ds::impl::DSPrepareEntryPointsBase<PrepareEntryPointsPass> {
  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    StringAttr writable = StringAttr::get(
        ctx, bufferization::BufferizationDialect::kWritableAttrName);
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!func.isPublic() || func.isExternal())
        continue;
      func->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                    UnitAttr::get(ctx));
      // KV caches (`ds.cache`) are the one exception: the runtime owns
      // them and the code appends to them in place.
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        if (isa<TensorType>(func.getArgument(i).getType()) &&
            !func.getArgAttr(i, "ds.cache"))
          func.setArgAttr(i, writable, BoolAttr::get(ctx, false));
    }
  }
};

struct EmitEntryPointsPass
    : public ds::impl::DSEmitEntryPointsBase<EmitEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    SmallVector<LLVM::LLVMFuncOp> wrappers;
    for (auto func : module.getOps<LLVM::LLVMFuncOp>()) {
      if (func.getName().starts_with(kCInterfacePrefix) && !func.isExternal())
        wrappers.push_back(func);
      // The importer's ds.* argument attributes (names, symbolic dims) are
      // recorded in the artifact by now; LLVM IR has no place for them.
      for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
        for (NamedAttribute attr : llvm::to_vector(
                 func.getArgAttrDict(i) ? func.getArgAttrDict(i).getValue()
                                        : ArrayRef<NamedAttribute>{}))
          if (attr.getName().strref().starts_with("ds."))
            func.removeArgAttr(i, attr.getName());
    }

    for (LLVM::LLVMFuncOp target : wrappers) {
      std::string name = (ds::kEntryPointPrefix +
                          target.getName().drop_front(kCInterfacePrefix.size()))
                             .str();
      if (module.lookupSymbol(name)) {
        target.emitError() << "entry point symbol '" << name
                           << "' already exists";
        return signalPassFailure();
      }
      LLVM::LLVMFunctionType targetType = target.getFunctionType();
      if (!isa<LLVM::LLVMVoidType>(targetType.getReturnType()) ||
          llvm::any_of(targetType.getParams(),
                       [](Type t) { return !isa<LLVM::LLVMPointerType>(t); })) {
        target.emitError() << "expected a C-interface function taking only "
                              "pointers and returning void, got "
                           << targetType;
        return signalPassFailure();
      }

      OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
      Location loc = target.getLoc();
      auto entry = LLVM::LLVMFuncOp::create(
          b, loc, name,
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptrType}));
      Block *body = entry.addEntryBlock(b);
      b.setInsertionPointToStart(body);
      Value args = body->getArgument(0);
      SmallVector<Value> operands;
      for (unsigned i = 0, e = targetType.getNumParams(); i < e; ++i) {
        Value slot = args;
        if (i > 0)
          slot = LLVM::GEPOp::create(b, loc, ptrType, ptrType, args,
                                     ArrayRef<LLVM::GEPArg>{int32_t(i)});
        operands.push_back(LLVM::LoadOp::create(b, loc, ptrType, slot));
      }
      LLVM::CallOp::create(b, loc, target, operands);
      LLVM::ReturnOp::create(b, loc, ValueRange{});
    }
  }
};

} // namespace
