//===- artifact.h - The .dsa artifact contract ------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// The C++ view of the compiler <-> runtime contract (docs/Artifact.md). The
// on-disk format is the FlatBuffers schema runtime/schema/artifact.fbs; this
// header exposes it as plain structs so neither the compiler nor the runtime
// API ever sees a FlatBuffers type.
//
// The compiler builds an `Artifact` (directly or through `ArtifactBuilder`)
// and serializes it; the runtime parses bytes back into an `Artifact` after
// verifying them. Both directions run the same `validateArtifact` checks, so
// the compiler cannot write an artifact the runtime would reject.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_ARTIFACT_H
#define DS_RUNTIME_ARTIFACT_H

#include "ds/runtime/caps.h"
#include "ds/runtime/dtype.h"
#include "ds/runtime/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds::runtime {

/// The format version this runtime writes. It reads major == kFormatMajor and
/// any minor <= kFormatMinor.
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 5;

/// The entry point the runtime runs once at load to compute derived weights
/// (format 1.1). Users cannot call it.
inline constexpr char kPrepareEntryPoint[] = "prepare";

/// The FlatBuffers file identifier (bytes 4..8 of every artifact).
inline constexpr char kFileIdentifier[] = "DSA1";

/// The kind of code an artifact carries.
enum class Target : uint8_t {
  Cpu = 0,
  Cuda = 1,
};

/// Returns "cpu" or "cuda".
std::string targetName(Target target);

/// A graph input or an entry point result. Each dim is >= 0 (static) or -1
/// (dynamic); `dimNames` is empty or holds one (possibly empty) symbolic name
/// per dim.
struct TensorSpec {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<std::string> dimNames;

  /// Returns the symbolic name of dim `i`, or "" if it has none.
  std::string_view dimName(size_t i) const {
    return i < dimNames.size() ? std::string_view(dimNames[i])
                               : std::string_view();
  }
};

/// A weight read in place from a file outside the artifact.
struct WeightSpec {
  std::string name;
  DType dtype = DType::F32;
  /// Fully static.
  std::vector<int64_t> shape;
  /// Relative to the artifact's folder; empty selects the artifact's
  /// `defaultWeightsFile`.
  std::string file;
  uint64_t offset = 0;
  /// Must equal numel * elementSize(dtype).
  uint64_t size = 0;
};

/// An entry point argument: a weight, a graph input or (format 1.1) a
/// derived weight, i.e. a result of the `prepare` entry point.
struct ArgumentSpec {
  enum class Kind : uint8_t { Input, Weight, Derived };
  Kind kind = Kind::Input;
  /// Index into `Artifact::weights` when `kind == Weight`.
  uint32_t weightIndex = 0;
  /// Index into the results of `prepare` when `kind == Derived`.
  uint32_t derivedIndex = 0;
  /// The graph input when `kind == Input`.
  TensorSpec input;

  static ArgumentSpec fromInput(TensorSpec spec) {
    ArgumentSpec arg;
    arg.kind = Kind::Input;
    arg.input = std::move(spec);
    return arg;
  }
  static ArgumentSpec fromWeight(uint32_t index) {
    ArgumentSpec arg;
    arg.kind = Kind::Weight;
    arg.weightIndex = index;
    return arg;
  }
  static ArgumentSpec fromDerived(uint32_t index) {
    ArgumentSpec arg;
    arg.kind = Kind::Derived;
    arg.derivedIndex = index;
    return arg;
  }
};

/// A function of the code blob. On the CPU target, `symbol` has the C
/// signature `void symbol(void **args)` (see docs/Artifact.md).
struct EntryPointSpec {
  std::string name;
  std::string symbol;
  std::vector<ArgumentSpec> arguments;
  std::vector<TensorSpec> results;

