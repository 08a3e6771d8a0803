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
    if (arg.kind == ArgumentSpec::Kind::Derived)
      continue; // checked with `prepare` in checkDerivedWeights
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

static bool isFloat(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16 ||
         dtype == DType::F64;
}

/// `prepare` exists iff some argument is a derived weight; it takes only
/// weights and returns static shapes; derived indices are in range.
static Status checkDerivedWeights(const Artifact &artifact) {
  const EntryPointSpec *prepare = artifact.findEntryPoint(kPrepareEntryPoint);
  bool usesDerived = false;
  for (const EntryPointSpec &entry : artifact.entryPoints) {
    for (size_t i = 0; i < entry.arguments.size(); ++i) {
      const ArgumentSpec &arg = entry.arguments[i];
      if (arg.kind != ArgumentSpec::Kind::Derived)
        continue;
      usesDerived = true;
      std::string where =
          "entry point '" + entry.name + "': argument " + std::to_string(i);
      if (!prepare)
        return makeError() << where << " is derived weight " << arg.derivedIndex
                           << " but the artifact has no '" << kPrepareEntryPoint
                           << "' entry point";
      if (&entry == prepare)
        continue; // reported below: prepare takes weights only
      if (arg.derivedIndex >= prepare->results.size())
        return makeError() << where << ": derived weight index "
                           << arg.derivedIndex << " out of range ('"
                           << kPrepareEntryPoint << "' has "
                           << prepare->results.size() << " results)";
    }
  }
  if (!prepare)
    return Status::success();
  std::string where = std::string("entry point '") + kPrepareEntryPoint + "'";
  if (!usesDerived)
    return makeError() << where
                       << " exists but no argument uses a derived weight";
  for (size_t i = 0; i < prepare->arguments.size(); ++i)
    if (prepare->arguments[i].kind != ArgumentSpec::Kind::Weight)
      return makeError() << where << ": argument " << i
                         << " is not a weight (prepare takes weights only)";
  for (const TensorSpec &result : prepare->results)
    for (size_t d = 0; d < result.shape.size(); ++d)
      if (result.shape[d] < 0)
        return makeError() << where << ": result '" << result.name
                           << "' has dynamic dim " << d
                           << " (derived weights have static shapes)";
  return Status::success();
}

/// Finds result `name` of `entry`, or nullptr.
static const TensorSpec *findResult(const EntryPointSpec &entry,
                                    const std::string &name) {
  for (const TensorSpec &result : entry.results)
    if (result.name == name)
      return &result;
  return nullptr;
}

/// Finds graph input `name` of `entry`, or nullptr.
static const TensorSpec *findInput(const EntryPointSpec &entry,
                                   const std::string &name) {
  for (const ArgumentSpec &arg : entry.arguments)
    if (arg.kind == ArgumentSpec::Kind::Input && arg.input.name == name)
      return &arg.input;
  return nullptr;
}

