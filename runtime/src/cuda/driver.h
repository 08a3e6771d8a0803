//===- driver.h - The CUDA driver API, loaded at run time -------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// The runtime never links libcuda and never includes cuda.h: it dlopen()s
// "libcuda.so.1" (or $DS_LIBCUDA, for tests) when a CUDA artifact is loaded,
// so every binary runs on machines with no GPU and says clearly when a CUDA
// artifact needs one.
//
// This header declares the few driver types and function signatures the
// runtime uses, ABI-compatible with the CUDA 13 cuda.h:
//  - handles are pointers to opaque structs, CUdeviceptr is a 64-bit
//    integer, CUdevice an int; cuda.h's enums (CUresult, attributes, capture
//    modes) are passed as `int`, which has their size and calling convention;
//  - each function is resolved under the exact symbol cuda.h maps its name
//    to (cuMemAlloc -> cuMemAlloc_v2, cuStreamBeginCapture ->
//    cuStreamBeginCapture_v2, cuGraphInstantiate ->
//    cuGraphInstantiateWithFlags, ...), never under the legacy unversioned
//    symbol, which for several functions is the old 32-bit ABI. The
//    per-thread-default-stream variants (_ptsz/_ptds) are not used: the
//    runtime always passes its own stream.
// runtime/tests/cuda_abi_check_test.cpp checks every signature below against
// the real cuda.h at compile time when the toolkit headers are present.
//
// `CudaDriver` is a plain struct of function pointers so that tests can fill
// one with fakes (record calls, fail on demand) and run the executor with no
// GPU. Do not include cuda.h in the same translation unit before this header
// (its macros rename cuMemAlloc & co.).
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_CUDA_DRIVER_H
#define DS_RUNTIME_SRC_CUDA_DRIVER_H

#include "ds/runtime/status.h"

#include <cstddef>
#include <memory>
#include <string>