  /// Returns the graph inputs among the arguments, in argument order.
  std::vector<const TensorSpec *> inputs() const {
    std::vector<const TensorSpec *> specs;
    for (const ArgumentSpec &arg : arguments)
      if (arg.kind == ArgumentSpec::Kind::Input)
        specs.push_back(&arg.input);
    return specs;
  }
};

/// Whether a KV cache holds keys or values (format 1.1).
enum class CacheKind : uint8_t { Key = 0, Value = 1 };

/// One KV cache of the prefill/decode entry points (format 1.1): the graph
/// input named `argument`, float [batch, heads, capacity, head_dim] with
/// batch and capacity dynamic (-1) and heads and head_dim static.
struct CacheSpec {
  std::string argument;
  uint32_t layer = 0;
  CacheKind kind = CacheKind::Key;
};

/// How to generate tokens with an artifact (format 1.1; docs/Artifact.md).
struct GenerationSpec {
  /// Entry point names.
  std::string prefill = "prefill";
  std::string decode = "decode";
  /// Graph input names (in both entry points): the token ids, i64 [batch,
  /// seq] (decode: seq is 1), and each row's start position, i64 [batch].
  std::string tokens = "tokens";
  std::string positions = "positions";
  /// Result name (in both entry points): float [batch, seq, vocabSize].
  std::string logits = "logits";
  int64_t vocabSize = 0;
  /// > 0: the longest sequence the model supports; 0: unlimited.
  int64_t maxPositions = 0;
  std::vector<CacheSpec> caches;
  /// (format 1.3) Result name (in both entry points), or empty: i64
  /// [batch, seq], the argmax of the logits over the vocabulary (lowest id
  /// on ties, NaNs ignored). Greedy generation reads it instead of the
  /// logits, so only token ids leave the device.
  std::string nextTokens;
  /// (format 1.4) Prefill input name, or empty: i64 [batch], each row's
  /// last prompt position. When set, prefill computes the logits (and
  /// next tokens) of that position only: its logits are [batch, 1, vocab].
  std::string lastPositions;

  /// Returns the cache whose argument is `name`, or nullptr.
  const CacheSpec *findCache(std::string_view name) const {
    for (const CacheSpec &cache : caches)
      if (cache.argument == name)
        return &cache;
    return nullptr;
  }
};

/// The version of the ds CUDA host ABI (docs/CUDA.md) this runtime
/// implements: the table of runtime functions the host code of a CUDA
/// artifact calls through its global `__ds_cuda_api`.
inline constexpr uint32_t kCudaHostAbiVersion = 1;

/// (format 1.2) One GPU image for cuModuleLoadData: a fatbin with SASS for
/// `arch` and PTX.
struct DeviceModuleSpec {
  std::string name;
  /// "sm_80", "sm_90" or "sm_90a".
  std::string arch;
  std::vector<uint8_t> image;
  /// (format 1.5) Every kernel begins with `griddepcontrol.wait`, so the
  /// runtime may launch it before the previous kernel has finished
  /// (programmatic dependent launch). Needs sm_90 or newer.
  bool programmaticLaunch = false;
};

/// (format 1.2) A kernel the host code launches by its index.
struct KernelSpec {
  uint32_t module = 0;
  std::string name;
};

/// A whole artifact, decoded.
struct Artifact {
  uint16_t formatMajor = kFormatMajor;
  uint16_t formatMinor = kFormatMinor;
  Target target = Target::Cpu;
  std::string targetTriple;
  /// For Target::Cpu, a position-independent ELF shared object.
  std::vector<uint8_t> code;
  /// The file (relative to the artifact's folder) read by weights whose
  /// `file` is empty; `ds-run --weights` replaces it. May be empty, in which
  /// case such weights need a weights path at session creation.
  std::string defaultWeightsFile;
  std::vector<WeightSpec> weights;
  std::vector<EntryPointSpec> entryPoints;
  /// Free-form JSON object recorded by the compiler; may be empty.
  std::string stats;
  /// Generation metadata (format 1.1); absent when the compiler derived no
  /// prefill/decode entry points (`stats` then says why under "kv_cache").
  std::optional<GenerationSpec> generation;
  /// CUDA target (format 1.2): the host ABI version, the GPU images and the
  /// kernel table the host code indexes.
  uint32_t cudaHostAbi = 0;
  std::vector<DeviceModuleSpec> deviceModules;
  std::vector<KernelSpec> kernels;

