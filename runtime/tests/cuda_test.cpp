//===- cuda_test.cpp - Tests of the CUDA layer with no GPU ----------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// The arena is plain integer arithmetic. The driver loader is tested with a
// missing library, a library that is not a driver (libm) and a fake
// libcuda built by the tests (testdata/fake_libcuda.cpp). The executor and
// the host ABI run on an in-process fake driver table that records every
// call and fails on demand.
//
//===----------------------------------------------------------------------===//

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

namespace {

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

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

#define EXPECT_CONTAINS(text, part)                                            \
  EXPECT_TRUE(contains((text), (part)))                                        \
      << "expected to find: " << (part) << "\n            in: " << (text)

constexpr uint64_t kBase = 0x7f0000000000;
constexpr uint64_t kAlign = DeviceArena::kAlignment;

DeviceArena makeArena(uint64_t capacity, uint64_t base = kBase) {
  Expected<DeviceArena> arena = DeviceArena::create(base, capacity);
  EXPECT_TRUE(arena.succeeded()) << arena.message();
  return std::move(*arena);
}

uint64_t mustAlloc(DeviceArena &arena, uint64_t bytes) {
  Expected<uint64_t> address = arena.alloc(bytes);
  EXPECT_TRUE(address.succeeded()) << address.message();
  return address.succeeded() ? *address : 0;
}

//===----------------------------------------------------------------------===//
// DeviceArena
//===----------------------------------------------------------------------===//

TEST(CudaArena, AlignsEveryBlockTo256Bytes) {
  DeviceArena arena = makeArena(1 << 20);
  EXPECT_EQ(mustAlloc(arena, 1), kBase);
  EXPECT_EQ(mustAlloc(arena, 256), kBase + 256);
  EXPECT_EQ(mustAlloc(arena, 257), kBase + 512);
  EXPECT_EQ(mustAlloc(arena, 0), kBase + 1024); // zero bytes: a distinct block
  EXPECT_EQ(mustAlloc(arena, 1000), kBase + 1280);
  EXPECT_EQ(arena.used(), 256u + 256 + 512 + 256 + 1024);
  EXPECT_EQ(arena.blockSize(kBase + 512), 512u);
  EXPECT_EQ(arena.blockSize(kBase + 513), 0u);
  EXPECT_EQ(arena.liveBlocks(), 5u);
}

TEST(CudaArena, RejectsBadRanges) {
  Expected<DeviceArena> unaligned = DeviceArena::create(kBase + 8, 4096);
  ASSERT_TRUE(unaligned.failed());
  EXPECT_CONTAINS(unaligned.message(), "is not a multiple of 256");
  Expected<DeviceArena> wraps = DeviceArena::create(~uint64_t(0) - 255, 512);
  ASSERT_TRUE(wraps.failed());
  EXPECT_CONTAINS(wraps.message(), "wraps around");
  // The capacity is rounded down to the alignment.
  DeviceArena arena = makeArena(1000);
  EXPECT_EQ(arena.capacity(), 768u);
  EXPECT_TRUE(arena.alloc(769).failed());
  EXPECT_TRUE(arena.alloc(768).succeeded());
  // An empty arena fails every allocation.
  DeviceArena empty;
  Expected<uint64_t> none = empty.alloc(1);
  ASSERT_TRUE(none.failed());
  EXPECT_CONTAINS(none.message(), "0 of 0 bytes in use");
}

TEST(CudaArena, FirstFitTakesTheLowestHoleThatFits) {
  DeviceArena arena = makeArena(64 * kAlign);
  uint64_t a = mustAlloc(arena, kAlign);
  uint64_t b = mustAlloc(arena, 4 * kAlign);
  uint64_t c = mustAlloc(arena, kAlign);
  uint64_t d = mustAlloc(arena, 2 * kAlign);
  (void)a;
  ASSERT_TRUE(arena.free(b).succeeded());
  ASSERT_TRUE(arena.free(d).succeeded());
  // Holes: b (4 units) and from d on (to the end). 2 units fit in b first.
  EXPECT_EQ(mustAlloc(arena, 2 * kAlign), b);
  // 3 units no longer fit in what is left of b (2 units): they go to d.
  EXPECT_EQ(mustAlloc(arena, 3 * kAlign), d);
  // 2 units fit exactly in the rest of b.
  EXPECT_EQ(mustAlloc(arena, 2 * kAlign), b + 2 * kAlign);
  EXPECT_EQ(mustAlloc(arena, 1), d + 3 * kAlign);
  (void)c;
}

TEST(CudaArena, FreeCoalescesWithBothNeighbours) {
  DeviceArena arena = makeArena(16 * kAlign);
  uint64_t a = mustAlloc(arena, kAlign);
  uint64_t b = mustAlloc(arena, kAlign);
  uint64_t c = mustAlloc(arena, kAlign);
  uint64_t d = mustAlloc(arena, 13 * kAlign); // the rest: the arena is full
  EXPECT_EQ(arena.freeBlocks(), 0u);
  EXPECT_EQ(arena.largestFreeBlock(), 0u);
  ASSERT_TRUE(arena.free(a).succeeded());
  ASSERT_TRUE(arena.free(c).succeeded());
  EXPECT_EQ(arena.freeBlocks(), 2u);
  EXPECT_EQ(arena.largestFreeBlock(), kAlign);
  // Freeing b merges a, b and c into one block of 3 units.
  ASSERT_TRUE(arena.free(b).succeeded());
  EXPECT_EQ(arena.freeBlocks(), 1u);
  EXPECT_EQ(arena.largestFreeBlock(), 3 * kAlign);
  EXPECT_EQ(mustAlloc(arena, 3 * kAlign), a);
  ASSERT_TRUE(arena.free(a).succeeded());
  ASSERT_TRUE(arena.free(d).succeeded());
  EXPECT_EQ(arena.freeBlocks(), 1u);
  EXPECT_EQ(arena.largestFreeBlock(), arena.capacity());
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_EQ(mustAlloc(arena, arena.capacity()), kBase);
}

/// Runs a seeded random sequence of alloc/free calls; returns every address
/// handed out (0 for failed allocations).
std::vector<uint64_t> runSequence(DeviceArena &arena, unsigned seed) {
  std::mt19937 random(seed);
  std::vector<uint64_t> liveBlocks, addresses;
  for (int step = 0; step < 2000; ++step) {
    bool doFree = !liveBlocks.empty() && random() % 3 == 0;
    if (doFree) {
      size_t index = random() % liveBlocks.size();
      EXPECT_TRUE(arena.free(liveBlocks[index]).succeeded());
      liveBlocks.erase(liveBlocks.begin() + static_cast<long>(index));
    } else {
      Expected<uint64_t> address = arena.alloc(random() % 20000);
      addresses.push_back(address.succeeded() ? *address : 0);
      if (address.succeeded())
        liveBlocks.push_back(*address);
    }
  }
  return addresses;
}

TEST(CudaArena, ReplayedSequencesGiveTheSameAddresses) {
  DeviceArena first = makeArena(1 << 20);
  std::vector<uint64_t> once = runSequence(first, 42);
  uint64_t peak = first.peak();
  // Failures happen (the arena is small enough to fill): they are part of
  // the replayed behaviour too.
  EXPECT_NE(std::count(once.begin(), once.end(), 0u), 0);
  // Replaying after reset() on the same arena...
  first.reset();
  EXPECT_EQ(first.used(), 0u);
  EXPECT_EQ(first.peak(), 0u);
  EXPECT_EQ(runSequence(first, 42), once);
  EXPECT_EQ(first.peak(), peak);
  // ...and on a fresh arena over the same range.
  DeviceArena second = makeArena(1 << 20);
  EXPECT_EQ(runSequence(second, 42), once);
  // Every address is aligned and inside the arena.
  for (uint64_t address : once)
    if (address) {
      EXPECT_EQ(address % kAlign, 0u);
      EXPECT_TRUE(first.contains(address));
    }
}

TEST(CudaArena, OutOfMemoryMessageNamesTheNumbers) {
  DeviceArena arena = makeArena(4096);
  uint64_t a = mustAlloc(arena, 1024);
  mustAlloc(arena, 1024);
  uint64_t c = mustAlloc(arena, 512);
  mustAlloc(arena, 1024);
  ASSERT_TRUE(arena.free(a).succeeded());
  ASSERT_TRUE(arena.free(c).succeeded());
  // 2048 bytes free in total, but in three blocks: 1024 (a), 512 (c) and
  // the 512-byte tail; none holds 1536.
  EXPECT_EQ(arena.freeBlocks(), 3u);
  Expected<uint64_t> failed = arena.alloc(1500);
  ASSERT_TRUE(failed.failed());
  EXPECT_EQ(failed.message(),
            "device arena out of memory: cannot allocate 1500 bytes (1536 "
            "after alignment); largest free block 1024 bytes, 2048 of 4096 "
            "bytes in use");
  // The failure changed nothing.
  EXPECT_EQ(arena.used(), 2048u);
  EXPECT_EQ(arena.freeBlocks(), 3u);
  EXPECT_EQ(mustAlloc(arena, 1024), a);
}

TEST(CudaArena, BadFreesAreErrors) {
  DeviceArena arena = makeArena(4096);
  uint64_t a = mustAlloc(arena, 512);
  Status interior = arena.free(a + 256);
  ASSERT_TRUE(interior.failed());
  EXPECT_CONTAINS(interior.message(), "is not a live allocation");
  EXPECT_CONTAINS(interior.message(), "0x7f0000000100");
  EXPECT_TRUE(arena.free(kBase - 256).failed());  // below the range
  EXPECT_TRUE(arena.free(kBase + 4096).failed()); // past the end
  EXPECT_TRUE(arena.free(0).failed());
  EXPECT_TRUE(arena.free(kBase + 1024).failed()); // free space
  ASSERT_TRUE(arena.free(a).succeeded());
  EXPECT_TRUE(arena.free(a).failed()); // twice
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_EQ(arena.freeBlocks(), 1u);
}

TEST(CudaArena, CapacityBoundaries) {
  const uint64_t cap = 64 * kAlign;
  for (uint64_t bytes : {cap - 1, cap}) {
    DeviceArena arena = makeArena(cap);
    Expected<uint64_t> address = arena.alloc(bytes);
    ASSERT_TRUE(address.succeeded()) << bytes << ": " << address.message();
    EXPECT_EQ(*address, kBase);
    EXPECT_EQ(arena.used(), cap);
    EXPECT_TRUE(arena.alloc(1).failed());
  }
  DeviceArena arena = makeArena(cap);
  Expected<uint64_t> tooBig = arena.alloc(cap + 1);
  ASSERT_TRUE(tooBig.failed());
  EXPECT_CONTAINS(tooBig.message(), "cannot allocate 16385 bytes");
  EXPECT_CONTAINS(tooBig.message(), "largest free block 16384 bytes");
  // Huge requests do not overflow the rounding.
  for (uint64_t huge : {~uint64_t(0), ~uint64_t(0) - 255, uint64_t(1) << 63})
    EXPECT_TRUE(arena.alloc(huge).failed());
  EXPECT_EQ(arena.used(), 0u);
}

TEST(CudaArena, PeakAndReset) {
  DeviceArena arena = makeArena(8 * kAlign);
  uint64_t a = mustAlloc(arena, 3 * kAlign);
  mustAlloc(arena, 2 * kAlign);
  ASSERT_TRUE(arena.free(a).succeeded());
  EXPECT_EQ(arena.used(), 2 * kAlign);
  EXPECT_EQ(arena.peak(), 5 * kAlign);
  arena.reset();
  EXPECT_EQ(arena.liveBlocks(), 0u);
  EXPECT_EQ(arena.largestFreeBlock(), 8 * kAlign);
  EXPECT_EQ(mustAlloc(arena, kAlign), kBase);
}

//===----------------------------------------------------------------------===//
// Driver loading
//===----------------------------------------------------------------------===//

TEST(CudaDriverLoad, MissingLibraryIsAClearError) {
  ScopedEnv env(kLibcudaEnv, "/nonexistent/libcuda.so.1");
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  ASSERT_TRUE(driver.failed());
  EXPECT_CONTAINS(driver.message(),
                  "this artifact targets CUDA but no NVIDIA driver was found "
                  "(/nonexistent/libcuda.so.1: ");
  EXPECT_CONTAINS(driver.message(), "No such file or directory)");
  // The path is not repeated from dlerror.
  EXPECT_FALSE(contains(driver.message(), "libcuda.so.1: /nonexistent"));
}

TEST(CudaDriverLoad, NonDriverLibraryIsAClearError) {
  ScopedEnv env(kLibcudaEnv, "libm.so.6");
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  ASSERT_TRUE(driver.failed());
  EXPECT_EQ(driver.message(),
            "this artifact targets CUDA but no NVIDIA driver was found "
            "(libm.so.6 does not define cuInit)");
}

TEST(CudaDriverLoad, DefaultLibraryWithoutADriver) {
  ScopedEnv env(kLibcudaEnv, nullptr);
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  if (driver.succeeded())
    GTEST_SKIP() << "this machine has a CUDA driver";
  // No libcuda at all (the dev machines), or a driver with no usable device.
  EXPECT_EQ(driver.message().rfind("this artifact targets CUDA but ", 0), 0u)
      << driver.message();
  if (contains(driver.message(), "no NVIDIA driver was found")) {
    EXPECT_CONTAINS(driver.message(), "was found (libcuda.so.1: ");
  }
}

#if defined(DS_FAKE_LIBCUDA_PATH) && defined(DS_FAKE_OLD_LIBCUDA_PATH)

using ConfigureFn = void (*)(int, int);

/// Calls fakecuda_configure of the fake library at `path`.
void configureFake(const char *path, int initResult, int deviceCount) {
  void *library = ::dlopen(path, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(library, nullptr) << ::dlerror();
  void *symbol = ::dlsym(library, "fakecuda_configure");
  ASSERT_NE(symbol, nullptr);
  ConfigureFn configure;
  std::memcpy(&configure, &symbol, sizeof(configure));
  configure(initResult, deviceCount);
}

TEST(CudaDriverLoad, FakeLibcudaLoadsAndRunsAnExecutor) {
  configureFake(DS_FAKE_LIBCUDA_PATH, CUDA_SUCCESS, 2);
  ScopedEnv env(kLibcudaEnv, DS_FAKE_LIBCUDA_PATH);
  ScopedEnv arenaEnv(kArenaBytesEnv, nullptr);
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  ASSERT_TRUE(driver.succeeded()) << driver.message();
  EXPECT_EQ((*driver)->driverVersion, 13000);
  EXPECT_EQ((*driver)->deviceCount, 2);
  EXPECT_EQ((*driver)->libraryPath, DS_FAKE_LIBCUDA_PATH);

  Expected<DeviceInfo> info = queryDevice(**driver, 1);
  ASSERT_TRUE(info.succeeded()) << info.message();
  EXPECT_EQ(info->describe(), "Fake GPU (device 1, sm_90, 132 SMs, 80.0 GiB "
                              "total, 64.0 GiB free, CUDA driver 13.0)");
  EXPECT_TRUE(queryDevice(**driver, 2).failed());

  CudaExecutorOptions options;
  options.device = 1;
  Expected<std::unique_ptr<CudaExecutor>> executor =
      CudaExecutor::create(*driver, options);
  ASSERT_TRUE(executor.succeeded()) << executor.message();
  // Default arena: half of the 64 GiB free.
  EXPECT_EQ((*executor)->arena().capacity(), uint64_t(32) << 30);
  EXPECT_TRUE((*executor)->beginCapture().succeeded());
  Expected<CudaGraph> graph = (*executor)->endCapture();
  ASSERT_TRUE(graph.succeeded()) << graph.message();
  EXPECT_TRUE((*executor)->launchGraph(*graph).succeeded());
  EXPECT_TRUE((*executor)->synchronize().succeeded());
}

TEST(CudaDriverLoad, InitFailureAndNoDevice) {
  ScopedEnv env(kLibcudaEnv, DS_FAKE_LIBCUDA_PATH);
  configureFake(DS_FAKE_LIBCUDA_PATH, CUDA_ERROR_NO_DEVICE, 1);
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  ASSERT_TRUE(driver.failed());
  EXPECT_EQ(driver.message(),
            std::string("this artifact targets CUDA but the NVIDIA driver (") +
                DS_FAKE_LIBCUDA_PATH +
                ", CUDA 13.0) failed to initialize: CUDA error "
                "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected) "
                "in cuInit(0)");
  configureFake(DS_FAKE_LIBCUDA_PATH, CUDA_SUCCESS, 0);
  driver = CudaDriver::load();
  ASSERT_TRUE(driver.failed());
  EXPECT_EQ(driver.message(),
            std::string("this artifact targets CUDA but no CUDA device was "
                        "found (driver ") +
                DS_FAKE_LIBCUDA_PATH + ", CUDA 13.0)");
  configureFake(DS_FAKE_LIBCUDA_PATH, CUDA_SUCCESS, 1);
}

TEST(CudaDriverLoad, OldDriverNamesTheMissingFunction) {
  ScopedEnv env(kLibcudaEnv, DS_FAKE_OLD_LIBCUDA_PATH);
  Expected<std::shared_ptr<CudaDriver>> driver = CudaDriver::load();
  ASSERT_TRUE(driver.failed());
  EXPECT_EQ(driver.message(),
            std::string("the NVIDIA driver ") + DS_FAKE_OLD_LIBCUDA_PATH +
                " (CUDA 11.2) is too old for this runtime: it does not "
                "define cuGraphInstantiateWithFlags (a CUDA 11.4 or newer "
                "driver is needed)");
}

#endif

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

CUresult enter(const char *name) {
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

CUdeviceptr fakeContext() { return 0xc0; }

CUresult fakeGetErrorName(CUresult error, const char **text) {
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
CUresult fakeGetErrorString(CUresult error, const char **text) {
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
CUresult fakeInit(unsigned) { return enter("cuInit"); }
CUresult fakeDriverGetVersion(int *version) {
  *version = 13000;
  return enter("cuDriverGetVersion");
}
CUresult fakeDeviceGetCount(int *count) {
  *count = fake->deviceCount;
  return enter("cuDeviceGetCount");
}
CUresult fakeDeviceGet(CUdevice *device, int ordinal) {
  *device = ordinal;
  return enter("cuDeviceGet");
}
CUresult fakeDeviceGetName(char *name, int length, CUdevice) {
  std::snprintf(name, static_cast<size_t>(length), "Fake H100");
  return enter("cuDeviceGetName");
}
CUresult fakeDeviceGetAttribute(int *value, CUdevice_attribute attribute,
                                CUdevice) {
  switch (attribute) {
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
    *value = fake->optinShared;
    break;
  default:
    ADD_FAILURE() << "unexpected attribute " << attribute;
  }
  return enter("cuDeviceGetAttribute");
}
CUresult fakeDeviceTotalMem(size_t *bytes, CUdevice) {
  *bytes = size_t(80) << 30;
  return enter("cuDeviceTotalMem");
}
CUresult fakePrimaryCtxRetain(CUcontext *context, CUdevice) {
  CUresult result = enter("cuDevicePrimaryCtxRetain");
  if (result == CUDA_SUCCESS) {
    *context = reinterpret_cast<CUcontext>(fakeContext());
    ++fake->retainedContexts;
  }
  return result;
}
CUresult fakePrimaryCtxRelease(CUdevice) {
  --fake->retainedContexts;
  return enter("cuDevicePrimaryCtxRelease");
}
CUresult fakeCtxSetCurrent(CUcontext) { return enter("cuCtxSetCurrent"); }
CUresult fakeCtxSynchronize() { return enter("cuCtxSynchronize"); }
CUresult fakeMemGetInfo(size_t *freeBytes, size_t *total) {
  *freeBytes = fake->freeBytes;
  *total = size_t(80) << 30;
  return enter("cuMemGetInfo");
}
CUresult fakeMemAlloc(CUdeviceptr *address, size_t bytes) {
  CUresult result = enter("cuMemAlloc");
  if (result != CUDA_SUCCESS)
    return result;
  *address = fake->nextAddress;
  fake->allocations[*address] = bytes;
  fake->nextAddress += (bytes + 0xffff) & ~size_t(0xffff);
  return CUDA_SUCCESS;
}
CUresult fakeMemFree(CUdeviceptr address) {
  EXPECT_EQ(fake->allocations.erase(address), 1u) << "bad cuMemFree";
  return enter("cuMemFree");
}
CUresult fakeMemcpyHtoD(CUdeviceptr destination, const void *source,
                        size_t bytes, CUstream) {
  CUresult result = enter("cuMemcpyHtoDAsync");
  if (result == CUDA_SUCCESS)
    for (size_t i = 0; i < bytes; ++i)
      fake->memory[destination + i] = static_cast<const uint8_t *>(source)[i];
  return result;
}
CUresult fakeMemcpyDtoH(void *destination, CUdeviceptr source, size_t bytes,
                        CUstream) {
  CUresult result = enter("cuMemcpyDtoHAsync");
  if (result == CUDA_SUCCESS)
    for (size_t i = 0; i < bytes; ++i)
      static_cast<uint8_t *>(destination)[i] = fake->memory[source + i];
  return result;
}
CUresult fakeMemcpyDtoD(CUdeviceptr destination, CUdeviceptr source,
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
CUresult fakeStreamCreate(CUstream *stream, unsigned flags) {
  *stream = reinterpret_cast<CUstream>(0x5ea);
  fake->streamFlags = flags;
  return enter("cuStreamCreate");
}
CUresult fakeStreamDestroy(CUstream) { return enter("cuStreamDestroy"); }
CUresult fakeStreamSynchronize(CUstream) {
  return enter("cuStreamSynchronize");
}
CUresult fakeBeginCapture(CUstream, CUstreamCaptureMode mode) {
  fake->captureMode = mode;
  return enter("cuStreamBeginCapture");
}
CUresult fakeEndCapture(CUstream, CUgraph *graph) {
  *graph = reinterpret_cast<CUgraph>(0x6a);
  return enter("cuStreamEndCapture");
}
CUresult fakeGraphInstantiate(CUgraphExec *exec, CUgraph, unsigned long long) {
  CUresult result = enter("cuGraphInstantiate");
  if (result == CUDA_SUCCESS) {
    *exec = reinterpret_cast<CUgraphExec>(0x6e);
    ++fake->liveGraphExecs;
  }
  return result;
}
CUresult fakeGraphLaunch(CUgraphExec, CUstream) {
  return enter("cuGraphLaunch");
}
CUresult fakeGraphDestroy(CUgraph) { return enter("cuGraphDestroy"); }
CUresult fakeGraphExecDestroy(CUgraphExec) {
  --fake->liveGraphExecs;
  return enter("cuGraphExecDestroy");
}
CUresult fakeModuleLoadData(CUmodule *module, const void *image) {
  CUresult result = enter("cuModuleLoadData");
  if (result == CUDA_SUCCESS) {
    fake->moduleImages.push_back(static_cast<const char *>(image));
    *module = reinterpret_cast<CUmodule>(0x300 + fake->moduleImages.size());
    ++fake->liveModules;
  }
  return result;
}
CUresult fakeModuleUnload(CUmodule) {
  --fake->liveModules;
  return enter("cuModuleUnload");
}
CUresult fakeModuleGetFunction(CUfunction *function, CUmodule,
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
CUresult fakeFuncSetAttribute(CUfunction function, CUfunction_attribute attr,
                              int value) {
  EXPECT_EQ(attr, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES);
  fake->sharedAttributes.push_back({function, value});
  return enter("cuFuncSetAttribute");
}
CUresult fakeLaunchKernel(CUfunction function, unsigned gx, unsigned gy,
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
};

//===----------------------------------------------------------------------===//
// CudaExecutor
//===----------------------------------------------------------------------===//

TEST_F(CudaExecutorTest, CreateRetainsThePrimaryContextAndMakesTheArena) {
  create();
  std::vector<std::string> expected = {"cuDeviceGetCount",
                                       "cuDeviceGet",
                                       "cuDevicePrimaryCtxRetain",
                                       "cuCtxSetCurrent",
                                       "cuDeviceGetName",
                                       "cuDeviceGetAttribute",
                                       "cuDeviceGetAttribute",
                                       "cuDeviceGetAttribute",
                                       "cuDeviceGetAttribute",
                                       "cuDeviceGetAttribute",
                                       "cuDeviceTotalMem",
                                       "cuMemGetInfo",
                                       "cuStreamCreate",
                                       "cuCtxSetCurrent",
                                       "cuMemAlloc"};
  EXPECT_EQ(state.calls, expected);
  EXPECT_EQ(state.streamFlags, CU_STREAM_NON_BLOCKING);
  EXPECT_EQ(state.retainedContexts, 1);
  EXPECT_TRUE(executor->hasArena());
  EXPECT_EQ(executor->arena().capacity(), 1u << 20);
  EXPECT_EQ(executor->arena().base(), 0x7f0000000000u);
  EXPECT_EQ(executor->deviceInfo().describe(),
            "Fake H100 (device 0, sm_90, 132 SMs, 80.0 GiB total, 8.0 GiB "
            "free, CUDA driver 13.0)");
  EXPECT_EQ(executor->deviceInfo().maxSharedPerBlockOptin, 227 * 1024);
  EXPECT_FALSE(executor->dead());
  EXPECT_TRUE(executor->status().succeeded());

  state.calls.clear();
  executor.reset();
  std::vector<std::string> teardown = {"cuCtxSetCurrent", "cuStreamSynchronize",
                                       "cuMemFree", "cuStreamDestroy",
                                       "cuDevicePrimaryCtxRelease"};
  EXPECT_EQ(state.calls, teardown);
}

TEST_F(CudaExecutorTest, CreateFailuresAreReportedAndCleanedUp) {
  failOn("cuStreamCreate", CUDA_ERROR_OUT_OF_MEMORY);
  Expected<std::unique_ptr<CudaExecutor>> created =
      CudaExecutor::create(driver, {});
  ASSERT_TRUE(created.failed());
  EXPECT_EQ(created.message(),
            "cannot initialize CUDA device 0: CUDA error "
            "CUDA_ERROR_OUT_OF_MEMORY (out of memory) in cuStreamCreate");
  EXPECT_EQ(state.retainedContexts, 0); // released again

  CudaExecutorOptions options;
  options.device = 1;
  created = CudaExecutor::create(driver, options);
  ASSERT_TRUE(created.failed());
  EXPECT_EQ(created.message(), "cannot initialize CUDA device 1: device 1 "
                               "does not exist (this machine has 1 CUDA "
                               "device)");
  options.device = -1;
  EXPECT_TRUE(CudaExecutor::create(driver, options).failed());

  options = {};
  options.arenaFreeFraction = 0;
  EXPECT_TRUE(CudaExecutor::create(driver, options).failed());

  auto incomplete = makeFakeDriver();
  incomplete->cuLaunchKernel = nullptr;
  created = CudaExecutor::create(incomplete, {});
  ASSERT_TRUE(created.failed());
  EXPECT_EQ(created.message(),
            "cannot initialize CUDA device 0: the CUDA driver table is "
            "incomplete: cuLaunchKernel is not set");
  EXPECT_TRUE(CudaExecutor::create(nullptr, {}).failed());
}

TEST_F(CudaExecutorTest, ArenaSizeFromOptionsEnvironmentOrFreeMemory) {
  // The default: half of the free memory, rounded down to 256 bytes.
  state.freeBytes = (size_t(3) << 30) + 1001;
  useDefaultArena = true;
  create();
  EXPECT_EQ(executor->arena().capacity(),
            ((size_t(3) << 30) + 1001) / 2 / 256 * 256);
  EXPECT_EQ(state.allocations.begin()->second, executor->arena().capacity());
  executor.reset();

  {
    ScopedEnv env(kArenaBytesEnv, "3M");
    create();
    EXPECT_EQ(executor->arena().capacity(), 3u << 20);
    executor.reset();
    // The caller's explicit size wins over the environment.
    CudaExecutorOptions options;
    options.arenaBytes = 1000; // rounded up to 1024
    create(options);
    EXPECT_EQ(executor->arena().capacity(), 1024u);
    executor.reset();
  }
  {
    ScopedEnv env(kArenaBytesEnv, "lots");
    Expected<std::unique_ptr<CudaExecutor>> created =
        CudaExecutor::create(driver, {});
    ASSERT_TRUE(created.failed());
    EXPECT_EQ(created.message(),
              "cannot initialize CUDA device 0: DS_CUDA_ARENA_BYTES: 'lots' "
              "is not a positive byte count (digits, optionally followed by "
              "K, M or G)");
  }
  // An arena that does not fit names its size and where it came from.
  failOn("cuMemAlloc", CUDA_ERROR_OUT_OF_MEMORY);
  CudaExecutorOptions options;
  options.arenaBytes = 123 << 20;
  Expected<std::unique_ptr<CudaExecutor>> created =
      CudaExecutor::create(driver, options);
  ASSERT_TRUE(created.failed());
  EXPECT_EQ(created.message(),
            "cannot initialize CUDA device 0: CUDA error "
            "CUDA_ERROR_OUT_OF_MEMORY (out of memory) in cuMemAlloc(device "
            "arena, 128974848 bytes, requested)");
}

TEST(CudaParseByteSize, AcceptsSuffixesAndRejectsTheRest) {
  EXPECT_EQ(*parseByteSize("1048576"), 1048576u);
  EXPECT_EQ(*parseByteSize("64K"), 65536u);
  EXPECT_EQ(*parseByteSize("64k"), 65536u);
  EXPECT_EQ(*parseByteSize("512M"), 512u << 20);
  EXPECT_EQ(*parseByteSize("2G"), uint64_t(2) << 30);
  EXPECT_EQ(*parseByteSize("17179869183G"), uint64_t(17179869183) << 30);
  for (const char *bad : {"", "0", "0K", "-1", "1.5G", "G", "12KB", " 12",
                          "12 ", "1T", "18446744073709551616", "17179869184G"})
    EXPECT_TRUE(parseByteSize(bad).failed()) << bad;
  EXPECT_EQ(*parseByteSize("18446744073709551615"), ~uint64_t(0));
}

TEST_F(CudaExecutorTest, DeferredArena) {
  CudaExecutorOptions options;
  options.deferArena = true;
  create(options);
  EXPECT_FALSE(executor->hasArena());
  EXPECT_TRUE(state.allocations.empty());
  Expected<CUdeviceptr> weights = executor->allocPersistent(4096, "weights");
  ASSERT_TRUE(weights.succeeded());
  state.freeBytes = 4096 * 1024;
  ASSERT_TRUE(executor->reserveArena().succeeded());
  EXPECT_EQ(executor->arena().capacity(), 2048u * 1024);
  Status again = executor->reserveArena(4096);
  ASSERT_TRUE(again.failed());
  EXPECT_EQ(again.message(), "the device arena already exists (2097152 bytes)");
}

TEST_F(CudaExecutorTest, ArenaAllocationWithoutAnArenaFails) {
  CudaExecutorOptions options;
  options.deferArena = true;
  create(options);
  Expected<CUdeviceptr> block = executor->arenaAlloc(16);
  ASSERT_TRUE(block.failed());
  EXPECT_EQ(block.message(), "cannot allocate 16 bytes: the device arena was "
                             "not reserved");
  EXPECT_TRUE(executor->dead());
}

TEST_F(CudaExecutorTest, StickyErrorStopsEveryLaterDriverCall) {
  createWithKernels();
  Expected<CUdeviceptr> buffer = executor->allocPersistent(1024, "weights");
  ASSERT_TRUE(buffer.succeeded());
  std::vector<uint8_t> host(1024, 7);
  ASSERT_TRUE(executor->upload(*buffer, host.data(), 1024).succeeded());

  failOn("cuMemcpyHtoDAsync", CUDA_ERROR_ILLEGAL_ADDRESS);
  Status first = executor->upload(*buffer, host.data(), 512);
  ASSERT_TRUE(first.failed());
  std::string firstMessage =
      "CUDA error CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was "
      "encountered) in cuMemcpyHtoDAsync(0x7f0000100000, 512 bytes)";
  EXPECT_EQ(first.message(), firstMessage);
  EXPECT_TRUE(executor->dead());
  EXPECT_EQ(executor->firstError().message(), firstMessage);
  expectDead(executor->status(), firstMessage);

  // From now on, nothing reaches the driver.
  size_t callsBefore = state.calls.size();
  expectDead(executor->upload(*buffer, host.data(), 512), firstMessage);
  expectDead(executor->download(host.data(), *buffer, 512), firstMessage);
  expectDead(executor->copy(*buffer, *buffer + 512, 512), firstMessage);
  expectDead(executor->memset(*buffer, 0, 512), firstMessage);
  expectDead(executor->synchronize(), firstMessage);
  expectDead(executor->makeCurrent(), firstMessage);
  expectDead(executor->loadModule(kPtx), firstMessage);
  expectDead(executor->addKernel(0, "k2"), firstMessage);
  expectDead(executor->allocPersistent(16, "kv cache").status(), firstMessage);
  expectDead(executor->freePersistent(*buffer), firstMessage);
  expectDead(executor->launch(0, 1, 1, 1, 32, 1, 1, 0, nullptr), firstMessage);
  expectDead(executor->constant(0, host.data(), 16).status(), firstMessage);
  expectDead(executor->arenaAlloc(16).status(), firstMessage);
  expectDead(executor->beginCapture(), firstMessage);
  expectDead(executor->endCapture().status(), firstMessage);
  expectDead(executor->queryDeviceInfo().status(), firstMessage);
  expectDead(executor->reserveArena(), firstMessage);
  CudaGraph empty;
  expectDead(executor->launchGraph(empty), firstMessage);
  {
    CudaExecutor::Scope scope(*executor);
    const void *const *table = hostAbiTable();
    auto alloc = reinterpret_cast<DsCudaAllocFn>(
        const_cast<void *>(table[kHostAbiAlloc]));
    auto launch = reinterpret_cast<DsCudaLaunchFn>(
        const_cast<void *>(table[kHostAbiLaunch]));
    EXPECT_EQ(alloc(64), hostAbiDummyPointer());
    launch(0, 1, 1, 1, 32, 1, 1, 0, nullptr);
  }
  // A later error does not replace the first one.
  EXPECT_TRUE(executor->recordError(Status::failure("later")).failed());
  EXPECT_EQ(executor->firstError().message(), firstMessage);
  EXPECT_EQ(state.calls.size(), callsBefore)
      << "first extra call: " << state.calls[callsBefore];
  EXPECT_TRUE(state.launches.empty());
}

TEST_F(CudaExecutorTest, PersistentAllocationErrorsNameWhatFor) {
  create();
  failOn("cuMemAlloc", CUDA_ERROR_OUT_OF_MEMORY);
  Expected<CUdeviceptr> weights = executor->allocPersistent(123, "weights");
  ASSERT_TRUE(weights.failed());
  EXPECT_EQ(weights.message(), "CUDA error CUDA_ERROR_OUT_OF_MEMORY (out of "
                               "memory) in cuMemAlloc(weights, 123 bytes)");
  EXPECT_TRUE(executor->dead());
}

TEST_F(CudaExecutorTest, UnknownErrorCodesStillReadWell) {
  create();
  failOn("cuStreamSynchronize", 12345);
  Status status = executor->synchronize();
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(), "CUDA error 12345 (unknown error code) in "
                              "cuStreamSynchronize");
}

TEST_F(CudaExecutorTest, PersistentMemoryUploadsAndDownloads) {
  create();
  Expected<CUdeviceptr> buffer = executor->allocPersistent(256, "kv cache");
  ASSERT_TRUE(buffer.succeeded());
  std::vector<uint8_t> in(256);
  for (size_t i = 0; i < in.size(); ++i)
    in[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(executor->upload(*buffer, in.data(), 256).succeeded());
  ASSERT_TRUE(executor->memset(*buffer + 16, 0xab, 16).succeeded());
  Expected<CUdeviceptr> block = executor->arenaAlloc(256);
  ASSERT_TRUE(block.succeeded());
  ASSERT_TRUE(executor->copy(*block, *buffer, 256).succeeded());
  std::vector<uint8_t> out(256);
  ASSERT_TRUE(executor->download(out.data(), *block, 256).succeeded());
  for (size_t i = 0; i < out.size(); ++i)
    EXPECT_EQ(out[i], i >= 16 && i < 32 ? 0xab : i) << i;
  // Zero-byte transfers do nothing.
  size_t calls = state.calls.size();
  EXPECT_TRUE(executor->upload(0, nullptr, 0).succeeded());
  EXPECT_TRUE(executor->download(nullptr, 0, 0).succeeded());
  EXPECT_EQ(state.calls.size(), calls);
  ASSERT_TRUE(executor->freePersistent(*buffer).succeeded());
  ASSERT_TRUE(executor->arenaFree(*block).succeeded());
  EXPECT_TRUE(executor->status().succeeded());
}

TEST_F(CudaExecutorTest, TransfersOutsideKnownMemoryAreErrors) {
  create();
  Expected<CUdeviceptr> buffer = executor->allocPersistent(256, "weights");
  ASSERT_TRUE(buffer.succeeded());
  std::vector<uint8_t> host(512);
  size_t calls = state.calls.size();
  Status status = executor->upload(*buffer + 128, host.data(), 129);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(), "upload: device range 0x7f0000100080 + 129 "
                              "bytes is outside the arena and every "
                              "persistent allocation");
  EXPECT_EQ(state.calls.size(), calls);
}

TEST_F(CudaExecutorTest, TransferRangeChecksAcceptExactFits) {
  create();
  Expected<CUdeviceptr> buffer = executor->allocPersistent(256, "weights");
  ASSERT_TRUE(buffer.succeeded());
  std::vector<uint8_t> host(256);
  EXPECT_TRUE(executor->upload(*buffer + 128, host.data(), 128).succeeded());
  EXPECT_TRUE(executor->upload(*buffer, host.data(), 256).succeeded());
  const uint64_t base = executor->arena().base(), end = base + (1 << 20);
  EXPECT_TRUE(executor->memset(base, 1, 4096).succeeded());
  EXPECT_TRUE(executor->memset(end - 4096, 1, 4096).succeeded());
  EXPECT_TRUE(executor->memset(end - 1, 1, 1).succeeded());
  EXPECT_FALSE(executor->dead());
  EXPECT_TRUE(executor->memset(end - 4095, 1, 4096).failed());
}

TEST_F(CudaExecutorTest, BadPersistentFreeIsAnError) {
  create();
  Status status = executor->freePersistent(0x1234);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(),
            "cannot free 0x1234: not a persistent allocation");
}

TEST_F(CudaExecutorTest, ModulesAndKernels) {
  create();
  ASSERT_TRUE(executor->loadModule(kPtx).succeeded());
  // PTX gets its terminating NUL.
  ASSERT_EQ(state.moduleImages.size(), 1u);
  EXPECT_EQ(state.moduleImages[0], std::string(kPtx.begin(), kPtx.end()));
  EXPECT_EQ(executor->moduleCount(), 1u);
  ASSERT_TRUE(executor->addKernel(0, "k0").succeeded());
  EXPECT_EQ(executor->kernelCount(), 1u);

  Status badIndex = executor->addKernel(1, "k1");
  ASSERT_TRUE(badIndex.failed());
  EXPECT_EQ(badIndex.message(),
            "kernel 'k1': module index 1 is out of range (1 module loaded)");
}

TEST_F(CudaExecutorTest, MissingKernelNamesModuleAndFunction) {
  create();
  ASSERT_TRUE(executor->loadModule(kPtx).succeeded());
  Status missing = executor->addKernel(0, "missing");
  ASSERT_TRUE(missing.failed());
  EXPECT_EQ(missing.message(),
            "CUDA error CUDA_ERROR_NOT_FOUND (named symbol not found) in "
            "cuModuleGetFunction(module 0, 'missing')");
}

TEST_F(CudaExecutorTest, ModuleLoadFailureNamesTheImageAndDevice) {
  create();
  failOn("cuModuleLoadData", CUDA_ERROR_INVALID_VALUE);
  std::vector<uint8_t> cubin = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  Status status = executor->loadModule(cubin);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(),
            "CUDA error CUDA_ERROR_INVALID_VALUE (invalid argument) in "
            "cuModuleLoadData(module 0: 8-byte cubin image, for Fake H100 "
            "sm_90)");
}

TEST_F(CudaExecutorTest, EmptyModuleImageIsAnError) {
  create();
  Status status = executor->loadModule({});
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(), "module 0 has an empty image");
}

TEST_F(CudaExecutorTest, LaunchPassesEverythingToCuLaunchKernel) {
  createWithKernels();
  int32_t n = 5;
  void *params[] = {&n};
  ASSERT_TRUE(
      executor->launch(1, 7, 2, 3, 128, 2, 1, 1024, params).succeeded());
  ASSERT_EQ(state.launches.size(), 1u);
  const LaunchRecord &launch = state.launches[0];
  EXPECT_EQ(state.functions[launch.function], "k1");
  EXPECT_EQ(launch.grid[0], 7u);
  EXPECT_EQ(launch.grid[1], 2u);
  EXPECT_EQ(launch.grid[2], 3u);
  EXPECT_EQ(launch.block[0], 128u);
  EXPECT_EQ(launch.block[1], 2u);
  EXPECT_EQ(launch.block[2], 1u);
  EXPECT_EQ(launch.shared, 1024u);
  EXPECT_EQ(launch.stream, reinterpret_cast<CUstream>(0x5ea));
  EXPECT_EQ(launch.params, params);
  EXPECT_TRUE(state.sharedAttributes.empty());
}

TEST_F(CudaExecutorTest, EmptyLaunchesAreNoOps) {
  createWithKernels();
  size_t calls = state.calls.size();
  EXPECT_TRUE(executor->launch(0, 0, 1, 1, 32, 1, 1, 0, nullptr).succeeded());
  EXPECT_TRUE(executor->launch(0, 4, 0, 1, 32, 1, 1, 0, nullptr).succeeded());
  EXPECT_TRUE(executor->launch(0, 4, 1, 0, 32, 1, 1, 0, nullptr).succeeded());
  // Even one that would need a larger shared memory limit.
  EXPECT_TRUE(
      executor->launch(0, 0, 1, 1, 32, 1, 1, 100000, nullptr).succeeded());
  EXPECT_EQ(state.calls.size(), calls);
  EXPECT_FALSE(executor->dead());
}

struct LaunchCase {
  int32_t kernel;
  int64_t grid[3];
  int64_t block[3];
  int32_t shared;
  bool valid;
  const char *message; // part of the error, for invalid cases
};

TEST_F(CudaExecutorTest, LaunchArgumentValidation) {
  const int64_t maxX = (int64_t(1) << 31) - 1;
  const LaunchCase cases[] = {
      {0, {1, 1, 1}, {1, 1, 1}, 0, true, ""},
      {1, {maxX, 65535, 65535}, {1024, 1, 1}, 0, true, ""},
      {0, {1, 1, 1}, {1, 1024, 1}, 0, true, ""},
      {0, {1, 1, 1}, {16, 1, 64}, 0, true, ""},
      {0, {1, 1, 1}, {32, 32, 1}, 0, true, ""},
      {0, {1, 1, 1}, {32, 1, 1}, 227 * 1024, true, ""},
      {-1,
       {1, 1, 1},
       {1, 1, 1},
       0,
       false,
       "launch: kernel index -1 is out of range (the kernel table has 2 "
       "entries)"},
      {2, {1, 1, 1}, {1, 1, 1}, 0, false, "kernel index 2 is out of range"},
      {0, {maxX + 1, 1, 1}, {1, 1, 1}, 0, false, "the grid is too large"},
      {0, {1, 65536, 1}, {1, 1, 1}, 0, false, "the grid is too large"},
      {0, {1, 1, 65536}, {1, 1, 1}, 0, false, "the grid is too large"},
      {0, {-1, 1, 1}, {1, 1, 1}, 0, false, "a grid dimension is negative"},
      {0, {1, 1, -5}, {1, 1, 1}, 0, false, "a grid dimension is negative"},
      {0, {1, 1, 1}, {1025, 1, 1}, 0, false, "at most 1024 threads"},
      {0, {1, 1, 1}, {1, 1025, 1}, 0, false, "at most 1024 threads"},
      {0, {1, 1, 1}, {1, 1, 65}, 0, false, "z <= 64"},
      {0, {1, 1, 1}, {32, 32, 2}, 0, false, "at most 1024 threads"},
      {0, {1, 1, 1}, {0, 1, 1}, 0, false, "each dimension >= 1"},
      {0, {1, 1, 1}, {32, -1, 1}, 0, false, "each dimension >= 1"},
      {0, {1, 1, 1}, {32, 1, 1}, -1, false, "negative shared memory size"},
      {0,
       {1, 1, 1},
       {32, 1, 1},
       227 * 1024 + 1,
       false,
       "the device (Fake H100) allows at most 232448 bytes of shared memory "
       "per block"},
  };
  for (const LaunchCase &test : cases) {
    SCOPED_TRACE(
        std::to_string(test.kernel) + " grid " + std::to_string(test.grid[0]) +
        "," + std::to_string(test.grid[1]) + "," +
        std::to_string(test.grid[2]) + " block " +
        std::to_string(test.block[0]) + "," + std::to_string(test.block[1]) +
        "," + std::to_string(test.block[2]) + " shared " +
        std::to_string(test.shared));
    state = FakeCuda();
    createWithKernels();
    size_t launches = state.launches.size();
    Status status = executor->launch(test.kernel, test.grid[0], test.grid[1],
                                     test.grid[2], test.block[0], test.block[1],
                                     test.block[2], test.shared, nullptr);
    EXPECT_EQ(status.succeeded(), test.valid) << status.message();
    if (!test.valid) {
      EXPECT_CONTAINS(status.message(), test.message);
      EXPECT_TRUE(executor->dead());
      EXPECT_EQ(state.launches.size(), launches);
    } else {
      EXPECT_EQ(state.launches.size(), launches + 1);
    }
    executor.reset();
  }
}

TEST_F(CudaExecutorTest, LaunchErrorMessageDescribesTheLaunch) {
  createWithKernels();
  Status status = executor->launch(1, 1, 1, 1, 2048, 1, 1, 0, nullptr);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(),
            "launch of kernel 'k1' (#1) with grid (1, 1, 1), block (2048, 1, "
            "1), 0 bytes of shared memory: the block must have each "
            "dimension >= 1, x and y <= 1024, z <= 64 and at most 1024 "
            "threads");
  executor.reset();
  state = FakeCuda();
  createWithKernels();
  failOn("cuLaunchKernel", CUDA_ERROR_INVALID_VALUE);
  status = executor->launch(0, 2, 1, 1, 64, 1, 1, 0, nullptr);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(),
            "CUDA error CUDA_ERROR_INVALID_VALUE (invalid argument) in "
            "cuLaunchKernel(kernel 'k0' (#0), grid (2, 1, 1), block (64, 1, "
            "1), 0 bytes of shared memory)");
}

TEST_F(CudaExecutorTest, LargeSharedMemoryRaisesTheKernelLimitOnce) {
  createWithKernels();
  auto launch = [&](int32_t kernel, int32_t shared) {
    ASSERT_TRUE(executor->launch(kernel, 1, 1, 1, 32, 1, 1, shared, nullptr)
                    .succeeded());
  };
  launch(0, 48 * 1024); // the default limit: nothing to set
  EXPECT_TRUE(state.sharedAttributes.empty());
  launch(0, 64 * 1024);
  launch(0, 64 * 1024);
  launch(0, 50 * 1024);
  ASSERT_EQ(state.sharedAttributes.size(), 1u);
  EXPECT_EQ(state.sharedAttributes[0].second, 64 * 1024);
  launch(0, 100 * 1024); // a new maximum
  launch(1, 64 * 1024);  // another kernel has its own limit
  ASSERT_EQ(state.sharedAttributes.size(), 3u);
  EXPECT_EQ(state.sharedAttributes[1].second, 100 * 1024);
  EXPECT_EQ(state.functions[state.sharedAttributes[2].first], "k1");
  EXPECT_EQ(state.launches.size(), 6u);

  failOn("cuFuncSetAttribute", CUDA_ERROR_INVALID_VALUE);
  Status status = executor->launch(1, 1, 1, 1, 32, 1, 1, 200 * 1024, nullptr);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(),
            "CUDA error CUDA_ERROR_INVALID_VALUE (invalid argument) in "
            "cuFuncSetAttribute(kernel 'k1', MAX_DYNAMIC_SHARED_SIZE_BYTES, "
            "204800)");
  EXPECT_EQ(state.launches.size(), 6u);
}

