//===- api_test.cpp - Tests of the C API ----------------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/api.h"

#include "code_loader.h"
#include "test_utils.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace ds::runtime;
using namespace ds::runtime::testing;

namespace {

/// Writes an artifact with `forward` (add) and `consts` entry points.
std::string writeArtifact(const TempDir &dir) {
  ArtifactBuilder builder;
  builder.setTarget(Target::Cpu, detail::hostArchitecture());
  builder.setCode(testKernels());
  builder.addEntryPoint(
      {"forward",
       "ds_test_add",
       {ArgumentSpec::fromInput(spec("a", DType::F32, {-1}, {"n"})),
        ArgumentSpec::fromInput(spec("b", DType::F32, {-1}, {"n"}))},
       {spec("sum", DType::F32, {-1}, {"n"}),
        spec("reversed", DType::F32, {-1}, {"n"})}});
  builder.addEntryPoint(
      {"consts",
       "ds_test_consts",
       {},
       {spec("iota", DType::I64, {3}), spec("flag", DType::Bool, {}),
        spec("none", DType::F32, {0})}});
  std::string path = dir.file("m.dsa");
  EXPECT_TRUE(builder.writeFile(path).succeeded());
  return path;
}

} // namespace

TEST(CApi, FullFlow) {
  TempDir dir;
  std::string path = writeArtifact(dir);
  ds_session_t *session = nullptr;
  ASSERT_EQ(ds_session_create(path.c_str(), nullptr, &session), DS_OK)
      << ds_last_error();

  size_t count = 0;
  ASSERT_EQ(ds_session_entry_point_count(session, &count), DS_OK);
  EXPECT_EQ(count, 2u);
  const char *name = nullptr;
  ASSERT_EQ(ds_session_entry_point_name(session, 1, &name), DS_OK);
  EXPECT_STREQ(name, "consts");

  ASSERT_EQ(ds_session_input_count(session, nullptr, &count), DS_OK);
  EXPECT_EQ(count, 2u);
  ds_tensor_info_t info;
  ASSERT_EQ(ds_session_input_info(session, "forward", 1, &info), DS_OK);
  EXPECT_STREQ(info.name, "b");
  EXPECT_EQ(info.dtype, DS_DTYPE_F32);
  ASSERT_EQ(info.rank, 1u);
  EXPECT_EQ(info.dims[0], -1);
  EXPECT_STREQ(info.dim_names[0], "n");
  ASSERT_EQ(ds_session_output_count(session, "consts", &count), DS_OK);
  EXPECT_EQ(count, 3u);
  ASSERT_EQ(ds_session_output_info(session, "consts", 0, &info), DS_OK);
  EXPECT_STREQ(info.name, "iota");
  EXPECT_EQ(info.dtype, DS_DTYPE_I64);
  EXPECT_EQ(info.dims[0], 3);
  EXPECT_STREQ(info.dim_names[0], "");

  float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
  int64_t dims[1] = {3};
  ASSERT_EQ(ds_session_set_input(session, "forward", "a", DS_DTYPE_F32, dims, 1,
                                 a, sizeof(a)),
            DS_OK)
      << ds_last_error();
  ASSERT_EQ(ds_session_set_input(session, nullptr, "b", DS_DTYPE_F32, dims, 1,
                                 b, sizeof(b)),
            DS_OK)
      << ds_last_error();
  // Inputs are copied: changing the caller's buffer has no effect.
  a[0] = 100;
  ASSERT_EQ(ds_session_run(session, "forward"), DS_OK) << ds_last_error();
  ds_tensor_t out;
  ASSERT_EQ(ds_session_get_output(session, "forward", 0, &out), DS_OK);
  EXPECT_EQ(out.dtype, DS_DTYPE_F32);
  ASSERT_EQ(out.rank, 1u);
  EXPECT_EQ(out.dims[0], 3);
  ASSERT_EQ(out.size_bytes, 3 * sizeof(float));
  float sum[3];
  std::memcpy(sum, out.data, sizeof(sum));
  EXPECT_EQ(sum[0], 5);
  EXPECT_EQ(sum[2], 9);
  ASSERT_EQ(ds_session_get_output(session, "forward", 1, &out), DS_OK);
  std::memcpy(sum, out.data, sizeof(sum));
  EXPECT_EQ(sum[0], 3);

  ASSERT_EQ(ds_session_run(session, "consts"), DS_OK) << ds_last_error();
  ASSERT_EQ(ds_session_get_output(session, "consts", 1, &out), DS_OK);
  EXPECT_EQ(out.rank, 0u);
  EXPECT_EQ(out.size_bytes, 1u);
  ds_session_destroy(session);
  ds_session_destroy(nullptr);
}

