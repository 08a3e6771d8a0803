//===- executor.cpp - Device state of one CUDA session --------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// See executor.h. Every public operation starts with the sticky-error check
// and funnels every failure through recordError(), so that after the first
// failure no driver function is called again (except by the destructor).
//
//===----------------------------------------------------------------------===//

#include "cuda/executor.h"

#include <functional>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <limits>
#include <new>
#include <sstream>

using namespace ds::runtime;
using namespace ds::runtime::cuda;

namespace {

thread_local CudaExecutor *currentExecutor = nullptr;

std::string hex(uint64_t value) {
  std::ostringstream stream;
  stream << "0x" << std::hex << value;
  return stream.str();
}

std::string gib(uint64_t bytes) {
  std::ostringstream stream;
  stream << std::fixed << std::setprecision(1)
         << static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0) << " GiB";
  return stream.str();
}

/// Reads everything about `device` that needs no context.
Status readStaticInfo(const CudaDriver &driver, CUdevice device, int ordinal,
                      DeviceInfo &info) {
  info = DeviceInfo();
  info.ordinal = ordinal;
  info.driverVersion = driver.driverVersion;
  char name[256] = {};
  if (CUresult result = driver.cuDeviceGetName(
          name, static_cast<int>(sizeof(name)) - 1, device))
    return driver.check(result, "cuDeviceGetName");
  info.name = name;
  struct {
    CUdevice_attribute attribute;
    int *value;
    const char *what;
  } attributes[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info.computeMajor,
       "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MAJOR)"},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info.computeMinor,
       "cuDeviceGetAttribute(COMPUTE_CAPABILITY_MINOR)"},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.smCount,
       "cuDeviceGetAttribute(MULTIPROCESSOR_COUNT)"},
      {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, &info.maxThreadsPerBlock,
       "cuDeviceGetAttribute(MAX_THREADS_PER_BLOCK)"},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
       &info.maxSharedPerBlockOptin,
       "cuDeviceGetAttribute(MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)"},
  };
  for (auto &entry : attributes)
    if (CUresult result =
            driver.cuDeviceGetAttribute(entry.value, entry.attribute, device))
      return driver.check(result, entry.what);
  size_t total = 0;
  if (CUresult result = driver.cuDeviceTotalMem(&total, device))
    return driver.check(result, "cuDeviceTotalMem");
  info.totalBytes = total;
  return Status::success();
}

/// Whether every function of `driver` is set.
Status checkComplete(const CudaDriver &driver) {
#define DS_CUDA_CHECK_SET(member, symbol, params)                              \
  if (!driver.member)                                                          \
    return makeError() << "the CUDA driver table is incomplete: " #member      \
                          " is not set";
  DS_CUDA_DRIVER_FUNCTIONS(DS_CUDA_CHECK_SET)
#undef DS_CUDA_CHECK_SET
  return Status::success();
}

enum class ImageKind { Cubin, Fatbin, Ptx };

ImageKind classify(const std::vector<uint8_t> &image) {
  static const uint8_t kElf[] = {0x7f, 'E', 'L', 'F'};
  static const uint8_t kFatbin[] = {0x50, 0xed, 0x55, 0xba}; // 0xba55ed50
  if (image.size() >= 4 && std::memcmp(image.data(), kElf, 4) == 0)
    return ImageKind::Cubin;
  if (image.size() >= 4 && std::memcmp(image.data(), kFatbin, 4) == 0)
    return ImageKind::Fatbin;
  return ImageKind::Ptx;
}

const char *kindName(ImageKind kind) {
  switch (kind) {
  case ImageKind::Cubin:
    return "cubin";
  case ImageKind::Fatbin:
    return "fatbin";
  case ImageKind::Ptx:
    return "PTX";
  }
  return "?";
}

} // namespace

//===----------------------------------------------------------------------===//
// Free functions
//===----------------------------------------------------------------------===//