TEST_F(CudaExecutorTest, GraphCaptureAndReplay) {
  createWithKernels();
  ASSERT_TRUE(executor->beginCapture().succeeded());
  EXPECT_EQ(state.captureMode, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
  EXPECT_TRUE(executor->isCapturing());
  ASSERT_TRUE(executor->launch(0, 1, 1, 1, 32, 1, 1, 0, nullptr).succeeded());
  Expected<CudaGraph> graph = executor->endCapture();
  ASSERT_TRUE(graph.succeeded()) << graph.message();
  EXPECT_TRUE(graph->valid());
  EXPECT_FALSE(executor->isCapturing());
  EXPECT_EQ(state.count("cuGraphDestroy"), 1u); // the graph, once instantiated
  EXPECT_EQ(state.liveGraphExecs, 1);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(executor->launchGraph(*graph).succeeded());
  EXPECT_EQ(state.count("cuGraphLaunch"), 3u);
  EXPECT_TRUE(executor->synchronize().succeeded());

  // Moving keeps one owner; destroying releases the exec once.
  CudaGraph moved = std::move(*graph);
  EXPECT_FALSE(graph->valid());
  EXPECT_TRUE(moved.valid());
  moved = CudaGraph();
  EXPECT_EQ(state.liveGraphExecs, 0);
  EXPECT_EQ(state.count("cuGraphExecDestroy"), 1u);
}

TEST_F(CudaExecutorTest, SynchronousOperationsAreRejectedDuringCapture) {
  create();
  Expected<CUdeviceptr> buffer = executor->allocPersistent(64, "weights");
  ASSERT_TRUE(buffer.succeeded());
  ASSERT_TRUE(executor->beginCapture().succeeded());
  std::vector<uint8_t> host(64);
  Status status = executor->upload(*buffer, host.data(), 64);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(),
            "a synchronous upload is not allowed during CUDA graph capture");
  // The destructor ends the capture it left open.
  state.calls.clear();
  executor.reset();
  EXPECT_EQ(state.count("cuStreamEndCapture"), 1u);
  EXPECT_EQ(state.count("cuGraphDestroy"), 1u);
}

