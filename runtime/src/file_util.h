//===- file_util.h - Bounded POSIX file access ------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Internal helpers: every read is bounded by the file's real size, so a size
// field inside a file can never make the runtime allocate more than the file
// holds.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_FILE_UTIL_H
#define DS_RUNTIME_SRC_FILE_UTIL_H

#include "ds/runtime/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ds::runtime::detail {

/// Returns strerror(errno) for the current errno.
std::string errnoMessage();

/// A regular file opened read-only.
class InputFile {
public:
  /// Opens `path`, failing unless it is a regular file. Messages are
  /// prefixed with the path.
  static Expected<InputFile> open(const std::string &path);

  InputFile(InputFile &&other) noexcept;
  InputFile &operator=(InputFile &&other) = delete;
  InputFile(const InputFile &) = delete;
  ~InputFile();

  int fd() const { return fileDescriptor; }
  uint64_t size() const { return fileSize; }
  const std::string &path() const { return filePath; }

  /// Reads exactly `count` bytes at `offset`; fails (instead of returning
  /// fewer bytes) when the file is shorter.
  Status readAt(uint64_t offset, void *buffer, size_t count) const;

private:
  InputFile(int fd, uint64_t size, std::string path)
      : fileDescriptor(fd), fileSize(size), filePath(std::move(path)) {}
  int fileDescriptor;
  uint64_t fileSize;
  std::string filePath;
};

/// Reads the whole of `path`, failing if it is larger than `maxBytes`.
Expected<std::vector<uint8_t>> readFileBytes(const std::string &path,
                                             uint64_t maxBytes);

/// Returns the folder part of `path` ("." if it has none).
std::string parentFolder(const std::string &path);

/// Joins a folder and a relative path.
std::string joinPath(const std::string &folder, const std::string &relative);

} // namespace ds::runtime::detail

#endif // DS_RUNTIME_SRC_FILE_UTIL_H
