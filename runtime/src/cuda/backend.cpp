//===- backend.cpp - a session's CUDA side --------------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "cuda/backend.h"

#include "cuda/host_abi.h"

#include "code_loader.h"
#include "weights.h"

#include "ds/runtime/dtype.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace ds::runtime;
using namespace ds::runtime::cuda;

namespace {
/// One memref descriptor in a result block: [allocated, aligned, offset,
/// sizes[r], strides[r]], every field 8 bytes (docs/Artifact.md).
struct DescriptorView {
  int64_t *words;
  size_t rank;
  uint64_t allocated() const { return uint64_t(words[0]); }
  uint64_t aligned() const { return uint64_t(words[1]); }
  int64_t offset() const { return words[2]; }
  int64_t size(size_t d) const { return words[3 + d]; }
  int64_t stride(size_t d) const { return words[3 + rank + d]; }
};

/// Elements from `aligned` to one past the last element the descriptor
/// addresses, or -1 when a stride is negative or the span overflows.
int64_t spanElements(const DescriptorView &d) {
  for (size_t i = 0; i < d.rank; ++i) {
    if (d.size(i) == 0)
      return 0;
    if (d.stride(i) < 0 || d.size(i) < 0)
      return -1;
  }
  int64_t last = d.offset();
  for (size_t i = 0; i < d.rank; ++i) {
    int64_t term;
    if (__builtin_mul_overflow(d.size(i) - 1, d.stride(i), &term) ||
        __builtin_add_overflow(last, term, &last))
      return -1;
  }
  return last + 1;
}
} // namespace

static bool tracing() {
  static const bool on = std::getenv("DS_CUDA_TRACE") != nullptr;
  return on;
}

#define DS_CUDA_TRACE(msg)                                                    \
  do {                                                                        \
    if (tracing())                                                            \
      std::fprintf(stderr, "ds-cuda: %s\n", msg);                            \
  } while (0)

void CudaBackend::dropGraphs() {
  DS_CUDA_TRACE("dropping graphs");
  for (Captured &c : captured) {
    c.graph = CudaExecutor::Graph();
    c.signature = Signature();
  }
  DS_CUDA_TRACE("graphs dropped");
}

CudaBackend::~CudaBackend() {
  DS_CUDA_TRACE("backend teardown");
  dropGraphs();
  if (!exec)
    return;
  for (CUdeviceptr upload : uploads)
    (void)exec->arenaFree(upload);
  DS_CUDA_TRACE("executor teardown");
  exec.reset();
  DS_CUDA_TRACE("teardown done");
}

Expected<std::unique_ptr<CudaBackend>>
CudaBackend::create(const Artifact &artifact,
                    const detail::WeightStore &weightStore,
                    const detail::SharedObject &code) {
  if (artifact.cudaHostAbi != kCudaHostAbiVersion)
    return makeError() << "the artifact's CUDA host ABI is version "
                       << artifact.cudaHostAbi << "; this runtime implements "
                       << kCudaHostAbiVersion;
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  if (driver.failed())
    return driver.status();
  CudaExecutorOptions options;
  // Weights first, so the arena's default size is a share of what is left.
  options.deferArena = true;
  Expected<std::unique_ptr<CudaExecutor>> exec =
      CudaExecutor::create(*driver, options);
  if (exec.failed())
    return exec.status();
  std::unique_ptr<CudaBackend> backend(new CudaBackend);
  backend->exec = std::move(*exec);
  CudaExecutor &e = *backend->exec;

  const DeviceInfo &info = e.deviceInfo();
  int arch = info.computeMajor * 10 + info.computeMinor;
  for (const DeviceModuleSpec &module : artifact.deviceModules) {
    // sm_90a SASS runs on compute capability 9.0 only; sm_XY needs >= XY
    // (its PTX is JIT-compiled on newer archs).
    int need = std::atoi(module.arch.c_str() + 3);
    bool archSpecific = module.arch.back() == 'a';
    if (arch < need || (archSpecific && arch != need))
      return makeError() << "the artifact was compiled for " << module.arch
                         << " but the GPU is " << info.describe();
    if (Status status = e.loadModule(module.image, module.programmaticLaunch); status.failed())
      return status;
  }
  for (const KernelSpec &kernel : artifact.kernels)
    if (Status status = e.addKernel(int(kernel.module), kernel.name);
        status.failed())
      return status;

  Expected<void *> table = code.lookupData(cuda::kHostAbiTableSymbol);
  if (table.failed())
    return table.status().withPrefix("the host code of a CUDA artifact");
  if (Status status = installHostAbi(*table); status.failed())
    return status;

  for (size_t i = 0; i < artifact.weights.size(); ++i) {
    const WeightSpec &spec = artifact.weights[i];
    Expected<CUdeviceptr> device =
        e.allocPersistent(std::max<uint64_t>(spec.size, 1),
                          "weight '" + spec.name + "'");
    if (device.failed())
      return device.status();
    if (Status status =
            e.upload(*device, weightStore.data(uint32_t(i)), spec.size);
        status.failed())
      return status;
    backend->weights.push_back(reinterpret_cast<const void *>(*device));
  }
  if (Status status = e.reserveArena(); status.failed())
    return status;
  if (const char *graphs = std::getenv("DS_CUDA_GRAPHS"))
    backend->graphsEnabled = std::string(graphs) != "0";
  return backend;
}

