//===- cuda_device_test.cpp - The CUDA layer on a real GPU ----------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Runs the driver, executor and host ABI against the real libcuda with a
// hand-written PTX module. Every test skips when no driver or device is
// available (CI, the dev machines); run ds-runtime-tests
// --gtest_filter='CudaDevice*' on a GPU machine.
//
//===----------------------------------------------------------------------===//

#include "cuda/driver.h"
#include "cuda/executor.h"
#include "cuda/host_abi.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace ds::runtime;
using namespace ds::runtime::cuda;

namespace {

// ds_test_add_scalar(out, in, value, n): out[i] = in[i] + value, i < n.
// ds_test_shared(out, offset): thread 0 stores 1234 at dynamic shared
// memory + offset, reads it back and writes it to out[0].
const char kPtx[] = ".version 7.0\n"
                    ".target sm_80\n"
                    ".address_size 64\n"
                    "\n"
                    ".visible .entry ds_test_add_scalar(\n"
                    "  .param .u64 out_param,\n"
                    "  .param .u64 in_param,\n"
                    "  .param .f32 value_param,\n"
                    "  .param .u32 n_param)\n"
                    "{\n"
                    "  .reg .pred %p<2>;\n"
                    "  .reg .b32 %r<6>;\n"
                    "  .reg .f32 %f<3>;\n"
                    "  .reg .b64 %rd<8>;\n"
                    "  ld.param.u64 %rd1, [out_param];\n"
                    "  ld.param.u64 %rd2, [in_param];\n"
                    "  ld.param.f32 %f1, [value_param];\n"
                    "  ld.param.u32 %r1, [n_param];\n"
                    "  mov.u32 %r2, %ctaid.x;\n"
                    "  mov.u32 %r3, %ntid.x;\n"
                    "  mov.u32 %r4, %tid.x;\n"
                    "  mad.lo.s32 %r5, %r2, %r3, %r4;\n"
                    "  setp.ge.u32 %p1, %r5, %r1;\n"
                    "  @%p1 bra DONE;\n"
                    "  cvta.to.global.u64 %rd3, %rd1;\n"
                    "  cvta.to.global.u64 %rd4, %rd2;\n"
                    "  mul.wide.u32 %rd5, %r5, 4;\n"
                    "  add.s64 %rd6, %rd4, %rd5;\n"
                    "  ld.global.f32 %f2, [%rd6];\n"
                    "  add.f32 %f2, %f2, %f1;\n"
                    "  add.s64 %rd7, %rd3, %rd5;\n"
                    "  st.global.f32 [%rd7], %f2;\n"
                    "DONE:\n"
                    "  ret;\n"
                    "}\n"
                    "\n"
                    ".extern .shared .align 16 .b8 ds_dynamic_shared[];\n"
                    "\n"
                    ".visible .entry ds_test_shared(\n"
                    "  .param .u64 out_param,\n"
                    "  .param .u32 offset_param)\n"
                    "{\n"
                    "  .reg .pred %p<2>;\n"
                    "  .reg .b32 %r<4>;\n"
                    "  .reg .b64 %rd<4>;\n"
                    "  ld.param.u64 %rd1, [out_param];\n"
                    "  ld.param.u32 %r1, [offset_param];\n"
                    "  mov.u32 %r2, %tid.x;\n"
                    "  setp.ne.u32 %p1, %r2, 0;\n"
                    "  @%p1 bra DONE;\n"
                    "  mov.u32 %r3, ds_dynamic_shared;\n"
                    "  add.u32 %r3, %r3, %r1;\n"
                    "  st.shared.u32 [%r3], 1234;\n"
                    "  ld.shared.u32 %r2, [%r3];\n"
                    "  cvta.to.global.u64 %rd2, %rd1;\n"
                    "  st.global.u32 [%rd2], %r2;\n"
                    "DONE:\n"
                    "  ret;\n"
                    "}\n";

std::vector<uint8_t> ptxImage() {
  return std::vector<uint8_t>(kPtx, kPtx + sizeof(kPtx) - 1); // no NUL
}

struct Slots {
  DsCudaAllocFn alloc;
  DsCudaFreeFn free;
  DsCudaLaunchFn launch;
  DsCudaConstantFn constant;
};

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

CUdeviceptr device(void *pointer) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(pointer));
}

