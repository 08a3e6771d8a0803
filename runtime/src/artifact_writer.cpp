//===- artifact_writer.cpp - Serialize an Artifact to FlatBuffers ---------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/artifact.h"

#include "artifact_seal.h"

#include "ds/runtime/artifact_generated.h"

using namespace ds::runtime;
namespace fbs = flatbuffers;

namespace {
/// Serializes one validated artifact.
class Writer {
public:
  explicit Writer(const Artifact &artifact) : artifact(artifact) {}
  std::vector<uint8_t> write();

private:
  fbs::Offset<fb::TensorSpec> writeSpec(const TensorSpec &spec);
  fbs::Offset<fb::Weight> writeWeight(const WeightSpec &weight);
  fbs::Offset<fb::EntryPoint> writeEntryPoint(const EntryPointSpec &entry);
  fbs::Offset<fb::Generation> writeGeneration(const GenerationSpec &spec);
  fbs::Offset<fbs::String> writeString(const std::string &text) {
    return builder.CreateString(text);
  }

  const Artifact &artifact;
  fbs::FlatBufferBuilder builder{4096};
};
} // namespace

fbs::Offset<fb::TensorSpec> Writer::writeSpec(const TensorSpec &spec) {
  auto name = writeString(spec.name);
  auto shape = builder.CreateVector(spec.shape);
  fbs::Offset<fbs::Vector<fbs::Offset<fbs::String>>> dimNames;
  if (!spec.dimNames.empty())
    dimNames = builder.CreateVectorOfStrings(spec.dimNames);
  return fb::CreateTensorSpec(builder, name, static_cast<int32_t>(spec.dtype),
                              shape, dimNames);
}

fbs::Offset<fb::Weight> Writer::writeWeight(const WeightSpec &weight) {
  auto name = writeString(weight.name);
  auto shape = builder.CreateVector(weight.shape);
  fbs::Offset<fbs::String> file;
  if (!weight.file.empty())
    file = writeString(weight.file);
  return fb::CreateWeight(builder, name, static_cast<int32_t>(weight.dtype),
                          shape, file, weight.offset, weight.size);
}

fbs::Offset<fb::EntryPoint>
Writer::writeEntryPoint(const EntryPointSpec &entry) {
  std::vector<fbs::Offset<fb::Argument>> arguments;
  for (const ArgumentSpec &arg : entry.arguments) {
    if (arg.kind == ArgumentSpec::Kind::Weight) {
      auto ref = fb::CreateWeightRef(builder, arg.weightIndex);
      arguments.push_back(fb::CreateArgument(
          builder, fb::ArgumentSource::WeightRef, ref.Union()));
    } else if (arg.kind == ArgumentSpec::Kind::Derived) {
      auto ref = fb::CreateDerivedRef(builder, arg.derivedIndex);
      arguments.push_back(fb::CreateArgument(
          builder, fb::ArgumentSource::DerivedRef, ref.Union()));
    } else {
      auto spec = writeSpec(arg.input);
      arguments.push_back(fb::CreateArgument(
          builder, fb::ArgumentSource::TensorSpec, spec.Union()));
    }
  }
  std::vector<fbs::Offset<fb::TensorSpec>> results;
  for (const TensorSpec &result : entry.results)
    results.push_back(writeSpec(result));
  auto name = writeString(entry.name);
  auto symbol = writeString(entry.symbol);
  auto argumentsVector = builder.CreateVector(arguments);
  auto resultsVector = builder.CreateVector(results);
  return fb::CreateEntryPoint(builder, name, symbol, argumentsVector,
                              resultsVector);
}

fbs::Offset<fb::Generation>
Writer::writeGeneration(const GenerationSpec &spec) {
  std::vector<fbs::Offset<fb::CacheSpec>> caches;
  for (const CacheSpec &cache : spec.caches)
    caches.push_back(fb::CreateCacheSpec(
        builder, writeString(cache.argument), cache.layer,
        static_cast<fb::CacheKind>(cache.kind)));
  auto cachesVector = builder.CreateVector(caches);
  auto prefill = writeString(spec.prefill);
  auto decode = writeString(spec.decode);
  auto tokens = writeString(spec.tokens);
  auto positions = writeString(spec.positions);
  auto logits = writeString(spec.logits);
  fbs::Offset<fbs::String> nextTokens;
  if (!spec.nextTokens.empty())
    nextTokens = writeString(spec.nextTokens);
  fbs::Offset<fbs::String> lastPositions;
  if (!spec.lastPositions.empty())
    lastPositions = writeString(spec.lastPositions);
  return fb::CreateGeneration(builder, prefill, decode, tokens, positions,
                              logits, spec.vocabSize, spec.maxPositions,
                              cachesVector, nextTokens, lastPositions);
}