TEST_F(CudaExecutorTest, CaptureMisuseIsAnError) {
  create();
  Expected<CudaGraph> graph = executor->endCapture();
  ASSERT_TRUE(graph.failed());
  EXPECT_EQ(graph.message(), "endCapture: no capture in progress");
}

TEST_F(CudaExecutorTest, FailedInstantiationIsAnError) {
  createWithKernels();
  ASSERT_TRUE(executor->beginCapture().succeeded());
  failOn("cuGraphInstantiate", CUDA_ERROR_OUT_OF_MEMORY);
  Expected<CudaGraph> graph = executor->endCapture();
  ASSERT_TRUE(graph.failed());
  EXPECT_EQ(graph.message(), "CUDA error CUDA_ERROR_OUT_OF_MEMORY (out of "
                             "memory) in cuGraphInstantiate");
  EXPECT_EQ(state.count("cuGraphDestroy"), 1u);
  EXPECT_FALSE(executor->isCapturing());
}

TEST_F(CudaExecutorTest, GraphOfAnotherExecutorIsRejected) {
  createWithKernels();
  ASSERT_TRUE(executor->beginCapture().succeeded());
  Expected<CudaGraph> graph = executor->endCapture();
  ASSERT_TRUE(graph.succeeded());
  Expected<std::unique_ptr<CudaExecutor>> other =
      CudaExecutor::create(driver, [] {
        CudaExecutorOptions options;
        options.arenaBytes = 4096;
        return options;
      }());
  ASSERT_TRUE(other.succeeded());
  Status status = (*other)->launchGraph(*graph);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(), "launchGraph: the graph is empty or belongs to "
                              "another executor");
}