namespace ds::runtime::cuda {

//===----------------------------------------------------------------------===//
// Driver API types (ABI-compatible subset of cuda.h)
//===----------------------------------------------------------------------===//

using CUresult = int;                   // enum cudaError_enum
using CUdevice = int;                   // CUdevice_v1
using CUdeviceptr = unsigned long long; // CUdeviceptr_v2 (64-bit hosts)
using CUdevice_attribute = int;         // enum CUdevice_attribute_enum
using CUfunction_attribute = int;       // enum CUfunction_attribute_enum
using CUstreamCaptureMode = int;        // enum CUstreamCaptureMode_enum

struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUgraph_st;
struct CUgraphExec_st;
using CUcontext = CUctx_st *;
using CUmodule = CUmod_st *;
using CUfunction = CUfunc_st *;
using CUstream = CUstream_st *;
using CUgraph = CUgraph_st *;
using CUgraphExec = CUgraphExec_st *;

// The values the runtime uses (same numbers as cuda.h).
constexpr CUresult CUDA_SUCCESS = 0;
constexpr CUresult CUDA_ERROR_INVALID_VALUE = 1;
constexpr CUresult CUDA_ERROR_OUT_OF_MEMORY = 2;
constexpr CUresult CUDA_ERROR_NOT_INITIALIZED = 3;
constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
constexpr CUresult CUDA_ERROR_NOT_FOUND = 500;
constexpr CUresult CUDA_ERROR_ILLEGAL_ADDRESS = 700;

constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
constexpr CUdevice_attribute
    CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
constexpr CUfunction_attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES =
    8;
constexpr CUstreamCaptureMode CU_STREAM_CAPTURE_MODE_GLOBAL = 0;
constexpr CUstreamCaptureMode CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
constexpr CUstreamCaptureMode CU_STREAM_CAPTURE_MODE_RELAXED = 2;
constexpr unsigned int CU_STREAM_NON_BLOCKING = 0x1;

// cuLaunchKernelEx's configuration (CUDA 12.0), laid out as in cuda.h.
using CUlaunchAttributeID = int; // enum CUlaunchAttributeID_enum
union CUlaunchAttributeValue {
  char pad[64];
  /// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION's value.
  unsigned int programmaticStreamSerializationAllowed;
};
struct CUlaunchAttribute {
  CUlaunchAttributeID id;
  char pad[8 - sizeof(CUlaunchAttributeID)];
  CUlaunchAttributeValue value;
};
struct CUlaunchConfig {
  unsigned int gridDimX;
  unsigned int gridDimY;
  unsigned int gridDimZ;
  unsigned int blockDimX;
  unsigned int blockDimY;
  unsigned int blockDimZ;
  unsigned int sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned int numAttrs;
};
/// The kernel may start before the previous kernel in the stream has
/// finished; it waits for it with `griddepcontrol.wait` (sm_90+).
constexpr CUlaunchAttributeID
    CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;

//===----------------------------------------------------------------------===//
// The functions: X(member, exact symbol, parameter list)
//===----------------------------------------------------------------------===//

// Every function returns CUresult. The parameter lists are written with the
// cuda.h type names so that the ABI check can expand them against cuda.h.
// cuGraphInstantiateWithFlags needs a CUDA 11.4 driver; everything else is
// older.
#define DS_CUDA_DRIVER_FUNCTIONS(X)                                            \
  X(cuGetErrorName, cuGetErrorName, (CUresult, const char **))                 \
  X(cuGetErrorString, cuGetErrorString, (CUresult, const char **))             \
  X(cuInit, cuInit, (unsigned int))                                            \
  X(cuDriverGetVersion, cuDriverGetVersion, (int *))                           \
  X(cuDeviceGetCount, cuDeviceGetCount, (int *))                               \
  X(cuDeviceGet, cuDeviceGet, (CUdevice *, int))                               \
  X(cuDeviceGetName, cuDeviceGetName, (char *, int, CUdevice))                 \
  X(cuDeviceGetAttribute, cuDeviceGetAttribute,                                \
    (int *, CUdevice_attribute, CUdevice))                                     \
  X(cuDeviceTotalMem, cuDeviceTotalMem_v2, (size_t *, CUdevice))               \
  X(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain,                        \
    (CUcontext *, CUdevice))                                                   \
  X(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2, (CUdevice))       \
  X(cuCtxSetCurrent, cuCtxSetCurrent, (CUcontext))                             \
  X(cuCtxSynchronize, cuCtxSynchronize, (void))                                \
  X(cuMemGetInfo, cuMemGetInfo_v2, (size_t *, size_t *))                       \
  X(cuMemAlloc, cuMemAlloc_v2, (CUdeviceptr *, size_t))                        \
  X(cuMemFree, cuMemFree_v2, (CUdeviceptr))                                    \
  X(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2,                                   \
    (CUdeviceptr, const void *, size_t, CUstream))                             \
  X(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2,                                   \
    (void *, CUdeviceptr, size_t, CUstream))                                   \
  X(cuMemcpyDtoDAsync, cuMemcpyDtoDAsync_v2,                                   \
    (CUdeviceptr, CUdeviceptr, size_t, CUstream))                              \
  X(cuMemsetD8Async, cuMemsetD8Async,                                          \
    (CUdeviceptr, unsigned char, size_t, CUstream))                            \
  X(cuStreamCreate, cuStreamCreate, (CUstream *, unsigned int))                \
  X(cuStreamDestroy, cuStreamDestroy_v2, (CUstream))                           \
  X(cuStreamSynchronize, cuStreamSynchronize, (CUstream))                      \
  X(cuStreamBeginCapture, cuStreamBeginCapture_v2,                             \
    (CUstream, CUstreamCaptureMode))                                           \
  X(cuStreamEndCapture, cuStreamEndCapture, (CUstream, CUgraph *))             \
  X(cuGraphInstantiate, cuGraphInstantiateWithFlags,                           \
    (CUgraphExec *, CUgraph, unsigned long long))                              \
  X(cuGraphLaunch, cuGraphLaunch, (CUgraphExec, CUstream))                     \
  X(cuGraphDestroy, cuGraphDestroy, (CUgraph))                                 \
  X(cuGraphExecDestroy, cuGraphExecDestroy, (CUgraphExec))                     \
  X(cuModuleLoadData, cuModuleLoadData, (CUmodule *, const void *))            \
  X(cuModuleUnload, cuModuleUnload, (CUmodule))                                \
  X(cuModuleGetFunction, cuModuleGetFunction,                                  \
    (CUfunction *, CUmodule, const char *))                                    \
  X(cuFuncSetAttribute, cuFuncSetAttribute,                                    \
    (CUfunction, CUfunction_attribute, int))                                   \
  X(cuLaunchKernel, cuLaunchKernel,                                            \
    (CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,       \
     unsigned int, unsigned int, unsigned int, CUstream, void **, void **))

// Functions the runtime uses when the driver has them (a null member
// otherwise). cuLaunchKernelEx needs a CUDA 12.0 driver.
#define DS_CUDA_OPTIONAL_DRIVER_FUNCTIONS(X)                                   \
  X(cuLaunchKernelEx, cuLaunchKernelEx,                                        \
    (const CUlaunchConfig *, CUfunction, void **, void **))

// PFN_<member>: the function pointer type of each entry.
#define DS_CUDA_DECLARE_PFN(member, symbol, params)                            \
  using PFN_##member = CUresult(*) params;
DS_CUDA_DRIVER_FUNCTIONS(DS_CUDA_DECLARE_PFN)
DS_CUDA_OPTIONAL_DRIVER_FUNCTIONS(DS_CUDA_DECLARE_PFN)
#undef DS_CUDA_DECLARE_PFN

/// The environment variable that replaces "libcuda.so.1" (for tests).
constexpr const char *kLibcudaEnv = "DS_LIBCUDA";
/// The library opened when $DS_LIBCUDA is unset or empty.
constexpr const char *kDefaultLibcuda = "libcuda.so.1";

/// The driver entry points the runtime uses. `load()` fills every member
/// from libcuda; tests may fill a default-constructed one with fakes (every
/// member must then be set before an executor uses it, except the optional
/// ones, which may stay null).
struct CudaDriver {
#define DS_CUDA_DECLARE_MEMBER(member, symbol, params)                         \
  PFN_##member member = nullptr;
  DS_CUDA_DRIVER_FUNCTIONS(DS_CUDA_DECLARE_MEMBER)
  DS_CUDA_OPTIONAL_DRIVER_FUNCTIONS(DS_CUDA_DECLARE_MEMBER)
#undef DS_CUDA_DECLARE_MEMBER

