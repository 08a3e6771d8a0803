//===- Compiler.cpp - the ds-compile driver -------------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// import -> phases of buildDSCompilePipeline -> native code -> artifact +
// weights file. Statistics are taken between phases.
//
//===----------------------------------------------------------------------===//

#include "Compiler.h"

#include "ds/InitAll.h"
#include "ds/Pipelines/Pipelines.h"
#include "ds/Transforms/Passes.h"
#include "ds/Target/CPU/ObjectEmitter.h"
#include "ds/Target/ONNX/Import.h"
#include "ds/runtime/artifact.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>
#include <map>

using namespace mlir;
namespace rt = ::ds::runtime;

namespace {

/// Prints one line per error: `error: <file>: <message>`. Notes (IR dumps
/// of the failing op) are dropped: users get the located message only.
class OneLineDiagnostics {
public:
  OneLineDiagnostics(MLIRContext &ctx, std::string file)
      : ctx(ctx), file(std::move(file)) {
    id = ctx.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      if (diag.getSeverity() == DiagnosticSeverity::Error) {
        ++errors;
        std::string message = diag.str();
        // Ops created for an ONNX node carry its name; say which node
        // unless the message already does.
        if (auto name = dyn_cast<NameLoc>(diag.getLocation()))
          if (!StringRef(message).starts_with("node '"))
            message = "node '" + name.getName().str() + "': " + message;
        llvm::errs() << "error: " << this->file << ": " << message << "\n";
      } else if (diag.getSeverity() == DiagnosticSeverity::Warning) {
        llvm::errs() << "warning: " << this->file << ": " << diag.str() << "\n";
      } else if (diag.getSeverity() == DiagnosticSeverity::Remark) {
        // Missed fusions (--fusion-remarks): the ONNX node the candidate
        // came from, then the pass and the reason.
        std::string where;
        Location loc = diag.getLocation();
        if (auto fused = dyn_cast<FusedLoc>(loc))
          if (!fused.getLocations().empty())
            loc = fused.getLocations().front();
        if (auto name = dyn_cast<NameLoc>(loc))
          where = "node '" + name.getName().str() + "': ";
        llvm::errs() << "remark: " << this->file << ": " << where << diag.str()
                     << "\n";
      }
      return success();
    });
  }
  ~OneLineDiagnostics() { ctx.getDiagEngine().eraseHandler(id); }

  /// Reports a driver-level error (not tied to IR).
  void error(const Twine &message) {
    ++errors;
    llvm::errs() << "error: " << file << ": " << message << "\n";
  }
  unsigned count() const { return errors; }

private:
  MLIRContext &ctx;
  std::string file;
  DiagnosticEngine::HandlerID id;
  unsigned errors = 0;
};

/// What the artifact says about one entry point's arguments and results,
/// taken from the function after the lower phase (still on tensors).
struct Signature {
  std::vector<rt::ArgumentSpec> arguments;
  std::vector<rt::TensorSpec> results;
};

} // namespace

/// Maps an element type to the artifact dtype (ONNX numbering).
static std::optional<rt::DType> toDType(Type type) {
  if (type.isF32())
    return rt::DType::F32;
  if (type.isF16())
    return rt::DType::F16;
  if (type.isBF16())
    return rt::DType::BF16;
  if (type.isF64())
    return rt::DType::F64;
  if (type.isInteger(1))
    return rt::DType::Bool;
  if (type.isInteger(8))
    return type.isUnsignedInteger() ? rt::DType::U8 : rt::DType::I8;
  if (type.isInteger(16))
    return type.isUnsignedInteger() ? rt::DType::U16 : rt::DType::I16;
  if (type.isInteger(32))
    return type.isUnsignedInteger() ? rt::DType::U32 : rt::DType::I32;
  if (type.isInteger(64))
    return type.isUnsignedInteger() ? rt::DType::U64 : rt::DType::I64;
  return std::nullopt;
}