static Status checkGenerationEntry(const Artifact &artifact,
                                   const GenerationSpec &generation,
                                   const EntryPointSpec &entry, bool isDecode) {
  // Token ids: i64 [batch, seq]; decode feeds one token per row.
  const TensorSpec *tokens = findInput(entry, generation.tokens);
  if (!tokens)
    return makeError() << "has no input '" << generation.tokens
                       << "' (the token ids)";
  if (tokens->dtype != DType::I64 || tokens->shape.size() != 2)
    return makeError() << "input '" << tokens->name << "' is "
                       << dtypeName(tokens->dtype)
                       << formatShape(tokens->shape, tokens->dimNames)
                       << "; expected i64[batch,seq]";
  if (isDecode && tokens->shape[1] != 1 && tokens->shape[1] != -1)
    return makeError() << "input '" << tokens->name << "' has seq dim "
                       << tokens->shape[1] << "; decode takes 1 token per row";
  if (!isDecode && tokens->shape[1] != -1)
    return makeError() << "input '" << tokens->name
                       << "' has a static seq dim " << tokens->shape[1]
                       << "; prefill takes prompts of any length";
  // Start positions: i64 [batch].
  const TensorSpec *positions = findInput(entry, generation.positions);
  if (!positions)
    return makeError() << "has no input '" << generation.positions
                       << "' (the start positions)";
  if (positions->dtype != DType::I64 || positions->shape.size() != 1)
    return makeError() << "input '" << positions->name << "' is "
                       << dtypeName(positions->dtype)
                       << formatShape(positions->shape, positions->dimNames)
                       << "; expected i64[batch]";
  // Caches: float [batch, heads, capacity, head_dim].
  for (const CacheSpec &cache : generation.caches) {
    const TensorSpec *spec = findInput(entry, cache.argument);
    if (!spec)
      return makeError() << "has no input '" << cache.argument
                         << "' (the cache of layer " << cache.layer << ")";
    std::string what = "cache input '" + spec->name + "'";
    if (!isFloat(spec->dtype))
      return makeError() << what << " has dtype " << dtypeName(spec->dtype)
                         << "; expected a float dtype";
    if (spec->shape.size() != 4)
      return makeError() << what << " has rank " << spec->shape.size()
                         << "; expected [batch,heads,capacity,head_dim]";
    if (spec->shape[0] != -1 || spec->shape[2] != -1)
      return makeError() << what << " is "
                         << formatShape(spec->shape, spec->dimNames)
                         << "; batch (dim 0) and capacity (dim 2) must be "
                            "dynamic";
    if (spec->shape[1] <= 0 || spec->shape[3] <= 0)
      return makeError() << what << " is "
                         << formatShape(spec->shape, spec->dimNames)
                         << "; heads (dim 1) and head_dim (dim 3) must be "
                            "static and positive";
    std::string_view capacity = spec->dimName(2);
    if (!capacity.empty() &&
        (capacity == tokens->dimName(1) || capacity == tokens->dimName(0) ||
         capacity == spec->dimName(0)))
      return makeError() << what << ": capacity dim 2 is named '" << capacity
                         << "' like a batch or sequence dim";
  }
  // Prefill's last prompt positions: i64 [batch].
  const bool lastOnly = !isDecode && !generation.lastPositions.empty();
  if (lastOnly) {
    const TensorSpec *last = findInput(entry, generation.lastPositions);
    if (!last)
      return makeError() << "has no input '" << generation.lastPositions
                         << "' (the last prompt positions)";
    if (last->dtype != DType::I64 || last->shape.size() != 1)
      return makeError() << "input '" << last->name << "' is "
                         << dtypeName(last->dtype)
                         << formatShape(last->shape, last->dimNames)
                         << "; expected i64[batch]";
  }
  // Nothing else.
  for (const ArgumentSpec &arg : entry.arguments)
    if (arg.kind == ArgumentSpec::Kind::Input &&
        arg.input.name != generation.tokens &&
        arg.input.name != generation.positions &&
        !(lastOnly && arg.input.name == generation.lastPositions) &&
        !generation.findCache(arg.input.name))
      return makeError() << "has input '" << arg.input.name
                         << "', which is neither the tokens, the positions "
                            "nor a cache";
  // Logits: float [batch, seq, vocab].
  const TensorSpec *logits = findResult(entry, generation.logits);
  if (!logits)
    return makeError() << "has no result '" << generation.logits
                       << "' (the logits)";
  if (!isFloat(logits->dtype) || logits->shape.size() != 3)
    return makeError() << "result '" << logits->name << "' is "
                       << dtypeName(logits->dtype)
                       << formatShape(logits->shape, logits->dimNames)
                       << "; expected float[batch,seq,vocab]";
  if (lastOnly && logits->shape[1] != 1 && logits->shape[1] != -1)
    return makeError() << "result '" << logits->name << "' has seq dim "
                       << logits->shape[1]
                       << "; with last positions, prefill returns 1";
  if (logits->shape[2] != -1 && logits->shape[2] != generation.vocabSize)
    return makeError() << "result '" << logits->name << "' has vocab dim "
                       << logits->shape[2] << " but vocab_size is "
                       << generation.vocabSize;
  // Greedy token ids: i64 [batch, seq].
  if (!generation.nextTokens.empty()) {
    const TensorSpec *next = findResult(entry, generation.nextTokens);
    if (!next)
      return makeError() << "has no result '" << generation.nextTokens
                         << "' (the greedy next tokens)";
    if (next->dtype != DType::I64 || next->shape.size() != 2)
      return makeError() << "result '" << next->name << "' is "
                         << dtypeName(next->dtype)
                         << formatShape(next->shape, next->dimNames)
                         << "; expected i64[batch,seq]";
  }
  (void)artifact;
  return Status::success();
}

