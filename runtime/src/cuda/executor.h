//===- executor.h - Device state of one CUDA session ------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// `CudaExecutor` owns everything one session holds on the GPU: the driver
// (driver.h), the device's primary context (retained, never created), one
// non-blocking stream, the device arena (one cuMemAlloc, sub-allocated by a
// `DeviceArena`), the loaded modules and a flat kernel table, persistent
// buffers outside the arena (weights, KV caches, constants) and CUDA graphs
// captured on its stream.
//
// Errors are sticky. The first failure of any kind -- a CUDA call, an arena
// allocation, a bad argument from the generated code, a misuse -- is
// recorded and returned; from then on every operation returns
//   "CUDA session is unusable after an earlier error: <first error>"
// at once, without calling the driver: after an asynchronous fault the
// context is unusable anyway, and the generated host code keeps running to
// its end after a failure (see host_abi.h), so everything it asks for later
// must be a cheap no-op. Only the destructor still calls the driver, to
// release what was created (ignoring errors).
//
// Threads: calls on one executor must not overlap. Every method that calls
// the driver first makes the context current on the calling thread, except
// `launch` (the per-kernel hot path), which relies on the `Scope` the caller
// opened around the entry point call.
//
// Graph capture: between beginCapture() and endCapture(), launches,
// memset/copy and arena alloc/free are recorded in the graph; synchronous
// helpers (upload, download, synchronize, loadModule, the first use of a
// constant) are errors. Run an entry point once before capturing it, so
// that its constants are already on the device. Replays reuse the arena
// addresses of the captured run: the arena is deterministic (arena.h), so
// the same host code from the same arena state gets the same addresses.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_CUDA_EXECUTOR_H
#define DS_RUNTIME_SRC_CUDA_EXECUTOR_H

#include "cuda/arena.h"
#include "cuda/driver.h"

#include "ds/runtime/status.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ds::runtime::cuda {

/// The environment variable that sets the arena capacity when the caller
/// gives none: a byte count, optionally with a K, M or G suffix (KiB, MiB,
/// GiB).
constexpr const char *kArenaBytesEnv = "DS_CUDA_ARENA_BYTES";
/// The environment variable that, set to "0", launches every kernel with
/// plain cuLaunchKernel even where its module allows programmatic launch
/// (to measure what programmatic dependent launch gains).
constexpr const char *kProgrammaticLaunchEnv = "DS_CUDA_PROGRAMMATIC_LAUNCH";
/// Profiling only: a comma-separated list of kernel names whose launches
/// are skipped ("reduce_rows_30,gemv_*": a trailing '*' makes a name a
/// prefix), so that a step timed
/// without them shows what they cost in place, overlap included. Outputs
/// are wrong while it is set; ds-run says so on stderr.
constexpr const char *kSkipKernelsEnv = "DS_CUDA_SKIP_KERNELS";
/// The fraction of free device memory the arena takes by default.
constexpr double kDefaultArenaFreeFraction = 0.5;
/// Dynamic shared memory a kernel may use without opting in.
constexpr int32_t kDefaultDynamicSharedBytes = 48 * 1024;

/// Parses "1048576", "64K", "512M", "2G" (suffixes are powers of 1024,
/// case-insensitive). Fails on anything else, on 0 and on overflow.
Expected<uint64_t> parseByteSize(const std::string &text);

/// What a device is, for error messages and `ds-run --device-info`.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int computeMajor = 0;
  int computeMinor = 0;
  int smCount = 0;
  int maxThreadsPerBlock = 0;
  /// CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN.
  int maxSharedPerBlockOptin = 0;
  uint64_t totalBytes = 0;
  /// Free memory when the info was read.
  uint64_t freeBytes = 0;
  /// cuDriverGetVersion (13000 = CUDA 13.0).
  int driverVersion = 0;

  /// "NVIDIA H100 (device 0, sm_90, 132 SMs, 79.1 GiB total, 78.6 GiB
  /// free, CUDA driver 13.0)".
  std::string describe() const;
};

/// Reads the info of device `ordinal` without an executor (for
/// `ds-run --device-info`): retains the primary context to read the free
/// memory, then releases it and leaves no context current on the thread.
Expected<DeviceInfo> queryDevice(const CudaDriver &driver, int ordinal);

struct CudaExecutorOptions {
  /// The device ordinal.
  int device = 0;
  /// Arena capacity in bytes. 0: $DS_CUDA_ARENA_BYTES if set, else
  /// `arenaFreeFraction` of the free device memory when the arena is made.
  uint64_t arenaBytes = 0;
  /// In (0, 1].
  double arenaFreeFraction = kDefaultArenaFreeFraction;
  /// Make no arena in create(); the caller calls reserveArena() later
  /// (e.g. once the weights are on the device, so that the default
  /// fraction applies to what they leave free).
  bool deferArena = false;
  /// Launch the kernels of modules loaded as programmatic (their kernels
  /// wait on the previous grid themselves) with programmatic stream
  /// serialization, when the device (sm_90+) and driver (cuLaunchKernelEx)
  /// support it and $DS_CUDA_PROGRAMMATIC_LAUNCH is not "0".
  bool programmaticLaunch = true;
};