  /// Returns the entry point called `name`, or nullptr.
  const EntryPointSpec *findEntryPoint(std::string_view name) const;
};

/// Checks the invariants of docs/Artifact.md that the schema cannot express:
/// known target and dtype codes, ranks <= kMaxRank, dims >= -1 (weights: >=
/// 0), element counts <= kMaxElements, weight sizes, relative weight paths,
/// weight indices in range, and unique non-empty names; for format 1.1, the
/// `prepare` / derived weight rules and the generation metadata. Does not
/// check the format version beyond refusing 1.1 features in a 1.0 artifact.
Status validateArtifact(const Artifact &artifact);

/// Fails unless `size` is a plausible artifact size (8 .. kMaxArtifactBytes).
Status checkArtifactSize(uint64_t size);

/// Verifies and decodes an artifact: size cap, file identifier, format
/// version, the FlatBuffers verifier (with kMaxFlatBufferDepth and
/// kMaxFlatBufferTables), then `validateArtifact`. Any problem is a failure
/// whose message says what is wrong; no input makes it crash.
Expected<Artifact> parseArtifact(const uint8_t *data, size_t size);

/// Reads `path` (checking its size against kMaxArtifactBytes before reading)
/// and parses it. Messages are prefixed with the path.
Expected<Artifact> readArtifactFile(const std::string &path);

/// Validates `artifact` and serializes it with its recorded format version.
Expected<std::vector<uint8_t>> serializeArtifact(const Artifact &artifact);

/// Writes `bytes` to `path`, replacing it.
Status writeFileBytes(const std::string &path,
                      const std::vector<uint8_t> &bytes);

/// Assembles an artifact of the current format version for the compiler:
///
///   ArtifactBuilder builder;
///   builder.setTarget(Target::Cpu, "x86_64-unknown-linux-gnu");
///   builder.setCode(std::move(sharedObject));
///   builder.setDefaultWeightsFile("model.weights");
///   uint32_t w = builder.addWeight({"w", DType::F32, {4}, "", 0, 16});
///   builder.addEntryPoint({"forward", "ds_forward",
///                          {ArgumentSpec::fromWeight(w), ...}, {...}});
///   Expected<std::vector<uint8_t>> bytes = builder.finish();
class ArtifactBuilder {
public:
  ArtifactBuilder &setTarget(Target target, std::string targetTriple);
  ArtifactBuilder &setCode(std::vector<uint8_t> code);
  ArtifactBuilder &setDefaultWeightsFile(std::string file);
  ArtifactBuilder &setStats(std::string json);
  /// Appends a weight and returns its index for `ArgumentSpec::fromWeight`.
  uint32_t addWeight(WeightSpec weight);
  ArtifactBuilder &addEntryPoint(EntryPointSpec entryPoint);
  /// Records the generation metadata (format 1.1).
  ArtifactBuilder &setGeneration(GenerationSpec generation);
  /// CUDA target (format 1.2): a GPU image and its kernels, in the order
  /// the host code numbers them.
  uint32_t addDeviceModule(DeviceModuleSpec module);
  ArtifactBuilder &addKernel(KernelSpec kernel);

  /// The artifact assembled so far.
  const Artifact &artifact() const { return artifactData; }

  /// Validates and serializes the artifact.
  Expected<std::vector<uint8_t>> finish() const;
  /// Validates, serializes and writes the artifact to `path`.
  Status writeFile(const std::string &path) const;

private:
  Artifact artifactData;
};

} // namespace ds::runtime

#endif // DS_RUNTIME_ARTIFACT_H
