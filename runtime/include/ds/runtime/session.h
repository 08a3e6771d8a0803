//===- session.h - Run a compiled artifact ----------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// A `Session` owns one loaded artifact: its decoded metadata, its weights
// (memory-mapped) and its code (a dlopen'ed shared object on the CPU target).
// See docs/Runtime.md.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SESSION_H
#define DS_RUNTIME_SESSION_H

#include "ds/runtime/artifact.h"
#include "ds/runtime/dtype.h"
#include "ds/runtime/status.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ds::runtime {

/// Checks `inputs` against the graph inputs of `entry`: every input present
/// and no unknown one, dtype, rank, static dims, data size, and dynamic dims
/// sharing a symbolic name agree. On success `bindings` maps each symbol to
/// its value. Messages name the offending input.
Status checkInputs(const EntryPointSpec &entry,
                   const std::map<std::string, TensorView> &inputs,
                   std::map<std::string, int64_t> &bindings);

/// A loaded artifact, ready to run. `run` may be called repeatedly; calls on
/// one session must not overlap.
class Session {
public:
  /// Loads the artifact at `artifactPath`, maps its weights and loads its
  /// code. A non-empty `weightsPath` replaces the artifact's default weights
  /// file (see docs/Runtime.md for the rule).
  static Expected<std::unique_ptr<Session>>
  create(const std::string &artifactPath, const std::string &weightsPath = {});

  /// Like `create`, for an artifact already in memory; relative weight files
  /// are resolved against `artifactFolder`.
  static Expected<std::unique_ptr<Session>>
  createFromArtifact(Artifact artifact, const std::string &artifactFolder,
                     const std::string &weightsPath = {});

  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  const Artifact &artifact() const;

  /// Runs entry point `entry` on `inputs` (by name) and returns its results
  /// in result order, as dense row-major tensors.
  Expected<std::vector<Tensor>>
  run(std::string_view entry, const std::map<std::string, TensorView> &inputs);

private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace ds::runtime

#endif // DS_RUNTIME_SESSION_H
