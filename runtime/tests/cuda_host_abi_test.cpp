//===- cuda_host_abi_test.cpp - the host ABI table on a fake driver -- ===//
//
// Part of the ds project.
//
// The ds CUDA host ABI v1 slots (host_abi.h) over the fake driver, and
// driver error messages.
//
//===----------------------------------------------------------------------===//

#include "cuda_test_support.h"

using namespace ds::runtime;
using namespace ds::runtime::cuda;
using namespace ds_cuda_test;

namespace {

/// The executor fixture under its own suite name (gtest needs one fixture
/// class per suite, and each file has its own copy of the fixture).
class CudaHostAbiTest : public CudaExecutorTest {};

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

TEST_F(CudaHostAbiTest, HostAbiSlotsUseTheCurrentExecutor) {
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

TEST_F(CudaHostAbiTest, HostAbiFailuresAreStickyAndReturnTheDummy) {
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

TEST_F(CudaHostAbiTest, HostAbiBadArgumentsAreStickyErrors) {
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

TEST_F(CudaHostAbiTest, ScopesNestAndRestore) {
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

TEST_F(CudaHostAbiTest, ScopeRecordsAContextFailure) {
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

TEST_F(CudaHostAbiTest, DestroyingTheCurrentExecutorClearsIt) {
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