Expected<uint64_t> ds::runtime::cuda::parseByteSize(const std::string &text) {
  auto bad = [&]() -> Status {
    return makeError() << "'" << text
                       << "' is not a positive byte count (digits, "
                          "optionally followed by K, M or G)";
  };
  size_t digits = 0;
  while (digits < text.size() &&
         std::isdigit(static_cast<unsigned char>(text[digits])))
    ++digits;
  if (digits == 0)
    return bad();
  uint64_t shift = 0;
  if (digits + 1 == text.size()) {
    switch (std::toupper(static_cast<unsigned char>(text[digits]))) {
    case 'K':
      shift = 10;
      break;
    case 'M':
      shift = 20;
      break;
    case 'G':
      shift = 30;
      break;
    default:
      return bad();
    }
  } else if (digits != text.size()) {
    return bad();
  }
  uint64_t value = 0;
  for (size_t i = 0; i < digits; ++i) {
    uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10)
      return makeError() << "'" << text << "' is too large a byte count";
    value = value * 10 + digit;
  }
  if (value > (std::numeric_limits<uint64_t>::max() >> shift))
    return makeError() << "'" << text << "' is too large a byte count";
  value <<= shift;
  if (value == 0)
    return bad();
  return value;
}

std::string DeviceInfo::describe() const {
  std::ostringstream stream;
  stream << (name.empty() ? "unknown device" : name) << " (device " << ordinal
         << ", sm_" << computeMajor << computeMinor << ", " << smCount
         << " SMs, " << gib(totalBytes) << " total, " << gib(freeBytes)
         << " free, CUDA driver " << formatDriverVersion(driverVersion) << ")";
  return stream.str();
}

Expected<DeviceInfo> ds::runtime::cuda::queryDevice(const CudaDriver &driver,
                                                    int ordinal) {
  if (Status complete = checkComplete(driver); complete.failed())
    return complete;
  int count = 0;
  if (CUresult result = driver.cuDeviceGetCount(&count))
    return driver.check(result, "cuDeviceGetCount");
  if (ordinal < 0 || ordinal >= count)
    return makeError() << "CUDA device " << ordinal
                       << " does not exist (this machine has " << count << ")";
  CUdevice device = 0;
  if (CUresult result = driver.cuDeviceGet(&device, ordinal))
    return driver.check(result, "cuDeviceGet");
  DeviceInfo info;
  if (Status status = readStaticInfo(driver, device, ordinal, info);
      status.failed())
    return status;
  CUcontext context = nullptr;
  if (CUresult result = driver.cuDevicePrimaryCtxRetain(&context, device))
    return driver.check(result, "cuDevicePrimaryCtxRetain");
  size_t freeBytes = 0, totalBytes = 0;
  CUresult result = driver.cuCtxSetCurrent(context);
  if (result == CUDA_SUCCESS)
    result = driver.cuMemGetInfo(&freeBytes, &totalBytes);
  (void)driver.cuCtxSetCurrent(nullptr);
  (void)driver.cuDevicePrimaryCtxRelease(device);
  if (result != CUDA_SUCCESS)
    return driver.check(result, "cuMemGetInfo");
  info.freeBytes = freeBytes;
  return info;
}

//===----------------------------------------------------------------------===//
// CudaGraph
//===----------------------------------------------------------------------===//

CudaGraph::CudaGraph(CudaGraph &&other) noexcept
    : driver(std::move(other.driver)), exec(other.exec), owner(other.owner) {
  other.exec = nullptr;
  other.owner = nullptr;
}

CudaGraph &CudaGraph::operator=(CudaGraph &&other) noexcept {
  if (this != &other) {
    release();
    driver = std::move(other.driver);
    exec = other.exec;
    owner = other.owner;
    other.exec = nullptr;
    other.owner = nullptr;
  }
  return *this;
}

CudaGraph::~CudaGraph() { release(); }

void CudaGraph::release() {
  if (exec && driver)
    (void)driver->cuGraphExecDestroy(exec);
  exec = nullptr;
  owner = nullptr;
}

//===----------------------------------------------------------------------===//
// CudaExecutor: life cycle
//===----------------------------------------------------------------------===//

CudaExecutor::CudaExecutor(std::shared_ptr<CudaDriver> driver)
    : driver(std::move(driver)) {}

Expected<std::unique_ptr<CudaExecutor>>
CudaExecutor::create(std::shared_ptr<CudaDriver> driver,
                     const CudaExecutorOptions &options) {
  std::string prefix =
      "cannot initialize CUDA device " + std::to_string(options.device);
  if (!driver)
    return makeError() << prefix << ": no CUDA driver";
  if (Status complete = checkComplete(*driver); complete.failed())
    return complete.withPrefix(prefix);
  std::unique_ptr<CudaExecutor> executor(new CudaExecutor(std::move(driver)));
  if (Status status = executor->initialize(options); status.failed())
    return status.withPrefix(prefix);
  return executor;
}

