//===- arena.h - Deterministic device-memory sub-allocator ------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// A CUDA session makes one cuMemAlloc for its arena and carves every
// transient buffer of the generated host code out of it. `DeviceArena`
// manages the address range [base, base + capacity) as plain integers, so it
// needs no GPU (tests give it any aligned base).
//
// Policy: first fit by lowest address over an address-ordered free list;
// requests are rounded up to a multiple of kAlignment (256 bytes, at least
// one unit, so zero-byte requests get distinct addresses); a freed block is
// merged with free neighbours at once.
//
// Determinism is a contract: the state is a function of the sequence of
// alloc/free calls since construction or reset(), so replaying the same
// sequence from the same state yields the same addresses. CUDA graphs
// captured from one run of an entry point rely on this to be replayed.
//
// Errors are values: a request that does not fit, a free of an address that
// is not a live allocation (never allocated, freed twice, interior pointer)
// and host allocation failure are failed `Status`es; nothing throws and the
// state is unchanged by a failed call.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_CUDA_ARENA_H
#define DS_RUNTIME_SRC_CUDA_ARENA_H

#include "ds/runtime/status.h"

#include <cstddef>
#include <cstdint>
#include <map>

namespace ds::runtime::cuda {

class DeviceArena {
public:
  /// Every address returned is a multiple of this, and every block's size.
  static constexpr uint64_t kAlignment = 256;

  /// An empty arena (capacity 0): every alloc fails.
  DeviceArena() = default;

  /// An arena over [base, base + capacity). `base` must be a multiple of
  /// kAlignment and the range must not wrap around; the usable capacity is
  /// `capacity` rounded down to a multiple of kAlignment.
  static Expected<DeviceArena> create(uint64_t base, uint64_t capacity);

  /// Returns the address of a fresh block of at least `bytes` bytes (the
  /// lowest-addressed free block that fits), or a failure naming the
  /// requested bytes, the largest free block, the bytes in use and the
  /// capacity.
  Expected<uint64_t> alloc(uint64_t bytes);

  /// Releases the block starting at `address`, merging it with free
  /// neighbours. Fails if `address` is not the start of a live block.
  Status free(uint64_t address);

  /// Frees every block and clears the peak.
  void reset();

  uint64_t base() const { return rangeBase; }
  /// Usable bytes (a multiple of kAlignment).
  uint64_t capacity() const { return rangeCapacity; }
  /// Bytes in live blocks (after rounding).
  uint64_t used() const { return usedBytes; }
  /// The largest `used()` since construction or reset().
  uint64_t peak() const { return peakBytes; }
  /// The size of the largest free block.
  uint64_t largestFreeBlock() const;
  /// The number of live blocks.
  size_t liveBlocks() const { return live.size(); }
  /// The number of free blocks (1 for an empty non-zero arena; fragmentation
  /// makes it grow).
  size_t freeBlocks() const { return freeList.size(); }
  /// Whether `address` lies in [base, base + capacity).
  bool contains(uint64_t address) const {
    return address >= rangeBase && address - rangeBase < rangeCapacity;
  }
  /// The size of the live block starting at `address`, or 0.
  uint64_t blockSize(uint64_t address) const;

private:
  uint64_t rangeBase = 0;
  uint64_t rangeCapacity = 0;
  uint64_t usedBytes = 0;
  uint64_t peakBytes = 0;
  /// Offset -> size, for free and for live blocks; they tile the range.
  std::map<uint64_t, uint64_t> freeList;
  std::map<uint64_t, uint64_t> live;
};

} // namespace ds::runtime::cuda

#endif // DS_RUNTIME_SRC_CUDA_ARENA_H
