//===- driver.cpp - The CUDA driver API, loaded at run time ---------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// dlopen + dlsym of the driver (see driver.h). Symbols are resolved with
// dlsym under their exact versioned names rather than through
// cuGetProcAddress: the names are fixed by the ABI of the cuda.h this code
// was checked against, and dlsym also works for fake drivers in tests.
//
//===----------------------------------------------------------------------===//

#include "cuda/driver.h"

#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

using namespace ds::runtime;
using namespace ds::runtime::cuda;

namespace {

constexpr const char *kNoDriver =
    "this artifact targets CUDA but no NVIDIA driver was found";

/// `dlerror()` without a leading "<path>: " (dlopen repeats the path).
std::string dlopenReason(const std::string &path) {
  const char *reason = ::dlerror();
  std::string text = reason ? reason : "unknown dlopen error";
  std::string prefix = path + ": ";
  if (text.compare(0, prefix.size(), prefix) == 0)
    text.erase(0, prefix.size());
  return text;
}

/// Resolves `symbol` in `library` into `slot`; returns false if absent.
template <typename Function>
bool resolve(void *library, const char *symbol, Function &slot) {
  void *address = ::dlsym(library, symbol);
  if (!address)
    return false;
  static_assert(sizeof(slot) == sizeof(address));
  std::memcpy(&slot, &address, sizeof(slot));
  return true;
}

} // namespace

std::string ds::runtime::cuda::formatDriverVersion(int version) {
  if (version <= 0)
    return "unknown";
  return std::to_string(version / 1000) + "." +
         std::to_string((version % 1000) / 10);
}

std::string CudaDriver::describe(CUresult result) const {
  const char *name = nullptr;
  const char *text = nullptr;
  if (!cuGetErrorName || cuGetErrorName(result, &name) != CUDA_SUCCESS)
    name = nullptr;
  if (!cuGetErrorString || cuGetErrorString(result, &text) != CUDA_SUCCESS)
    text = nullptr;
  std::string out = name ? std::string(name) : std::to_string(result);
  out += " (";
  out += text ? text : "unknown error code";
  out += ")";
  return out;
}

Status CudaDriver::check(CUresult result, const char *what) const {
  if (result == CUDA_SUCCESS)
    return Status::success();
  return makeError() << "CUDA error " << describe(result) << " in " << what;
}

Expected<std::shared_ptr<CudaDriver>> CudaDriver::load() {
  const char *fromEnv = std::getenv(kLibcudaEnv);
  std::string path = fromEnv && *fromEnv ? fromEnv : kDefaultLibcuda;

  ::dlerror();
  void *library = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library)
    return makeError() << kNoDriver << " (" << path << ": "
                       << dlopenReason(path) << ")";

  auto driver = std::make_shared<CudaDriver>();
  driver->libraryPath = path;
  // A library without cuInit is not a CUDA driver at all.
  if (!resolve(library, "cuInit", driver->cuInit))
    return makeError() << kNoDriver << " (" << path
                       << " does not define cuInit)";
  // A real driver that lacks a newer symbol is too old: say so, with its
  // version when it can tell.
  if (resolve(library, "cuDriverGetVersion", driver->cuDriverGetVersion))
    (void)driver->cuDriverGetVersion(&driver->driverVersion);
  const char *missing = nullptr;
#define DS_CUDA_RESOLVE(member, symbol, params)                                \
  if (!missing && !resolve(library, #symbol, driver->member))                  \
    missing = #symbol;
  DS_CUDA_DRIVER_FUNCTIONS(DS_CUDA_RESOLVE)
#undef DS_CUDA_RESOLVE
#define DS_CUDA_RESOLVE_OPTIONAL(member, symbol, params)                       \
  (void)resolve(library, #symbol, driver->member);
  DS_CUDA_OPTIONAL_DRIVER_FUNCTIONS(DS_CUDA_RESOLVE_OPTIONAL)
#undef DS_CUDA_RESOLVE_OPTIONAL
  if (missing)
    return makeError() << "the NVIDIA driver " << path << " (CUDA "
                       << formatDriverVersion(driver->driverVersion)
                       << ") is too old for this runtime: it does not define "
                       << missing << " (a CUDA 11.4 or newer driver is needed)";

  if (CUresult result = driver->cuInit(0))
    return makeError() << "this artifact targets CUDA but the NVIDIA driver ("
                       << path << ", CUDA "
                       << formatDriverVersion(driver->driverVersion)
                       << ") failed to initialize: "
                       << driver->check(result, "cuInit(0)").message();
  int count = 0;
  if (CUresult result = driver->cuDeviceGetCount(&count))
    return driver->check(result, "cuDeviceGetCount")
        .withPrefix("this artifact targets CUDA but the devices cannot be "
                    "listed");
  if (count <= 0)
    return makeError() << "this artifact targets CUDA but no CUDA device was "
                          "found (driver "
                       << path << ", CUDA "
                       << formatDriverVersion(driver->driverVersion) << ")";
  driver->deviceCount = count;
  return driver;
}
