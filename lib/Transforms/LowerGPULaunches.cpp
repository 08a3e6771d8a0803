//===- LowerGPULaunches.cpp - host code calls the runtime's CUDA table ----===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The host side of a CUDA artifact is a CPU shared object like a CPU
// artifact's. It reaches the GPU only through the runtime, by calling the
// function pointers the runtime stores, after loading the object, in its
// global `__ds_cuda_api` (the ds CUDA host ABI, docs/CUDA.md; slot order
// matches runtime/src/cuda/host_abi.h):
//
//   0  void *alloc(int64_t bytes)          device memory from the arena
//   1  void  free(void *ptr)
//   2  void  launch(int32_t kernel, int64_t gx, gy, gz, bx, by, bz,
//                   int32_t shared_bytes, void **params)
//   3  void *constant(int32_t index, const void *host, int64_t bytes)
//
// This pass runs on the LLVM dialect after gpu-to-llvm and
// finalize-memref-to-llvm: each gpu.launch_func becomes a `launch` call
// with the kernel's index in the module attribute `ds.cuda_kernels`; calls
// to malloc/free become `alloc`/`free`; the address of a constant global
// becomes the device copy `constant` returns. No stream, no
// synchronisation: the runtime owns both, so a whole entry point can be
// captured into a CUDA graph.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSLOWERGPULAUNCHES
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

enum Slot : int64_t { kAlloc = 0, kFree = 1, kLaunch = 2, kConstant = 3 };
constexpr int64_t kSlots = 4;
constexpr StringLiteral kTableName = "__ds_cuda_api";

struct LowerGPULaunchesPass
    : public ds::impl::DSLowerGPULaunchesBase<LowerGPULaunchesPass> {
  void runOnOperation() override;

private:
  /// Loads slot `slot` of the table.
  Value loadSlot(OpBuilder &b, Location loc, int64_t slot);
  LLVM::LLVMPointerType ptrType;
  LLVM::GlobalOp table;
};

Value LowerGPULaunchesPass::loadSlot(OpBuilder &b, Location loc,
                                     int64_t slot) {
  Value base = LLVM::AddressOfOp::create(b, loc, table);
  Value address = LLVM::GEPOp::create(b, loc, ptrType, ptrType, base,
                                      ArrayRef<LLVM::GEPArg>{slot});
  return LLVM::LoadOp::create(b, loc, ptrType, address);
}

/// The allocas of a function go to its entry block, so launches in loops
/// do not grow the stack.
OpBuilder entryBuilder(Operation *op) {
  auto func = op->getParentOfType<LLVM::LLVMFuncOp>();
  return OpBuilder::atBlockBegin(&func.getBody().front());
}