class CudaDevice : public ::testing::Test {
protected:
  void SetUp() override {
    Expected<std::shared_ptr<CudaDriver>> loaded = CudaDriver::load();
    if (loaded.failed())
      GTEST_SKIP() << loaded.message();
    driver = *loaded;
    CudaExecutorOptions options;
    options.arenaBytes = 64 << 20;
    Expected<std::unique_ptr<CudaExecutor>> created =
        CudaExecutor::create(driver, options);
    ASSERT_TRUE(created.succeeded()) << created.message();
    executor = std::move(*created);
    ASSERT_TRUE(executor->loadModule(ptxImage()).succeeded())
        << executor->firstError().message();
    ASSERT_TRUE(executor->addKernel(0, "ds_test_add_scalar").succeeded());
    ASSERT_TRUE(executor->addKernel(0, "ds_test_shared").succeeded());
  }

  std::shared_ptr<CudaDriver> driver;
  std::unique_ptr<CudaExecutor> executor;
};

TEST_F(CudaDevice, DeviceInfo) {
  const DeviceInfo &info = executor->deviceInfo();
  std::printf("[ device   ] %s\n", info.describe().c_str());
  EXPECT_GE(info.computeMajor, 5);
  EXPECT_GT(info.smCount, 0);
  EXPECT_GT(info.totalBytes, info.freeBytes);
  EXPECT_GE(info.maxSharedPerBlockOptin, 48 * 1024);
  EXPECT_EQ(info.maxThreadsPerBlock, 1024);
  Expected<DeviceInfo> again = queryDevice(*driver, 0);
  ASSERT_TRUE(again.succeeded()) << again.message();
  EXPECT_EQ(again->name, info.name);
  EXPECT_TRUE(queryDevice(*driver, 1000).failed());
}

TEST_F(CudaDevice, HostAbiLaunchAndGraphReplay) {
  Slots slots = installedSlots();
  constexpr uint32_t n = 1000;
  std::vector<float> input(n), output(n);
  for (uint32_t i = 0; i < n; ++i)
    input[i] = static_cast<float>(i);
  CudaExecutor::Scope scope(*executor);

  void *in = slots.alloc(n * sizeof(float));
  void *out = slots.alloc(n * sizeof(float));
  ASSERT_NE(in, hostAbiDummyPointer()) << executor->firstError().message();
  ASSERT_TRUE(executor->upload(device(in), input.data(), n * 4).succeeded());
  float value = 0.5f;
  uint32_t count = n;
  void *params[] = {&out, &in, &value, &count};
  slots.launch(0, (n + 255) / 256, 1, 1, 256, 1, 1, 0, params);
  ASSERT_TRUE(executor->download(output.data(), device(out), n * 4).succeeded())
      << executor->firstError().message();
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(output[i], input[i] + 0.5f) << i;

  // Capture the same launch with another value, then change the input: the
  // replay reads the buffers at their captured addresses.
  ASSERT_TRUE(executor->beginCapture().succeeded());
  value = 2.0f;
  slots.launch(0, (n + 255) / 256, 1, 1, 256, 1, 1, 0, params);
  slots.launch(0, 0, 1, 1, 256, 1, 1, 0, params); // empty: not captured
  Expected<CudaGraph> graph = executor->endCapture();
  ASSERT_TRUE(graph.succeeded()) << graph.message();
  for (uint32_t i = 0; i < n; ++i)
    input[i] = static_cast<float>(2 * i);
  ASSERT_TRUE(executor->upload(device(in), input.data(), n * 4).succeeded());
  for (int replay = 0; replay < 3; ++replay)
    ASSERT_TRUE(executor->launchGraph(*graph).succeeded());
  ASSERT_TRUE(executor->synchronize().succeeded());
  ASSERT_TRUE(
      executor->download(output.data(), device(out), n * 4).succeeded());
  for (uint32_t i = 0; i < n; ++i)
    ASSERT_EQ(output[i], input[i] + 2.0f) << i;
  slots.free(out);
  slots.free(in);
  EXPECT_EQ(executor->arena().used(), 0u);
  EXPECT_TRUE(executor->status().succeeded())
      << executor->firstError().message();
}

TEST_F(CudaDevice, ConstantsMemsetAndCopy) {
  Slots slots = installedSlots();
  CudaExecutor::Scope scope(*executor);
  static const float table[4] = {1, 2, 3, 4};
  void *constant = slots.constant(0, table, sizeof(table));
  ASSERT_NE(constant, hostAbiDummyPointer())
      << executor->firstError().message();
  EXPECT_EQ(slots.constant(0, table, sizeof(table)), constant);
  void *block = slots.alloc(64);
  ASSERT_TRUE(executor->memset(device(block), 0, 64).succeeded());
  ASSERT_TRUE(
      executor->copy(device(block) + 16, device(constant), 16).succeeded());
  float back[16] = {};
  ASSERT_TRUE(executor->download(back, device(block), 64).succeeded());
  EXPECT_EQ(back[0], 0.0f);
  EXPECT_EQ(back[4], 1.0f);
  EXPECT_EQ(back[7], 4.0f);
  EXPECT_EQ(back[8], 0.0f);
}