Status CudaExecutor::initialize(const CudaExecutorOptions &options) {
  if (!(options.arenaFreeFraction > 0 && options.arenaFreeFraction <= 1))
    return recordError(makeError()
                       << "the arena fraction of free memory ("
                       << options.arenaFreeFraction << ") must be in (0, 1]");
  arenaFreeFraction = options.arenaFreeFraction;
  int count = 0;
  if (Status status =
          guard(driver->cuDeviceGetCount(&count), "cuDeviceGetCount");
      status.failed())
    return status;
  if (options.device < 0 || options.device >= count)
    return recordError(makeError()
                       << "device " << options.device
                       << " does not exist (this machine has " << count
                       << " CUDA device" << (count == 1 ? "" : "s") << ")");
  if (Status status =
          guard(driver->cuDeviceGet(&device, options.device), "cuDeviceGet");
      status.failed())
    return status;
  if (Status status = guard(driver->cuDevicePrimaryCtxRetain(&context, device),
                            "cuDevicePrimaryCtxRetain");
      status.failed())
    return status;
  contextRetained = true;
  if (Status status = makeCurrent(); status.failed())
    return status;
  if (Status status = readStaticInfo(*driver, device, options.device, info);
      status.failed())
    return recordError(status);
  if (Status status = readFreeBytes(); status.failed())
    return status;
  const char *programmaticEnv = std::getenv(kProgrammaticLaunchEnv);
  programmaticEnabled =
      options.programmaticLaunch && driver->cuLaunchKernelEx &&
      info.computeMajor >= 9 &&
      !(programmaticEnv && std::string(programmaticEnv) == "0");
  if (Status status =
          guard(driver->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING),
                "cuStreamCreate");
      status.failed())
    return status;
  if (!options.deferArena)
    return reserveArena(options.arenaBytes);
  return Status::success();
}

CudaExecutor::~CudaExecutor() {
  if (currentExecutor == this)
    currentExecutor = nullptr;
  if (!contextRetained)
    return;
  // Best effort: errors are ignored, and calls happen even when dead, so
  // that a broken context is still released (the primary context is reset
  // when its last user releases it).
  (void)driver->cuCtxSetCurrent(context);
  if (capturing) {
    CUgraph graph = nullptr;
    (void)driver->cuStreamEndCapture(stream, &graph);
    if (graph)
      (void)driver->cuGraphDestroy(graph);
  }
  if (stream)
    (void)driver->cuStreamSynchronize(stream);
  for (const auto &[address, allocation] : persistent)
    (void)driver->cuMemFree(address);
  if (arenaReserved)
    (void)driver->cuMemFree(arenaBase);
  for (CUmodule module : modules)
    (void)driver->cuModuleUnload(module);
  if (stream)
    (void)driver->cuStreamDestroy(stream);
  (void)driver->cuDevicePrimaryCtxRelease(device);
}

//===----------------------------------------------------------------------===//
// Sticky error
//===----------------------------------------------------------------------===//

Status CudaExecutor::recordError(Status error) {
  if (error.succeeded())
    return error;
  if (!isDead) {
    isDead = true;
    firstFailure = error;
  }
  return error;
}

Status CudaExecutor::deadStatus() const {
  return Status::failure("CUDA session is unusable after an earlier error: " +
                         firstFailure.message());
}

Status CudaExecutor::status() const {
  return isDead ? deadStatus() : Status::success();
}

Status CudaExecutor::guard(CUresult result, const char *what) {
  if (result == CUDA_SUCCESS)
    return Status::success();
  return recordError(driver->check(result, what));
}

Status CudaExecutor::checkNotCapturing(const char *op) {
  if (!capturing)
    return Status::success();
  return recordError(makeError() << op
                                 << " is not allowed during CUDA graph "
                                    "capture");
}

Status CudaExecutor::checkRange(CUdeviceptr address, uint64_t bytes,
                                const char *op) {
  if (arenaReserved && address >= arenaBase &&
      address - arenaBase <= deviceArena.capacity() &&
      bytes <= deviceArena.capacity() - (address - arenaBase))
    return Status::success();
  auto it = persistent.upper_bound(address);
  if (it != persistent.begin()) {
    --it;
    uint64_t start = it->first;
    uint64_t size = it->second.bytes;
    if (address - start <= size && bytes <= size - (address - start))
      return Status::success();
  }
  return recordError(
      makeError() << op << ": device range " << hex(address) << " + " << bytes
                  << " bytes is outside the arena and every persistent "
                     "allocation");
}

