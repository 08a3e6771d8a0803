//===- artifact_reader.cpp - Verify and decode an artifact ----------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Nothing in the buffer is trusted: the identifier, the version, the recorded
// size and the checksum are read through a verifier first, then the whole
// buffer is verified, and only then are fields decoded (into plain structs, so
// no pointer into the buffer outlives this file), and finally the semantic
// invariants are checked.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/artifact.h"

#include "artifact_seal.h"
#include "file_util.h"

#include "ds/runtime/artifact_generated.h"

#include <cstring>

using namespace ds::runtime;
namespace fbs = flatbuffers;

static fbs::Verifier::Options verifierOptions() {
  fbs::Verifier::Options options;
  options.max_depth = kMaxFlatBufferDepth;
  options.max_tables = kMaxFlatBufferTables;
  options.check_alignment = true;
  return options;
}

static std::string printable(const uint8_t *bytes, size_t count) {
  std::string text;
  for (size_t i = 0; i < count; ++i) {
    char c = static_cast<char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f) {
      text += c;
    } else {
      static const char kHex[] = "0123456789abcdef";
      text += "\\x";
      text += kHex[bytes[i] >> 4];
      text += kHex[bytes[i] & 15];
    }
  }
  return text;
}

static std::string toString(const fbs::String *text) {
  return text ? std::string(text->data(), text->size()) : std::string();
}

/// Copies a [long] vector. The verifier only checks the 4-byte alignment of
/// a vector's length, so the elements may be misaligned in a crafted buffer:
/// copy bytes instead of loading int64s.
static std::vector<int64_t> toShape(const fbs::Vector<int64_t> *shape) {
  static_assert(FLATBUFFERS_LITTLEENDIAN, "assumes a little-endian host");
  if (!shape || shape->size() == 0)
    return {};
  std::vector<int64_t> dims(shape->size());
  std::memcpy(dims.data(), shape->Data(), dims.size() * sizeof(int64_t));
  return dims;
}

static TensorSpec decodeSpec(const fb::TensorSpec &spec) {
  TensorSpec result;
  result.name = toString(spec.name());
  result.dtype = static_cast<DType>(spec.dtype());
  result.shape = toShape(spec.shape());
  if (const auto *names = spec.dim_names())
    for (const fbs::String *name : *names)
      result.dimNames.push_back(toString(name));
  return result;
}

static Expected<EntryPointSpec> decodeEntryPoint(const fb::EntryPoint &entry) {
  EntryPointSpec result;
  result.name = toString(entry.name());
  result.symbol = toString(entry.symbol());
  if (const auto *arguments = entry.arguments()) {
    for (fbs::uoffset_t i = 0; i < arguments->size(); ++i) {
      const fb::Argument *arg = arguments->Get(i);
      if (const fb::WeightRef *ref = arg->source_as_WeightRef()) {
        result.arguments.push_back(ArgumentSpec::fromWeight(ref->index()));
      } else if (const fb::TensorSpec *spec = arg->source_as_TensorSpec()) {
        result.arguments.push_back(ArgumentSpec::fromInput(decodeSpec(*spec)));
      } else if (const fb::DerivedRef *derived = arg->source_as_DerivedRef()) {
        result.arguments.push_back(ArgumentSpec::fromDerived(derived->index()));
      } else {
        return makeError() << "entry point '" << result.name << "': argument "
                           << i << " has unknown source type "
                           << static_cast<int>(arg->source_type());
      }
    }
  }
  if (const auto *results = entry.results())
    for (const fb::TensorSpec *spec : *results)
      result.results.push_back(decodeSpec(*spec));
  return result;
}