TEST_F(CudaDevice, LargeDynamicSharedMemory) {
  Slots slots = installedSlots();
  CudaExecutor::Scope scope(*executor);
  void *out = slots.alloc(4);
  ASSERT_TRUE(executor->memset(device(out), 0, 4).succeeded());
  const int32_t shared = 96 * 1024;
  uint32_t offset = shared - 4;
  void *params[] = {&out, &offset};
  slots.launch(1, 1, 1, 1, 32, 1, 1, shared, params);
  uint32_t value = 0;
  ASSERT_TRUE(executor->download(&value, device(out), 4).succeeded())
      << executor->firstError().message();
  EXPECT_EQ(value, 1234u);
}

// ds_test_chain(buf, k, n): buf[i] = buf[i] * 3 + k + i, i < n, after
// waiting for the grid before it (griddepcontrol, sm_90). Launched with
// programmatic stream serialization, each launch may start before the one
// before it has finished; the wait must still order every read after the
// previous launch's writes.
const char kChainPtx[] = ".version 7.8\n"
                         ".target sm_90\n"
                         ".address_size 64\n"
                         "\n"
                         ".visible .entry ds_test_chain(\n"
                         "  .param .u64 buf_param,\n"
                         "  .param .u32 k_param,\n"
                         "  .param .u32 n_param)\n"
                         "{\n"
                         "  .reg .pred %p<2>;\n"
                         "  .reg .b32 %r<10>;\n"
                         "  .reg .b64 %rd<6>;\n"
                         "  griddepcontrol.wait;\n"
                         "  griddepcontrol.launch_dependents;\n"
                         "  ld.param.u64 %rd1, [buf_param];\n"
                         "  ld.param.u32 %r1, [k_param];\n"
                         "  ld.param.u32 %r2, [n_param];\n"
                         "  mov.u32 %r3, %ctaid.x;\n"
                         "  mov.u32 %r4, %ntid.x;\n"
                         "  mov.u32 %r5, %tid.x;\n"
                         "  mad.lo.s32 %r6, %r3, %r4, %r5;\n"
                         "  setp.ge.u32 %p1, %r6, %r2;\n"
                         "  @%p1 bra DONE;\n"
                         "  cvta.to.global.u64 %rd2, %rd1;\n"
                         "  mul.wide.u32 %rd3, %r6, 4;\n"
                         "  add.s64 %rd4, %rd2, %rd3;\n"
                         "  ld.global.u32 %r7, [%rd4];\n"
                         "  mul.lo.u32 %r7, %r7, 3;\n"
                         "  add.u32 %r7, %r7, %r1;\n"
                         "  add.u32 %r7, %r7, %r6;\n"
                         "  st.global.u32 [%rd4], %r7;\n"
                         "DONE:\n"
                         "  ret;\n"
                         "}\n";

TEST_F(CudaDevice, ProgrammaticLaunchesKeepStreamOrder) {
  if (executor->deviceInfo().computeMajor < 9)
    GTEST_SKIP() << "griddepcontrol needs sm_90";
  ASSERT_TRUE(executor->programmaticLaunchEnabled());
  std::vector<uint8_t> image(kChainPtx, kChainPtx + sizeof(kChainPtx) - 1);
  ASSERT_TRUE(executor->loadModule(image, /*programmatic=*/true).succeeded())
      << executor->firstError().message();
  ASSERT_TRUE(executor->addKernel(1, "ds_test_chain").succeeded());
  ASSERT_TRUE(executor->launchesProgrammatically(2));
  Slots slots = installedSlots();
  CudaExecutor::Scope scope(*executor);
  constexpr uint32_t n = 1 << 20;
  constexpr uint32_t launches = 64;
  void *buf = slots.alloc(n * 4);
  ASSERT_TRUE(executor->memset(device(buf), 0, n * 4).succeeded());
  uint32_t k = 0, count = n;
  void *params[] = {&buf, &k, &count};
  auto chain = [&]() {
    for (k = 0; k < launches; ++k)
      slots.launch(2, n / 256, 1, 1, 256, 1, 1, 0, params);
  };
  // Directly, then as a captured graph replayed twice.
  chain();
  ASSERT_TRUE(executor->beginCapture().succeeded());
  chain();
  Expected<CudaGraph> graph = executor->endCapture();
  ASSERT_TRUE(graph.succeeded()) << graph.message();
  for (int replay = 0; replay < 2; ++replay)
    ASSERT_TRUE(executor->launchGraph(*graph).succeeded());
  std::vector<uint32_t> out(n);
  ASSERT_TRUE(executor->download(out.data(), device(buf), n * 4).succeeded())
      << executor->firstError().message();
  // Each launch copies its parameters when issued (or recorded), so every
  // pass applies steps 0..launches-1 in order.
  for (uint32_t i = 0; i < n; i += 997) {
    uint32_t expected = 0;
    for (int pass = 0; pass < 3; ++pass)
      for (uint32_t step = 0; step < launches; ++step)
        expected = expected * 3 + step + i;
    ASSERT_EQ(out[i], expected) << i;
  }
  slots.free(buf);
  EXPECT_TRUE(executor->status().succeeded())
      << executor->firstError().message();
}