void LowerGPULaunchesPass::runOnOperation() {
  ModuleOp module = getOperation();
  MLIRContext *ctx = &getContext();
  ptrType = LLVM::LLVMPointerType::get(ctx);
  Type i32 = IntegerType::get(ctx, 32);
  Type i64 = IntegerType::get(ctx, 64);
  Type voidType = LLVM::LLVMVoidType::get(ctx);

  {
    OpBuilder b = OpBuilder::atBlockBegin(module.getBody());
    auto arrayType = LLVM::LLVMArrayType::get(ptrType, kSlots);
    table = LLVM::GlobalOp::create(b, module.getLoc(), arrayType,
                                   /*isConstant=*/false,
                                   LLVM::Linkage::External, kTableName,
                                   Attribute());
    // A zero initializer makes it a definition the runtime can find.
    Block *init = b.createBlock(&table.getInitializerRegion());
    b.setInsertionPointToStart(init);
    Value zero = LLVM::ZeroOp::create(b, module.getLoc(), arrayType);
    LLVM::ReturnOp::create(b, module.getLoc(), zero);
  }

  // Kernel indices, in first-launch order.
  SmallVector<Attribute> kernels;
  DenseMap<Attribute, int32_t> kernelIndex;
  SmallVector<gpu::LaunchFuncOp> launches;
  module.walk([&](gpu::LaunchFuncOp op) { launches.push_back(op); });
  // Launches per host function, for ds-compile's statistics.
  DenseMap<Operation *, int64_t> perFunction;
  for (gpu::LaunchFuncOp op : launches)
    ++perFunction[op->getParentOfType<LLVM::LLVMFuncOp>()];
  // Launches of which the host picks one per call (ds-gemv-to-gpu's
  // CUDA-core / tensor-core pairs) count once.
  for (auto [func, count] : perFunction) {
    if (auto alternatives =
            func->getAttrOfType<IntegerAttr>("ds.alternative_launches"))
      count -= alternatives.getInt();
    func->setAttr("ds.kernel_launches",
                  IntegerAttr::get(IntegerType::get(ctx, 64), count));
  }
  for (gpu::LaunchFuncOp op : launches) {
    if (op.getAsyncToken() || !op.getAsyncDependencies().empty() ||
        op.hasClusterSize()) {
      op.emitError("ds-lower-gpu-launches: async or clustered launches are "
                   "not supported");
      return signalPassFailure();
    }
    SymbolRefAttr kernel = op.getKernel();
    auto [it, inserted] =
        kernelIndex.try_emplace(kernel, static_cast<int32_t>(kernels.size()));
    if (inserted)
      kernels.push_back(kernel);

    Location loc = op.getLoc();
    OpBuilder entry = entryBuilder(op);
    Value one = LLVM::ConstantOp::create(entry, loc, i64, 1);
    ValueRange operands = op.getKernelOperands();
    Value params = LLVM::AllocaOp::create(
        entry, loc, ptrType, ptrType,
        LLVM::ConstantOp::create(entry, loc, i64,
                                 std::max<int64_t>(1, operands.size())));
    OpBuilder b(op);
    for (auto [i, operand] : llvm::enumerate(operands)) {
      Value slot = LLVM::AllocaOp::create(entry, loc, ptrType,
                                          operand.getType(), one);
      LLVM::StoreOp::create(b, loc, operand, slot);
      Value address = LLVM::GEPOp::create(
          b, loc, ptrType, ptrType, params,
          ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
      LLVM::StoreOp::create(b, loc, slot, address);
    }
    auto toI64 = [&](Value v) -> Value {
      if (v.getType() == i64)
        return v;
      if (v.getType().isIndex())
        return UnrealizedConversionCastOp::create(b, loc, i64, v).getResult(0);
      return LLVM::ZExtOp::create(b, loc, i64, v);
    };
    Value shared = op.getDynamicSharedMemorySize();
    if (!shared)
      shared = LLVM::ConstantOp::create(b, loc, i32, 0);
    SmallVector<Value> args = {
        loadSlot(b, loc, kLaunch),
        LLVM::ConstantOp::create(b, loc, i32, it->second),
        toI64(op.getGridSizeX()),
        toI64(op.getGridSizeY()),
        toI64(op.getGridSizeZ()),
        toI64(op.getBlockSizeX()),
        toI64(op.getBlockSizeY()),
        toI64(op.getBlockSizeZ()),
        shared,
        params};
    auto launchType = LLVM::LLVMFunctionType::get(
        voidType, {i32, i64, i64, i64, i64, i64, i64, i32, ptrType});
    LLVM::CallOp::create(b, loc, launchType, args);
    op.erase();
  }
  module->setAttr("ds.cuda_kernels", ArrayAttr::get(ctx, kernels));

  // malloc/free -> the arena.
  auto allocType = LLVM::LLVMFunctionType::get(ptrType, {i64});
  auto freeType = LLVM::LLVMFunctionType::get(voidType, {ptrType});
  SmallVector<LLVM::CallOp> calls;
  module.walk([&](LLVM::CallOp call) { calls.push_back(call); });
  for (LLVM::CallOp call : calls) {
    std::optional<StringRef> callee = call.getCallee();
    if (!callee || (*callee != "malloc" && *callee != "free"))
      continue;
    OpBuilder b(call);
    Location loc = call.getLoc();
    SmallVector<Value> args = {
        loadSlot(b, loc, *callee == "malloc" ? kAlloc : kFree)};
    args.append(call.getArgOperands().begin(), call.getArgOperands().end());
    if (*callee == "malloc") {
      Value size = args[1];
      if (size.getType() != i64) {
        call.emitError("ds-lower-gpu-launches: malloc size is not i64");
        return signalPassFailure();
      }
      auto replacement = LLVM::CallOp::create(b, loc, allocType, args);
      call.replaceAllUsesWith(replacement.getResults());
    } else {
      LLVM::CallOp::create(b, loc, freeType, args);
    }
    call.erase();
  }

  // Constant globals -> device copies, one index per global.
  auto constantType =
      LLVM::LLVMFunctionType::get(ptrType, {i32, ptrType, i64});
  DenseMap<StringAttr, int32_t> constantIndex;
  SmallVector<LLVM::AddressOfOp> addresses;
  module.walk([&](LLVM::AddressOfOp op) { addresses.push_back(op); });
  SymbolTableCollection symbols;
  for (LLVM::AddressOfOp op : addresses) {
    auto global = op.getGlobal(symbols);
    if (!global || !global.getConstant() || global == table)
      continue;
    // Only data the generated code reads as a buffer: memref globals.
    if (!global.getValueOrNull() ||
        !isa<DenseElementsAttr>(global.getValueOrNull()))
      continue;
    auto [it, inserted] = constantIndex.try_emplace(
        global.getSymNameAttr(), static_cast<int32_t>(constantIndex.size()));
    OpBuilder b(op);
    b.setInsertionPointAfter(op);
    Location loc = op.getLoc();
    Value null = LLVM::ZeroOp::create(b, loc, ptrType);
    Value end = LLVM::GEPOp::create(b, loc, ptrType, global.getGlobalType(),
                                    null, ArrayRef<LLVM::GEPArg>{1});
    Value bytes = LLVM::PtrToIntOp::create(b, loc, i64, end);
    Value fn = loadSlot(b, loc, kConstant);
    Value index = LLVM::ConstantOp::create(b, loc, i32, it->second);
    auto device = LLVM::CallOp::create(b, loc, constantType,
                                       ValueRange{fn, index, op, bytes});
    op.getResult().replaceAllUsesExcept(device.getResult(), device);
  }
}

} // namespace
