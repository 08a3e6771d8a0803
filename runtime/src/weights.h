//===- weights.h - Memory-mapped weights ------------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_WEIGHTS_H
#define DS_RUNTIME_SRC_WEIGHTS_H

#include "ds/runtime/artifact.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ds::runtime::detail {

/// A whole file mapped read-only.
class MappedFile {
public:
  static Expected<std::unique_ptr<MappedFile>> map(const std::string &path);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  const uint8_t *data() const { return base; }
  uint64_t size() const { return length; }

private:
  MappedFile() = default;
  const uint8_t *base = nullptr;
  uint64_t length = 0;
};

/// Returns the path weight `weight` is read from. Rule: when `weightsPath`
/// is non-empty it replaces the default weights file, i.e. it is used for
/// every weight whose `file` is empty or equal to the artifact's
/// `defaultWeightsFile`; every other weight reads `artifactFolder/file`.
/// Fails if the weight ends up with no file at all.
Expected<std::string> resolveWeightPath(const Artifact &artifact,
                                        const WeightSpec &weight,
                                        const std::string &artifactFolder,
                                        const std::string &weightsPath);

/// The data of every weight of an artifact: each distinct file is mapped
/// once, and each weight's offset + size is checked against its file. A
/// weight whose offset is not a multiple of its element size is copied to
/// aligned memory, since generated code assumes natural alignment.
class WeightStore {
public:
  static Expected<std::unique_ptr<WeightStore>>
  load(const Artifact &artifact, const std::string &artifactFolder,
       const std::string &weightsPath);

  /// Returns the first byte of weight `index`.
  const void *data(uint32_t index) const { return pointers[index]; }

private:
  std::map<std::string, std::unique_ptr<MappedFile>> files;
  std::vector<std::unique_ptr<uint64_t[]>> copies;
  std::vector<const void *> pointers;
};

} // namespace ds::runtime::detail

#endif // DS_RUNTIME_SRC_WEIGHTS_H
