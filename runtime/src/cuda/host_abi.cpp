//===- host_abi.cpp - The ds CUDA host ABI (v1) ---------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// The slot functions of host_abi.h: static extern "C" functions that forward
// to CudaExecutor::current(). They must never throw (they are called from
// generated code with no unwind tables), hence the catch-alls.
//
//===----------------------------------------------------------------------===//

#include "cuda/host_abi.h"

#include "cuda/executor.h"

#include <cstring>
#include <type_traits>

using namespace ds::runtime;
using namespace ds::runtime::cuda;

namespace {

/// What alloc/constant return on failure: a real, aligned host address that
/// is in no arena (so freeing it can be recognised).
alignas(256) unsigned char dummyBlock[256];

thread_local bool hasUnscopedError = false;
thread_local Status unscopedError = Status::success();

void recordUnscoped(const char *slot) {
  if (hasUnscopedError)
    return;
  try {
    unscopedError = makeError() << "ds CUDA host ABI: " << slot
                                << " was called with no current CUDA "
                                   "executor (generated code ran outside "
                                   "CudaExecutor::Scope)";
    hasUnscopedError = true;
  } catch (...) {
  }
}

} // namespace

extern "C" {

static void *ds_cuda_alloc(int64_t bytes) {
  try {
    CudaExecutor *executor = CudaExecutor::current();
    if (!executor) {
      recordUnscoped("ds_cuda_alloc");
      return dummyBlock;
    }
    if (bytes < 0) {
      (void)executor->recordError(makeError()
                                  << "ds_cuda_alloc: negative size " << bytes);
      return dummyBlock;
    }
    Expected<CUdeviceptr> address =
        executor->arenaAlloc(static_cast<uint64_t>(bytes));
    if (address.failed() || *address == 0)
      return dummyBlock;
    return reinterpret_cast<void *>(static_cast<uintptr_t>(*address));
  } catch (...) {
    return dummyBlock;
  }
}

static void ds_cuda_free(void *ptr) {
  try {
    if (!ptr || ptr == static_cast<void *>(dummyBlock))
      return;
    CudaExecutor *executor = CudaExecutor::current();
    if (!executor) {
      recordUnscoped("ds_cuda_free");
      return;
    }
    (void)executor->arenaFree(
        static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(ptr)));
  } catch (...) {
  }
}

static void ds_cuda_launch(int32_t kernel, int64_t gx, int64_t gy, int64_t gz,
                           int64_t bx, int64_t by, int64_t bz,
                           int32_t sharedBytes, void **params) {
  try {
    CudaExecutor *executor = CudaExecutor::current();
    if (!executor) {
      recordUnscoped("ds_cuda_launch");
      return;
    }
    (void)executor->launch(kernel, gx, gy, gz, bx, by, bz, sharedBytes, params);
  } catch (...) {
  }
}

static void *ds_cuda_constant(int32_t index, const void *host, int64_t bytes) {
  try {
    CudaExecutor *executor = CudaExecutor::current();
    if (!executor) {
      recordUnscoped("ds_cuda_constant");
      return dummyBlock;
    }
    Expected<CUdeviceptr> address = executor->constant(index, host, bytes);
    if (address.failed() || *address == 0)
      return dummyBlock;
    return reinterpret_cast<void *>(static_cast<uintptr_t>(*address));
  } catch (...) {
    return dummyBlock;
  }
}

} // extern "C"

// The signatures must be the contract's.
static_assert(std::is_same_v<decltype(&ds_cuda_alloc), DsCudaAllocFn>);
static_assert(std::is_same_v<decltype(&ds_cuda_free), DsCudaFreeFn>);
static_assert(std::is_same_v<decltype(&ds_cuda_launch), DsCudaLaunchFn>);
static_assert(std::is_same_v<decltype(&ds_cuda_constant), DsCudaConstantFn>);

const void *const *ds::runtime::cuda::hostAbiTable() {
  static const void *const table[kHostAbiSlotCount] = {
      reinterpret_cast<const void *>(&ds_cuda_alloc),
      reinterpret_cast<const void *>(&ds_cuda_free),
      reinterpret_cast<const void *>(&ds_cuda_launch),
      reinterpret_cast<const void *>(&ds_cuda_constant),
  };
  return table;
}

Status ds::runtime::cuda::installHostAbi(void *tableSymbolAddress) {
  if (!tableSymbolAddress)
    return makeError() << "the code blob does not define "
                       << kHostAbiTableSymbol
                       << " (it was not generated for ds CUDA host ABI v"
                       << kHostAbiVersion << ")";
  std::memcpy(tableSymbolAddress, hostAbiTable(),
              sizeof(void *) * kHostAbiSlotCount);
  return Status::success();
}

void *ds::runtime::cuda::hostAbiDummyPointer() { return dummyBlock; }

Status ds::runtime::cuda::takeUnscopedHostAbiError() {
  if (!hasUnscopedError)
    return Status::success();
  Status error = unscopedError;
  unscopedError = Status::success();
  hasUnscopedError = false;
  return error;
}
