//===- arena.cpp - Deterministic device-memory sub-allocator --------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// See arena.h. Both maps are keyed by offset from the base. Every mutation
// that may allocate (a map insertion) happens before any that cannot be
// undone, so std::bad_alloc leaves the arena unchanged and is reported as a
// failed Status.
//
//===----------------------------------------------------------------------===//

#include "cuda/arena.h"

#include <algorithm>
#include <limits>
#include <new>

using namespace ds::runtime;
using namespace ds::runtime::cuda;

namespace {

std::string hex(uint64_t value) {
  std::ostringstream stream;
  stream << "0x" << std::hex << value;
  return stream.str();
}

} // namespace

Expected<DeviceArena> DeviceArena::create(uint64_t base, uint64_t capacity) {
  if (base % kAlignment != 0)
    return makeError() << "device arena base " << hex(base)
                       << " is not a multiple of " << kAlignment << " bytes";
  if (capacity > std::numeric_limits<uint64_t>::max() - base)
    return makeError() << "device arena range " << hex(base) << " + "
                       << capacity << " bytes wraps around";
  DeviceArena arena;
  arena.rangeBase = base;
  arena.rangeCapacity = capacity - capacity % kAlignment;
  try {
    arena.reset();
  } catch (const std::bad_alloc &) {
    return makeError() << "out of host memory creating the device arena";
  }
  return arena;
}

void DeviceArena::reset() {
  live.clear();
  freeList.clear();
  usedBytes = 0;
  peakBytes = 0;
  if (rangeCapacity > 0)
    freeList.emplace(0, rangeCapacity); // may throw only here (see create)
}

uint64_t DeviceArena::largestFreeBlock() const {
  uint64_t largest = 0;
  for (const auto &[offset, size] : freeList)
    largest = std::max(largest, size);
  return largest;
}

uint64_t DeviceArena::blockSize(uint64_t address) const {
  if (!contains(address))
    return 0;
  auto it = live.find(address - rangeBase);
  return it == live.end() ? 0 : it->second;
}

Expected<uint64_t> DeviceArena::alloc(uint64_t bytes) {
  // Round up without overflow: anything above the capacity cannot fit.
  uint64_t need = 0;
  if (bytes <= rangeCapacity) {
    need = bytes == 0 ? kAlignment
                      : (bytes + kAlignment - 1) / kAlignment * kAlignment;
    for (auto it = freeList.begin(); it != freeList.end(); ++it) {
      if (it->second < need)
        continue;
      uint64_t offset = it->first;
      uint64_t remaining = it->second - need;
      try {
        live.emplace(offset, need);
        try {
          if (remaining > 0)
            freeList.emplace(offset + need, remaining);
        } catch (...) {
          live.erase(offset);
          throw;
        }
      } catch (const std::bad_alloc &) {
        return makeError() << "out of host memory in the device arena";
      }
      freeList.erase(it);
      usedBytes += need;
      peakBytes = std::max(peakBytes, usedBytes);
      return rangeBase + offset;
    }
  }
  StatusBuilder error;
  error << "device arena out of memory: cannot allocate " << bytes << " bytes";
  if (need != 0 && need != bytes)
    error << " (" << need << " after alignment)";
  error << "; largest free block " << largestFreeBlock() << " bytes, "
        << usedBytes << " of " << rangeCapacity << " bytes in use";
  return error;
}

Status DeviceArena::free(uint64_t address) {
  auto it = contains(address) ? live.find(address - rangeBase) : live.end();
  if (it == live.end())
    return makeError() << "device arena: " << hex(address)
                       << " is not a live allocation (never allocated, "
                          "already freed or not the start of a block)";
  uint64_t offset = it->first;
  uint64_t size = it->second;
  std::map<uint64_t, uint64_t>::iterator block;
  try {
    block = freeList.emplace(offset, size).first;
  } catch (const std::bad_alloc &) {
    return makeError() << "out of host memory in the device arena";
  }
  live.erase(it);
  usedBytes -= size;
  // Merge with the next free block, then with the previous one.
  auto next = std::next(block);
  if (next != freeList.end() && block->first + block->second == next->first) {
    block->second += next->second;
    freeList.erase(next);
  }
  if (block != freeList.begin()) {
    auto previous = std::prev(block);
    if (previous->first + previous->second == block->first) {
      previous->second += block->second;
      freeList.erase(block);
    }
  }
  return Status::success();
}
