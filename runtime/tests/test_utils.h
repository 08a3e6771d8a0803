//===- test_utils.h - Helpers for the ds runtime tests ----------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_TESTS_TEST_UTILS_H
#define DS_RUNTIME_TESTS_TEST_UTILS_H

#include "ds/runtime/artifact.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ds::runtime::testing {

/// A fresh folder under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;

  const std::string &path() const { return folder; }
  /// Returns path()/name.
  std::string file(const std::string &name) const;

private:
  std::string folder;
};

/// Reads a whole file (test fixtures only).
std::vector<uint8_t> readFile(const std::string &path);

/// Writes a whole file (test fixtures only).
void writeFile(const std::string &path, const std::vector<uint8_t> &bytes);

/// The shared object with the test entry points (test_kernels.cpp).
const std::vector<uint8_t> &testKernels();

/// The path of the ds-run binary, or "" when the build has none.
std::string dsRunPath();

/// Returns a TensorSpec.
TensorSpec spec(const std::string &name, DType dtype,
                std::vector<int64_t> shape,
                std::vector<std::string> dimNames = {});

/// Appends `values` to `bytes` and returns the offset they start at.
template <typename T>
uint64_t appendValues(std::vector<uint8_t> &bytes,
                      const std::vector<T> &values) {
  uint64_t offset = bytes.size();
  const auto *data = reinterpret_cast<const uint8_t *>(values.data());
  bytes.insert(bytes.end(), data, data + values.size() * sizeof(T));
  return offset;
}

/// Recomputes the size and checksum fields of a serialized artifact whose
/// root table is where `reference` (an undamaged artifact) has it, so that
/// damaged buffers reach the FlatBuffers verifier.
void reseal(std::vector<uint8_t> &bytes, const std::vector<uint8_t> &reference);

/// Runs `command` through the shell and returns its exit status; stdout and
/// stderr go to `out` and `err`.
int runCommand(const std::string &command, std::string &out, std::string &err,
               const TempDir &scratch);

} // namespace ds::runtime::testing

#endif // DS_RUNTIME_TESTS_TEST_UTILS_H