Expected<const void *> CudaBackend::upload(const void *data, uint64_t bytes) {
  Expected<CUdeviceptr> device = exec->arenaAlloc(std::max<uint64_t>(bytes, 1));
  if (device.failed())
    return device.status();
  uploads.push_back(*device);
  if (Status status = exec->upload(*device, data, bytes); status.failed())
    return status;
  return reinterpret_cast<const void *>(*device);
}

Status CudaBackend::runPrepare(const EntryPointSpec &entry,
                               EntryFunction function,
                               std::vector<std::vector<int64_t>> &descriptors) {
  size_t words = 0;
  for (const TensorSpec &result : entry.results)
    words += 3 + 2 * result.shape.size();
  std::vector<int64_t> block(std::max<size_t>(words, 1), 0);
  std::vector<void *> args = {block.data()};
  for (std::vector<int64_t> &descriptor : descriptors)
    args.push_back(descriptor.data());
  {
    CudaExecutor::Scope scope(*exec);
    function(args.data());
  }
  if (Status status = exec->synchronize(); status.failed())
    return status.withPrefix("entry point 'prepare'");
  int64_t *cursor = block.data();
  for (const TensorSpec &spec : entry.results) {
    DescriptorView d{cursor, spec.shape.size()};
    cursor += 3 + 2 * d.rank;
    int64_t expected = 1;
    for (size_t i = d.rank; i-- > 0;) {
      if (d.size(i) != spec.shape[i])
        return makeError() << "entry point 'prepare': result '" << spec.name
                           << "' has an unexpected shape";
      if (d.size(i) != 1 && d.stride(i) != expected)
        return makeError() << "entry point 'prepare': result '" << spec.name
                           << "' is not dense row-major";
      expected *= d.size(i);
    }
    // Kept for the session's life: never freed from the arena.
    derivedWeights.push_back(reinterpret_cast<const void *>(
        d.aligned() + uint64_t(d.offset()) * elementSize(spec.dtype)));
  }
  return Status::success();
}

CudaBackend::Signature
CudaBackend::signatureOf(const EntryPointSpec &entry,
                         const std::vector<void *> &args, uint64_t arenaUsed,
                         size_t arenaLive) const {
  Signature signature;
  signature.entry = entry.name;
  signature.arenaUsed = arenaUsed;
  signature.arenaLive = arenaLive;
  // args[1 + i] is argument i's descriptor: 3 + 2 * rank words.
  for (size_t i = 0; i < entry.arguments.size(); ++i) {
    const ArgumentSpec &arg = entry.arguments[i];
    size_t rank = arg.kind == ArgumentSpec::Kind::Input ? arg.input.shape.size()
                                                        : 0;
    if (arg.kind != ArgumentSpec::Kind::Input) {
      // Weights and derived weights: their pointers never change within a
      // session, but their ranks come from elsewhere; record the pointer.
      signature.words.push_back(static_cast<const int64_t *>(args[1 + i])[1]);
      continue;
    }
    const int64_t *words = static_cast<const int64_t *>(args[1 + i]);
    signature.words.insert(signature.words.end(), words, words + 3 + 2 * rank);
  }
  return signature;
}

Status CudaBackend::call(const EntryPointSpec &entry, EntryFunction function,
                         std::vector<void *> &args,
                         std::vector<int64_t> &block,
                         const std::set<std::string> &skip) {
  Status status = run(entry, function, args, block, skip);
  for (CUdeviceptr upload : uploads)
    (void)exec->arenaFree(upload);
  uploads.clear();
  return status;
}