//===----------------------------------------------------------------------===//
// Device
//===----------------------------------------------------------------------===//

Status CudaExecutor::makeCurrent() {
  if (isDead)
    return deadStatus();
  return guard(driver->cuCtxSetCurrent(context), "cuCtxSetCurrent");
}

Status CudaExecutor::readFreeBytes() {
  size_t freeBytes = 0, totalBytes = 0;
  if (Status status =
          guard(driver->cuMemGetInfo(&freeBytes, &totalBytes), "cuMemGetInfo");
      status.failed())
    return status;
  info.freeBytes = freeBytes;
  return Status::success();
}

Expected<DeviceInfo> CudaExecutor::queryDeviceInfo() {
  if (Status status = makeCurrent(); status.failed())
    return status;
  if (Status status = readFreeBytes(); status.failed())
    return status;
  return info;
}

//===----------------------------------------------------------------------===//
// Arena
//===----------------------------------------------------------------------===//

Status CudaExecutor::reserveArena(uint64_t bytes) {
  if (isDead)
    return deadStatus();
  if (arenaReserved)
    return recordError(makeError() << "the device arena already exists ("
                                   << deviceArena.capacity() << " bytes)");
  if (Status status = checkNotCapturing("reserving the device arena");
      status.failed())
    return status;
  if (Status status = makeCurrent(); status.failed())
    return status;
  std::string source = "requested";
  if (bytes == 0) {
    const char *fromEnv = std::getenv(kArenaBytesEnv);
    if (fromEnv && *fromEnv) {
      Expected<uint64_t> parsed = parseByteSize(fromEnv);
      if (parsed.failed())
        return recordError(parsed.status().withPrefix(kArenaBytesEnv));
      bytes = *parsed;
      source = kArenaBytesEnv;
    }
  }
  if (bytes == 0) {
    size_t freeBytes = 0, totalBytes = 0;
    if (Status status = guard(driver->cuMemGetInfo(&freeBytes, &totalBytes),
                              "cuMemGetInfo");
        status.failed())
      return status;
    info.freeBytes = freeBytes;
    bytes = static_cast<uint64_t>(
        std::floor(static_cast<double>(freeBytes) * arenaFreeFraction));
    bytes -= bytes % DeviceArena::kAlignment;
    if (bytes == 0)
      return recordError(makeError() << "no free device memory for the arena ("
                                     << freeBytes << " bytes free)");
    std::ostringstream what;
    what << arenaFreeFraction << " of free memory";
    source = what.str();
  }
  if (bytes > std::numeric_limits<uint64_t>::max() - DeviceArena::kAlignment)
    return recordError(makeError()
                       << "device arena of " << bytes << " bytes is too large");
  bytes = (bytes + DeviceArena::kAlignment - 1) / DeviceArena::kAlignment *
          DeviceArena::kAlignment;
  CUdeviceptr base = 0;
  std::ostringstream what;
  what << "cuMemAlloc(device arena, " << bytes << " bytes, " << source << ")";
  if (Status status = guard(driver->cuMemAlloc(&base, bytes), what.str());
      status.failed())
    return status;
  Expected<DeviceArena> created = DeviceArena::create(base, bytes);
  if (created.failed()) {
    (void)driver->cuMemFree(base);
    return recordError(created.status());
  }
  deviceArena = std::move(*created);
  arenaBase = base;
  arenaReserved = true;
  return Status::success();
}

Expected<CUdeviceptr> CudaExecutor::arenaAlloc(uint64_t bytes) {
  if (isDead)
    return deadStatus();
  if (!arenaReserved)
    return recordError(makeError() << "cannot allocate " << bytes
                                   << " bytes: the device arena was not "
                                      "reserved");
  Expected<uint64_t> address = deviceArena.alloc(bytes);
  if (address.failed())
    return recordError(address.status());
  return static_cast<CUdeviceptr>(*address);
}

Status CudaExecutor::arenaFree(CUdeviceptr address) {
  if (isDead)
    return deadStatus();
  if (!arenaReserved)
    return recordError(makeError() << "cannot free " << hex(address)
                                   << ": the device arena was not reserved");
  return recordError(deviceArena.free(address));
}

