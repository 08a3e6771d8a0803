//===- session_impl.h - Session internals shared by its sources -*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Session::Impl, shared by session.cpp (creation, prepare, calls) and
// generation.cpp (checkGeneration, generate). Internal to the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_SESSION_IMPL_H
#define DS_RUNTIME_SRC_SESSION_IMPL_H

#include "ds/runtime/session.h"

#include "code_loader.h"
#include "cuda/backend.h"
#include "weights.h"

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace ds::runtime {

struct Session::Impl {
  using SharedObject = detail::SharedObject;
  using WeightStore = detail::WeightStore;
  using EntryFunction = detail::EntryFunction;

  Artifact artifact;
  std::unique_ptr<WeightStore> weights;
  std::unique_ptr<SharedObject> code;
  /// CUDA artifacts: device, weights and derived weights on the device.
  /// Declared after `code`, destroyed before it.
  std::unique_ptr<cuda::CudaBackend> cuda;
  std::map<std::string, EntryFunction, std::less<>> functions;
  /// The results of `prepare`: dense row-major data per result, and the
  /// malloc'ed blocks that hold them (freed with the session).
  std::vector<const void *> derived;
  std::vector<void *> derivedBlocks;

  ~Impl() {
    for (void *block : derivedBlocks)
      std::free(block);
  }

  /// Runs `prepare` (when the artifact has one) and keeps its results.
  Status runPrepare();

  /// Checks `inputs` and calls `entry`.
  /// `deviceCaches`: the KV-cache inputs already point to device memory
  /// (generate() on a CUDA artifact). Results named in `skip` are checked
  /// but not read: their tensors have a shape and no data (generate()
  /// leaves the logits on the device when it reads the greedy tokens).
  Expected<std::vector<Tensor>>
  call(const EntryPointSpec &entry,
       const std::map<std::string, TensorView> &inputs,
       bool deviceCaches = false, const std::set<std::string> &skip = {});

  Expected<std::vector<Tensor>>
  readResults(const EntryPointSpec &entry, const std::vector<int64_t> &block,
              const std::map<std::string, int64_t> &inputBindings,
              const std::set<const void *> &argumentPointers,
              const std::set<std::string> &skip);
};

} // namespace ds::runtime

#endif // DS_RUNTIME_SRC_SESSION_IMPL_H