static Status checkGeneration(const Artifact &artifact,
                              const GenerationSpec &generation) {
  if (generation.vocabSize <= 0)
    return makeError() << "vocab_size is " << generation.vocabSize
                       << "; expected > 0";
  if (generation.maxPositions < 0)
    return makeError() << "max_positions is " << generation.maxPositions
                       << "; expected >= 0 (0: unlimited)";
  if (generation.prefill == generation.decode)
    return makeError() << "prefill and decode are the same entry point '"
                       << generation.prefill << "'";
  if (generation.tokens == generation.positions)
    return makeError() << "tokens and positions are the same input '"
                       << generation.tokens << "'";
  if (!generation.lastPositions.empty() &&
      (generation.lastPositions == generation.tokens ||
       generation.lastPositions == generation.positions ||
       generation.findCache(generation.lastPositions)))
    return makeError() << "last positions input '" << generation.lastPositions
                       << "' is also the tokens, the positions or a cache";
  if (generation.caches.empty())
    return makeError() << "no caches";
  std::set<std::string> arguments;
  std::set<std::pair<uint32_t, CacheKind>> slots;
  for (const CacheSpec &cache : generation.caches) {
    if (cache.kind != CacheKind::Key && cache.kind != CacheKind::Value)
      return makeError() << "cache '" << cache.argument
                         << "': unknown kind code "
                         << static_cast<int>(cache.kind);
    if (cache.argument == generation.tokens ||
        cache.argument == generation.positions)
      return makeError() << "cache '" << cache.argument
                         << "' is also the tokens or positions input";
    if (!arguments.insert(cache.argument).second)
      return makeError() << "duplicate cache '" << cache.argument << "'";
    if (!slots.insert({cache.layer, cache.kind}).second)
      return makeError() << "two " << (cache.kind == CacheKind::Key ? "key" : "value")
                         << " caches for layer " << cache.layer;
  }
  const EntryPointSpec *entries[2];
  for (int i = 0; i < 2; ++i) {
    const std::string &name = i ? generation.decode : generation.prefill;
    const char *role = i ? "decode" : "prefill";
    if (name == kPrepareEntryPoint)
      return makeError() << role << " cannot be '" << kPrepareEntryPoint
                         << "'";
    entries[i] = artifact.findEntryPoint(name);
    if (!entries[i])
      return makeError() << role << " entry point '" << name
                         << "' does not exist";
    if (Status status =
            checkGenerationEntry(artifact, generation, *entries[i], i == 1);
        status.failed())
      return status.withPrefix(std::string(role) + " entry point '" + name +
                               "'");
  }
  // Prefill and decode share the caches: same dtype, heads and head_dim.
  for (const CacheSpec &cache : generation.caches) {
    const TensorSpec *a = findInput(*entries[0], cache.argument);
    const TensorSpec *b = findInput(*entries[1], cache.argument);
    if (a->dtype != b->dtype || a->shape != b->shape)
      return makeError() << "cache '" << cache.argument << "' is "
                         << dtypeName(a->dtype) << formatShape(a->shape)
                         << " in prefill but " << dtypeName(b->dtype)
                         << formatShape(b->shape) << " in decode";
  }
  return Status::success();
}

