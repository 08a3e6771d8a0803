//===- cuda_test_support.h - fakes shared by the CUDA layer tests -*- C++ -*-===//
//
// Part of the ds project.
//
// An environment-variable guard and an in-process fake driver table that
// records every call and fails on demand, with the CudaExecutorTest
// fixture built on it (used by cuda_executor_test.cpp and
// cuda_host_abi_test.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_TESTS_CUDA_TEST_SUPPORT_H
#define DS_RUNTIME_TESTS_CUDA_TEST_SUPPORT_H

#include "cuda/arena.h"
#include "cuda/driver.h"
#include "cuda/executor.h"
#include "cuda/host_abi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace ds::runtime;
using namespace ds::runtime::cuda;

// Internal linkage: each test file gets its own fake (and its own `fake`
// pointer).
namespace ds_cuda_test {
namespace {
using namespace ds::runtime;
using namespace ds::runtime::cuda;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

/// Sets an environment variable for the life of the object, then restores.
class ScopedEnv {
public:
  ScopedEnv(const char *name, const char *value) : name(name) {
    if (const char *old = std::getenv(name)) {
      hadValue = true;
      oldValue = old;
    }
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (hadValue)
      ::setenv(name, oldValue.c_str(), 1);
    else
      ::unsetenv(name);
  }

private:
  const char *name;
  bool hadValue = false;
  std::string oldValue;
};

inline bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

#define EXPECT_CONTAINS(text, part)                                            \
  EXPECT_TRUE(contains((text), (part)))                                        \
      << "expected to find: " << (part) << "\n            in: " << (text)

constexpr uint64_t kBase = 0x7f0000000000;
constexpr uint64_t kAlign = DeviceArena::kAlignment;

[[maybe_unused]] DeviceArena makeArena(uint64_t capacity, uint64_t base = kBase) {
  Expected<DeviceArena> arena = DeviceArena::create(base, capacity);
  EXPECT_TRUE(arena.succeeded()) << arena.message();
  return std::move(*arena);
}

inline uint64_t mustAlloc(DeviceArena &arena, uint64_t bytes) {
  Expected<uint64_t> address = arena.alloc(bytes);
  EXPECT_TRUE(address.succeeded()) << address.message();
  return address.succeeded() ? *address : 0;
}


//===----------------------------------------------------------------------===//
// A fake driver table
//===----------------------------------------------------------------------===//

struct LaunchRecord {
  CUfunction function;
  unsigned grid[3];
  unsigned block[3];
  unsigned shared;
  CUstream stream;
  void **params;
  /// Through cuLaunchKernelEx with programmatic stream serialization.
  bool programmatic = false;
};

/// The state behind the fake driver functions (one test at a time).
struct FakeCuda {
  std::vector<std::string> calls;
  /// Function name -> (successful calls still allowed, result then).
  std::map<std::string, std::pair<int, CUresult>> failures;
  CUdeviceptr nextAddress = 0x7f0000000000;
  size_t freeBytes = size_t(8) << 30;
  int deviceCount = 1;
  int optinShared = 227 * 1024;
  int computeMajor = 9;
  std::map<CUdeviceptr, size_t> allocations;
  /// Sparse device memory, for uploads and downloads.
  std::map<CUdeviceptr, uint8_t> memory;
  std::vector<LaunchRecord> launches;
  std::vector<std::pair<CUfunction, int>> sharedAttributes;
  std::vector<std::string> moduleImages;
  std::map<CUfunction, std::string> functions;
  int captureMode = -1;
  int liveGraphExecs = 0;
  int liveModules = 0;
  int retainedContexts = 0;
  unsigned streamFlags = 0;

