//===- cuda_executor_test.cpp - the executor on a fake driver -------- ===//
//
// Part of the ds project.
//
// CudaExecutor over the in-process fake driver table (cuda_test_support.h):
// creation, the arena, the sticky error, transfers, modules, launches,
// graphs and constants.
//
//===----------------------------------------------------------------------===//

#include "cuda_test_support.h"

using namespace ds::runtime;
using namespace ds::runtime::cuda;
using namespace ds_cuda_test;

namespace {

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

// Kernels of a module loaded as programmatic go through cuLaunchKernelEx
// with programmatic stream serialization on sm_90; the others, and every
// kernel where the device, the driver or the environment rules it out, go
// through cuLaunchKernel.
TEST_F(CudaExecutorTest, ProgrammaticModulesLaunchWithSerializationAttribute) {
  auto launchBoth = [&]() {
    create();
    ASSERT_TRUE(executor->loadModule(kPtx).succeeded());
    ASSERT_TRUE(executor->loadModule(kPtx, /*programmatic=*/true).succeeded());
    ASSERT_TRUE(executor->addKernel(0, "plain").succeeded());
    ASSERT_TRUE(executor->addKernel(1, "early").succeeded());
    ASSERT_TRUE(executor->launch(0, 3, 1, 1, 64, 1, 1, 0, nullptr).succeeded());
    ASSERT_TRUE(executor->launch(1, 5, 2, 1, 128, 1, 1, 1024, nullptr)
                    .succeeded());
    ASSERT_EQ(state.launches.size(), 2u);
  };
  launchBoth();
  EXPECT_TRUE(executor->programmaticLaunchEnabled());
  EXPECT_FALSE(executor->launchesProgrammatically(0));
  EXPECT_TRUE(executor->launchesProgrammatically(1));
  EXPECT_FALSE(executor->launchesProgrammatically(2));
  EXPECT_EQ(state.count("cuLaunchKernel"), 1u);
  EXPECT_EQ(state.count("cuLaunchKernelEx"), 1u);
  EXPECT_FALSE(state.launches[0].programmatic);
  const LaunchRecord &early = state.launches[1];
  EXPECT_TRUE(early.programmatic);
  EXPECT_EQ(state.functions[early.function], "early");
  EXPECT_EQ(early.grid[0], 5u);
  EXPECT_EQ(early.grid[1], 2u);
  EXPECT_EQ(early.block[0], 128u);
  EXPECT_EQ(early.shared, 1024u);
  EXPECT_EQ(early.stream, state.launches[0].stream);

  auto expectPlain = [&](const char *why) {
    EXPECT_FALSE(executor->programmaticLaunchEnabled()) << why;
    EXPECT_FALSE(executor->launchesProgrammatically(1)) << why;
    EXPECT_EQ(state.count("cuLaunchKernel"), 2u) << why;
    EXPECT_EQ(state.count("cuLaunchKernelEx"), 0u) << why;
  };
  // An sm_80 device.
  executor.reset();
  state = FakeCuda();
  state.computeMajor = 8;
  launchBoth();
  expectPlain("sm_80");
  // A driver without cuLaunchKernelEx (before CUDA 12).
  executor.reset();
  state = FakeCuda();
  driver->cuLaunchKernelEx = nullptr;
  launchBoth();
  expectPlain("no cuLaunchKernelEx");
  driver->cuLaunchKernelEx = fakeLaunchKernelEx;
  // Turned off from the environment, or by the caller.
  executor.reset();
  state = FakeCuda();
  {
    ScopedEnv off(kProgrammaticLaunchEnv, "0");
    launchBoth();
  }
  expectPlain("DS_CUDA_PROGRAMMATIC_LAUNCH=0");
  executor.reset();
  state = FakeCuda();
  {
    CudaExecutorOptions options;
    options.programmaticLaunch = false;
    create(options);
    ASSERT_TRUE(executor->loadModule(kPtx, true).succeeded());
    ASSERT_TRUE(executor->addKernel(0, "early").succeeded());
    ASSERT_TRUE(executor->launch(0, 1, 1, 1, 32, 1, 1, 0, nullptr).succeeded());
    EXPECT_EQ(state.count("cuLaunchKernelEx"), 0u);
  }
  // A failed programmatic launch names the call that failed.
  executor.reset();
  state = FakeCuda();
  create();
  ASSERT_TRUE(executor->loadModule(kPtx, true).succeeded());
  ASSERT_TRUE(executor->addKernel(0, "early").succeeded());
  failOn("cuLaunchKernelEx", CUDA_ERROR_INVALID_VALUE);
  Status status = executor->launch(0, 2, 1, 1, 64, 1, 1, 0, nullptr);
  ASSERT_TRUE(status.failed());
  EXPECT_EQ(status.message(),
            "CUDA error CUDA_ERROR_INVALID_VALUE (invalid argument) in "
            "cuLaunchKernelEx(kernel 'early' (#0), grid (2, 1, 1), block (64, "
            "1, 1), 0 bytes of shared memory)");
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


} // namespace