/// Builds a tensor spec from a ranked tensor type. Signless i8 is i8 unless
/// the importer marked the value `ds.unsigned` (ONNX uint8).
static FailureOr<rt::TensorSpec> toTensorSpec(StringRef name, Type type,
                                              ArrayAttr dimNames,
                                              bool isUnsigned,
                                              OneLineDiagnostics &diags) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  std::optional<rt::DType> dtype =
      tensor ? toDType(tensor.getElementType()) : std::nullopt;
  if (isUnsigned && dtype == rt::DType::I8)
    dtype = rt::DType::U8;
  if (!tensor || !dtype) {
    diags.error("'" + name + "' has a type the runtime cannot hold");
    return failure();
  }
  rt::TensorSpec spec;
  spec.name = name.str();
  spec.dtype = *dtype;
  for (auto [i, dim] : llvm::enumerate(tensor.getShape())) {
    spec.shape.push_back(ShapedType::isDynamic(dim) ? -1 : dim);
    std::string dimName;
    if (dimNames && i < dimNames.size())
      if (auto str = dyn_cast<StringAttr>(dimNames[i]))
        dimName = str.str();
    spec.dimNames.push_back(dimName);
  }
  return spec;
}

/// Reads one public function's interface: weights by name (`ds.weight`),
/// derived weights by `prepare` result (`ds.derived`), graph inputs
/// (`ds.input`); results tied to a KV cache (`ds.cache_result`) are updated
/// in place and are not results of the entry point.
static FailureOr<Signature>
readSignature(func::FuncOp func, const llvm::StringMap<uint32_t> &weightIndex,
              OneLineDiagnostics &diags) {
  Signature sig;
  for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i) {
    if (auto weight = func.getArgAttrOfType<StringAttr>(i, "ds.weight")) {
      auto it = weightIndex.find(weight.getValue());
      if (it == weightIndex.end()) {
        diags.error("@" + func.getName() + " reads unknown weight '" +
                    weight.getValue() + "'");
        return failure();
      }
      sig.arguments.push_back(rt::ArgumentSpec::fromWeight(it->second));
      continue;
    }
    if (auto derived = func.getArgAttrOfType<IntegerAttr>(i, "ds.derived")) {
      sig.arguments.push_back(
          rt::ArgumentSpec::fromDerived(derived.getValue().getZExtValue()));
      continue;
    }
    auto name = func.getArgAttrOfType<StringAttr>(i, "ds.input");
    auto dims = func.getArgAttrOfType<ArrayAttr>(i, "ds.dim_names");
    std::string fallback = "input" + std::to_string(i);
    FailureOr<rt::TensorSpec> spec = toTensorSpec(
        name ? name.getValue() : StringRef(fallback),
        func.getArgument(i).getType(), dims,
        static_cast<bool>(func.getArgAttr(i, "ds.unsigned")), diags);
    if (failed(spec))
      return failure();
    sig.arguments.push_back(rt::ArgumentSpec::fromInput(std::move(*spec)));
  }
  auto names = func->getAttrOfType<ArrayAttr>("ds.output_names");
  for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
    if (func.getResultAttr(i, "ds.cache_result"))
      continue;
    std::string name = (func.getName() == rt::kPrepareEntryPoint
                            ? "derived."
                            : "output") +
                       std::to_string(i);
    if (names && i < names.size())
      if (auto str = dyn_cast<StringAttr>(names[i]))
        name = str.str();
    FailureOr<rt::TensorSpec> spec = toTensorSpec(
        name, type, /*dimNames=*/nullptr,
        static_cast<bool>(func.getResultAttr(i, "ds.unsigned")), diags);
    if (failed(spec))
      return failure();
    sig.results.push_back(std::move(*spec));
  }
  return sig;
}

