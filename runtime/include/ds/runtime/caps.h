//===- caps.h - Resource caps of the ds runtime -----------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Every size the runtime reads from an untrusted file is checked against one
// of these caps before it is used, so a lying header can never trigger a huge
// allocation. A value equal to its cap is accepted; cap + 1 is rejected.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_CAPS_H
#define DS_RUNTIME_CAPS_H

#include <cstddef>
#include <cstdint>

namespace ds::runtime {

/// Largest artifact file, in bytes (1 GiB). Artifacts hold code and metadata,
/// never weights; the cap also keeps buffers well below the FlatBuffers limit
/// of 2^31 - 1 bytes.
inline constexpr uint64_t kMaxArtifactBytes = uint64_t(1) << 30;

/// Largest tensor rank (artifact specs, weights, inputs, results, .npy).
inline constexpr size_t kMaxRank = 8;

/// Largest number of elements of one tensor (2^40).
inline constexpr int64_t kMaxElements = int64_t(1) << 40;

/// Largest .npy header (the Python dict literal after the length field).
inline constexpr uint64_t kMaxNpyHeaderBytes = 65536;

/// FlatBuffers verifier limits: nesting depth of tables and vectors, and the
/// number of tables one artifact may hold.
inline constexpr unsigned kMaxFlatBufferDepth = 64;
inline constexpr unsigned kMaxFlatBufferTables = 1000000;

} // namespace ds::runtime

#endif // DS_RUNTIME_CAPS_H
