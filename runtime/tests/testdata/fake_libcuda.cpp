//===- fake_libcuda.cpp - A stand-in libcuda.so.1 for the tests -----------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Exports the driver symbols CudaDriver::load() resolves, under their
// versioned names, so the tests can point $DS_LIBCUDA at it and exercise the
// real dlopen/dlsym/cuInit path with no GPU. Every function succeeds with
// plausible values except where fakecuda_configure() says otherwise.
// Built twice: as is, and with DS_FAKE_CUDA_OLD_DRIVER, which leaves out
// cuGraphInstantiateWithFlags (a pre-11.4 driver).
//
//===----------------------------------------------------------------------===//

#include "cuda/driver.h"

#include <cstring>

using namespace ds::runtime::cuda;

namespace {
CUresult initResult = CUDA_SUCCESS;
int deviceCount = 1;
unsigned long long nextAddress = 0x10000000;
int onContext = 0;
} // namespace

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

/// Sets what cuInit returns and how many devices there are.
FAKE_EXPORT void fakecuda_configure(int init, int devices) {
  initResult = init;
  deviceCount = devices;
}

FAKE_EXPORT CUresult cuGetErrorName(CUresult error, const char **text) {
  switch (error) {
  case CUDA_SUCCESS:
    *text = "CUDA_SUCCESS";
    return CUDA_SUCCESS;
  case CUDA_ERROR_NO_DEVICE:
    *text = "CUDA_ERROR_NO_DEVICE";
    return CUDA_SUCCESS;
  default:
    *text = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
}
FAKE_EXPORT CUresult cuGetErrorString(CUresult error, const char **text) {
  switch (error) {
  case CUDA_SUCCESS:
    *text = "no error";
    return CUDA_SUCCESS;
  case CUDA_ERROR_NO_DEVICE:
    *text = "no CUDA-capable device is detected";
    return CUDA_SUCCESS;
  default:
    *text = nullptr;
    return CUDA_ERROR_INVALID_VALUE;
  }
}
FAKE_EXPORT CUresult cuInit(unsigned int) { return initResult; }
FAKE_EXPORT CUresult cuDriverGetVersion(int *version) {
#ifdef DS_FAKE_CUDA_OLD_DRIVER
  *version = 11020;
#else
  *version = 13000;
#endif
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGetCount(int *count) {
  if (initResult != CUDA_SUCCESS)
    return CUDA_ERROR_NOT_INITIALIZED;
  *count = deviceCount;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  *device = ordinal;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGetName(char *name, int length, CUdevice) {
  std::strncpy(name, "Fake GPU", static_cast<size_t>(length));
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceGetAttribute(int *value, CUdevice_attribute a,
                                          CUdevice) {
  switch (a) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = 9;
    break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *value = 0;
    break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *value = 132;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK:
    *value = 1024;
    break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *value = 232448;
    break;
  default:
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice) {
  *bytes = size_t(80) << 30;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *context, CUdevice) {
  *context = reinterpret_cast<CUcontext>(0x1000);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) {
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxSetCurrent(CUcontext context) {
  onContext = context != nullptr;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuCtxSynchronize() { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *total) {
  if (!onContext)
    return 201; // CUDA_ERROR_INVALID_CONTEXT
  *freeBytes = size_t(64) << 30;
  *total = size_t(80) << 30;
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *address, size_t bytes) {
  *address = nextAddress;
  nextAddress += (bytes + 0xfffff) & ~static_cast<size_t>(0xfffff);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemFree_v2(CUdeviceptr) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr, const void *, size_t,
                                          CUstream) {
  return CUDA_SUCCESS;
}
// Device memory reads as zeros: results are deterministic (and greedy
// token ids valid) although no kernel runs.
FAKE_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *host, CUdeviceptr, size_t bytes,
                                          CUstream) {
  std::memset(host, 0, bytes);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr, CUdeviceptr, size_t,
                                          CUstream) {
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuMemsetD8Async(CUdeviceptr, unsigned char, size_t,
                                     CUstream) {
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamCreate(CUstream *stream, unsigned int) {
  *stream = reinterpret_cast<CUstream>(0x2000);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamDestroy_v2(CUstream) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuStreamSynchronize(CUstream) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuStreamBeginCapture_v2(CUstream, CUstreamCaptureMode) {
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuStreamEndCapture(CUstream, CUgraph *graph) {
  *graph = reinterpret_cast<CUgraph>(0x3000);
  return CUDA_SUCCESS;
}
#ifndef DS_FAKE_CUDA_OLD_DRIVER
FAKE_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph,
                                                 unsigned long long) {
  *exec = reinterpret_cast<CUgraphExec>(0x4000);
  return CUDA_SUCCESS;
}
#endif
FAKE_EXPORT CUresult cuGraphLaunch(CUgraphExec, CUstream) {
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuGraphDestroy(CUgraph) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuGraphExecDestroy(CUgraphExec) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *) {
  *module = reinterpret_cast<CUmodule>(0x5000);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuModuleUnload(CUmodule) { return CUDA_SUCCESS; }
FAKE_EXPORT CUresult cuModuleGetFunction(CUfunction *function, CUmodule,
                                         const char *) {
  *function = reinterpret_cast<CUfunction>(0x6000);
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuFuncSetAttribute(CUfunction, CUfunction_attribute, int) {
  return CUDA_SUCCESS;
}
FAKE_EXPORT CUresult cuLaunchKernel(CUfunction, unsigned int, unsigned int,
                                    unsigned int, unsigned int, unsigned int,
                                    unsigned int, unsigned int, CUstream,
                                    void **, void **) {
  return CUDA_SUCCESS;
}
