//===- npy_test.cpp - Tests of the .npy reader and writer -----------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/artifact.h"
#include "ds/runtime/npy.h"

#include "test_utils.h"

#include <gtest/gtest.h>

#include <sys/stat.h>

using namespace ds::runtime;
using namespace ds::runtime::testing;

namespace {

/// Builds a .npy file from a header dict (padded as numpy does) and data.
std::vector<uint8_t> makeNpy(const std::string &dict,
                             const std::vector<uint8_t> &data, int major = 1) {
  size_t prefix = major == 1 ? 10 : 12;
  std::string header = dict;
  size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  bytes.push_back(uint8_t(major));
  bytes.push_back(0);
  size_t length = header.size();
  for (size_t i = 0; i < prefix - 8; ++i)
    bytes.push_back(uint8_t(length >> (8 * i)));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

std::string dictFor(const std::string &descr, const std::string &shape) {
  return "{'descr': '" + descr +
         "', 'fortran_order': False, 'shape': " + shape + ", }";
}

/// Expects parsing `bytes` to fail with a message containing `needle`.
void expectError(const std::vector<uint8_t> &bytes, const std::string &needle) {
  Expected<Tensor> tensor = parseNpy(bytes.data(), bytes.size());
  ASSERT_TRUE(tensor.failed()) << "expected an error containing: " << needle;
  EXPECT_NE(tensor.message().find(needle), std::string::npos)
      << "message: " << tensor.message();
}

class NpyRoundTrip : public ::testing::TestWithParam<DType> {};

} // namespace

TEST_P(NpyRoundTrip, EveryShape) {
  DType dtype = GetParam();
  size_t elemSize = elementSize(dtype);
  for (const std::vector<int64_t> &shape : std::vector<std::vector<int64_t>>{
           {}, {5}, {2, 3}, {2, 0, 4}, {1, 2, 1, 2, 1, 2, 1, 2}}) {
    Tensor tensor;
    tensor.dtype = dtype;
    tensor.shape = shape;
    int64_t count = *computeNumElements(shape);
    tensor.data.resize(size_t(count) * elemSize);
    for (size_t i = 0; i < tensor.data.size(); ++i)
      tensor.data[i] = uint8_t(i * 37 + 11);
    if (dtype == DType::Bool)
      for (uint8_t &byte : tensor.data)
        byte &= 1;
    Expected<std::vector<uint8_t>> bytes = encodeNpy(tensor);
    ASSERT_TRUE(bytes.succeeded()) << bytes.message();
    // The data starts on a 64-byte boundary after a newline-terminated
    // header, as numpy writes it.
    size_t dataOffset = bytes->size() - tensor.data.size();
    EXPECT_EQ(dataOffset % 64, 0u);
    EXPECT_EQ((*bytes)[dataOffset - 1], '\n');
    Expected<Tensor> back = parseNpy(bytes->data(), bytes->size());
    ASSERT_TRUE(back.succeeded()) << back.message();
    EXPECT_EQ(back->dtype, dtype);
    EXPECT_EQ(back->shape, shape);
    EXPECT_EQ(back->data, tensor.data);
  }
}

INSTANTIATE_TEST_SUITE_P(AllDTypes, NpyRoundTrip,
                         ::testing::Values(DType::F16, DType::F32, DType::F64,
                                           DType::I8, DType::I16, DType::I32,
                                           DType::I64, DType::U8, DType::U16,
                                           DType::U32, DType::U64, DType::Bool),
                         [](const ::testing::TestParamInfo<DType> &info) {
                           return dtypeName(info.param);
                         });

TEST(Npy, FileRoundTrip) {
  TempDir dir;
  Tensor tensor =
      makeTensor(DType::F32, {2, 2}, std::vector<float>{1, 2, 3, 4});
  ASSERT_TRUE(writeNpyFile(dir.file("a.npy"), tensor).succeeded());
  Expected<Tensor> back = readNpyFile(dir.file("a.npy"));
  ASSERT_TRUE(back.succeeded()) << back.message();
  EXPECT_EQ(back->data, tensor.data);
}

TEST(Npy, HeaderShapes) {
  std::vector<uint8_t> bytes =
      makeNpy(dictFor("<f4", "(1, 2)"), {0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(encodeNpy(*parseNpy(bytes.data(), bytes.size()))->size(),
            bytes.size());
  std::string header(bytes.begin() + 10, bytes.end() - 8);
  EXPECT_NE(header.find("'shape': (1, 2), }"), std::string::npos);
  Tensor vector = makeTensor(DType::I8, {3}, std::vector<int8_t>{1, 2, 3});
  std::vector<uint8_t> encoded = *encodeNpy(vector);
  std::string text(encoded.begin(), encoded.end());
  EXPECT_NE(text.find("{'descr': '|i1', 'fortran_order': False, "
                      "'shape': (3,), }"),
            std::string::npos);
}

TEST(Npy, AcceptsNumpyVariants) {
  // Versions 2.0 and 3.0, double quotes, other key orders, no trailing
  // comma, Python 2 long suffixes, native byte order.
  std::vector<uint8_t> four = {1, 0, 0, 0, 2, 0, 0, 0};
  for (int major : {2, 3}) {
    std::vector<uint8_t> bytes = makeNpy(dictFor("<i4", "(2,)"), four, major);
    Expected<Tensor> tensor = parseNpy(bytes.data(), bytes.size());
    ASSERT_TRUE(tensor.succeeded()) << tensor.message();
    EXPECT_EQ(tensor->dtype, DType::I32);
  }
  for (const char *dict :
       {"{\"shape\": (2,), \"descr\": \"<i4\", \"fortran_order\": False}",
        "{'descr':'=i4','fortran_order':False,'shape':(2L,)}",
        "{'fortran_order': False, 'shape': (1, 2), 'descr': '<u4'}"}) {
    std::vector<uint8_t> bytes = makeNpy(dict, four);
    Expected<Tensor> tensor = parseNpy(bytes.data(), bytes.size());
    EXPECT_TRUE(tensor.succeeded()) << dict << ": " << tensor.message();
  }
  // Single-byte types ignore byte order.
  std::vector<uint8_t> bytes = makeNpy(dictFor(">i1", "(2,)"), {1, 2});
  EXPECT_TRUE(parseNpy(bytes.data(), bytes.size()).succeeded());
}

TEST(Npy, MalformedCorpus) {
  std::vector<uint8_t> eight(8, 0);
  expectError({}, "too short");
  expectError({0x93, 'N', 'U', 'M'}, "too short");
  std::vector<uint8_t> badMagic = makeNpy(dictFor("<f4", "(2,)"), eight);
  badMagic[1] = 'X';
  expectError(badMagic, "bad magic");
  std::vector<uint8_t> badVersion = makeNpy(dictFor("<f4", "(2,)"), eight);
  badVersion[6] = 4;
  expectError(badVersion, "unsupported .npy format version 4.0");
  badVersion[6] = 1;
  badVersion[7] = 1;
  expectError(badVersion, "unsupported .npy format version 1.1");
  // A v2 header claiming 4 GiB.
  std::vector<uint8_t> huge = {0x93, 'N',  'U',  'M',  'P',  'Y', 2,
                               0,    0xff, 0xff, 0xff, 0xff, '{', '}'};
  expectError(huge, "header length 4294967295 exceeds the maximum");
  std::vector<uint8_t> shortHeader = makeNpy(dictFor("<f4", "(2,)"), {});
  shortHeader.resize(40);
  expectError(shortHeader, "truncated header");
  std::vector<uint8_t> shortData = makeNpy(dictFor("<f4", "(2,)"), eight);
  shortData.pop_back();
  expectError(shortData, "truncated data");
  std::vector<uint8_t> trailing = makeNpy(dictFor("<f4", "(2,)"), eight);
  trailing.push_back(0);
  expectError(trailing, "1 unexpected trailing bytes");
  // A shape far larger than the file must fail before any allocation.
  expectError(makeNpy(dictFor("<f8", "(1000000, 1000000)"), eight),
              "truncated data");
  expectError(makeNpy(dictFor("<f4", "(1099511627777,)"), eight),
              "more than 1099511627776 elements");
  expectError(makeNpy(dictFor("<f4", "(99999999999999999999,)"), eight),
              "dim too large");
  expectError(makeNpy(dictFor("<f4", "(4294967296, 4294967296)"), eight),
              "more than");
  expectError(makeNpy(dictFor("<f4", "(-2,)"), eight), "negative dim");
  expectError(makeNpy("{'descr': '<f4', 'fortran_order': True, "
                      "'shape': (2,), }",
                      eight),
              "fortran-order arrays are not supported");
  expectError(makeNpy(dictFor(">f4", "(2,)"), eight),
              "big-endian data ('>f4') is not supported");
  expectError(makeNpy(dictFor("<V2", "(4,)"), eight), "bf16");
  expectError(makeNpy(dictFor("<c8", "(1,)"), eight),
              "unsupported dtype '<c8'");
  expectError(makeNpy(dictFor("|O", "(1,)"), eight), "unsupported dtype");
  expectError(makeNpy("{'descr': [('a', '<f4')], 'fortran_order': False, "
                      "'shape': (2,), }",
                      eight),
              "structured dtypes are not supported");
  expectError(makeNpy("{'descr': '<f4', 'shape': (2,), }", eight),
              "no 'fortran_order' key");
  expectError(makeNpy("{'descr': '<f4', 'fortran_order': False, "
                      "'shape': (2,), 'extra': 1}",
                      eight),
              "unexpected key 'extra'");
  expectError(makeNpy("{'descr': '<f4', 'descr': '<f4', "
                      "'fortran_order': False, 'shape': (2,)}",
                      eight),
              "duplicate key");
  expectError(makeNpy("{'descr: '<f4'", eight), "malformed header");
  expectError(makeNpy(dictFor("<f4", "(2,)") + " x", eight),
              "unexpected text after the dict");
  expectError(makeNpy(dictFor("<f4", "(2 2)"), eight), "expected ',' or ')'");
  expectError(makeNpy(dictFor("<f4", "[2]"), eight), "expected a shape tuple");
}

TEST(Npy, RankCap) {
  std::vector<uint8_t> one = {7};
  EXPECT_TRUE(
      parseNpy(makeNpy(dictFor("|u1", "(1, 1, 1, 1, 1, 1, 1)"), one).data(),
               makeNpy(dictFor("|u1", "(1, 1, 1, 1, 1, 1, 1)"), one).size())
          .succeeded());
  std::vector<uint8_t> rank8 =
      makeNpy(dictFor("|u1", "(1, 1, 1, 1, 1, 1, 1, 1)"), one);
  EXPECT_TRUE(parseNpy(rank8.data(), rank8.size()).succeeded());
  expectError(makeNpy(dictFor("|u1", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), one),
              "rank exceeds the maximum of 8");
}

TEST(Npy, ElementCap) {
  // kMaxElements - 1 and kMaxElements get past the count check (and fail on
  // the missing data); kMaxElements + 1 is rejected by the cap.
  expectError(makeNpy(dictFor("|u1", "(1099511627775,)"), {}),
              "truncated data");
  expectError(makeNpy(dictFor("|u1", "(1099511627776,)"), {}),
              "truncated data");
  expectError(makeNpy(dictFor("|u1", "(1099511627777,)"), {}),
              "more than 1099511627776 elements");
}

TEST(Npy, HeaderLengthCap) {
  // Headers of exactly kMaxNpyHeaderBytes - 1, kMaxNpyHeaderBytes and
  // kMaxNpyHeaderBytes + 1 bytes (v2, padded with spaces).
  for (uint64_t length :
       {kMaxNpyHeaderBytes - 1, kMaxNpyHeaderBytes, kMaxNpyHeaderBytes + 1}) {
    std::string header = dictFor("|u1", "(1,)");
    header.append(length - header.size() - 1, ' ');
    header += '\n';
    std::vector<uint8_t> bytes = {0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0};
    for (int i = 0; i < 4; ++i)
      bytes.push_back(uint8_t(length >> (8 * i)));
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.push_back(42);
    Expected<Tensor> tensor = parseNpy(bytes.data(), bytes.size());
    if (length <= kMaxNpyHeaderBytes) {
      EXPECT_TRUE(tensor.succeeded()) << length << ": " << tensor.message();
    } else {
      ASSERT_TRUE(tensor.failed());
      EXPECT_NE(tensor.message().find("exceeds the maximum of 65536"),
                std::string::npos);
    }
  }
}

TEST(Npy, EveryTruncationFails) {
  Tensor tensor =
      makeTensor(DType::I16, {3, 2}, std::vector<int16_t>{1, 2, 3, 4, 5, 6});
  std::vector<uint8_t> bytes = *encodeNpy(tensor);
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    EXPECT_TRUE(parseNpy(prefix.data(), prefix.size()).failed())
        << "prefix of " << size << " bytes";
  }
}

TEST(Npy, EveryByteFlipIsHandled) {
  Tensor tensor = makeTensor(DType::F32, {2}, std::vector<float>{1, 2});
  std::vector<uint8_t> bytes = *encodeNpy(tensor);
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> damaged = bytes;
      damaged[i] ^= mask;
      // Either outcome is fine; it must not crash or allocate wildly.
      Expected<Tensor> result = parseNpy(damaged.data(), damaged.size());
      if (result.succeeded()) {
        EXPECT_LE(result->data.size(), damaged.size());
      }
    }
  }
}