  size_t count(const std::string &name) const {
    return static_cast<size_t>(std::count(calls.begin(), calls.end(), name));
  }
};

FakeCuda *fake = nullptr;

inline CUresult enter(const char *name) {
  fake->calls.push_back(name);
  auto it = fake->failures.find(name);
  if (it == fake->failures.end())
    return CUDA_SUCCESS;
  if (it->second.first > 0) {
    --it->second.first;
    return CUDA_SUCCESS;
  }
  CUresult result = it->second.second;
  fake->failures.erase(it);
  return result;
}

inline CUdeviceptr fakeContext() { return 0xc0; }

inline CUresult fakeGetErrorName(CUresult error, const char **text) {
  static const std::map<CUresult, const char *> names = {
      {0, "CUDA_SUCCESS"},
      {1, "CUDA_ERROR_INVALID_VALUE"},
      {2, "CUDA_ERROR_OUT_OF_MEMORY"},
      {500, "CUDA_ERROR_NOT_FOUND"},
      {700, "CUDA_ERROR_ILLEGAL_ADDRESS"}};
  auto it = names.find(error);
  *text = it == names.end() ? nullptr : it->second;
  return it == names.end() ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}
inline CUresult fakeGetErrorString(CUresult error, const char **text) {
  static const std::map<CUresult, const char *> strings = {
      {0, "no error"},
      {1, "invalid argument"},
      {2, "out of memory"},
      {500, "named symbol not found"},
      {700, "an illegal memory access was encountered"}};
  auto it = strings.find(error);
  *text = it == strings.end() ? nullptr : it->second;
  return it == strings.end() ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}
inline CUresult fakeInit(unsigned) { return enter("cuInit"); }
inline CUresult fakeDriverGetVersion(int *version) {
  *version = 13000;
  return enter("cuDriverGetVersion");
}
inline CUresult fakeDeviceGetCount(int *count) {
  *count = fake->deviceCount;
  return enter("cuDeviceGetCount");
}
inline CUresult fakeDeviceGet(CUdevice *device, int ordinal) {
  *device = ordinal;
  return enter("cuDeviceGet");
}
inline CUresult fakeDeviceGetName(char *name, int length, CUdevice) {
  std::snprintf(name, static_cast<size_t>(length), "Fake H100");
  return enter("cuDeviceGetName");
}
inline CUresult fakeDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                                CUdevice) {
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *value = fake->computeMajor;
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
    *value = fake->optinShared;
    break;
  default:
    ADD_FAILURE() << "unexpected attribute " << attribute;
  }
  return enter("cuDeviceGetAttribute");
}
inline CUresult fakeDeviceTotalMem(size_t *bytes, CUdevice) {
  *bytes = size_t(80) << 30;
  return enter("cuDeviceTotalMem");
}
inline CUresult fakePrimaryCtxRetain(CUcontext *context, CUdevice) {
  CUresult result = enter("cuDevicePrimaryCtxRetain");
  if (result == CUDA_SUCCESS) {
    *context = reinterpret_cast<CUcontext>(fakeContext());
    ++fake->retainedContexts;
  }
  return result;
}
inline CUresult fakePrimaryCtxRelease(CUdevice) {
  --fake->retainedContexts;
  return enter("cuDevicePrimaryCtxRelease");
}
inline CUresult fakeCtxSetCurrent(CUcontext) { return enter("cuCtxSetCurrent"); }
inline CUresult fakeCtxSynchronize() { return enter("cuCtxSynchronize"); }
inline CUresult fakeMemGetInfo(size_t *freeBytes, size_t *total) {
  *freeBytes = fake->freeBytes;
  *total = size_t(80) << 30;
  return enter("cuMemGetInfo");
}
inline CUresult fakeMemAlloc(CUdeviceptr *address, size_t bytes) {
  CUresult result = enter("cuMemAlloc");
  if (result != CUDA_SUCCESS)
    return result;
  *address = fake->nextAddress;
  fake->allocations[*address] = bytes;
  fake->nextAddress += (bytes + 0xffff) & ~size_t(0xffff);
  return CUDA_SUCCESS;
}
inline CUresult fakeMemFree(CUdeviceptr address) {
  EXPECT_EQ(fake->allocations.erase(address), 1u) << "bad cuMemFree";
  return enter("cuMemFree");
}
inline CUresult fakeMemcpyHtoD(CUdeviceptr destination, const void *source,
                        size_t bytes, CUstream) {
  CUresult result = enter("cuMemcpyHtoDAsync");
  if (result == CUDA_SUCCESS)
    for (size_t i = 0; i < bytes; ++i)
      fake->memory[destination + i] = static_cast<const uint8_t *>(source)[i];
  return result;
}
inline CUresult fakeMemcpyDtoH(void *destination, CUdeviceptr source, size_t bytes,
                        CUstream) {
  CUresult result = enter("cuMemcpyDtoHAsync");
  if (result == CUDA_SUCCESS)
    for (size_t i = 0; i < bytes; ++i)
      static_cast<uint8_t *>(destination)[i] = fake->memory[source + i];
  return result;
}
inline CUresult fakeMemcpyDtoD(CUdeviceptr destination, CUdeviceptr source,
                        size_t bytes, CUstream) {
  CUresult result = enter("cuMemcpyDtoDAsync");
  if (result == CUDA_SUCCESS)
    for (size_t i = 0; i < bytes; ++i)
      fake->memory[destination + i] = fake->memory[source + i];
  return result;
}
CUresult fakeMemsetD8(CUdeviceptr destination, unsigned char value,
                      size_t bytes, CUstream) {
  CUresult result = enter("cuMemsetD8Async");
  if (result == CUDA_SUCCESS)
    for (size_t i = 0; i < bytes; ++i)
      fake->memory[destination + i] = value;
  return result;
}
inline CUresult fakeStreamCreate(CUstream *stream, unsigned flags) {
  *stream = reinterpret_cast<CUstream>(0x5ea);
  fake->streamFlags = flags;
  return enter("cuStreamCreate");
}
inline CUresult fakeStreamDestroy(CUstream) { return enter("cuStreamDestroy"); }
inline CUresult fakeStreamSynchronize(CUstream) {
  return enter("cuStreamSynchronize");
}
inline CUresult fakeBeginCapture(CUstream, CUstreamCaptureMode mode) {
  fake->captureMode = mode;
  return enter("cuStreamBeginCapture");
}
inline CUresult fakeEndCapture(CUstream, CUgraph *graph) {
  *graph = reinterpret_cast<CUgraph>(0x6a);
  return enter("cuStreamEndCapture");
}
inline CUresult fakeGraphInstantiate(CUgraphExec *exec, CUgraph, unsigned long long) {
  CUresult result = enter("cuGraphInstantiate");
  if (result == CUDA_SUCCESS) {
    *exec = reinterpret_cast<CUgraphExec>(0x6e);
    ++fake->liveGraphExecs;
  }
  return result;
}
inline CUresult fakeGraphLaunch(CUgraphExec, CUstream) {
  return enter("cuGraphLaunch");
}
inline CUresult fakeGraphDestroy(CUgraph) { return enter("cuGraphDestroy"); }
inline CUresult fakeGraphExecDestroy(CUgraphExec) {
  --fake->liveGraphExecs;
  return enter("cuGraphExecDestroy");
}
inline CUresult fakeModuleLoadData(CUmodule *module, const void *image) {
  CUresult result = enter("cuModuleLoadData");
  if (result == CUDA_SUCCESS) {
    fake->moduleImages.push_back(static_cast<const char *>(image));
    *module = reinterpret_cast<CUmodule>(0x300 + fake->moduleImages.size());
    ++fake->liveModules;
  }
  return result;
}
inline CUresult fakeModuleUnload(CUmodule) {
  --fake->liveModules;
  return enter("cuModuleUnload");
}
inline CUresult fakeModuleGetFunction(CUfunction *function, CUmodule,
                               const char *name) {
  CUresult result = enter("cuModuleGetFunction");
  if (result != CUDA_SUCCESS)
    return result;
  if (std::string(name) == "missing")
    return CUDA_ERROR_NOT_FOUND;
  *function = reinterpret_cast<CUfunction>(0x1000 + fake->functions.size());
  fake->functions[*function] = name;
  return CUDA_SUCCESS;
}
inline CUresult fakeFuncSetAttribute(CUfunction function, CUfunction_attribute attr,
                              int value) {
  EXPECT_EQ(attr, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
  fake->sharedAttributes.push_back({function, value});
  return enter("cuFuncSetAttribute");
}
inline CUresult fakeLaunchKernel(CUfunction function, unsigned gx, unsigned gy,
                          unsigned gz, unsigned bx, unsigned by, unsigned bz,
                          unsigned shared, CUstream stream, void **params,
                          void **extra) {
  EXPECT_EQ(extra, nullptr);
  CUresult result = enter("cuLaunchKernel");
  if (result == CUDA_SUCCESS)
    fake->launches.push_back(
        {function, {gx, gy, gz}, {bx, by, bz}, shared, stream, params});
  return result;
}

inline CUresult fakeLaunchKernelEx(const CUlaunchConfig *config,
                                   CUfunction function, void **params,
                                   void **extra) {
  EXPECT_EQ(extra, nullptr);
  // The runtime sets exactly one attribute: programmatic serialization.
  EXPECT_EQ(config->numAttrs, 1u);
  bool programmatic =
      config->numAttrs == 1 &&
      config->attrs[0].id ==
          CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION &&
      config->attrs[0].value.programmaticStreamSerializationAllowed == 1;
  CUresult result = enter("cuLaunchKernelEx");
  if (result == CUDA_SUCCESS)
    fake->launches.push_back(
        {function,
         {config->gridDimX, config->gridDimY, config->gridDimZ},
         {config->blockDimX, config->blockDimY, config->blockDimZ},
         config->sharedMemBytes,
         config->hStream,
         params,
         programmatic});
  return result;
}

std::shared_ptr<CudaDriver> makeFakeDriver() {
  auto driver = std::make_shared<CudaDriver>();
  driver->cuGetErrorName = fakeGetErrorName;
  driver->cuGetErrorString = fakeGetErrorString;
  driver->cuInit = fakeInit;
  driver->cuDriverGetVersion = fakeDriverGetVersion;
  driver->cuDeviceGetCount = fakeDeviceGetCount;
  driver->cuDeviceGet = fakeDeviceGet;
  driver->cuDeviceGetName = fakeDeviceGetName;
  driver->cuDeviceGetAttribute = fakeDeviceGetAttribute;
  driver->cuDeviceTotalMem = fakeDeviceTotalMem;
  driver->cuDevicePrimaryCtxRetain = fakePrimaryCtxRetain;
  driver->cuDevicePrimaryCtxRelease = fakePrimaryCtxRelease;
  driver->cuCtxSetCurrent = fakeCtxSetCurrent;
  driver->cuCtxSynchronize = fakeCtxSynchronize;
  driver->cuMemGetInfo = fakeMemGetInfo;
  driver->cuMemAlloc = fakeMemAlloc;
  driver->cuMemFree = fakeMemFree;
  driver->cuMemcpyHtoDAsync = fakeMemcpyHtoD;
  driver->cuMemcpyDtoHAsync = fakeMemcpyDtoH;
  driver->cuMemcpyDtoDAsync = fakeMemcpyDtoD;
  driver->cuMemsetD8Async = fakeMemsetD8;
  driver->cuStreamCreate = fakeStreamCreate;
  driver->cuStreamDestroy = fakeStreamDestroy;
  driver->cuStreamSynchronize = fakeStreamSynchronize;
  driver->cuStreamBeginCapture = fakeBeginCapture;
  driver->cuStreamEndCapture = fakeEndCapture;
  driver->cuGraphInstantiate = fakeGraphInstantiate;
  driver->cuGraphLaunch = fakeGraphLaunch;
  driver->cuGraphDestroy = fakeGraphDestroy;
  driver->cuGraphExecDestroy = fakeGraphExecDestroy;
  driver->cuModuleLoadData = fakeModuleLoadData;
  driver->cuModuleUnload = fakeModuleUnload;
  driver->cuModuleGetFunction = fakeModuleGetFunction;
  driver->cuFuncSetAttribute = fakeFuncSetAttribute;
  driver->cuLaunchKernel = fakeLaunchKernel;
  driver->cuLaunchKernelEx = fakeLaunchKernelEx;
  driver->driverVersion = 13000;
  driver->deviceCount = 1;
  return driver;
}

const std::vector<uint8_t> kPtx = [] {
  std::string text = ".version 7.0\n.target sm_80\n.address_size 64\n";
  return std::vector<uint8_t>(text.begin(), text.end()); // no NUL
}();

class CudaExecutorTest : public ::testing::Test {
protected:
  void SetUp() override { fake = &state; }
  void TearDown() override {
    executor.reset();
    // Everything created was released.
    EXPECT_TRUE(state.allocations.empty());
    EXPECT_EQ(state.liveModules, 0);
    EXPECT_EQ(state.liveGraphExecs, 0);
    EXPECT_EQ(state.retainedContexts, 0);
    fake = nullptr;
  }

  /// Creates `executor` with a 1 MiB arena unless told otherwise.
  void create(CudaExecutorOptions options = {}) {
    if (options.arenaBytes == 0 && !options.deferArena && !useDefaultArena)
      options.arenaBytes = 1 << 20;
    Expected<std::unique_ptr<CudaExecutor>> created =
        CudaExecutor::create(driver, options);
    ASSERT_TRUE(created.succeeded()) << created.message();
    executor = std::move(*created);
  }

  /// Creates the executor with one module and kernels "k0", "k1".
  void createWithKernels() {
    create();
    ASSERT_TRUE(executor->loadModule(kPtx).succeeded());
    ASSERT_TRUE(executor->addKernel(0, "k0").succeeded());
    ASSERT_TRUE(executor->addKernel(0, "k1").succeeded());
  }

  /// Fails the call of `name` after `passes` more successful ones.
  void failOn(const std::string &name, CUresult result, int passes = 0) {
    state.failures[name] = {passes, result};
  }

  /// Expects `status` to be the dead-executor error quoting `first`.
  void expectDead(const Status &status, const std::string &first) {
    ASSERT_TRUE(status.failed());
    EXPECT_EQ(status.message(),
              "CUDA session is unusable after an earlier error: " + first);
  }

  FakeCuda state;
  std::shared_ptr<CudaDriver> driver = makeFakeDriver();
  std::unique_ptr<CudaExecutor> executor;
  bool useDefaultArena = false;
  ScopedEnv arenaEnv{kArenaBytesEnv, nullptr};
  ScopedEnv programmaticEnv{kProgrammaticLaunchEnv, nullptr};
};


} // namespace
} // namespace ds_cuda_test

#endif // DS_RUNTIME_TESTS_CUDA_TEST_SUPPORT_H