TEST_F(CudaDevice, SkipKernelsEnvironmentSkipsOnlyTheNamedKernels) {
  std::vector<uint8_t> image(kChainPtx, kChainPtx + sizeof(kChainPtx) - 1);
  ASSERT_TRUE(executor->loadModule(image, /*programmatic=*/false).succeeded())
      << executor->firstError().message();
  // Kernel 2 matches the prefix and is skipped; the table's first two
  // (added in SetUp, before the variable was set) are not.
  ::setenv(kSkipKernelsEnv, "nothing,ds_test_ch*", 1);
  bool skippedAdded = executor->addKernel(1, "ds_test_chain").succeeded();
  // An exact name that differs matches nothing.
  ::setenv(kSkipKernelsEnv, "ds_test_chai", 1);
  bool keptAdded = executor->addKernel(1, "ds_test_chain").succeeded();
  ::unsetenv(kSkipKernelsEnv);
  ASSERT_TRUE(skippedAdded && keptAdded) << executor->firstError().message();
  Slots slots = installedSlots();
  CudaExecutor::Scope scope(*executor);
  constexpr uint32_t n = 1024;
  void *buf = slots.alloc(n * 4);
  ASSERT_TRUE(executor->memset(device(buf), 0, n * 4).succeeded());
  uint32_t k = 0, count = n;
  void *params[] = {&buf, &k, &count};
  std::vector<uint32_t> out(n);
  // Kernel 2 (skipped): the buffer stays zero.
  slots.launch(2, n / 256, 1, 1, 256, 1, 1, 0, params);
  ASSERT_TRUE(executor->download(out.data(), device(buf), n * 4).succeeded())
      << executor->firstError().message();
  EXPECT_EQ(out[7], 0u);
  // Kernel 3 (the same function, not skipped): out[i] = 0 * 3 + 0 + i.
  slots.launch(3, n / 256, 1, 1, 256, 1, 1, 0, params);
  ASSERT_TRUE(executor->download(out.data(), device(buf), n * 4).succeeded())
      << executor->firstError().message();
  EXPECT_EQ(out[7], 7u);
  slots.free(buf);
  EXPECT_TRUE(executor->status().succeeded())
      << executor->firstError().message();
}

TEST_F(CudaDevice, RealErrorsAreStickyAndReadable) {
  Expected<CUdeviceptr> huge =
      executor->allocPersistent(uint64_t(1) << 50, "weights");
  ASSERT_TRUE(huge.failed());
  EXPECT_EQ(huge.message(), "CUDA error CUDA_ERROR_OUT_OF_MEMORY (out of "
                            "memory) in cuMemAlloc(weights, "
                            "1125899906842624 bytes)");
  Status later = executor->synchronize();
  ASSERT_TRUE(later.failed());
  EXPECT_EQ(later.message(), "CUDA session is unusable after an earlier "
                             "error: " +
                                 huge.message());
}

TEST_F(CudaDevice, BadPtxIsAReadableError) {
  std::string text = ".version 7.0\n.target sm_80\n.address_size 64\n"
                     ".visible .entry broken( { ret; }\n";
  Status status =
      executor->loadModule(std::vector<uint8_t>(text.begin(), text.end()));
  ASSERT_TRUE(status.failed());
  EXPECT_NE(status.message().find("in cuModuleLoadData(module 1: "),
            std::string::npos)
      << status.message();
  std::printf("[ message  ] %s\n", status.message().c_str());
}

} // namespace
