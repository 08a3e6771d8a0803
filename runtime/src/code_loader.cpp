//===- code_loader.cpp - Load a CPU code blob -----------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "code_loader.h"

#include "file_util.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <optional>
#include <sys/mman.h>
#include <unistd.h>

using namespace ds::runtime;
using namespace ds::runtime::detail;

const char *ds::runtime::detail::hostArchitecture() {
#if defined(__x86_64__)
  return "x86_64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "unknown";
#endif
}

bool ds::runtime::detail::isInsideLoadedObject(const void *address) {
  Dl_info info;
  return ::dladdr(address, &info) != 0;
}

static Status writeAll(int fd, const std::vector<uint8_t> &code) {
  const uint8_t *data = code.data();
  size_t left = code.size();
  while (left > 0) {
    ssize_t put = ::write(fd, data, left);
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0)
      return makeError() << "cannot write the code blob: " << errnoMessage();
    data += put;
    left -= static_cast<size_t>(put);
  }
  return Status::success();
}

static Expected<void *> openPath(const std::string &path) {
  ::dlerror();
  void *handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *reason = ::dlerror();
    return makeError() << "cannot load the code blob: "
                       << (reason ? reason : "unknown dlopen error");
  }
  return handle;
}

/// Writes `code` to an anonymous memory file and opens it. Returns nullopt
/// when memfd_create or /proc is unavailable, so the caller falls back.
static std::optional<Expected<void *>>
loadFromMemfd(const std::vector<uint8_t> &code) {
  int fd = ::memfd_create("ds-code", MFD_CLOEXEC);
  if (fd < 0)
    return std::nullopt;
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (::access(path.c_str(), R_OK) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  Status status = writeAll(fd, code);
  Expected<void *> handle =
      status.failed() ? Expected<void *>(status) : openPath(path);
  ::close(fd);
  return handle;
}

/// Writes `code` to a temporary file, opens it and removes the file.
static Expected<void *> loadFromTempFile(const std::vector<uint8_t> &code) {
  const char *folder = std::getenv("TMPDIR");
  std::string path =
      joinPath(folder && *folder ? folder : "/tmp", "ds-code-XXXXXX");
  int fd = ::mkstemp(path.data());
  if (fd < 0)
    return makeError() << "cannot create a temporary file for the code blob "
                          "in '"
                       << parentFolder(path) << "': " << errnoMessage();
  Status status = writeAll(fd, code);
  ::close(fd);
  Expected<void *> handle =
      status.failed() ? Expected<void *>(status) : openPath(path);
  ::unlink(path.c_str());
  return handle;
}

Expected<std::unique_ptr<SharedObject>>
SharedObject::load(const std::vector<uint8_t> &code, bool useMemfd) {
  static const uint8_t kElfMagic[] = {0x7f, 'E', 'L', 'F'};
  if (code.size() < sizeof(kElfMagic) ||
      std::memcmp(code.data(), kElfMagic, sizeof(kElfMagic)) != 0)
    return makeError() << "code blob is not an ELF shared object";
  std::optional<Expected<void *>> fromMemfd;
  if (useMemfd)
    fromMemfd = loadFromMemfd(code);
  Expected<void *> handle =
      fromMemfd ? std::move(*fromMemfd) : loadFromTempFile(code);
  if (handle.failed())
    return handle.status();
  std::unique_ptr<SharedObject> object(new SharedObject());
  object->handle = *handle;
  return object;
}

SharedObject::~SharedObject() {
  if (handle)
    ::dlclose(handle);
}

Expected<void *> SharedObject::lookupData(const std::string &symbol) const {
  ::dlerror();
  void *address = ::dlsym(handle, symbol.c_str());
  if (!address)
    return makeError() << "symbol '" << symbol
                       << "' is not defined by the code blob";
  return address;
}

Expected<EntryFunction> SharedObject::lookup(const std::string &symbol) const {
  Expected<void *> address = lookupData(symbol);
  if (address.failed())
    return address.status();
  EntryFunction function;
  static_assert(sizeof(function) == sizeof(void *));
  std::memcpy(&function, &*address, sizeof(function));
  return function;
}
