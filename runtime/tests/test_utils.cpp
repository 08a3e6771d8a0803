//===- test_utils.cpp - Helpers for the ds runtime tests ------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "test_utils.h"

#include "artifact_seal.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/wait.h>

using namespace ds::runtime;
using namespace ds::runtime::testing;

TempDir::TempDir() {
  const char *base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/ds-runtime-test-XXXXXX";
  if (!::mkdtemp(pattern.data()))
    throw std::runtime_error("mkdtemp failed");
  folder = pattern;
}

TempDir::~TempDir() {
  std::error_code error;
  std::filesystem::remove_all(folder, error);
}

std::string TempDir::file(const std::string &name) const {
  return folder + "/" + name;
}

std::vector<uint8_t> ds::runtime::testing::readFile(const std::string &path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream)
    throw std::runtime_error("cannot read " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(stream), {});
}

void ds::runtime::testing::writeFile(const std::string &path,
                                     const std::vector<uint8_t> &bytes) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  stream.write(reinterpret_cast<const char *>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  if (!stream)
    throw std::runtime_error("cannot write " + path);
}

const std::vector<uint8_t> &ds::runtime::testing::testKernels() {
  static const std::vector<uint8_t> kernels = readFile(DS_TEST_KERNELS_PATH);
  return kernels;
}

std::string ds::runtime::testing::dsRunPath() { return DS_RUN_PATH; }

TensorSpec ds::runtime::testing::spec(const std::string &name, DType dtype,
                                      std::vector<int64_t> shape,
                                      std::vector<std::string> dimNames) {
  TensorSpec result;
  result.name = name;
  result.dtype = dtype;
  result.shape = std::move(shape);
  result.dimNames = std::move(dimNames);
  return result;
}

void ds::runtime::testing::reseal(std::vector<uint8_t> &bytes,
                                  const std::vector<uint8_t> &reference) {
  Expected<detail::SealFields> fields =
      detail::findSealFields(reference.data(), reference.size());
  ASSERT_TRUE(fields.succeeded()) << fields.message();
  if (fields->checksumOffset + 8 <= bytes.size() &&
      fields->byteSizeOffset + 8 <= bytes.size())
    detail::seal(bytes, *fields);
}

int ds::runtime::testing::runCommand(const std::string &command,
                                     std::string &out, std::string &err,
                                     const TempDir &scratch) {
  std::string outPath = scratch.file("stdout.txt");
  std::string errPath = scratch.file("stderr.txt");
  int status =
      std::system((command + " >" + outPath + " 2>" + errPath).c_str());
  std::vector<uint8_t> outBytes = readFile(outPath);
  std::vector<uint8_t> errBytes = readFile(errPath);
  out.assign(outBytes.begin(), outBytes.end());
  err.assign(errBytes.begin(), errBytes.end());
  if (status == -1 || !WIFEXITED(status))
    return -1;
  return WEXITSTATUS(status);
}
