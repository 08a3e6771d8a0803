//===- cuda_abi_check_test.cpp - driver.h against the real cuda.h ---------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// The runtime declares the driver API itself (driver.h) so that it builds
// without the CUDA toolkit. When the build finds cuda.h (DS_HAVE_CUDA_H),
// this file checks at compile time that
//  - every function's parameter list, as written in
//    DS_CUDA_DRIVER_FUNCTIONS, is exactly the prototype cuda.h declares for
//    the symbol the runtime resolves;
//  - cuda.h maps each API name to that very symbol (cuMemAlloc ->
//    cuMemAlloc_v2, cuGraphInstantiate -> cuGraphInstantiateWithFlags...),
//    so the runtime calls the same ABI version a program compiled against
//    this cuda.h would;
//  - the scalar types and constants have cuda.h's sizes and values.
// driver.h must come before cuda.h (cuda.h's macros rename cuMemAlloc & co.).
//
//===----------------------------------------------------------------------===//

#include "cuda/driver.h"

#include <gtest/gtest.h>

#ifdef DS_HAVE_CUDA_H
#include <cuda.h>

#include <cstddef>
#include <type_traits>

namespace {

constexpr bool sameString(const char *a, const char *b) {
  while (*a && *a == *b) {
    ++a;
    ++b;
  }
  return *a == *b;
}

#define DS_STRINGIFY_EXPANDED(x) DS_STRINGIFY(x)
#define DS_STRINGIFY(x) #x

// `member` is macro-expanded by cuda.h before it is stringified.
#define DS_CHECK_AGAINST_CUDA_H(member, symbol, params)                        \
  static_assert(std::is_same_v<decltype(&::symbol), ::CUresult(*) params>,     \
                "the signature of " #symbol " differs from cuda.h");           \
  static_assert(sameString(DS_STRINGIFY_EXPANDED(member), #symbol),            \
                "cuda.h maps " #member " to another symbol than " #symbol);
DS_CUDA_DRIVER_FUNCTIONS(DS_CHECK_AGAINST_CUDA_H)
DS_CUDA_OPTIONAL_DRIVER_FUNCTIONS(DS_CHECK_AGAINST_CUDA_H)
#undef DS_CHECK_AGAINST_CUDA_H

namespace rt = ds::runtime::cuda;

static_assert(std::is_same_v<rt::CUdeviceptr, ::CUdeviceptr>);
static_assert(std::is_same_v<rt::CUdevice, ::CUdevice>);
static_assert(sizeof(rt::CUresult) == sizeof(::CUresult));
static_assert(sizeof(rt::CUdevice_attribute) == sizeof(::CUdevice_attribute));
static_assert(sizeof(rt::CUfunction_attribute) ==
              sizeof(::CUfunction_attribute));
static_assert(sizeof(rt::CUstreamCaptureMode) == sizeof(::CUstreamCaptureMode));
static_assert(sizeof(rt::CUcontext) == sizeof(::CUcontext));
static_assert(sizeof(rt::CUgraphExec) == sizeof(::CUgraphExec));
// cuLaunchKernelEx's configuration, field by field.
static_assert(sizeof(rt::CUlaunchAttributeID) == sizeof(::CUlaunchAttributeID));
static_assert(sizeof(rt::CUlaunchAttributeValue) ==
              sizeof(::CUlaunchAttributeValue));
static_assert(sizeof(rt::CUlaunchAttribute) == sizeof(::CUlaunchAttribute));
static_assert(offsetof(rt::CUlaunchAttribute, value) ==
              offsetof(::CUlaunchAttribute, value));
static_assert(sizeof(rt::CUlaunchConfig) == sizeof(::CUlaunchConfig));
static_assert(offsetof(rt::CUlaunchConfig, sharedMemBytes) ==
              offsetof(::CUlaunchConfig, sharedMemBytes));
static_assert(offsetof(rt::CUlaunchConfig, hStream) ==
              offsetof(::CUlaunchConfig, hStream));
static_assert(offsetof(rt::CUlaunchConfig, attrs) ==
              offsetof(::CUlaunchConfig, attrs));
static_assert(offsetof(rt::CUlaunchConfig, numAttrs) ==
              offsetof(::CUlaunchConfig, numAttrs));

#define DS_SAME_VALUE(name)                                                    \
  static_assert(static_cast<long long>(rt::name) ==                            \
                    static_cast<long long>(::name),                            \
                #name " differs from cuda.h");
DS_SAME_VALUE(CUDA_SUCCESS)
DS_SAME_VALUE(CUDA_ERROR_INVALID_VALUE)
DS_SAME_VALUE(CUDA_ERROR_OUT_OF_MEMORY)
DS_SAME_VALUE(CUDA_ERROR_NOT_INITIALIZED)
DS_SAME_VALUE(CUDA_ERROR_NO_DEVICE)
DS_SAME_VALUE(CUDA_ERROR_NOT_FOUND)
DS_SAME_VALUE(CUDA_ERROR_ILLEGAL_ADDRESS)
DS_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
DS_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
DS_SAME_VALUE(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
DS_SAME_VALUE(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
DS_SAME_VALUE(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
DS_SAME_VALUE(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
DS_SAME_VALUE(CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES)
DS_SAME_VALUE(CU_STREAM_CAPTURE_MODE_GLOBAL)
DS_SAME_VALUE(CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
DS_SAME_VALUE(CU_STREAM_CAPTURE_MODE_RELAXED)
DS_SAME_VALUE(CU_STREAM_NON_BLOCKING)
#undef DS_SAME_VALUE

} // namespace

TEST(CudaAbiCheck, DriverDeclarationsMatchCudaH) {
  // Everything is checked at compile time; this records which header.
  RecordProperty("CUDA_VERSION", CUDA_VERSION);
  SUCCEED() << "checked against cuda.h of CUDA " << CUDA_VERSION;
}

#else

TEST(CudaAbiCheck, DriverDeclarationsMatchCudaH) {
  GTEST_SKIP() << "cuda.h was not found at configure time";
}

#endif