/// The generation metadata of a module the KV-cache rewrite succeeded on.
static FailureOr<rt::GenerationSpec>
readGeneration(ModuleOp module, OneLineDiagnostics &diags) {
  auto prefill = module.lookupSymbol<func::FuncOp>("prefill");
  if (!prefill) {
    diags.error("the KV-cache rewrite produced no @prefill");
    return failure();
  }
  rt::GenerationSpec gen;
  gen.prefill = "prefill";
  gen.decode = "decode";
  gen.positions = "start";
  for (unsigned i = 0, e = prefill.getNumArguments(); i < e; ++i) {
    auto name = prefill.getArgAttrOfType<StringAttr>(i, "ds.input");
    if (!name)
      continue;
    if (auto cache = prefill.getArgAttrOfType<DictionaryAttr>(i, "ds.cache")) {
      rt::CacheSpec spec;
      spec.argument = name.str();
      if (auto layer = cache.getAs<IntegerAttr>("layer"))
        spec.layer = layer.getInt();
      auto kind = cache.getAs<StringAttr>("kind");
      spec.kind = kind && kind.getValue() == "value" ? rt::CacheKind::Value
                                                     : rt::CacheKind::Key;
      gen.caches.push_back(std::move(spec));
    } else if (name.getValue() == "last_positions") {
      // ds-prefill-last-logits: logits at each row's last prompt position.
      gen.lastPositions = name.str();
    } else if (name.getValue() != gen.positions) {
      gen.tokens = name.str();
    }
  }
  gen.logits = "output0";
  if (auto names = prefill->getAttrOfType<ArrayAttr>("ds.output_names"))
    if (!names.empty())
      if (auto str = dyn_cast<StringAttr>(names[0]))
        gen.logits = str.str();
  auto logits = dyn_cast<RankedTensorType>(prefill.getResultTypes()[0]);
  if (!logits || logits.getRank() != 3 || logits.isDynamicDim(2)) {
    diags.error("the KV-cache rewrite's logits are not [batch, seq, vocab] "
                "with a static vocabulary");
    return failure();
  }
  gen.vocabSize = logits.getDimSize(2);
  if (auto limit = module->getAttrOfType<IntegerAttr>("ds.max_positions"))
    gen.maxPositions = limit.getInt();
  return gen;
}

/// Parses `NAME=DxDx...` (a scalar is `NAME=`).
static bool parseShapeFlags(const std::vector<std::string> &flags,
                            mlir::ds::ImportOptions &options,
                            OneLineDiagnostics &diags) {
  for (const std::string &flag : flags) {
    auto [name, dims] = StringRef(flag).split('=');
    if (name.empty() || !StringRef(flag).contains('=')) {
      diags.error("--shape expects NAME=DxDx..., got '" + flag + "'");
      return false;
    }
    SmallVector<int64_t> shape;
    SmallVector<StringRef> parts;
    if (!dims.empty())
      dims.split(parts, 'x');
    for (StringRef part : parts) {
      int64_t d;
      if (part.getAsInteger(10, d) || d < 0) {
        diags.error("--shape " + name + ": '" + part +
                    "' is not a non-negative dimension");
        return false;
      }
      shape.push_back(d);
    }
    options.pinnedShapes[name] = shape;
  }
  return true;
}

/// The path of `target` relative to the folder `base` (both made absolute).
static std::string relativePath(StringRef target, StringRef base) {
  SmallString<256> t(target), b(base);
  llvm::sys::fs::make_absolute(t);
  llvm::sys::fs::make_absolute(b);
  llvm::sys::path::remove_dots(t, /*remove_dot_dot=*/true);
  llvm::sys::path::remove_dots(b, /*remove_dot_dot=*/true);
  SmallVector<StringRef> tc(llvm::sys::path::begin(t), llvm::sys::path::end(t));
  SmallVector<StringRef> bc(llvm::sys::path::begin(b), llvm::sys::path::end(b));
  size_t common = 0;
  while (common < tc.size() && common < bc.size() && tc[common] == bc[common])
    ++common;
  SmallString<256> rel;
  for (size_t i = common; i < bc.size(); ++i)
    llvm::sys::path::append(rel, "..");
  for (size_t i = common; i < tc.size(); ++i)
    llvm::sys::path::append(rel, tc[i]);
  return rel.str().str();
}

/// Bytes of every buffer allocated in one forward with dynamic dimensions
/// taken as 1: an upper bound on peak activation memory (no liveness-based
/// reuse yet; the memory planner will tighten it).
static int64_t countActivationBytes(func::FuncOp module) {
  int64_t bytes = 0;
  module.walk([&](memref::AllocOp alloc) {
    MemRefType type = alloc.getType();
    int64_t n = 1;
    for (int64_t d : type.getShape())
      n *= ShapedType::isDynamic(d) ? 1 : d;
    Type elt = type.getElementType();
    // index buffers (shape operands) are 64-bit on every host ds targets.
    int64_t bits = elt.isIndex()        ? 64
                   : elt.isIntOrFloat() ? elt.getIntOrFloatBitWidth()
                                        : 64;
    bytes += n * llvm::divideCeil(bits, 8);
  });
  return bytes;
}