TEST_F(CudaExecutorTest, ConstantsAreUploadedOnceAndCached) {
  create();
  const float values[4] = {1, 2, 3, 4};
  Expected<CUdeviceptr> first = executor->constant(3, values, sizeof(values));
  ASSERT_TRUE(first.succeeded()) << first.message();
  EXPECT_EQ(state.count("cuMemAlloc"), 2u); // arena + constant
  EXPECT_EQ(state.count("cuMemcpyHtoDAsync"), 1u);
  Expected<CUdeviceptr> again = executor->constant(3, values, sizeof(values));
  ASSERT_TRUE(again.succeeded());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(state.count("cuMemAlloc"), 2u);
  EXPECT_EQ(state.count("cuMemcpyHtoDAsync"), 1u);
  // Outside the arena.
  EXPECT_FALSE(executor->arena().contains(*first));
  float back[4] = {};
  ASSERT_TRUE(executor->download(back, *first, sizeof(back)).succeeded());
  EXPECT_EQ(std::memcmp(back, values, sizeof(back)), 0);
  // A constant's memory cannot be freed.
  EXPECT_TRUE(executor->freePersistent(*first).failed());
}

TEST_F(CudaExecutorTest, ConstantWithAnotherSizeIsAnError) {
  create();
  const float values[4] = {1, 2, 3, 4};
  ASSERT_TRUE(executor->constant(0, values, 16).succeeded());
  Expected<CUdeviceptr> resized = executor->constant(0, values, 8);
  ASSERT_TRUE(resized.failed());
  EXPECT_EQ(resized.message(),
            "constant 0 was first used with 16 bytes and now with 8");
}

