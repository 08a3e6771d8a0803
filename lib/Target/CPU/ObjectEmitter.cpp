//===- ObjectEmitter.cpp - LLVM dialect to a CPU shared object ------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Target/CPU/ObjectEmitter.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;

void mlir::ds::registerCPUTargetTranslations(DialectRegistry &registry) {
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

namespace {

/// Removes its files when it goes out of scope.
struct TempFiles {
  ~TempFiles() {
    for (const std::string &path : paths)
      llvm::sys::fs::remove(path);
  }
  SmallVector<std::string> paths;
};

} // namespace

/// Builds a target machine for the host triple, emitting PIC code.
static FailureOr<std::unique_ptr<llvm::TargetMachine>>
createHostTargetMachine(ModuleOp module, const ds::CPUTargetOptions &options) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  std::string triple = llvm::sys::getProcessTriple();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    return module.emitError()
           << "no LLVM target for " << triple << ": " << error;
  std::string cpu =
      options.cpu == "native" ? llvm::sys::getHostCPUName().str() : options.cpu;
  llvm::TargetOptions targetOptions;
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      llvm::Triple(triple), cpu, /*Features=*/"", targetOptions,
      llvm::Reloc::PIC_, llvm::CodeModel::Small,
      options.optLevel >= 2 ? llvm::CodeGenOptLevel::Aggressive
                            : llvm::CodeGenOptLevel::Default));
  if (!machine)
    return module.emitError() << "cannot create a target machine for " << triple
                              << " (cpu " << cpu << ")";
  return machine;
}

FailureOr<ds::CPUObject>
mlir::ds::emitCPUSharedObject(ModuleOp module,
                              const CPUTargetOptions &options) {
  FailureOr<std::unique_ptr<llvm::TargetMachine>> machine =
      createHostTargetMachine(module, options);
  if (failed(machine))
    return failure();

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmContext);
  if (!llvmModule)
    return module.emitError() << "translation to LLVM IR failed";
  llvmModule->setDataLayout((*machine)->createDataLayout());
  llvmModule->setTargetTriple((*machine)->getTargetTriple());

  auto optimize = makeOptimizingTransformer(options.optLevel,
                                            /*sizeLevel=*/0, machine->get());
  if (llvm::Error err = optimize(llvmModule.get()))
    return module.emitError()
           << "LLVM optimization failed: " << llvm::toString(std::move(err));

  // Object code into memory, then onto disk for the linker.
  SmallVector<char> object;
  {
    llvm::raw_svector_ostream os(object);
    llvm::legacy::PassManager codegen;
    if ((*machine)->addPassesToEmitFile(codegen, os, nullptr,
                                        llvm::CodeGenFileType::ObjectFile))
      return module.emitError() << "the target cannot emit object files";
    codegen.run(*llvmModule);
  }

  TempFiles temps;
  SmallString<128> objPath, soPath;
  if (llvm::sys::fs::createTemporaryFile("ds-kernels", "o", objPath) ||
      llvm::sys::fs::createTemporaryFile("ds-kernels", "so", soPath))
    return module.emitError() << "cannot create temporary files for linking";
  temps.paths = {objPath.str().str(), soPath.str().str()};
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(objPath, ec);
    if (ec)
      return module.emitError()
             << "cannot write " << objPath << ": " << ec.message();
    os.write(object.data(), object.size());
  }

  llvm::ErrorOr<std::string> cc = llvm::sys::findProgramByName("cc");
  if (!cc)
    return module.emitError()
           << "linking CPU code needs a C compiler driver `cc` on PATH";
  SmallVector<StringRef> args = {
      *cc, "-shared", "-o", soPath, objPath, "-lm", "-Wl,-z,noexecstack"};
  std::string linkError;
  SmallString<128> logPath;
  if (llvm::sys::fs::createTemporaryFile("ds-link", "log", logPath))
    return module.emitError() << "cannot create a temporary log file";
  temps.paths.push_back(logPath.str().str());
  std::optional<StringRef> redirects[] = {std::nullopt, logPath.str(),
                                          logPath.str()};
  int rc = llvm::sys::ExecuteAndWait(*cc, args, std::nullopt, redirects,
                                     /*SecondsToWait=*/300, 0, &linkError);
  if (rc != 0) {
    std::string log;
    if (auto buffer = llvm::MemoryBuffer::getFile(logPath))
      log = (*buffer)->getBuffer().trim().str();
    return module.emitError() << "linking the CPU shared object failed ("
                              << (linkError.empty() ? log : linkError) << ")";
  }

  auto so = llvm::MemoryBuffer::getFile(soPath, /*IsText=*/false);
  if (!so)
    return module.emitError() << "cannot read the linked shared object: "
                              << so.getError().message();
  CPUObject result;
  result.triple = (*machine)->getTargetTriple().str();
  StringRef bytes = (*so)->getBuffer();
  result.sharedObject.assign(bytes.begin(), bytes.end());
  return result;
}