/// Moves the GPU images out of `module` (gpu.binary ops, one fatbin each)
/// and reads the kernel table ds-lower-gpu-launches recorded, so that the
/// rest is plain host code for the CPU object emitter.
static bool extractDeviceCode(ModuleOp module, StringRef arch,
                              std::vector<rt::DeviceModuleSpec> &modules,
                              std::vector<rt::KernelSpec> &kernels,
                              OneLineDiagnostics &diags) {
  llvm::StringSet<> programmatic;
  if (auto names =
          module->getAttrOfType<ArrayAttr>("ds.programmatic_gpu_modules"))
    for (Attribute name : names)
      if (auto text = dyn_cast<StringAttr>(name))
        programmatic.insert(text.getValue());
  module->removeAttr("ds.programmatic_gpu_modules");
  llvm::StringMap<uint32_t> moduleIndex;
  for (auto binary :
       llvm::make_early_inc_range(module.getOps<gpu::BinaryOp>())) {
    ArrayRef<Attribute> objects = binary.getObjects().getValue();
    auto object = objects.empty()
                      ? gpu::ObjectAttr()
                      : dyn_cast<gpu::ObjectAttr>(objects.front());
    if (!object || objects.size() != 1) {
      diags.error("GPU module '" + binary.getName().str() +
                  "' has no single object");
      return false;
    }
    StringRef bytes = object.getObject().getValue();
    rt::DeviceModuleSpec spec;
    spec.name = binary.getName().str();
    spec.arch = arch.str();
    spec.image.assign(bytes.begin(), bytes.end());
    spec.programmaticLaunch = programmatic.contains(spec.name);
    moduleIndex[spec.name] = modules.size();
    modules.push_back(std::move(spec));
    binary.erase();
  }
  auto table = module->getAttrOfType<ArrayAttr>("ds.cuda_kernels");
  if (!table) {
    diags.error("the CUDA pipeline recorded no kernel table");
    return false;
  }
  for (Attribute attr : table) {
    auto ref = cast<SymbolRefAttr>(attr);
    auto it = moduleIndex.find(ref.getRootReference().getValue());
    if (it == moduleIndex.end()) {
      diags.error("kernel '" + ref.getLeafReference().getValue().str() +
                  "' has no GPU module");
      return false;
    }
    kernels.push_back({it->second, ref.getLeafReference().getValue().str()});
  }
  module->removeAttr("ds.cuda_kernels");
  return true;
}

static bool runPhases(ModuleOp module, mlir::ds::Phase first,
                      mlir::ds::Phase last,
                      const mlir::ds::PipelineConfig &config) {
  PassManager pm(module.getContext());
  mlir::ds::buildDSCompilePipeline(pm, first, last, config);
  return succeeded(pm.run(module));
}