TEST_F(CudaExecutorTest, ConstantFirstUsedDuringCaptureIsAnError) {
  create();
  const float values[4] = {1, 2, 3, 4};
  ASSERT_TRUE(executor->constant(0, values, 16).succeeded());
  ASSERT_TRUE(executor->beginCapture().succeeded());
  EXPECT_TRUE(executor->constant(0, values, 16).succeeded()); // cached: fine
  Expected<CUdeviceptr> fresh = executor->constant(1, values, 16);
  ASSERT_TRUE(fresh.failed());
  EXPECT_EQ(fresh.message(), "constant 1 is first used during CUDA graph "
                             "capture (run the entry point once before "
                             "capturing it)");
}

TEST_F(CudaExecutorTest, BadConstantArguments) {
  for (auto [index, bytes, host] :
       {std::tuple<int32_t, int64_t, bool>{-1, 4, true},
        {0, -4, true},
        {0, 4, false}}) {
    state = FakeCuda();
    create();
    float value = 1;
    EXPECT_TRUE(
        executor->constant(index, host ? &value : nullptr, bytes).failed());
    EXPECT_TRUE(executor->dead());
    executor.reset();
  }
  // Zero bytes with no host data is fine.
  state = FakeCuda();
  create();
  EXPECT_TRUE(executor->constant(0, nullptr, 0).succeeded());
}