std::vector<uint8_t> Writer::write() {
  fbs::Offset<fbs::String> triple;
  if (!artifact.targetTriple.empty())
    triple = writeString(artifact.targetTriple);
  auto code = builder.CreateVector(artifact.code);
  fbs::Offset<fbs::String> defaultWeightsFile;
  if (!artifact.defaultWeightsFile.empty())
    defaultWeightsFile = writeString(artifact.defaultWeightsFile);
  std::vector<fbs::Offset<fb::Weight>> weights;
  for (const WeightSpec &weight : artifact.weights)
    weights.push_back(writeWeight(weight));
  auto weightsVector = builder.CreateVector(weights);
  std::vector<fbs::Offset<fb::EntryPoint>> entries;
  for (const EntryPointSpec &entry : artifact.entryPoints)
    entries.push_back(writeEntryPoint(entry));
  auto entriesVector = builder.CreateVector(entries);
  fbs::Offset<fbs::String> stats;
  if (!artifact.stats.empty())
    stats = writeString(artifact.stats);
  fbs::Offset<fb::Generation> generation;
  if (artifact.generation)
    generation = writeGeneration(*artifact.generation);
  std::vector<fbs::Offset<fb::DeviceModule>> modules;
  for (const DeviceModuleSpec &module : artifact.deviceModules) {
    auto name = writeString(module.name);
    auto arch = writeString(module.arch);
    auto image = builder.CreateVector(module.image);
    modules.push_back(fb::CreateDeviceModule(builder, name, arch, image,
                                             module.programmaticLaunch));
  }
  fbs::Offset<fbs::Vector<fbs::Offset<fb::DeviceModule>>> modulesVector;
  if (!modules.empty())
    modulesVector = builder.CreateVector(modules);
  std::vector<fbs::Offset<fb::Kernel>> kernels;
  for (const KernelSpec &kernel : artifact.kernels)
    kernels.push_back(
        fb::CreateKernel(builder, kernel.module, writeString(kernel.name)));
  fbs::Offset<fbs::Vector<fbs::Offset<fb::Kernel>>> kernelsVector;
  if (!kernels.empty())
    kernelsVector = builder.CreateVector(kernels);
  fb::Version version(artifact.formatMajor, artifact.formatMinor);
  // Non-default placeholders make sure both fields are stored; sealing
  // overwrites them once the final size is known.
  constexpr uint64_t kPlaceholder = ~uint64_t(0);
  auto root = fb::CreateArtifact(builder, &version, kPlaceholder, kPlaceholder,
                                 static_cast<fb::Target>(artifact.target),
                                 triple, code, defaultWeightsFile,
                                 weightsVector, entriesVector, stats,
                                 generation, artifact.cudaHostAbi,
                                 modulesVector, kernelsVector);
  fb::FinishArtifactBuffer(builder, root);
  return std::vector<uint8_t>(builder.GetBufferPointer(),
                              builder.GetBufferPointer() + builder.GetSize());
}

/// Returns an upper bound of the serialized size, so that oversized inputs
/// are rejected before FlatBufferBuilder (which asserts at 2 GiB) sees them.
static uint64_t estimateSize(const Artifact &artifact) {
  constexpr uint64_t kTable = 256, kString = 16;
  auto specSize = [&](const TensorSpec &spec) {
    uint64_t size =
        kTable + kString + spec.name.size() + 16 + 8 * spec.shape.size() + 16;
    for (const std::string &name : spec.dimNames)
      size += kString + name.size() + 4;
    return size;
  };
  uint64_t size = kTable + 3 * kString + artifact.targetTriple.size() +
                  artifact.code.size() + artifact.defaultWeightsFile.size() +
                  artifact.stats.size() + 64;
  for (const WeightSpec &weight : artifact.weights)
    size += kTable + 2 * kString + weight.name.size() + weight.file.size() +
            8 * weight.shape.size() + 20;
  for (const EntryPointSpec &entry : artifact.entryPoints) {
    size += kTable + 2 * kString + entry.name.size() + entry.symbol.size() + 32;
    for (const ArgumentSpec &arg : entry.arguments)
      size += 2 * kTable + 4 +
              (arg.kind == ArgumentSpec::Kind::Input ? specSize(arg.input) : 0);
    for (const TensorSpec &result : entry.results)
      size += 4 + specSize(result);
  }
  if (const auto &generation = artifact.generation) {
    size += kTable + 5 * kString + generation->prefill.size() +
            generation->decode.size() + generation->tokens.size() +
            generation->positions.size() + generation->logits.size() +
            kString + generation->nextTokens.size() + kString +
            generation->lastPositions.size() + 32;
    for (const CacheSpec &cache : generation->caches)
      size += kTable + kString + cache.argument.size() + 16;
  }
  for (const DeviceModuleSpec &module : artifact.deviceModules)
    size += kTable + 3 * kString + module.name.size() + module.arch.size() +
            module.image.size() + 16;
  for (const KernelSpec &kernel : artifact.kernels)
    size += kTable + kString + kernel.name.size() + 16;
  return size;
}

Expected<std::vector<uint8_t>>
ds::runtime::serializeArtifact(const Artifact &artifact) {
  if (Status status = validateArtifact(artifact); status.failed())
    return status.withPrefix("invalid artifact");
  uint64_t estimate = estimateSize(artifact);
  if (estimate > kMaxArtifactBytes)
    return makeError() << "invalid artifact: about " << estimate
                       << " bytes, more than the maximum of "
                       << kMaxArtifactBytes;
  std::vector<uint8_t> bytes = Writer(artifact).write();
  if (Status status = checkArtifactSize(bytes.size()); status.failed())
    return status.withPrefix("invalid artifact");
  // The version is written as recorded (tests write other versions), so
  // locate the fields without insisting on the current version.
  const auto *root =
      reinterpret_cast<const fbs::Table *>(fb::GetArtifact(bytes.data()));
  detail::SealFields fields;
  fields.formatMajor = artifact.formatMajor;
  fields.formatMinor = artifact.formatMinor;
  fields.byteSizeOffset = static_cast<size_t>(
      root->GetAddressOf(fb::Artifact::VT_BYTE_SIZE) - bytes.data());
  fields.checksumOffset = static_cast<size_t>(
      root->GetAddressOf(fb::Artifact::VT_CHECKSUM) - bytes.data());
  detail::seal(bytes, fields);
  return bytes;
}