TEST(CApi, Errors) {
  TempDir dir;
  std::string path = writeArtifact(dir);
  ds_session_t *session = nullptr;
  EXPECT_EQ(
      ds_session_create(dir.file("missing.dsa").c_str(), nullptr, &session),
      DS_ERROR_LOAD);
  EXPECT_EQ(session, nullptr);
  EXPECT_NE(std::string(ds_last_error()).find("missing.dsa: cannot open"),
            std::string::npos)
      << ds_last_error();
  writeFile(dir.file("bad.dsa"), std::vector<uint8_t>(64, 0));
  EXPECT_EQ(ds_session_create(dir.file("bad.dsa").c_str(), nullptr, &session),
            DS_ERROR_LOAD);
  EXPECT_NE(std::string(ds_last_error()).find("not a ds artifact"),
            std::string::npos);
  EXPECT_EQ(ds_session_create(nullptr, nullptr, &session),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ds_session_create(path.c_str(), nullptr, nullptr),
            DS_ERROR_INVALID_ARGUMENT);

  ASSERT_EQ(ds_session_create(path.c_str(), nullptr, &session), DS_OK)
      << ds_last_error();
  size_t count;
  EXPECT_EQ(ds_session_input_count(session, "nope", &count),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ds_last_error(), "unknown entry point 'nope'");
  EXPECT_EQ(ds_session_entry_point_count(nullptr, &count),
            DS_ERROR_INVALID_ARGUMENT);
  const char *name;
  EXPECT_EQ(ds_session_entry_point_name(session, 2, &name),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ds_last_error(), "entry point index 2 out of range (2)");
  ds_tensor_info_t info;
  EXPECT_EQ(ds_session_output_info(session, "forward", 2, &info),
            DS_ERROR_INVALID_ARGUMENT);
  ds_tensor_t out;
  EXPECT_EQ(ds_session_get_output(session, "forward", 0, &out),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ds_last_error()).find("has not run"),
            std::string::npos);

  float data[4] = {};
  int64_t dims3[1] = {3}, dims4[1] = {4};
  EXPECT_EQ(ds_session_set_input(session, "forward", "c", DS_DTYPE_F32, dims3,
                                 1, data, 12),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ds_last_error(), "unknown input 'c' for entry point 'forward'");
  EXPECT_EQ(ds_session_set_input(session, "forward", "a", DS_DTYPE_F32, dims3,
                                 1, data, 16),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ds_last_error(), "input 'a': data is 16 bytes, expected 12");
  EXPECT_EQ(
      ds_session_set_input(session, "forward", "a", 42, dims3, 1, data, 12),
      DS_ERROR_INVALID_ARGUMENT);
  int64_t dims9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(ds_session_set_input(session, "forward", "a", DS_DTYPE_F32, dims9,
                                 9, data, 4),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ds_session_set_input(session, "forward", "a", DS_DTYPE_F32, nullptr,
                                 1, data, 4),
            DS_ERROR_INVALID_ARGUMENT);

  // Inputs sharing the symbol 'n' disagree.
  ASSERT_EQ(ds_session_set_input(session, "forward", "a", DS_DTYPE_F32, dims3,
                                 1, data, 12),
            DS_OK);
  ASSERT_EQ(ds_session_set_input(session, "forward", "b", DS_DTYPE_F32, dims4,
                                 1, data, 16),
            DS_OK);
  EXPECT_EQ(ds_session_run(session, "forward"), DS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ds_last_error(),
               "input 'b': dim 0 ('n') is 4 but input 'a' has 'n' = 3");
  ASSERT_EQ(ds_session_clear_inputs(session, "forward"), DS_OK);
  EXPECT_EQ(ds_session_run(session, "forward"), DS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(ds_last_error(), "missing input 'a' (f32[n])");
  ds_session_destroy(session);

  EXPECT_EQ(ds_dtype_size(DS_DTYPE_BF16), 2u);
  EXPECT_EQ(ds_dtype_size(DS_DTYPE_BOOL), 1u);
  EXPECT_EQ(ds_dtype_size(8), 0u);
}