//===----------------------------------------------------------------------===//
// Host ABI
//===----------------------------------------------------------------------===//

struct Slots {
  DsCudaAllocFn alloc;
  DsCudaFreeFn free;
  DsCudaLaunchFn launch;
  DsCudaConstantFn constant;
};

/// The table as the generated code sees it, after installHostAbi.
Slots installedSlots() {
  void *table[kHostAbiSlotCount] = {};
  EXPECT_TRUE(installHostAbi(table).succeeded());
  Slots slots;
  std::memcpy(&slots.alloc, &table[kHostAbiAlloc], sizeof(void *));
  std::memcpy(&slots.free, &table[kHostAbiFree], sizeof(void *));
  std::memcpy(&slots.launch, &table[kHostAbiLaunch], sizeof(void *));
  std::memcpy(&slots.constant, &table[kHostAbiConstant], sizeof(void *));
  return slots;
}

TEST(CudaHostAbi, TableIsVersionOneWithFourSlots) {
  EXPECT_EQ(kHostAbiVersion, 1);
  EXPECT_EQ(kHostAbiSlotCount, 4);
  EXPECT_STREQ(kHostAbiTableSymbol, "__ds_cuda_api");
  const void *const *table = hostAbiTable();
  for (int i = 0; i < kHostAbiSlotCount; ++i)
    EXPECT_NE(table[i], nullptr) << i;
  void *installed[kHostAbiSlotCount + 1] = {};
  installed[kHostAbiSlotCount] = reinterpret_cast<void *>(0x5a5a);
  ASSERT_TRUE(installHostAbi(installed).succeeded());
  for (int i = 0; i < kHostAbiSlotCount; ++i)
    EXPECT_EQ(installed[i], table[i]) << i;
  EXPECT_EQ(installed[kHostAbiSlotCount], reinterpret_cast<void *>(0x5a5a));
  Status missing = installHostAbi(nullptr);
  ASSERT_TRUE(missing.failed());
  EXPECT_EQ(missing.message(), "the code blob does not define __ds_cuda_api "
                               "(it was not generated for ds CUDA host ABI "
                               "v1)");
}

