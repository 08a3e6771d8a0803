//===- file_util.cpp - Bounded POSIX file access --------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "file_util.h"

#include "ds/runtime/artifact.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace ds::runtime;
using namespace ds::runtime::detail;

std::string ds::runtime::detail::errnoMessage() { return std::strerror(errno); }

Expected<InputFile> InputFile::open(const std::string &path) {
  int fd;
  do {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it has no
    // effect on the regular files that pass the check below.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return makeError() << path << ": cannot open: " << errnoMessage();
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    std::string reason = errnoMessage();
    ::close(fd);
    return makeError() << path << ": cannot stat: " << reason;
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return makeError() << path << ": not a regular file";
  }
  return InputFile(fd, static_cast<uint64_t>(info.st_size), path);
}

InputFile::InputFile(InputFile &&other) noexcept
    : fileDescriptor(other.fileDescriptor), fileSize(other.fileSize),
      filePath(std::move(other.filePath)) {
  other.fileDescriptor = -1;
}

InputFile::~InputFile() {
  if (fileDescriptor >= 0)
    ::close(fileDescriptor);
}

Status InputFile::readAt(uint64_t offset, void *buffer, size_t count) const {
  auto *out = static_cast<uint8_t *>(buffer);
  while (count > 0) {
    ssize_t got =
        ::pread(fileDescriptor, out, count, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return makeError() << filePath << ": read failed: " << errnoMessage();
    if (got == 0)
      return makeError() << filePath << ": unexpected end of file at offset "
                         << offset;
    out += got;
    offset += static_cast<uint64_t>(got);
    count -= static_cast<size_t>(got);
  }
  return Status::success();
}

Expected<std::vector<uint8_t>>
ds::runtime::detail::readFileBytes(const std::string &path, uint64_t maxBytes) {
  Expected<InputFile> file = InputFile::open(path);
  if (file.failed())
    return file.status();
  if (file->size() > maxBytes)
    return makeError() << path << ": file is " << file->size()
                       << " bytes, more than the maximum of " << maxBytes;
  std::vector<uint8_t> bytes(static_cast<size_t>(file->size()));
  if (Status status = file->readAt(0, bytes.data(), bytes.size());
      status.failed())
    return status;
  return bytes;
}

std::string ds::runtime::detail::parentFolder(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

std::string ds::runtime::detail::joinPath(const std::string &folder,
                                          const std::string &relative) {
  if (folder.empty() || folder == ".")
    return relative;
  if (folder.back() == '/')
    return folder + relative;
  return folder + "/" + relative;
}

Status ds::runtime::writeFileBytes(const std::string &path,
                                   const std::vector<uint8_t> &bytes) {
  int fd;
  do {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return makeError() << path << ": cannot create: " << errnoMessage();
  const uint8_t *data = bytes.data();
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t put = ::write(fd, data, left);
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0) {
      std::string reason = errnoMessage();
      ::close(fd);
      return makeError() << path << ": write failed: " << reason;
    }
    data += put;
    left -= static_cast<size_t>(put);
  }
  if (::close(fd) != 0)
    return makeError() << path << ": write failed: " << errnoMessage();
  return Status::success();
}
