//===- code_loader.h - Load a CPU code blob ---------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_CODE_LOADER_H
#define DS_RUNTIME_SRC_CODE_LOADER_H

#include "ds/runtime/status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ds::runtime::detail {

/// The signature of every CPU entry point (docs/Artifact.md).
using EntryFunction = void (*)(void **args);

/// A shared object loaded from memory. The blob is written to an anonymous
/// memfd and opened through /proc/self/fd/N; if memfd_create is unavailable
/// it goes to a mkstemp file in $TMPDIR (or /tmp), removed right after
/// dlopen. The library is closed on destruction.
class SharedObject {
public:
  /// `useMemfd = false` forces the temporary-file path (for tests).
  static Expected<std::unique_ptr<SharedObject>>
  load(const std::vector<uint8_t> &code, bool useMemfd = true);
  ~SharedObject();
  SharedObject(const SharedObject &) = delete;
  SharedObject &operator=(const SharedObject &) = delete;

  /// Returns the function `symbol`, failing if it is not defined.
  Expected<EntryFunction> lookup(const std::string &symbol) const;

  /// Returns the address of the data symbol `symbol` (e.g. the CUDA host
  /// ABI table), failing if it is not defined.
  Expected<void *> lookupData(const std::string &symbol) const;

private:
  SharedObject() = default;
  void *handle = nullptr;
};

/// Returns true if `address` lies inside a loaded shared object or the
/// executable (e.g. a constant global), i.e. it cannot be a heap buffer.
bool isInsideLoadedObject(const void *address);

/// Returns the architecture component of the host's target triple
/// ("x86_64", "aarch64").
const char *hostArchitecture();

} // namespace ds::runtime::detail

#endif // DS_RUNTIME_SRC_CODE_LOADER_H