/// The CUDA fields (format 1.2): present exactly on the CUDA target, with
/// known archs, non-empty images and kernel module indices in range.
static Status checkCuda(const Artifact &artifact) {
  if (artifact.target != Target::Cuda) {
    if (!artifact.deviceModules.empty() || !artifact.kernels.empty() ||
        artifact.cudaHostAbi != 0)
      return makeError() << "a " << targetName(artifact.target)
                         << " artifact has CUDA modules or kernels";
    return Status::success();
  }
  if (artifact.formatMajor == 1 && artifact.formatMinor < 2)
    return makeError() << "format " << artifact.formatMajor << "."
                       << artifact.formatMinor
                       << " cannot hold CUDA code (format 1.2 adds it)";
  if (artifact.cudaHostAbi == 0)
    return makeError() << "CUDA artifact without a host ABI version";
  std::set<std::string> names;
  for (size_t i = 0; i < artifact.deviceModules.size(); ++i) {
    const DeviceModuleSpec &module = artifact.deviceModules[i];
    if (module.name.empty() || !names.insert(module.name).second)
      return makeError() << "device module " << i
                         << " has an empty or duplicate name";
    if (module.arch != "sm_80" && module.arch != "sm_90" &&
        module.arch != "sm_90a")
      return makeError() << "device module '" << module.name
                         << "': unknown arch '" << module.arch << "'";
    if (module.image.empty())
      return makeError() << "device module '" << module.name
                         << "' has an empty image";
    if (module.programmaticLaunch && artifact.formatMajor == 1 &&
        artifact.formatMinor < 5)
      return makeError() << "format " << artifact.formatMajor << "."
                         << artifact.formatMinor
                         << " cannot mark programmatic launches (format 1.5 "
                            "adds them)";
    if (module.programmaticLaunch && module.arch == "sm_80")
      return makeError() << "device module '" << module.name
                         << "' is marked for programmatic launch, which "
                            "needs sm_90 or newer, but targets sm_80";
  }
  for (size_t i = 0; i < artifact.kernels.size(); ++i) {
    const KernelSpec &kernel = artifact.kernels[i];
    if (kernel.module >= artifact.deviceModules.size())
      return makeError() << "kernel " << i << " '" << kernel.name
                         << "' names device module " << kernel.module
                         << " of " << artifact.deviceModules.size();
    if (kernel.name.empty() || kernel.name.find('\0') != std::string::npos)
      return makeError() << "kernel " << i << " has an invalid name";
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
  if (Status status = checkDerivedWeights(artifact); status.failed())
    return status;
  if (artifact.generation)
    if (Status status = checkGeneration(artifact, *artifact.generation);
        status.failed())
      return status.withPrefix("generation");
  if (Status status = checkCuda(artifact); status.failed())
    return status;
  // Format 1.0 has no way to express these.
  if (artifact.formatMajor == 1 && artifact.formatMinor < 1) {
    bool usesDerived = false;
    for (const EntryPointSpec &entry : artifact.entryPoints)
      for (const ArgumentSpec &arg : entry.arguments)
        usesDerived |= arg.kind == ArgumentSpec::Kind::Derived;
    if (usesDerived || artifact.generation)
      return makeError() << "format " << artifact.formatMajor << "."
                         << artifact.formatMinor
                         << " cannot hold derived weights or generation "
                            "metadata (format 1.1 adds them)";
  }
  if (artifact.formatMajor == 1 && artifact.formatMinor < 4 &&
      artifact.generation && !artifact.generation->lastPositions.empty())
    return makeError() << "format " << artifact.formatMajor << "."
                       << artifact.formatMinor
                       << " cannot name last prompt positions (format 1.4 "
                          "adds them)";
  if (artifact.formatMajor == 1 && artifact.formatMinor < 3 &&
      artifact.generation && !artifact.generation->nextTokens.empty())
    return makeError() << "format " << artifact.formatMajor << "."
                       << artifact.formatMinor
                       << " cannot name greedy next tokens (format 1.3 "
                          "adds them)";
  return Status::success();
}

uint32_t ArtifactBuilder::addDeviceModule(DeviceModuleSpec module) {
  artifactData.deviceModules.push_back(std::move(module));
  return static_cast<uint32_t>(artifactData.deviceModules.size() - 1);
}

ArtifactBuilder &ArtifactBuilder::addKernel(KernelSpec kernel) {
  artifactData.kernels.push_back(std::move(kernel));
  return *this;
}

ArtifactBuilder &ArtifactBuilder::setTarget(Target target,
                                            std::string targetTriple) {
  artifactData.target = target;
  artifactData.targetTriple = std::move(targetTriple);
  artifactData.cudaHostAbi = target == Target::Cuda ? kCudaHostAbiVersion : 0;
  return *this;
}

ArtifactBuilder &ArtifactBuilder::setGeneration(GenerationSpec generation) {
  artifactData.generation = std::move(generation);
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