  /// The path that was dlopen'ed ("" for a hand-filled driver).
  std::string libraryPath;
  /// cuDriverGetVersion: 1000 * major + 10 * minor (13000 = CUDA 13.0).
  int driverVersion = 0;
  /// The number of devices cuDeviceGetCount reported at load.
  int deviceCount = 0;

  /// Opens libcuda ($DS_LIBCUDA or "libcuda.so.1"), resolves every function,
  /// runs cuInit(0) and checks that there is at least one device. Fails
  /// with a message meant for the end user:
  ///   "this artifact targets CUDA but no NVIDIA driver was found
  ///    (libcuda.so.1: <dlerror>)"
  /// The library is never dlclose'd (libcuda does not support unloading
  /// while its threads live); loading twice is cheap (dlopen refcounts).
  static Expected<std::shared_ptr<CudaDriver>> load();

  /// Success for CUDA_SUCCESS; otherwise a failure reading
  ///   "CUDA error CUDA_ERROR_OUT_OF_MEMORY (out of memory) in <what>"
  /// where `what` names the call, e.g. "cuMemAlloc(weights, 123 bytes)".
  /// Uses cuGetErrorName/cuGetErrorString when set; unknown codes read
  /// "CUDA error 12345 (unknown error code)".
  Status check(CUresult result, const char *what) const;
  Status check(CUresult result, const std::string &what) const {
    return check(result, what.c_str());
  }

  /// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for `result`.
  std::string describe(CUresult result) const;
};

/// "13.0" for 13000; "unknown" for 0.
std::string formatDriverVersion(int version);

} // namespace ds::runtime::cuda

#endif // DS_RUNTIME_SRC_CUDA_DRIVER_H
