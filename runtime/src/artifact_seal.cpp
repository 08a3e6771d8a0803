//===- artifact_seal.cpp - Artifact size and checksum fields --------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "artifact_seal.h"

#include "ds/runtime/artifact.h"

#include "ds/runtime/artifact_generated.h"

#include <cassert>

using namespace ds::runtime;
using namespace ds::runtime::detail;
namespace fbs = flatbuffers;

Expected<SealFields> ds::runtime::detail::findSealFields(const uint8_t *data,
                                                         size_t size) {
  fbs::Verifier::Options options;
  options.max_depth = kMaxFlatBufferDepth;
  options.max_tables = kMaxFlatBufferTables;
  fbs::Verifier verifier(data, size, options);
  fbs::uoffset_t rootOffset = verifier.VerifyOffset(0);
  if (!rootOffset)
    return makeError() << "corrupt artifact: bad root table offset";
  const auto *root = reinterpret_cast<const fbs::Table *>(data + rootOffset);
  if (!root->VerifyTableStart(verifier) ||
      !root->VerifyFieldRequired<fb::Version>(
          verifier, fb::Artifact::VT_FORMAT_VERSION, alignof(fb::Version)))
    return makeError() << "corrupt artifact: bad or missing format version";
  const auto *version =
      root->GetStruct<const fb::Version *>(fb::Artifact::VT_FORMAT_VERSION);
  SealFields fields;
  fields.formatMajor = version->major();
  fields.formatMinor = version->minor();
  if (fields.formatMajor != kFormatMajor || fields.formatMinor > kFormatMinor)
    return makeError() << "artifact format version " << fields.formatMajor
                       << "." << fields.formatMinor
                       << " is not supported (this runtime reads "
                       << kFormatMajor << ".0 to " << kFormatMajor << "."
                       << kFormatMinor << ")";
  if (!root->VerifyFieldRequired<uint64_t>(verifier, fb::Artifact::VT_BYTE_SIZE,
                                           8) ||
      !root->VerifyFieldRequired<uint64_t>(verifier, fb::Artifact::VT_CHECKSUM,
                                           8))
    return makeError() << "corrupt artifact: bad or missing size or checksum";
  fields.byteSizeOffset = static_cast<size_t>(
      root->GetAddressOf(fb::Artifact::VT_BYTE_SIZE) - data);
  fields.checksumOffset =
      static_cast<size_t>(root->GetAddressOf(fb::Artifact::VT_CHECKSUM) - data);
  return fields;
}

uint64_t ds::runtime::detail::computeChecksum(const uint8_t *data, size_t size,
                                              size_t checksumOffset) {
  constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ull;
  constexpr uint64_t kPrime = 0x100000001b3ull;
  uint64_t hash = kOffsetBasis;
  auto mix = [&](const uint8_t *begin, const uint8_t *end) {
    for (const uint8_t *byte = begin; byte < end; ++byte)
      hash = (hash ^ *byte) * kPrime;
  };
  static const uint8_t kZeros[8] = {};
  size_t fieldEnd = checksumOffset + 8;
  assert(fieldEnd <= size && "checksum field out of bounds");
  mix(data, data + checksumOffset);
  mix(kZeros, kZeros + 8);
  mix(data + fieldEnd, data + size);
  return hash;
}

void ds::runtime::detail::seal(std::vector<uint8_t> &bytes,
                               const SealFields &fields) {
  fbs::WriteScalar<uint64_t>(bytes.data() + fields.byteSizeOffset,
                             bytes.size());
  fbs::WriteScalar<uint64_t>(
      bytes.data() + fields.checksumOffset,
      computeChecksum(bytes.data(), bytes.size(), fields.checksumOffset));
}

Status ds::runtime::detail::checkSeal(const uint8_t *data, size_t size,
                                      const SealFields &fields) {
  uint64_t recordedSize =
      fbs::ReadScalar<uint64_t>(data + fields.byteSizeOffset);
  if (recordedSize != size)
    return makeError() << (size < recordedSize ? "truncated" : "corrupt")
                       << " artifact: file is " << size
                       << " bytes, its header records " << recordedSize;
  uint64_t recorded = fbs::ReadScalar<uint64_t>(data + fields.checksumOffset);
  if (recorded != computeChecksum(data, size, fields.checksumOffset))
    return makeError() << "corrupt artifact: checksum mismatch";
  return Status::success();
}
