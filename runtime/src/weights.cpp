//===- weights.cpp - Memory-mapped weights --------------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "weights.h"

#include "file_util.h"

#include <cstring>
#include <sys/mman.h>

using namespace ds::runtime;
using namespace ds::runtime::detail;

Expected<std::unique_ptr<MappedFile>> MappedFile::map(const std::string &path) {
  Expected<InputFile> file = InputFile::open(path);
  if (file.failed())
    return file.status();
  std::unique_ptr<MappedFile> mapped(new MappedFile());
  mapped->length = file->size();
  // mmap rejects empty mappings; an empty file can only back empty weights.
  if (mapped->length == 0)
    return mapped;
  if (mapped->length > static_cast<uint64_t>(SIZE_MAX))
    return makeError() << path << ": file too large to map";
  void *base = ::mmap(nullptr, static_cast<size_t>(mapped->length), PROT_READ,
                      MAP_PRIVATE, file->fd(), 0);
  if (base == MAP_FAILED)
    return makeError() << path << ": cannot map: " << errnoMessage();
  mapped->base = static_cast<const uint8_t *>(base);
  return mapped;
}

MappedFile::~MappedFile() {
  if (base)
    ::munmap(const_cast<uint8_t *>(base), static_cast<size_t>(length));
}

Expected<std::string> ds::runtime::detail::resolveWeightPath(
    const Artifact &artifact, const WeightSpec &weight,
    const std::string &artifactFolder, const std::string &weightsPath) {
  bool usesDefault =
      weight.file.empty() || weight.file == artifact.defaultWeightsFile;
  if (usesDefault && !weightsPath.empty())
    return weightsPath;
  const std::string &file =
      weight.file.empty() ? artifact.defaultWeightsFile : weight.file;
  if (file.empty())
    return makeError() << "weight '" << weight.name
                       << "' names no file and the artifact has no default "
                          "weights file; pass a weights path (--weights)";
  return joinPath(artifactFolder, file);
}

Expected<std::unique_ptr<WeightStore>>
WeightStore::load(const Artifact &artifact, const std::string &artifactFolder,
                  const std::string &weightsPath) {
  // Backs empty weights, whose pointer is never dereferenced.
  static const uint64_t emptyWeight = 0;
  std::unique_ptr<WeightStore> store(new WeightStore());
  for (const WeightSpec &weight : artifact.weights) {
    Expected<std::string> path =
        resolveWeightPath(artifact, weight, artifactFolder, weightsPath);
    if (path.failed())
      return path.status();
    auto it = store->files.find(*path);
    if (it == store->files.end()) {
      Expected<std::unique_ptr<MappedFile>> mapped = MappedFile::map(*path);
      if (mapped.failed())
        return mapped.status().withPrefix("weight '" + weight.name + "'");
      it = store->files.emplace(*path, std::move(*mapped)).first;
    }
    const MappedFile &file = *it->second;
    // validateArtifact guarantees offset + size does not overflow.
    if (weight.offset + weight.size > file.size())
      return makeError() << *path << ": weight '" << weight.name << "' (offset "
                         << weight.offset << ", size " << weight.size
                         << ") ends past the end of the file (" << file.size()
                         << " bytes)";
    if (weight.size == 0) {
      store->pointers.push_back(&emptyWeight);
      continue;
    }
    const uint8_t *data = file.data() + weight.offset;
    if (weight.offset % elementSize(weight.dtype) != 0) {
      std::unique_ptr<uint64_t[]> copy(new uint64_t[(weight.size + 7) / 8]);
      std::memcpy(copy.get(), data, static_cast<size_t>(weight.size));
      data = reinterpret_cast<const uint8_t *>(copy.get());
      store->copies.push_back(std::move(copy));
    }
    store->pointers.push_back(data);
  }
  return store;
}
