//===- artifact.cpp - Artifact invariants and builder ---------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/artifact.h"

#include <set>

using namespace ds::runtime;

std::string ds::runtime::targetName(Target target) {
  switch (target) {
  case Target::Cpu:
    return "cpu";
  case Target::Cuda:
    return "cuda";
  }
  return "target(" + std::to_string(static_cast<int>(target)) + ")";
}

const EntryPointSpec *Artifact::findEntryPoint(std::string_view name) const {
  for (const EntryPointSpec &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

Status ds::runtime::checkArtifactSize(uint64_t size) {
  if (size < 8)
    return makeError() << "artifact is " << size
                       << " bytes, too small to be a ds artifact";
  if (size > kMaxArtifactBytes)
    return makeError() << "artifact is " << size
                       << " bytes, more than the maximum of "
                       << kMaxArtifactBytes;
  return Status::success();
}

/// Fails if `text` holds a NUL byte (names reach C APIs such as dlsym).
static Status checkNoNul(const std::string &text, const char *what) {
  if (text.find('\0') != std::string::npos)
    return makeError() << what << " contains a NUL byte";
  return Status::success();
}

static Status checkTensorSpec(const TensorSpec &spec) {
  if (spec.name.empty())
    return makeError() << "empty name";
  if (Status status = checkNoNul(spec.name, "name"); status.failed())
    return status;
  if (!isKnownDType(static_cast<int32_t>(spec.dtype)))
    return makeError() << "unknown dtype code "
                       << static_cast<int32_t>(spec.dtype);
  if (spec.shape.size() > kMaxRank)
    return makeError() << "rank " << spec.shape.size()
                       << " exceeds the maximum of " << kMaxRank;
  if (!spec.dimNames.empty() && spec.dimNames.size() != spec.shape.size())
    return makeError() << "has " << spec.shape.size() << " dims but "
                       << spec.dimNames.size() << " dim names";
  int64_t staticCount = 1;
  for (size_t i = 0; i < spec.shape.size(); ++i) {
    int64_t dim = spec.shape[i];
    if (dim < -1)
      return makeError() << "dim " << i << " is " << dim
                         << "; expected >= 0 or -1 (dynamic)";
    if (dim >= 0 && (__builtin_mul_overflow(staticCount, dim, &staticCount) ||
                     staticCount > kMaxElements))
      return makeError() << "shape " << formatShape(spec.shape)
                         << " has more than " << kMaxElements << " elements";
  }
  for (const std::string &dimName : spec.dimNames)
    if (Status status = checkNoNul(dimName, "dim name"); status.failed())
      return status;
  return Status::success();
}

/// Weight files are relative to the artifact's folder.
static Status checkWeightsPath(const std::string &file) {
  if (Status status = checkNoNul(file, "file"); status.failed())
    return status;
  if (!file.empty() && file.front() == '/')
    return makeError() << "file '" << file
                       << "' is absolute; expected a path relative to the "
                          "artifact's folder";
  return Status::success();
}

static Status checkWeight(const WeightSpec &weight) {
  if (weight.name.empty())
    return makeError() << "empty name";
  if (Status status = checkNoNul(weight.name, "name"); status.failed())
    return status;
  if (!isKnownDType(static_cast<int32_t>(weight.dtype)))
    return makeError() << "unknown dtype code "
                       << static_cast<int32_t>(weight.dtype);
  Expected<int64_t> count = computeNumElements(weight.shape);
  if (count.failed())
    return count.status();
  uint64_t expected = static_cast<uint64_t>(*count) * elementSize(weight.dtype);
  if (weight.size != expected)
    return makeError() << "size " << weight.size << " does not match "
                       << dtypeName(weight.dtype) << formatShape(weight.shape)
                       << " (" << expected << " bytes)";
  uint64_t end;
  if (__builtin_add_overflow(weight.offset, weight.size, &end))
    return makeError() << "offset " << weight.offset << " + size "
                       << weight.size << " overflows";
  return checkWeightsPath(weight.file);
}

static Status checkEntryPoint(const EntryPointSpec &entry,
                              const Artifact &artifact) {
  if (entry.symbol.empty())
    return makeError() << "empty symbol";
  if (Status status = checkNoNul(entry.symbol, "symbol"); status.failed())
    return status;
  std::set<std::string> inputNames;
  for (size_t i = 0; i < entry.arguments.size(); ++i) {
    const ArgumentSpec &arg = entry.arguments[i];
    if (arg.kind == ArgumentSpec::Kind::Weight) {
      if (arg.weightIndex >= artifact.weights.size())
        return makeError() << "argument " << i << ": weight index "
                           << arg.weightIndex << " out of range ("
                           << artifact.weights.size() << " weights)";
      continue;
    }
    if (arg.kind != ArgumentSpec::Kind::Input)
      return makeError() << "argument " << i << ": unknown kind";
    if (Status status = checkTensorSpec(arg.input); status.failed())
      return status.withPrefix("input '" + arg.input.name + "'");
    if (!inputNames.insert(arg.input.name).second)
      return makeError() << "duplicate input '" << arg.input.name << "'";
  }
  std::set<std::string> resultNames;
  for (const TensorSpec &result : entry.results) {
    if (Status status = checkTensorSpec(result); status.failed())
      return status.withPrefix("result '" + result.name + "'");
    if (!resultNames.insert(result.name).second)
      return makeError() << "duplicate result '" << result.name << "'";
  }
  return Status::success();
}

Status ds::runtime::validateArtifact(const Artifact &artifact) {
  if (artifact.target != Target::Cpu && artifact.target != Target::Cuda)
    return makeError() << "unknown target code "
                       << static_cast<int>(artifact.target);
  if (Status status = checkWeightsPath(artifact.defaultWeightsFile);
      status.failed())
    return status.withPrefix("default weights file");
  std::set<std::string> weightNames;
  for (size_t i = 0; i < artifact.weights.size(); ++i) {
    const WeightSpec &weight = artifact.weights[i];
    if (Status status = checkWeight(weight); status.failed())
      return status.withPrefix("weight " + std::to_string(i) + " '" +
                               weight.name + "'");
    if (!weightNames.insert(weight.name).second)
      return makeError() << "duplicate weight '" << weight.name << "'";
  }
  std::set<std::string> entryNames;
  for (const EntryPointSpec &entry : artifact.entryPoints) {
    if (entry.name.empty())
      return makeError() << "entry point with an empty name";
    if (Status status = checkEntryPoint(entry, artifact); status.failed())
      return status.withPrefix("entry point '" + entry.name + "'");
    if (!entryNames.insert(entry.name).second)
      return makeError() << "duplicate entry point '" << entry.name << "'";
  }
  return Status::success();
}

ArtifactBuilder &ArtifactBuilder::setTarget(Target target,
                                            std::string targetTriple) {
  artifactData.target = target;
  artifactData.targetTriple = std::move(targetTriple);
  return *this;
}

ArtifactBuilder &ArtifactBuilder::setCode(std::vector<uint8_t> code) {
  artifactData.code = std::move(code);
  return *this;
}

ArtifactBuilder &ArtifactBuilder::setDefaultWeightsFile(std::string file) {
  artifactData.defaultWeightsFile = std::move(file);
  return *this;
}

ArtifactBuilder &ArtifactBuilder::setStats(std::string json) {
  artifactData.stats = std::move(json);
  return *this;
}

uint32_t ArtifactBuilder::addWeight(WeightSpec weight) {
  artifactData.weights.push_back(std::move(weight));
  return static_cast<uint32_t>(artifactData.weights.size() - 1);
}

ArtifactBuilder &ArtifactBuilder::addEntryPoint(EntryPointSpec entryPoint) {
  artifactData.entryPoints.push_back(std::move(entryPoint));
  return *this;
}

Expected<std::vector<uint8_t>> ArtifactBuilder::finish() const {
  return serializeArtifact(artifactData);
}

Status ArtifactBuilder::writeFile(const std::string &path) const {
  Expected<std::vector<uint8_t>> bytes = finish();
  if (bytes.failed())
    return bytes.status();
  return writeFileBytes(path, *bytes);
}