static Expected<Artifact> decode(const fb::Artifact &root) {
  Artifact artifact;
  artifact.formatMajor = root.format_version()->major();
  artifact.formatMinor = root.format_version()->minor();
  artifact.target = static_cast<Target>(root.target());
  artifact.targetTriple = toString(root.target_triple());
  if (const auto *code = root.code())
    artifact.code.assign(code->begin(), code->end());
  artifact.defaultWeightsFile = toString(root.default_weights_file());
  if (const auto *weights = root.weights()) {
    for (const fb::Weight *weight : *weights) {
      WeightSpec spec;
      spec.name = toString(weight->name());
      spec.dtype = static_cast<DType>(weight->dtype());
      spec.shape = toShape(weight->shape());
      spec.file = toString(weight->file());
      spec.offset = weight->offset();
      spec.size = weight->size();
      artifact.weights.push_back(std::move(spec));
    }
  }
  if (const auto *entries = root.entry_points()) {
    for (const fb::EntryPoint *entry : *entries) {
      Expected<EntryPointSpec> spec = decodeEntryPoint(*entry);
      if (spec.failed())
        return spec.status();
      artifact.entryPoints.push_back(std::move(*spec));
    }
  }
  artifact.stats = toString(root.stats());
  if (const fb::Generation *generation = root.generation()) {
    GenerationSpec spec;
    spec.prefill = toString(generation->prefill());
    spec.decode = toString(generation->decode());
    spec.tokens = toString(generation->tokens());
    spec.positions = toString(generation->positions());
    spec.logits = toString(generation->logits());
    spec.vocabSize = generation->vocab_size();
    spec.maxPositions = generation->max_positions();
    spec.nextTokens = toString(generation->next_tokens());
    spec.lastPositions = toString(generation->last_positions());
    if (const auto *caches = generation->caches()) {
      for (const fb::CacheSpec *cache : *caches) {
        CacheSpec decoded;
        decoded.argument = toString(cache->argument());
        decoded.layer = cache->layer();
        decoded.kind = static_cast<CacheKind>(cache->kind());
        spec.caches.push_back(std::move(decoded));
      }
    }
    artifact.generation = std::move(spec);
  }
  artifact.cudaHostAbi = root.cuda_host_abi();
  if (const auto *modules = root.device_modules()) {
    for (const fb::DeviceModule *module : *modules) {
      DeviceModuleSpec spec;
      spec.name = toString(module->name());
      spec.arch = toString(module->arch());
      spec.image.assign(module->image()->begin(), module->image()->end());
      spec.programmaticLaunch = module->programmatic_launch();
      artifact.deviceModules.push_back(std::move(spec));
    }
  }
  if (const auto *kernels = root.kernels())
    for (const fb::Kernel *kernel : *kernels)
      artifact.kernels.push_back({kernel->module_(), toString(kernel->name())});
  return artifact;
}

Expected<Artifact> ds::runtime::parseArtifact(const uint8_t *data,
                                              size_t size) {
  if (Status status = checkArtifactSize(size); status.failed())
    return status;
  // The verifier checks alignment relative to the buffer start: work on an
  // 8-aligned copy if the caller's buffer is not.
  std::vector<uint64_t> alignedCopy;
  if (reinterpret_cast<uintptr_t>(data) % alignof(uint64_t) != 0) {
    alignedCopy.resize((size + 7) / 8);
    std::memcpy(alignedCopy.data(), data, size);
    data = reinterpret_cast<const uint8_t *>(alignedCopy.data());
  }
  if (!fb::ArtifactBufferHasIdentifier(data))
    return makeError() << "not a ds artifact: file identifier is '"
                       << printable(data + 4, 4) << "', expected '"
                       << kFileIdentifier << "'";
  Expected<detail::SealFields> fields = detail::findSealFields(data, size);
  if (fields.failed())
    return fields.status();
  if (Status status = detail::checkSeal(data, size, *fields); status.failed())
    return status;
  fbs::Verifier verifier(data, size, verifierOptions());
  if (!fb::VerifyArtifactBuffer(verifier))
    return makeError() << "corrupt artifact: failed flatbuffers verification "
                          "(truncated or damaged file)";
  const fb::Artifact *root = fb::GetArtifact(data);
  if (static_cast<uint8_t>(root->target()) > static_cast<uint8_t>(Target::Cuda))
    return makeError() << "corrupt artifact: unknown target code "
                       << static_cast<int>(root->target());
  Expected<Artifact> artifact = decode(*root);
  if (artifact.failed())
    return artifact.status().withPrefix("corrupt artifact");
  if (Status status = validateArtifact(*artifact); status.failed())
    return status.withPrefix("invalid artifact");
  return artifact;
}

Expected<Artifact> ds::runtime::readArtifactFile(const std::string &path) {
  Expected<std::vector<uint8_t>> bytes =
      detail::readFileBytes(path, kMaxArtifactBytes);
  if (bytes.failed())
    return bytes.status();
  Expected<Artifact> artifact = parseArtifact(bytes->data(), bytes->size());
  if (artifact.failed())
    return artifact.status().withPrefix(path);
  return artifact;
}