Status CudaBackend::run(const EntryPointSpec &entry, EntryFunction function,
                        std::vector<void *> &args,
                        std::vector<int64_t> &block,
                        const std::set<std::string> &skip) {
  // The arena as it was before this call's uploads, its only allocations
  // so far: part of the call's signature.
  const DeviceArena &arena = exec->arena();
  uint64_t usedBefore = arena.used();
  for (CUdeviceptr upload : uploads)
    usedBefore -= arena.blockSize(upload);
  Signature signature = signatureOf(entry, args, usedBefore,
                                    arena.liveBlocks() - uploads.size());
  Captured *slot = nullptr;
  for (Captured &c : captured)
    if (c.entry == entry.name)
      slot = &c;
  if (graphsEnabled && !exec->dead() && slot &&
      slot->signature == signature) {
    if (slot->graph.valid()) {
      // Replay: the same kernels on the same addresses; the inputs were
      // just uploaded to the addresses the graph reads.
      DS_CUDA_TRACE("replaying");
      if (Status status = exec->launchGraph(slot->graph); status.failed())
        return status;
      block = slot->resultBlock;
      return finishCall(entry, block, /*keepDevice=*/true, skip);
    }
    // The second identical call: capture it, then replay it.
    DS_CUDA_TRACE("capturing");
    if (Status status = exec->beginCapture(); status.failed())
      return status;
    {
      CudaExecutor::Scope scope(*exec);
      function(args.data());
    }
    Expected<CudaExecutor::Graph> graph = exec->endCapture();
    if (graph.failed())
      return graph.status();
    slot->graph = std::move(*graph);
    slot->resultBlock = block;
    if (Status status = exec->launchGraph(slot->graph); status.failed())
      return status;
    return finishCall(entry, block, /*keepDevice=*/false, skip);
  }
  if (!slot) {
    captured.push_back({});
    slot = &captured.back();
    slot->entry = entry.name;
  }
  // A different call: drop any graph, remember this one, run it.
  slot->graph = CudaExecutor::Graph();
  slot->signature = std::move(signature);
  {
    CudaExecutor::Scope scope(*exec);
    function(args.data());
  }
  return finishCall(entry, block, /*keepDevice=*/false, skip);
}

Status CudaBackend::finishCall(const EntryPointSpec &entry,
                               std::vector<int64_t> &block, bool keepDevice,
                               const std::set<std::string> &skip) {
  if (Status status = exec->synchronize(); status.failed())
    return status.withPrefix("entry point '" + entry.name + "'");
  int64_t *cursor = block.data();
  Status status = Status::success();
  for (const TensorSpec &spec : entry.results) {
    DescriptorView d{cursor, spec.shape.size()};
    cursor += 3 + 2 * d.rank;
    uint64_t device = d.allocated();
    if (status.succeeded() && skip.count(spec.name)) {
      d.words[0] = d.words[1] = 0;
    } else if (status.succeeded()) {
      size_t elemSize = elementSize(spec.dtype);
      int64_t span = spanElements(d);
      void *host = nullptr;
      if (span < 0) {
        status = makeError() << "entry point '" << entry.name << "': result '"
                             << spec.name << "' has an invalid layout";
      } else if (!(host = std::malloc(std::max<size_t>(span * elemSize, 1)))) {
        status = makeError() << "entry point '" << entry.name << "': result '"
                             << spec.name << "': out of host memory";
      } else {
        status = exec->download(host, CUdeviceptr(d.aligned()),
                                uint64_t(span) * elemSize);
        d.words[0] = int64_t(reinterpret_cast<uintptr_t>(host));
        d.words[1] = d.words[0];
      }
      if (status.failed()) {
        std::free(host);
        d.words[0] = d.words[1] = 0;
      }
    } else {
      d.words[0] = d.words[1] = 0;
    }
    if (!keepDevice && device &&
        device != uint64_t(reinterpret_cast<uintptr_t>(hostAbiDummyPointer())))
      (void)exec->arenaFree(CUdeviceptr(device));
  }
  return status;
}

Expected<void *> CudaBackend::allocCache(uint64_t bytes,
                                         const std::string &name) {
  Expected<CUdeviceptr> device =
      exec->allocPersistent(std::max<uint64_t>(bytes, 1), "KV cache '" + name + "'");
  if (device.failed())
    return device.status();
  if (Status status = exec->memset(*device, 0, bytes); status.failed())
    return status;
  return reinterpret_cast<void *>(*device);
}

void CudaBackend::freeCache(void *pointer) {
  // A graph that reads this cache must not outlive it.
  dropGraphs();
  (void)exec->freePersistent(CUdeviceptr(reinterpret_cast<uintptr_t>(pointer)));
}
