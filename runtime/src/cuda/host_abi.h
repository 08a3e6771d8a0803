//===- host_abi.h - The ds CUDA host ABI (v1) -------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// VERSIONED CONTRACT between the host code that ds-compile generates for a
// CUDA artifact and this runtime. Changing a slot's meaning, order or
// signature requires a new kHostAbiVersion (and a new artifact version);
// slots may only be appended together with a version bump.
//
// The generated host code (a shared object, loaded like a CPU code blob)
// defines a writable, zero-initialized global
//
//     void *__ds_cuda_api[4];
//
// and calls the runtime only through it. After dlopen the runtime dlsym()s
// "__ds_cuda_api" and calls installHostAbi() on its address, which fills the
// slots below. Every call into an entry point must happen inside a
// `CudaExecutor::Scope`: the functions act on the calling thread's current
// executor.
//
//   slot 0  void *ds_cuda_alloc(int64_t bytes)
//           A block of the executor's device arena (256-byte aligned). On
//           failure (arena full, negative size, dead executor) the executor
//           records the sticky error and a non-null dummy pointer is
//           returned, so that the host code runs on; every later slot call
//           is then a no-op.
//   slot 1  void ds_cuda_free(void *ptr)
//           Returns an arena block. nullptr and the dummy pointer are
//           ignored; a pointer that is not a live arena block is a sticky
//           error.
//   slot 2  void ds_cuda_launch(int32_t kernel,
//                               int64_t gx, int64_t gy, int64_t gz,
//                               int64_t bx, int64_t by, int64_t bz,
//                               int32_t sharedBytes, void **params)
//           cuLaunchKernel of kernel table entry `kernel` (the order of
//           CudaExecutor::addKernel) on the executor's stream; `params` is
//           exactly cuLaunchKernel's kernelParams (one pointer per kernel
//           parameter, pointing at its value). Limits: grid x < 2^31,
//           y, z < 65536; block threads <= 1024 (x, y <= 1024, z <= 64);
//           out of range is a sticky error. A grid with a zero dimension
//           launches nothing. sharedBytes > 48 KiB raises the kernel's
//           dynamic shared memory limit first.
//   slot 3  void *ds_cuda_constant(int32_t index, const void *host,
//                                  int64_t bytes)
//           The device copy of host constant `index`, uploaded on first use
//           and cached for the executor's life (outside the arena). Use an
//           index for one constant only (same bytes every time). Constants
//           must first be used outside graph capture.
//
// All four are plain C functions with default visibility semantics; they
// never throw and never abort. Errors surface through the executor: check
// `CudaExecutor::status()` (or synchronize()) after the entry point
// returns. Calls with no current executor do nothing (alloc/constant return
// the dummy pointer) and leave an error for takeUnscopedHostAbiError().
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_CUDA_HOST_ABI_H
#define DS_RUNTIME_SRC_CUDA_HOST_ABI_H

#include "ds/runtime/status.h"

#include <cstdint>

namespace ds::runtime::cuda {

/// The version of the contract above.
constexpr int kHostAbiVersion = 1;
/// The number of slots of version 1.
constexpr int kHostAbiSlotCount = 4;
/// The table the generated code defines (void *[kHostAbiSlotCount]).
constexpr const char *kHostAbiTableSymbol = "__ds_cuda_api";

enum HostAbiSlot : int {
  kHostAbiAlloc = 0,
  kHostAbiFree = 1,
  kHostAbiLaunch = 2,
  kHostAbiConstant = 3,
};

extern "C" {
/// The slot signatures, for callers that hold the table (tests, and the
/// declarations the compiler emits must match them).
typedef void *(*DsCudaAllocFn)(int64_t bytes);
typedef void (*DsCudaFreeFn)(void *ptr);
typedef void (*DsCudaLaunchFn)(int32_t kernel, int64_t gx, int64_t gy,
                               int64_t gz, int64_t bx, int64_t by, int64_t bz,
                               int32_t sharedBytes, void **params);
typedef void *(*DsCudaConstantFn)(int32_t index, const void *host,
                                  int64_t bytes);
}

/// The kHostAbiSlotCount function pointers, in slot order.
const void *const *hostAbiTable();

/// Copies hostAbiTable() into the code's `__ds_cuda_api` (its address from
/// dlsym). Fails if `tableSymbolAddress` is null (the code does not define
/// the table, so it was not generated for this ABI).
Status installHostAbi(void *tableSymbolAddress);

/// The non-null pointer ds_cuda_alloc/ds_cuda_constant return on failure.
/// Never dereference it; ds_cuda_free ignores it.
void *hostAbiDummyPointer();

/// Returns and clears the calling thread's error from a slot called with
/// no current executor (success if there was none). Only the first such
/// error since the last call is kept.
Status takeUnscopedHostAbiError();

} // namespace ds::runtime::cuda

#endif // DS_RUNTIME_SRC_CUDA_HOST_ABI_H