TEST(Npy, FileErrorsNameThePath) {
  TempDir dir;
  Expected<Tensor> missing = readNpyFile(dir.file("missing.npy"));
  ASSERT_TRUE(missing.failed());
  EXPECT_NE(missing.message().find("missing.npy: cannot open"),
            std::string::npos);
  Expected<Tensor> folder = readNpyFile(dir.path());
  ASSERT_TRUE(folder.failed());
  EXPECT_NE(folder.message().find("not a regular file"), std::string::npos);
  // A FIFO without a writer must not block.
  ASSERT_EQ(::mkfifo(dir.file("fifo.npy").c_str(), 0600), 0);
  Expected<Tensor> fifo = readNpyFile(dir.file("fifo.npy"));
  ASSERT_TRUE(fifo.failed());
  EXPECT_NE(fifo.message().find("not a regular file"), std::string::npos);
  writeFile(dir.file("bad.npy"), {1, 2, 3});
  Expected<Tensor> bad = readNpyFile(dir.file("bad.npy"));
  ASSERT_TRUE(bad.failed());
  EXPECT_EQ(bad.message().rfind(dir.file("bad.npy") + ": ", 0), 0u);
}

TEST(Npy, Bf16IsWrittenAsItsBitPatterns) {
  Tensor bf16 = makeTensor(DType::BF16, {1}, std::vector<uint16_t>{0x3f80});
  Expected<std::vector<uint8_t>> bytes = encodeNpy(bf16);
  ASSERT_FALSE(bytes.failed()) << bytes.message();
  std::string text(bytes->begin(), bytes->end());
  EXPECT_NE(text.find("'descr': '<u2'"), std::string::npos);
  // 1.0 in bf16 is 0x3f80: the last two bytes, little-endian.
  EXPECT_EQ((*bytes)[bytes->size() - 2], 0x80);
  EXPECT_EQ((*bytes)[bytes->size() - 1], 0x3f);
}

TEST(Npy, WriteErrors) {
  Tensor wrongSize = makeTensor(DType::F32, {3}, std::vector<float>{1, 2});
  EXPECT_TRUE(encodeNpy(wrongSize).failed());
  TempDir dir;
  Tensor ok = makeTensor(DType::F32, {1}, std::vector<float>{1});
  EXPECT_TRUE(writeNpyFile(dir.file("no/such/dir.npy"), ok).failed());
}
