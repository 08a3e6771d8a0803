//===- backend.h - a session's CUDA side ------------------------*- C++ -*-===//
//
// Part of the ds project.
//
// What a Session needs beyond the CPU path to run a CUDA artifact
// (docs/CUDA.md): the executor (device, stream, arena, kernels), the
// weights uploaded once, the derived weights `prepare` computed on the
// device, the host ABI installed in the loaded host code, and the upload /
// download around each entry-point call. The session keeps its CPU logic
// (argument checks, descriptors, result checks); this class turns host
// pointers into device pointers and back.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_CUDA_BACKEND_H
#define DS_RUNTIME_SRC_CUDA_BACKEND_H

#include "cuda/executor.h"

#include "ds/runtime/artifact.h"
#include "ds/runtime/status.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ds::runtime::detail {
class SharedObject;
class WeightStore;
} // namespace ds::runtime::detail

namespace ds::runtime::cuda {

/// The signature of every entry point (docs/Artifact.md).
using EntryFunction = void (*)(void **args);

class CudaBackend {
public:
  /// Loads the driver, creates the executor, installs the host ABI into
  /// `code`, loads the device modules and kernels and uploads every weight.
  static Expected<std::unique_ptr<CudaBackend>>
  create(const Artifact &artifact, const detail::WeightStore &weights,
         const detail::SharedObject &code);
  ~CudaBackend();

  CudaExecutor &executor() { return *exec; }

  /// The device copy of weight `index` / derived weight `index`.
  const void *weight(uint32_t index) const { return weights[index]; }
  const void *derived(uint32_t index) const { return derivedWeights[index]; }

  /// Runs `prepare` with the device weights and keeps its (dense, row
  /// major) results on the device as the derived weights.
  Status runPrepare(const EntryPointSpec &entry, EntryFunction function,
                    std::vector<std::vector<int64_t>> &descriptors);

  /// Copies a host input to the arena for one call (freed by endCall).
  Expected<const void *> upload(const void *data, uint64_t bytes);

  /// Calls `function` with the current executor set, waits for the device
  /// and, for each result in `block`, downloads what its descriptor spans
  /// into a malloc'ed host block, points the descriptor there (so the
  /// session's result checks and copies apply unchanged) and frees the
  /// device allocation. Results named in `skip` are not downloaded: their
  /// descriptor's pointers become null (generate() leaves the logits on the
  /// device when it reads the greedy next tokens). Frees this call's
  /// uploads in every case.
  Status call(const EntryPointSpec &entry, EntryFunction function,
              std::vector<void *> &args, std::vector<int64_t> &block,
              const std::set<std::string> &skip);

  /// A zero-filled device buffer for a KV cache, outside the arena.
  Expected<void *> allocCache(uint64_t bytes, const std::string &name);
  void freeCache(void *pointer);

  /// Destroys every captured graph (their buffers, e.g. KV caches, are
  /// about to be freed).
  void dropGraphs();

private:
  CudaBackend() = default;
  /// call() without the release of the uploads.
  Status run(const EntryPointSpec &entry, EntryFunction function,
             std::vector<void *> &args, std::vector<int64_t> &block,
             const std::set<std::string> &skip);
  /// Downloads the results described in `block`; frees their device
  /// allocations unless `keepDevice` (a graph replay owns none).
  Status finishCall(const EntryPointSpec &entry, std::vector<int64_t> &block,
                    bool keepDevice, const std::set<std::string> &skip);

  /// A call's identity for graph replay: the entry point, every argument
  /// descriptor word (shapes and device pointers) and the arena's state
  /// when it starts. The host code never reads device memory, so equal
  /// signatures launch the same kernels on the same addresses.
  struct Signature {
    std::string entry;
    std::vector<int64_t> words;
    uint64_t arenaUsed = 0;
    size_t arenaLive = 0;
    bool operator==(const Signature &o) const {
      return entry == o.entry && words == o.words &&
             arenaUsed == o.arenaUsed && arenaLive == o.arenaLive;
    }
  };
  Signature signatureOf(const EntryPointSpec &entry,
                        const std::vector<void *> &args,
                        uint64_t arenaUsedBeforeUploads,
                        size_t arenaLiveBeforeUploads) const;
  /// One entry point's last call: captured on the second call with the
  /// same signature, replayed while the signature stays the same (an empty
  /// signature matches no call).
  struct Captured {
    std::string entry;
    Signature signature;
    CudaExecutor::Graph graph;
    std::vector<int64_t> resultBlock;
  };
  std::vector<Captured> captured;
  /// DS_CUDA_GRAPHS=0 turns capture off.
  bool graphsEnabled = true;

  std::unique_ptr<CudaExecutor> exec;
  std::vector<const void *> weights;
  std::vector<const void *> derivedWeights;
  std::vector<CUdeviceptr> uploads;
};

} // namespace ds::runtime::cuda

#endif // DS_RUNTIME_SRC_CUDA_BACKEND_H