TEST(CudaHostAbi, SlotsWithNoCurrentExecutorFailCleanly) {
  ASSERT_EQ(CudaExecutor::current(), nullptr);
  EXPECT_TRUE(takeUnscopedHostAbiError().succeeded());
  Slots slots = installedSlots();
  EXPECT_EQ(slots.alloc(64), hostAbiDummyPointer());
  EXPECT_NE(hostAbiDummyPointer(), nullptr);
  Status error = takeUnscopedHostAbiError();
  ASSERT_TRUE(error.failed());
  EXPECT_EQ(error.message(),
            "ds CUDA host ABI: ds_cuda_alloc was called with no current "
            "CUDA executor (generated code ran outside CudaExecutor::Scope)");
  EXPECT_TRUE(takeUnscopedHostAbiError().succeeded()); // taken

  int x = 0;
  void *params[] = {&x};
  slots.launch(0, 1, 1, 1, 32, 1, 1, 0, params);
  slots.free(reinterpret_cast<void *>(0x7f0000000000));
  float value = 1;
  EXPECT_EQ(slots.constant(0, &value, 4), hostAbiDummyPointer());
  // Only the first is kept.
  EXPECT_CONTAINS(takeUnscopedHostAbiError().message(), "ds_cuda_launch");
  // nullptr and the dummy pointer are always ignored.
  slots.free(nullptr);
  slots.free(hostAbiDummyPointer());
  EXPECT_TRUE(takeUnscopedHostAbiError().succeeded());
}