class CudaExecutor;

/// An instantiated CUDA graph (cuGraphExec). Move-only; destroyed with
/// cuGraphExecDestroy. Destroy it before its executor.
class CudaGraph {
public:
  CudaGraph() = default;
  CudaGraph(CudaGraph &&other) noexcept;
  CudaGraph &operator=(CudaGraph &&other) noexcept;
  CudaGraph(const CudaGraph &) = delete;
  CudaGraph &operator=(const CudaGraph &) = delete;
  ~CudaGraph();

  bool valid() const { return exec != nullptr; }

private:
  friend class CudaExecutor;
  void release();
  std::shared_ptr<CudaDriver> driver;
  CUgraphExec exec = nullptr;
  const CudaExecutor *owner = nullptr;
};

class CudaExecutor {
public:
  using Graph = CudaGraph;

  /// Retains the primary context of `options.device`, makes it current,
  /// reads the device info, creates the stream and (unless deferred) the
  /// arena. Messages start "cannot initialize CUDA device N: ".
  static Expected<std::unique_ptr<CudaExecutor>>
  create(std::shared_ptr<CudaDriver> driver,
         const CudaExecutorOptions &options = {});

  /// Releases everything created, in reverse order (ignoring errors).
  ~CudaExecutor();
  CudaExecutor(const CudaExecutor &) = delete;
  CudaExecutor &operator=(const CudaExecutor &) = delete;

  //===--- Sticky error ---------------------------------------------------===//

  /// Whether an operation has failed; the executor is then unusable.
  bool dead() const { return isDead; }
  /// Success, or "CUDA session is unusable after an earlier error: ...".
  Status status() const;
  /// The first failure as it was reported (success while alive).
  const Status &firstError() const { return firstFailure; }
  /// Records `error` as the sticky error if there is none yet and returns
  /// it. Every failure inside the executor goes through here.
  Status recordError(Status error);

  //===--- Device ---------------------------------------------------------===//

  const CudaDriver &cudaDriver() const { return *driver; }
  /// The info read at creation (free memory as of then).
  const DeviceInfo &deviceInfo() const { return info; }
  /// Reads the free memory again.
  Expected<DeviceInfo> queryDeviceInfo();
  /// cuCtxSetCurrent of this executor's context on the calling thread.
  Status makeCurrent();

  //===--- Arena ----------------------------------------------------------===//

  /// Makes the arena with one cuMemAlloc (rounded up to 256 bytes); `bytes`
  /// 0 means the default rule of CudaExecutorOptions::arenaBytes. Fails if
  /// there is already one.
  Status reserveArena(uint64_t bytes = 0);
  bool hasArena() const { return arenaReserved; }
  /// The arena (empty before reserveArena).
  const DeviceArena &arena() const { return deviceArena; }
  /// Sub-allocates from the arena (no driver call).
  Expected<CUdeviceptr> arenaAlloc(uint64_t bytes);
  Status arenaFree(CUdeviceptr address);
  /// Frees every arena block (between entry point calls; not while a
  /// captured graph that uses them may still run).
  Status resetArena();

  //===--- Code -----------------------------------------------------------===//

  /// cuModuleLoadData of a cubin (ELF), fatbin or PTX image (PTX gets the
  /// terminating NUL the driver needs if it has none). Modules are numbered
  /// in load order from 0. `programmatic`: every kernel of the image
  /// begins with `griddepcontrol.wait`, so it may be launched before the
  /// kernel ahead of it in the stream has finished.
  Status loadModule(const std::vector<uint8_t> &image,
                    bool programmatic = false);
  size_t moduleCount() const { return modules.size(); }
  /// Looks up function `name` in module `module` and appends it to the
  /// kernel table; kernels are numbered in the order they are added, from
  /// 0, and that number is the `kernel` argument of launch().
  Status addKernel(int module, const std::string &name);
  size_t kernelCount() const { return kernels.size(); }
  /// Whether launches of kernel `kernel` overlap the kernel before them
  /// (programmatic dependent launch); false for an unknown index.
  bool launchesProgrammatically(int32_t kernel) const {
    return kernel >= 0 && static_cast<size_t>(kernel) < kernels.size() &&
           kernels[kernel].programmatic;
  }
  /// Whether this executor launches programmatic modules' kernels so.
  bool programmaticLaunchEnabled() const { return programmaticEnabled; }

  //===--- Memory outside the arena ---------------------------------------===//

  /// cuMemAlloc of `bytes` (at least 1) for the life of the executor or
  /// until freePersistent; `what` names it in errors ("cuMemAlloc(weights,
  /// 123 bytes)").
  Expected<CUdeviceptr> allocPersistent(uint64_t bytes,
                                        const std::string &what);
  Status freePersistent(CUdeviceptr address);

