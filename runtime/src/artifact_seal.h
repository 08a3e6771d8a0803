//===- artifact_seal.h - Artifact size and checksum fields ------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Every artifact records its own byte size and an FNV-1a 64 checksum of
// itself (computed with the checksum field read as zero) in the root table.
// The writer "seals" a finished buffer by filling both fields in place; the
// reader checks them before running the FlatBuffers verifier, so truncation
// and damage anywhere in the file, including the code blob that would
// otherwise be handed to dlopen, are clean errors.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_ARTIFACT_SEAL_H
#define DS_RUNTIME_SRC_ARTIFACT_SEAL_H

#include "ds/runtime/status.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ds::runtime::detail {

/// Byte offsets of the version, size and checksum fields in a buffer.
struct SealFields {
  uint16_t formatMajor;
  uint16_t formatMinor;
  size_t byteSizeOffset;
  size_t checksumOffset;
};

/// Locates the root table's leading fields, verifying only what it reads.
/// `data` must be 8-byte aligned and `size` <= kMaxArtifactBytes. Checks the
/// format version first, so a future major version is reported as such.
Expected<SealFields> findSealFields(const uint8_t *data, size_t size);

/// FNV-1a 64 of `data`, with the 8 bytes at `checksumOffset` read as zero.
uint64_t computeChecksum(const uint8_t *data, size_t size,
                         size_t checksumOffset);

/// Fills the size and checksum fields of `bytes`.
void seal(std::vector<uint8_t> &bytes, const SealFields &fields);

/// Fails unless the size and checksum fields match the buffer.
Status checkSeal(const uint8_t *data, size_t size, const SealFields &fields);

} // namespace ds::runtime::detail

#endif // DS_RUNTIME_SRC_ARTIFACT_SEAL_H