bool ::ds::runCompiler(const CompileOptions &options) {
  DialectRegistry registry;
  mlir::ds::registerAllDialects(registry);
  mlir::ds::registerImportDialects(registry);
  mlir::ds::registerCPUTargetTranslations(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  OneLineDiagnostics diags(ctx, options.inputPath);

  // Flags first: nothing is read before they are known to be good.
  std::optional<mlir::ds::Phase> stopAfter;
  if (!options.compileTo.empty()) {
    stopAfter = mlir::ds::parsePhase(options.compileTo);
    if (!stopAfter) {
      diags.error("--compile-to: unknown phase '" + options.compileTo +
                  "' (phases: " + llvm::join(mlir::ds::getPhaseNames(), ", ") +
                  ")");
      return false;
    }
  }
  if (options.target == "cuda") {
    if (options.cudaArch != "sm_80" && options.cudaArch != "sm_90" &&
        options.cudaArch != "sm_90a") {
      diags.error("--cuda-arch must be sm_80, sm_90 or sm_90a, got '" +
                  options.cudaArch + "'");
      return false;
    }
  } else if (options.target != "cpu") {
    diags.error("--target must be cpu or cuda, got '" + options.target + "'");
    return false;
  }
  if (options.precision != "fp32") {
    diags.error("--precision=" + options.precision +
                " is not implemented yet; use fp32");
    return false;
  }
  if (!stopAfter && options.outputPath.empty()) {
    diags.error("no output: pass -o OUT.dsa (or --compile-to=<phase>)");
    return false;
  }
  mlir::ds::PipelineConfig config;
  config.fusionRemarks = options.fusionRemarks;
  if (options.target == "cuda") {
    config.target = mlir::ds::Target::CUDA;
    config.cudaArch = options.cudaArch;
    if (const char *toolkit = std::getenv("DS_CUDA_TOOLKIT"))
      config.cudaToolkit = toolkit;
  }
  if (options.kvCache == "on")
    config.kvCache = mlir::ds::KVCacheMode::On;
  else if (options.kvCache == "off")
    config.kvCache = mlir::ds::KVCacheMode::Off;
  else if (options.kvCache != "auto") {
    diags.error("--kv-cache must be auto, on or off, got '" +
                options.kvCache + "'");
    return false;
  }

  mlir::ds::ImportOptions importOptions;
  importOptions.symbolicInputs = options.symbolicInputs;
  if (!parseShapeFlags(options.shapes, importOptions, diags))
    return false;

  FailureOr<mlir::ds::ImportedModel> imported =
      mlir::ds::importONNXFile(options.inputPath, ctx, importOptions);
  if (failed(imported))
    return false;
  ModuleOp module = imported->module.get();
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward) {
    diags.error("the importer produced no @forward function");
    return false;
  }
  llvm::json::Object stats;
  int64_t weightBytes = 0;
  for (const mlir::ds::WeightInfo &w : imported->weights)
    weightBytes += w.external ? w.size : w.data.size();
  stats["weight_bytes"] = weightBytes;

  using mlir::ds::Phase;
  // Stats describe one forward: ops of @forward only (@prefill and @decode
  // are copies of it; @prepare runs once at load).
  auto countInForward = [&](llvm::function_ref<bool(Operation *)> pred) {
    int64_t n = 0;
    if (auto fwd = module.lookupSymbol<func::FuncOp>("forward"))
      fwd.walk([&](Operation *op) { n += pred(op); });
    return n;
  };
  if (stopAfter == Phase::Import) {
    module.print(llvm::outs());
    llvm::outs() << "\n";
    return true;
  }
  std::map<std::string, Signature> signatures;
  std::optional<rt::GenerationSpec> generation;
  llvm::StringMap<uint32_t> weightIndex;
  for (auto [i, w] : llvm::enumerate(imported->weights))
    weightIndex[w.name] = i;
  for (int p = static_cast<int>(Phase::GraphOpt);
       p <= static_cast<int>(Phase::LLVM); ++p) {
    auto phase = static_cast<Phase>(p);
    if (!runPhases(module, phase, phase, config))
      return false;
    switch (phase) {
    case Phase::Fusion:
      stats["fused_attention"] = countInForward([](Operation *op) {
        return op->getName().getStringRef() == "ds.attention";
      });
      break;
    case Phase::KVCache: {
      auto status = module->getAttrOfType<StringAttr>("ds.kv_cache");
      stats["kv_cache"] = status ? status.getValue().str()
                                 : std::string("off (--kv-cache=off)");
      if (status && status.getValue() == "ok") {
        FailureOr<rt::GenerationSpec> gen = readGeneration(module, diags);
        if (failed(gen))
          return false;
        generation = std::move(*gen);
      }
      break;
    }
    case Phase::Lower:
      // One kernel per linalg op (not counting linalg.yield/index).
      stats["kernels"] = countInForward(
          [](Operation *op) { return isa<linalg::LinalgOp>(op); });
      for (auto func : module.getOps<func::FuncOp>()) {
        if (!func.isPublic() || func.isExternal())
          continue;
        FailureOr<Signature> sig = readSignature(func, weightIndex, diags);
        if (failed(sig))
          return false;
        signatures[func.getName().str()] = std::move(*sig);
      }
      // ds-append-next-tokens gave both generation entry points the greedy
      // argmax as a result.
      if (generation) {
        auto hasNextTokens = [&](const std::string &entry) {
          auto it = signatures.find(entry);
          return it != signatures.end() &&
                 llvm::any_of(it->second.results,
                              [](const rt::TensorSpec &r) {
                                return r.name == "next_tokens";
                              });
        };
        if (hasNextTokens(generation->prefill) &&
            hasNextTokens(generation->decode))
          generation->nextTokens = "next_tokens";
      }
      break;
    case Phase::Bufferize: {
      int64_t bytes = 0;
      if (auto fwd = module.lookupSymbol<func::FuncOp>("forward"))
        bytes = countActivationBytes(fwd);
      stats["peak_activation_bytes"] = bytes;
      break;
    }
    default:
      break;
    }
    if (stopAfter == phase) {
      module.print(llvm::outs());
      llvm::outs() << "\n";
      return true;
    }
  }

  std::vector<rt::DeviceModuleSpec> deviceModules;
  std::vector<rt::KernelSpec> kernels;
  if (config.target == mlir::ds::Target::CUDA) {
    if (!extractDeviceCode(module, options.cudaArch, deviceModules, kernels,
                           diags))
      return false;
    // Kernel launches of one call of each entry point (straight-line host
    // code: loops in host code would launch more).
    auto launchesOf = [&](StringRef name) -> std::optional<int64_t> {
      auto func = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
      if (!func)
        return std::nullopt;
      auto launches = func->getAttrOfType<IntegerAttr>("ds.kernel_launches");
      return launches ? launches.getInt() : 0;
    };
    if (std::optional<int64_t> n = launchesOf("forward"))
      stats["kernels"] = *n;
    if (std::optional<int64_t> n = launchesOf("prefill"))
      stats["prefill_kernels"] = *n;
    if (std::optional<int64_t> n = launchesOf("decode"))
      stats["decode_kernels"] = *n;
  }

  mlir::ds::CPUTargetOptions cpuOptions;
  cpuOptions.cpu = options.cpu;
  FailureOr<mlir::ds::CPUObject> object =
      mlir::ds::emitCPUSharedObject(module, cpuOptions);
  if (failed(object))
    return false;

  // Weights: embedded initializers go to OUT.weights beside the artifact
  // (64-byte aligned); external data is referenced where it lies.
  SmallString<256> artifactDir(options.outputPath);
  llvm::sys::path::remove_filename(artifactDir);
  if (artifactDir.empty())
    artifactDir = ".";
  SmallString<256> weightsPath(options.outputPath);
  llvm::sys::path::replace_extension(weightsPath, "weights");
  std::string weightsFile = llvm::sys::path::filename(weightsPath).str();

  rt::ArtifactBuilder builder;
  if (config.target == mlir::ds::Target::CUDA) {
    builder.setTarget(rt::Target::Cuda, object->triple);
    for (rt::DeviceModuleSpec &m : deviceModules)
      builder.addDeviceModule(std::move(m));
    for (rt::KernelSpec &k : kernels)
      builder.addKernel(std::move(k));
  } else {
    builder.setTarget(rt::Target::Cpu, object->triple);
  }
  builder.setCode(std::move(object->sharedObject));
  std::string embedded;
  for (const mlir::ds::WeightInfo &w : imported->weights) {
    rt::WeightSpec spec;
    spec.name = w.name;
    spec.dtype = static_cast<rt::DType>(w.dtype);
    spec.shape.assign(w.shape.begin(), w.shape.end());
    if (w.external) {
      spec.file = relativePath(w.file, artifactDir);
      spec.offset = w.offset;
      spec.size = w.size;
    } else {
      embedded.resize(llvm::alignTo(embedded.size(), 64), '\0');
      spec.offset = embedded.size();
      spec.size = w.data.size();
      embedded += w.data;
    }
    builder.addWeight(std::move(spec));
  }
  for (auto &[name, sig] : signatures) {
    rt::EntryPointSpec entry;
    entry.name = name;
    entry.symbol = mlir::ds::kEntryPointPrefix.str() + name;
    entry.arguments = std::move(sig.arguments);
    entry.results = std::move(sig.results);
    builder.addEntryPoint(std::move(entry));
  }
  if (generation)
    builder.setGeneration(std::move(*generation));
  builder.setDefaultWeightsFile(weightsFile);

  std::string statsText;
  llvm::raw_string_ostream(statsText) << llvm::json::Value(std::move(stats));
  builder.setStats(statsText);

  {
    std::ofstream out(weightsPath.str().str(), std::ios::binary);
    out.write(embedded.data(), embedded.size());
    if (!out) {
      diags.error("cannot write " + weightsPath.str());
      return false;
    }
  }
  if (rt::Status status = builder.writeFile(options.outputPath);
      status.failed()) {
    diags.error("cannot write " + options.outputPath + ": " + status.message());
    return false;
  }
  if (options.printStats)
    llvm::outs() << statsText << "\n";
  return diags.count() == 0;
}