Status CudaExecutor::resetArena() {
  if (isDead)
    return deadStatus();
  deviceArena.reset();
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Code
//===----------------------------------------------------------------------===//

Status CudaExecutor::loadModule(const std::vector<uint8_t> &image,
                                bool programmatic) {
  if (isDead)
    return deadStatus();
  if (Status status = checkNotCapturing("loading a module"); status.failed())
    return status;
  if (image.empty())
    return recordError(makeError()
                       << "module " << modules.size() << " has an empty image");
  ImageKind kind = classify(image);
  const void *data = image.data();
  std::vector<uint8_t> terminated;
  if (kind == ImageKind::Ptx && image.back() != 0) {
    terminated.reserve(image.size() + 1);
    terminated = image;
    terminated.push_back(0);
    data = terminated.data();
  }
  if (Status status = makeCurrent(); status.failed())
    return status;
  CUmodule module = nullptr;
  std::ostringstream what;
  what << "cuModuleLoadData(module " << modules.size() << ": " << image.size()
       << "-byte " << kindName(kind) << " image, for " << info.name << " sm_"
       << info.computeMajor << info.computeMinor << ")";
  if (Status status =
          guard(driver->cuModuleLoadData(&module, data), what.str());
      status.failed())
    return status;
  try {
    modules.reserve(modules.size() + 1);
    programmaticModules.reserve(programmaticModules.size() + 1);
    modules.push_back(module);
    programmaticModules.push_back(programmatic);
  } catch (const std::bad_alloc &) {
    (void)driver->cuModuleUnload(module);
    return recordError(makeError() << "out of host memory loading a module");
  }
  return Status::success();
}

Status CudaExecutor::addKernel(int module, const std::string &name) {
  if (isDead)
    return deadStatus();
  if (module < 0 || static_cast<size_t>(module) >= modules.size())
    return recordError(makeError()
                       << "kernel '" << name << "': module index " << module
                       << " is out of range (" << modules.size() << " module"
                       << (modules.size() == 1 ? "" : "s") << " loaded)");
  if (Status status = makeCurrent(); status.failed())
    return status;
  CUfunction function = nullptr;
  if (Status status = guard(
          driver->cuModuleGetFunction(&function, modules[module], name.c_str()),
          "cuModuleGetFunction(module " + std::to_string(module) + ", '" +
              name + "')");
      status.failed())
    return status;
  Kernel kernel;
  kernel.function = function;
  kernel.module = module;
  kernel.name = name;
  kernel.programmatic = programmaticEnabled && programmaticModules[module];
  if (const char *skip = std::getenv(kSkipKernelsEnv)) {
    std::string list = skip;
    for (size_t begin = 0; begin <= list.size();) {
      size_t end = std::min(list.find(',', begin), list.size());
      std::string pattern = list.substr(begin, end - begin);
      // "name" matches that kernel, "prefix*" every kernel it begins.
      if (!pattern.empty() && pattern.back() == '*') {
        pattern.pop_back();
        if (name.compare(0, pattern.size(), pattern) == 0)
          kernel.skipped = true;
      } else if (!pattern.empty() && name == pattern) {
        kernel.skipped = true;
      }
      begin = end + 1;
    }
    if (kernel.skipped)
      std::fprintf(stderr,
                   "ds: %s: kernel '%s' is skipped (profiling only; outputs "
                   "are wrong)\n",
                   kSkipKernelsEnv, name.c_str());
  }
  kernels.push_back(std::move(kernel));
  return Status::success();
}

//===----------------------------------------------------------------------===//
// Memory outside the arena
//===----------------------------------------------------------------------===//

Expected<CUdeviceptr> CudaExecutor::allocPersistent(uint64_t bytes,
                                                    const std::string &what) {
  if (isDead)
    return deadStatus();
  if (Status status = checkNotCapturing("cuMemAlloc"); status.failed())
    return status;
  if (Status status = makeCurrent(); status.failed())
    return status;
  CUdeviceptr address = 0;
  std::ostringstream call;
  call << "cuMemAlloc(" << what << ", " << bytes << " bytes)";
  if (Status status =
          guard(driver->cuMemAlloc(&address, std::max<uint64_t>(bytes, 1)),
                call.str());
      status.failed())
    return status;
  try {
    persistent[address] = Allocation{bytes, what};
  } catch (const std::bad_alloc &) {
    (void)driver->cuMemFree(address);
    return recordError(makeError() << "out of host memory allocating " << what);
  }
  return address;
}

Status CudaExecutor::freePersistent(CUdeviceptr address) {
  if (isDead)
    return deadStatus();
  auto it = persistent.find(address);
  if (it == persistent.end())
    return recordError(makeError() << "cannot free " << hex(address)
                                   << ": not a persistent allocation");
  if (Status status = checkNotCapturing("cuMemFree"); status.failed())
    return status;
  for (const auto &[index, entry] : constants)
    if (entry.address == address)
      return recordError(makeError() << "cannot free " << hex(address)
                                     << ": it holds constant " << index);
  if (Status status = makeCurrent(); status.failed())
    return status;
  std::string what = "cuMemFree(" + it->second.what + ")";
  persistent.erase(it);
  return guard(driver->cuMemFree(address), what);
}

/// A synchronous host<->device copy: the checks both directions share,
/// then `copy` (the driver call) and a stream synchronisation.
Status CudaExecutor::hostTransfer(const char *direction, CUdeviceptr device,
                                  const void *host, uint64_t bytes,
                                  const char *call,
                                  const std::function<CUresult()> &copy) {
  if (isDead)
    return deadStatus();
  if (bytes == 0)
    return Status::success();
  std::string kind = std::string("a synchronous ") + direction;
  if (Status status = checkNotCapturing(kind.c_str()); status.failed())
    return status;
  if (!host)
    return recordError(makeError() << direction << " of " << bytes
                                   << " bytes with a null host pointer");
  if (Status status = checkRange(device, bytes, direction); status.failed())
    return status;
  if (Status status = makeCurrent(); status.failed())
    return status;
  std::string what = std::string(call) + "(" + hex(device) + ", " +
                     std::to_string(bytes) + " bytes)";
  if (Status status = guard(copy(), what); status.failed())
    return status;
  return guard(driver->cuStreamSynchronize(stream),
               "cuStreamSynchronize (after " + kind.substr(2) + ")");
}

Status CudaExecutor::upload(CUdeviceptr destination, const void *source,
                            uint64_t bytes) {
  return hostTransfer("upload", destination, source, bytes,
                      "cuMemcpyHtoDAsync", [&] {
                        return driver->cuMemcpyHtoDAsync(destination, source,
                                                         bytes, stream);
                      });
}

Status CudaExecutor::download(void *destination, CUdeviceptr source,
                              uint64_t bytes) {
  return hostTransfer("download", source, destination, bytes,
                      "cuMemcpyDtoHAsync", [&] {
                        return driver->cuMemcpyDtoHAsync(destination, source,
                                                         bytes, stream);
                      });
}

Status CudaExecutor::copy(CUdeviceptr destination, CUdeviceptr source,
                          uint64_t bytes) {
  if (isDead)
    return deadStatus();
  if (bytes == 0)
    return Status::success();
  if (Status status = checkRange(destination, bytes, "copy destination");
      status.failed())
    return status;
  if (Status status = checkRange(source, bytes, "copy source"); status.failed())
    return status;
  if (Status status = makeCurrent(); status.failed())
    return status;
  return guard(driver->cuMemcpyDtoDAsync(destination, source, bytes, stream),
               "cuMemcpyDtoDAsync(" + hex(destination) + " <- " + hex(source) +
                   ", " + std::to_string(bytes) + " bytes)");
}

Status CudaExecutor::memset(CUdeviceptr destination, uint8_t value,
                            uint64_t bytes) {
  if (isDead)
    return deadStatus();
  if (bytes == 0)
    return Status::success();
  if (Status status = checkRange(destination, bytes, "memset"); status.failed())
    return status;
  if (Status status = makeCurrent(); status.failed())
    return status;
  return guard(driver->cuMemsetD8Async(destination, value, bytes, stream),
               "cuMemsetD8Async(" + hex(destination) + ", " +
                   std::to_string(bytes) + " bytes)");
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

Status CudaExecutor::launch(int32_t kernel, int64_t gridX, int64_t gridY,
                            int64_t gridZ, int64_t blockX, int64_t blockY,
                            int64_t blockZ, int32_t sharedBytes,
                            void **params) {
  if (isDead)
    return deadStatus();
  if (kernel < 0 || static_cast<size_t>(kernel) >= kernels.size())
    return recordError(makeError() << "launch: kernel index " << kernel
                                   << " is out of range (the kernel table has "
                                   << kernels.size() << " entries)");
  Kernel &entry = kernels[kernel];
  auto invalid = [&]() {
    StatusBuilder builder;
    builder << "launch of kernel '" << entry.name << "' (#" << kernel
            << ") with grid (" << gridX << ", " << gridY << ", " << gridZ
            << "), block (" << blockX << ", " << blockY << ", " << blockZ
            << "), " << sharedBytes << " bytes of shared memory: ";
    return builder;
  };
  constexpr int64_t kMaxGridX = (int64_t(1) << 31) - 1;
  constexpr int64_t kMaxGridYZ = 65535;
  if (gridX < 0 || gridY < 0 || gridZ < 0)
    return recordError(invalid() << "a grid dimension is negative");
  if (gridX > kMaxGridX || gridY > kMaxGridYZ || gridZ > kMaxGridYZ)
    return recordError(invalid() << "the grid is too large (x <= " << kMaxGridX
                                 << ", y and z <= " << kMaxGridYZ << ")");
  if (blockX < 1 || blockY < 1 || blockZ < 1 || blockX > 1024 ||
      blockY > 1024 || blockZ > 64 || blockX * blockY * blockZ > 1024)
    return recordError(invalid() << "the block must have each dimension >= 1, "
                                    "x and y <= 1024, z <= 64 and at most "
                                    "1024 threads");
  if (sharedBytes < 0)
    return recordError(invalid() << "negative shared memory size");
  if (info.maxSharedPerBlockOptin > 0 &&
      sharedBytes > info.maxSharedPerBlockOptin)
    return recordError(invalid()
                       << "the device (" << info.name << ") allows at most "
                       << info.maxSharedPerBlockOptin
                       << " bytes of shared memory per block");
  if (gridX == 0 || gridY == 0 || gridZ == 0)
    return Status::success(); // An empty launch (dynamic shapes).
  if (entry.skipped)
    return Status::success(); // kSkipKernelsEnv (profiling only)
  if (sharedBytes > entry.dynamicSharedLimit) {
    if (CUresult result = driver->cuFuncSetAttribute(
            entry.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
            sharedBytes))
      return guard(result, "cuFuncSetAttribute(kernel '" + entry.name +
                               "', MAX_DYNAMIC_SHARED_SIZE_BYTES, " +
                               std::to_string(sharedBytes) + ")");
    entry.dynamicSharedLimit = sharedBytes;
  }
  CUresult result;
  if (entry.programmatic) {
    // The kernel's griddepcontrol.wait holds its first memory access until
    // the kernel before it has finished and flushed; its launch, block
    // scheduling and prologue overlap that kernel's tail.
    CUlaunchAttribute attribute{};
    attribute.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attribute.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config{};
    config.gridDimX = static_cast<unsigned>(gridX);
    config.gridDimY = static_cast<unsigned>(gridY);
    config.gridDimZ = static_cast<unsigned>(gridZ);
    config.blockDimX = static_cast<unsigned>(blockX);
    config.blockDimY = static_cast<unsigned>(blockY);
    config.blockDimZ = static_cast<unsigned>(blockZ);
    config.sharedMemBytes = static_cast<unsigned>(sharedBytes);
    config.hStream = stream;
    config.attrs = &attribute;
    config.numAttrs = 1;
    result = driver->cuLaunchKernelEx(&config, entry.function, params, nullptr);
  } else {
    result = driver->cuLaunchKernel(
        entry.function, static_cast<unsigned>(gridX),
        static_cast<unsigned>(gridY), static_cast<unsigned>(gridZ),
        static_cast<unsigned>(blockX), static_cast<unsigned>(blockY),
        static_cast<unsigned>(blockZ), static_cast<unsigned>(sharedBytes),
        stream, params, nullptr);
  }
  if (result == CUDA_SUCCESS)
    return Status::success();
  std::ostringstream what;
  what << (entry.programmatic ? "cuLaunchKernelEx" : "cuLaunchKernel")
       << "(kernel '" << entry.name << "' (#" << kernel
       << "), grid (" << gridX << ", " << gridY << ", " << gridZ << "), block ("
       << blockX << ", " << blockY << ", " << blockZ << "), " << sharedBytes
       << " bytes of shared memory)";
  return guard(result, what.str());
}

Expected<CUdeviceptr> CudaExecutor::constant(int32_t index, const void *host,
                                             int64_t bytes) {
  if (isDead)
    return deadStatus();
  if (index < 0 || bytes < 0)
    return recordError(makeError() << "constant " << index << " of " << bytes
                                   << " bytes: negative index or size");
  auto it = constants.find(index);
  if (it != constants.end()) {
    if (it->second.bytes != bytes)
      return recordError(
          makeError() << "constant " << index << " was first used with "
                      << it->second.bytes << " bytes and now with " << bytes);
    return it->second.address;
  }
  if (capturing)
    return recordError(makeError()
                       << "constant " << index
                       << " is first used during CUDA graph capture (run "
                          "the entry point once before capturing it)");
  if (bytes > 0 && !host)
    return recordError(makeError() << "constant " << index << " of " << bytes
                                   << " bytes has a null host pointer");
  Expected<CUdeviceptr> address = allocPersistent(
      static_cast<uint64_t>(bytes), "constant " + std::to_string(index));
  if (address.failed())
    return address.status();
  if (Status status = upload(*address, host, static_cast<uint64_t>(bytes));
      status.failed())
    return status;
  try {
    constants[index] = Constant{*address, bytes};
  } catch (const std::bad_alloc &) {
    return recordError(makeError()
                       << "out of host memory caching constant " << index);
  }
  return *address;
}

Status CudaExecutor::synchronize() {
  if (isDead)
    return deadStatus();
  if (Status status = checkNotCapturing("synchronize"); status.failed())
    return status;
  if (Status status = makeCurrent(); status.failed())
    return status;
  return guard(driver->cuStreamSynchronize(stream), "cuStreamSynchronize");
}

//===----------------------------------------------------------------------===//
// CUDA graphs
//===----------------------------------------------------------------------===//

Status CudaExecutor::beginCapture() {
  if (isDead)
    return deadStatus();
  if (capturing)
    return recordError(makeError() << "beginCapture: already capturing");
  if (Status status = makeCurrent(); status.failed())
    return status;
  if (Status status = guard(driver->cuStreamBeginCapture(
                                stream, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL),
                            "cuStreamBeginCapture");
      status.failed())
    return status;
  capturing = true;
  return Status::success();
}

Expected<CudaGraph> CudaExecutor::endCapture() {
  if (isDead)
    return deadStatus();
  if (!capturing)
    return recordError(makeError() << "endCapture: no capture in progress");
  if (Status status = makeCurrent(); status.failed())
    return status;
  CUgraph graph = nullptr;
  CUresult ended = driver->cuStreamEndCapture(stream, &graph);
  capturing = false; // The capture is over, whatever the result.
  if (Status status = guard(ended, "cuStreamEndCapture"); status.failed()) {
    if (graph)
      (void)driver->cuGraphDestroy(graph);
    return status;
  }
  CUgraphExec exec = nullptr;
  CUresult instantiated = driver->cuGraphInstantiate(&exec, graph, 0);
  (void)driver->cuGraphDestroy(graph);
  if (Status status = guard(instantiated, "cuGraphInstantiate");
      status.failed())
    return status;
  CudaGraph result;
  result.driver = driver;
  result.exec = exec;
  result.owner = this;
  return result;
}

Status CudaExecutor::launchGraph(Graph &graph) {
  if (isDead)
    return deadStatus();
  if (!graph.valid() || graph.owner != this)
    return recordError(makeError()
                       << "launchGraph: the graph is empty or belongs to "
                          "another executor");
  if (Status status = checkNotCapturing("launching a graph"); status.failed())
    return status;
  if (Status status = makeCurrent(); status.failed())
    return status;
  return guard(driver->cuGraphLaunch(graph.exec, stream), "cuGraphLaunch");
}

//===----------------------------------------------------------------------===//
// Scope
//===----------------------------------------------------------------------===//

CudaExecutor::Scope::Scope(CudaExecutor &executor)
    : previous(currentExecutor), entered(&executor) {
  currentExecutor = &executor;
  (void)executor.makeCurrent(); // A failure is sticky; launches then no-op.
}

CudaExecutor::Scope::~Scope() {
  currentExecutor = previous;
  if (previous && previous != entered)
    (void)previous->makeCurrent();
}

CudaExecutor *CudaExecutor::current() { return currentExecutor; }