TEST_F(CudaExecutorTest, HostAbiSlotsUseTheCurrentExecutor) {
  createWithKernels();
  Slots slots = installedSlots();
  EXPECT_EQ(CudaExecutor::current(), nullptr);
  {
    CudaExecutor::Scope scope(*executor);
    EXPECT_EQ(CudaExecutor::current(), executor.get());
    void *a = slots.alloc(1000);
    void *b = slots.alloc(1);
    uint64_t base = executor->arena().base();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a), base);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b), base + 1024);
    EXPECT_EQ(executor->arena().used(), 1280u);
    slots.free(a);
    EXPECT_EQ(executor->arena().used(), 256u);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(slots.alloc(512)), base);

    int64_t n = 9;
    void *params[] = {&b, &n};
    slots.launch(1, 4, 1, 1, 256, 1, 1, 0, params);
    ASSERT_EQ(state.launches.size(), 1u);
    EXPECT_EQ(state.functions[state.launches[0].function], "k1");
    EXPECT_EQ(state.launches[0].params, params);
    slots.launch(0, 0, 1, 1, 256, 1, 1, 0, params); // empty: no-op
    EXPECT_EQ(state.launches.size(), 1u);

    const int32_t table[3] = {4, 5, 6};
    void *c = slots.constant(2, table, sizeof(table));
    EXPECT_NE(c, hostAbiDummyPointer());
    EXPECT_EQ(slots.constant(2, table, sizeof(table)), c);
    int32_t back[3] = {};
    ASSERT_TRUE(
        executor->download(back, reinterpret_cast<uintptr_t>(c), sizeof(back))
            .succeeded());
    EXPECT_EQ(back[2], 6);
    EXPECT_FALSE(executor->dead());
  }
  EXPECT_EQ(CudaExecutor::current(), nullptr);
  EXPECT_TRUE(takeUnscopedHostAbiError().succeeded());
}

TEST_F(CudaExecutorTest, HostAbiFailuresAreStickyAndReturnTheDummy) {
  createWithKernels();
  Slots slots = installedSlots();
  CudaExecutor::Scope scope(*executor);
  void *fits = slots.alloc(1 << 19);
  EXPECT_NE(fits, hostAbiDummyPointer());
  void *tooBig = slots.alloc((1 << 19) + 1);
  EXPECT_EQ(tooBig, hostAbiDummyPointer());
  ASSERT_TRUE(executor->dead());
  EXPECT_EQ(executor->firstError().message(),
            "device arena out of memory: cannot allocate 524289 bytes (524544 "
            "after alignment); largest free block 524288 bytes, 524288 of "
            "1048576 bytes in use");
  // The host code runs on; nothing reaches the driver.
  size_t calls = state.calls.size();
  slots.free(tooBig);
  slots.free(fits);
  int x = 0;
  void *params[] = {&x};
  slots.launch(0, 1, 1, 1, 32, 1, 1, 0, params);
  EXPECT_EQ(slots.constant(0, &x, 4), hostAbiDummyPointer());
  EXPECT_EQ(state.calls.size(), calls);
  EXPECT_TRUE(state.launches.empty());
  expectDead(executor->synchronize(), executor->firstError().message());
}

TEST_F(CudaExecutorTest, HostAbiBadArgumentsAreStickyErrors) {
  createWithKernels();
  Slots slots = installedSlots();
  {
    CudaExecutor::Scope scope(*executor);
    EXPECT_EQ(slots.alloc(-1), hostAbiDummyPointer());
  }
  EXPECT_EQ(executor->firstError().message(),
            "ds_cuda_alloc: negative size -1");
  executor.reset();

  state = FakeCuda();
  createWithKernels();
  {
    CudaExecutor::Scope scope(*executor);
    slots.free(reinterpret_cast<void *>(executor->arena().base() + 256));
  }
  EXPECT_CONTAINS(executor->firstError().message(), "is not a live allocation");
  executor.reset();

  state = FakeCuda();
  createWithKernels();
  {
    CudaExecutor::Scope scope(*executor);
    slots.launch(7, 1, 1, 1, 32, 1, 1, 0, nullptr);
  }
  EXPECT_EQ(executor->firstError().message(),
            "launch: kernel index 7 is out of range (the kernel table has 2 "
            "entries)");
}

TEST_F(CudaExecutorTest, ScopesNestAndRestore) {
  createWithKernels();
  CudaExecutorOptions options;
  options.arenaBytes = 4096;
  Expected<std::unique_ptr<CudaExecutor>> other =
      CudaExecutor::create(driver, options);
  ASSERT_TRUE(other.succeeded());
  Slots slots = installedSlots();
  {
    CudaExecutor::Scope outer(*executor);
    {
      CudaExecutor::Scope inner(**other);
      EXPECT_EQ(CudaExecutor::current(), other->get());
      void *block = slots.alloc(16);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(block), (*other)->arena().base());
      EXPECT_EQ((*other)->arena().used(), 256u);
    }
    EXPECT_EQ(CudaExecutor::current(), executor.get());
    EXPECT_EQ(executor->arena().used(), 0u);
  }
  EXPECT_EQ(CudaExecutor::current(), nullptr);
}

TEST_F(CudaExecutorTest, ScopeRecordsAContextFailure) {
  create();
  failOn("cuCtxSetCurrent", CUDA_ERROR_INVALID_VALUE);
  {
    CudaExecutor::Scope scope(*executor);
    EXPECT_TRUE(executor->dead());
  }
  EXPECT_EQ(executor->firstError().message(),
            "CUDA error CUDA_ERROR_INVALID_VALUE (invalid argument) in "
            "cuCtxSetCurrent");
}

TEST_F(CudaExecutorTest, DestroyingTheCurrentExecutorClearsIt) {
  create();
  CudaExecutor::Scope *scope = new CudaExecutor::Scope(*executor);
  executor.reset();
  EXPECT_EQ(CudaExecutor::current(), nullptr);
  delete scope;
  EXPECT_EQ(CudaExecutor::current(), nullptr);
}

TEST(CudaDriverCheck, MessagesNameTheErrorAndTheCall) {
  std::shared_ptr<CudaDriver> driver = makeFakeDriver();
  EXPECT_TRUE(driver->check(CUDA_SUCCESS, "cuInit").succeeded());
  EXPECT_EQ(
      driver->check(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc(weights, 123 bytes)")
          .message(),
      "CUDA error CUDA_ERROR_OUT_OF_MEMORY (out of memory) in "
      "cuMemAlloc(weights, 123 bytes)");
  CudaDriver empty; // no cuGetErrorName: still a usable message
  EXPECT_EQ(empty.check(2, "cuMemAlloc").message(),
            "CUDA error 2 (unknown error code) in cuMemAlloc");
  EXPECT_EQ(formatDriverVersion(12040), "12.4");
  EXPECT_EQ(formatDriverVersion(0), "unknown");
}

} // namespace