  /// Synchronous host -> device and device -> host copies (on the stream,
  /// then a stream synchronize). The device range must lie inside the
  /// arena or one persistent allocation.
  Status upload(CUdeviceptr destination, const void *source, uint64_t bytes);
  Status download(void *destination, CUdeviceptr source, uint64_t bytes);
  /// Asynchronous on the stream (capturable).
  Status copy(CUdeviceptr destination, CUdeviceptr source, uint64_t bytes);
  Status memset(CUdeviceptr destination, uint8_t value, uint64_t bytes);

  //===--- Running --------------------------------------------------------===//

  /// cuLaunchKernel of kernel table entry `kernel` on the stream, with
  /// `params` as kernelParams. Checks the index, grid (x < 2^31, y and z <
  /// 65536, none negative), block (each >= 1, x and y <= 1024, z <= 64, at
  /// most 1024 threads) and dynamic shared memory (>= 0, <= the device's
  /// opt-in maximum); above 48 KiB it raises the kernel's
  /// MAX_DYNAMIC_SHARED_SIZE_BYTES first (once per new maximum). A grid
  /// with a zero dimension launches nothing and succeeds. Needs the
  /// context current (a Scope).
  Status launch(int32_t kernel, int64_t gridX, int64_t gridY, int64_t gridZ,
                int64_t blockX, int64_t blockY, int64_t blockZ,
                int32_t sharedBytes, void **params);

  /// The device copy of host constant `index` (`bytes` bytes at `host`):
  /// uploaded on first use into a persistent allocation and cached for the
  /// executor's life. A later call with another size is an error, so is a
  /// first use during capture.
  Expected<CUdeviceptr> constant(int32_t index, const void *host,
                                 int64_t bytes);

  /// Waits for the stream; returns the sticky error (or a new one).
  Status synchronize();

  //===--- CUDA graphs ----------------------------------------------------===//

  /// Starts capturing the stream (thread-local capture mode).
  Status beginCapture();
  /// Ends the capture and instantiates the graph.
  Expected<Graph> endCapture();
  bool isCapturing() const { return capturing; }
  /// Launches a graph of this executor on the stream (asynchronous).
  Status launchGraph(Graph &graph);

  //===--- The current executor of the host ABI ---------------------------===//

  /// Makes `executor` the current executor of the calling thread (the one
  /// the host ABI functions use) and its context current, for the lifetime
  /// of the Scope; restores the previous one after. Open one around every
  /// call into generated host code. A failure to make the context current
  /// is recorded as the executor's sticky error.
  class Scope {
  public:
    explicit Scope(CudaExecutor &executor);
    ~Scope();
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;

  private:
    CudaExecutor *previous;
    CudaExecutor *entered;
  };
  /// The calling thread's current executor, or nullptr.
  static CudaExecutor *current();

private:
  Status hostTransfer(const char *direction, CUdeviceptr device,
                      const void *host, uint64_t bytes, const char *call,
                      const std::function<CUresult()> &copy);
  explicit CudaExecutor(std::shared_ptr<CudaDriver> driver);
  Status initialize(const CudaExecutorOptions &options);
  /// cuMemGetInfo into info.freeBytes (the context current).
  Status readFreeBytes();
  Status deadStatus() const;
  /// Success for CUDA_SUCCESS, else records and returns the error.
  Status guard(CUresult result, const char *what);
  Status guard(CUresult result, const std::string &what) {
    return guard(result, what.c_str());
  }
  /// Fails unless [address, address + bytes) is inside the arena or one
  /// persistent allocation.
  Status checkRange(CUdeviceptr address, uint64_t bytes, const char *op);
  Status checkNotCapturing(const char *op);

  struct Kernel {
    CUfunction function = nullptr;
    int module = 0;
    std::string name;
    /// The MAX_DYNAMIC_SHARED_SIZE_BYTES in effect.
    int32_t dynamicSharedLimit = kDefaultDynamicSharedBytes;
    /// Launched with cuLaunchKernelEx and programmatic stream
    /// serialization.
    bool programmatic = false;
    /// Named by kSkipKernelsEnv: launches do nothing.
    bool skipped = false;
  };
  struct Allocation {
    uint64_t bytes = 0;
    std::string what;
  };
  struct Constant {
    CUdeviceptr address = 0;
    int64_t bytes = 0;
  };

  std::shared_ptr<CudaDriver> driver;
  double arenaFreeFraction = kDefaultArenaFreeFraction;
  CUdevice device = 0;
  bool contextRetained = false;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  DeviceInfo info;

  bool arenaReserved = false;
  CUdeviceptr arenaBase = 0;
  DeviceArena deviceArena;

  std::vector<CUmodule> modules;
  /// Per module: its kernels wait on the previous grid themselves.
  std::vector<bool> programmaticModules;
  /// Programmatic launch is possible and wanted (initialize()).
  bool programmaticEnabled = false;
  std::vector<Kernel> kernels;
  std::map<CUdeviceptr, Allocation> persistent;
  std::map<int32_t, Constant> constants;
  bool capturing = false;

  bool isDead = false;
  Status firstFailure = Status::success();
};

} // namespace ds::runtime::cuda

#endif // DS_RUNTIME_SRC_CUDA_EXECUTOR_H
