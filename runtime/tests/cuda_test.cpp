//===- cuda_test.cpp - the arena and the driver loader, no GPU --- ===//
//
// Part of the ds project.
//
// The arena is plain integer arithmetic. The driver loader is tested with a
// missing library, a library that is not a driver (libm) and a fake
// libcuda built by the tests (testdata/fake_libcuda.cpp).
//
//===----------------------------------------------------------------------===//

#include "cuda_test_support.h"

using namespace ds::runtime;
using namespace ds::runtime::cuda;
using namespace ds_cuda_test;

namespace {

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


} // namespace
