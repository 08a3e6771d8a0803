//===- session_test.cpp - Tests of Session and the CPU call path ----------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/session.h"

#include "code_loader.h"
#include "test_utils.h"

#include <cstdlib>
#include <gtest/gtest.h>

#include <cstring>
#include <sys/stat.h>

using namespace ds::runtime;
using namespace ds::runtime::testing;

namespace {

std::string hostTriple() {
  return std::string(detail::hostArchitecture()) + "-unknown-linux-gnu";
}

EntryPointSpec addEntry(const std::string &name = "forward") {
  return {name,
          "ds_test_add",
          {ArgumentSpec::fromInput(spec("a", DType::F32, {-1}, {"n"})),
           ArgumentSpec::fromInput(spec("b", DType::F32, {-1}, {"n"}))},
          {spec("sum", DType::F32, {-1}, {"n"}),
           spec("reversed", DType::F32, {-1}, {"n"})}};
}

/// A builder for a CPU artifact whose code is the test kernels.
ArtifactBuilder kernelsBuilder() {
  ArtifactBuilder builder;
  builder.setTarget(Target::Cpu, hostTriple());
  builder.setCode(testKernels());
  return builder;
}

/// Writes `builder`'s artifact to dir/name and opens a session on it.
Expected<std::unique_ptr<Session>> open(const TempDir &dir,
                                        const ArtifactBuilder &builder,
                                        const std::string &weights = {},
                                        const std::string &name = "m.dsa") {
  Status status = builder.writeFile(dir.file(name));
  EXPECT_TRUE(status.succeeded()) << status.message();
  return Session::create(dir.file(name), weights);
}

void expectError(const Status &status, const std::string &needle) {
  ASSERT_TRUE(status.failed()) << "expected an error containing: " << needle;
  EXPECT_NE(status.message().find(needle), std::string::npos)
      << "message: " << status.message();
}

template <typename T> std::vector<T> values(const Tensor &tensor) {
  std::vector<T> result(tensor.data.size() / sizeof(T));
  std::memcpy(result.data(), tensor.data.data(), tensor.data.size());
  return result;
}

std::map<std::string, TensorView>
views(const std::map<std::string, Tensor> &m) {
  std::map<std::string, TensorView> result;
  for (const auto &[name, tensor] : m)
    result[name] = tensor.view();
  return result;
}

} // namespace

TEST(Session, AddsVectors) {
  TempDir dir;
  ArtifactBuilder builder = kernelsBuilder();
  builder.addEntryPoint(addEntry());
  Expected<std::unique_ptr<Session>> session = open(dir, builder);
  ASSERT_TRUE(session.succeeded()) << session.message();
  std::map<std::string, Tensor> inputs = {
      {"a", makeTensor(DType::F32, {4}, std::vector<float>{1, 2, 3, 4})},
      {"b", makeTensor(DType::F32, {4}, std::vector<float>{10, 20, 30, 40})}};
  for (int repeat = 0; repeat < 3; ++repeat) {
    Expected<std::vector<Tensor>> outputs =
        (*session)->run("forward", views(inputs));
    ASSERT_TRUE(outputs.succeeded()) << outputs.message();
    ASSERT_EQ(outputs->size(), 2u);
    EXPECT_EQ((*outputs)[0].shape, std::vector<int64_t>{4});
    EXPECT_EQ(values<float>((*outputs)[0]),
              (std::vector<float>{11, 22, 33, 44}));
    // A view with offset 3 and stride -1.
    EXPECT_EQ(values<float>((*outputs)[1]), (std::vector<float>{4, 3, 2, 1}));
  }
  // Empty tensors work too.
  inputs["a"] = makeTensor(DType::F32, {0}, std::vector<float>{});
  inputs["b"] = makeTensor(DType::F32, {0}, std::vector<float>{});
  Expected<std::vector<Tensor>> empty =
      (*session)->run("forward", views(inputs));
  ASSERT_TRUE(empty.succeeded()) << empty.message();
  EXPECT_TRUE((*empty)[0].data.empty());
}

TEST(Session, UnalignedInputIsCopied) {
  TempDir dir;
  ArtifactBuilder builder = kernelsBuilder();
  builder.addEntryPoint(addEntry());
  Expected<std::unique_ptr<Session>> session = open(dir, builder);
  ASSERT_TRUE(session.succeeded()) << session.message();
  std::vector<uint8_t> storage(1 + 2 * sizeof(float));
  float two[2] = {5, 6};
  std::memcpy(storage.data() + 1, two, sizeof(two));
  TensorView a{DType::F32, {2}, storage.data() + 1, sizeof(two)};
  Expected<std::vector<Tensor>> outputs =
      (*session)->run("forward", {{"a", a}, {"b", a}});
  ASSERT_TRUE(outputs.succeeded()) << outputs.message();
  EXPECT_EQ(values<float>((*outputs)[0]), (std::vector<float>{10, 12}));
}

TEST(Session, WeightsAndStridedResults) {
  TempDir dir;
  std::vector<uint8_t> file(16, 0xee); // a header the weight skips
  uint64_t offset = appendValues(file, std::vector<float>{1, 10, 100});
  writeFile(dir.file("model.weights"), file);
  ArtifactBuilder builder = kernelsBuilder();
  builder.setDefaultWeightsFile("model.weights");
  uint32_t w = builder.addWeight({"w", DType::F32, {3}, "", offset, 12});
  builder.addEntryPoint(
      {"scale",
       "ds_test_scale",
       {ArgumentSpec::fromInput(spec("x", DType::F32, {-1, 3}, {"batch", ""})),
        ArgumentSpec::fromWeight(w)},
       {spec("y", DType::F32, {-1, 3}, {"batch", ""}),
        spec("yt", DType::F32, {3, -1}, {"", "batch"})}});
  Expected<std::unique_ptr<Session>> session = open(dir, builder);
  ASSERT_TRUE(session.succeeded()) << session.message();
  Tensor x =
      makeTensor(DType::F32, {2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  Expected<std::vector<Tensor>> outputs =
      (*session)->run("scale", {{"x", x.view()}});
  ASSERT_TRUE(outputs.succeeded()) << outputs.message();
  EXPECT_EQ(values<float>((*outputs)[0]),
            (std::vector<float>{1, 20, 300, 4, 50, 600}));
  EXPECT_EQ((*outputs)[1].shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(values<float>((*outputs)[1]),
            (std::vector<float>{1, 4, 20, 50, 300, 600}));
}

TEST(Session, MisalignedWeightsAreCopied) {
  TempDir dir;
  std::vector<uint8_t> file(2, 0);
  uint64_t wOffset = appendValues(file, std::vector<int32_t>{1, 2, 3});
  file.push_back(0);
  uint64_t vOffset = appendValues(file, std::vector<int16_t>{100, 200});
  ASSERT_EQ(wOffset % 4, 2u);
  ASSERT_EQ(vOffset % 2, 1u);
  writeFile(dir.file("w.bin"), file);
  ArtifactBuilder builder = kernelsBuilder();
  uint32_t w = builder.addWeight({"w", DType::I32, {3}, "w.bin", wOffset, 12});
  uint32_t v = builder.addWeight({"v", DType::I16, {2}, "w.bin", vOffset, 4});
  builder.addEntryPoint(
      {"forward",
       "ds_test_sum_weights",
       {ArgumentSpec::fromWeight(w), ArgumentSpec::fromWeight(v)},
       {spec("sum", DType::I64, {})}});
  Expected<std::unique_ptr<Session>> session = open(dir, builder);
  ASSERT_TRUE(session.succeeded()) << session.message();
  Expected<std::vector<Tensor>> outputs = (*session)->run("forward", {});
  ASSERT_TRUE(outputs.succeeded()) << outputs.message();
  EXPECT_EQ(values<int64_t>((*outputs)[0]), std::vector<int64_t>{306});
}

TEST(Session, ResultShapesAndOwnership) {
  TempDir dir;
  ArtifactBuilder builder = kernelsBuilder();
  builder.addEntryPoint(
      {"consts",
       "ds_test_consts",
       {},
       {spec("iota", DType::I64, {3}), spec("flag", DType::Bool, {}),
        spec("none", DType::F32, {0})}});
  builder.addEntryPoint(
      {"dup",
       "ds_test_dup",
       {ArgumentSpec::fromInput(spec("x", DType::F32, {-1}))},
       {spec("first", DType::F32, {-1}), spec("second", DType::F32, {-1})}});
  builder.addEntryPoint({"alias",
                         "ds_test_alias",
                         {ArgumentSpec::fromInput(spec("x", DType::F32, {2}))},
                         {spec("y", DType::F32, {2})}});
  builder.addEntryPoint({"bad_shape",
                         "ds_test_bad_shape",
                         {ArgumentSpec::fromInput(spec("x", DType::F32, {4}))},
                         {spec("y", DType::F32, {4})}});
  builder.addEntryPoint(
      {"global", "ds_test_global", {}, {spec("y", DType::F32, {2})}});
  builder.addEntryPoint(
      {"bad_symbol",
       "ds_test_bad_shape",
       {ArgumentSpec::fromInput(spec("x", DType::F32, {-1}, {"n"}))},
       {spec("y", DType::F32, {-1}, {"n"})}});
  Expected<std::unique_ptr<Session>> session = open(dir, builder);
  ASSERT_TRUE(session.succeeded()) << session.message();

  expectError((*session)->run("global", {}).status(),
              "result 'y' points into static data, not a malloc'ed buffer");

  Expected<std::vector<Tensor>> consts = (*session)->run("consts", {});
  ASSERT_TRUE(consts.succeeded()) << consts.message();
  EXPECT_EQ(values<int64_t>((*consts)[0]), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_TRUE((*consts)[1].shape.empty());
  EXPECT_EQ((*consts)[1].data, std::vector<uint8_t>{1});
  EXPECT_EQ((*consts)[2].shape, std::vector<int64_t>{0});

  // Two results sharing one allocation are freed once (ASan checks this).
  Tensor x = makeTensor(DType::F32, {2}, std::vector<float>{7, 8});
  Expected<std::vector<Tensor>> dup = (*session)->run("dup", {{"x", x.view()}});
  ASSERT_TRUE(dup.succeeded()) << dup.message();
  EXPECT_EQ(values<float>((*dup)[1]), (std::vector<float>{7, 8}));

  Expected<std::vector<Tensor>> alias =
      (*session)->run("alias", {{"x", x.view()}});
  expectError(alias.status(),
              "entry point 'alias': result 'y' aliases an argument buffer");

  Tensor four = makeTensor(DType::F32, {4}, std::vector<float>{1, 2, 3, 4});
  Expected<std::vector<Tensor>> bad =
      (*session)->run("bad_shape", {{"x", four.view()}});
  expectError(bad.status(), "result 'y': dim 0 is 5, expected 4");
  expectError((*session)->run("bad_symbol", {{"x", four.view()}}).status(),
              "entry point 'bad_symbol': result 'y': dim 0 ('n') is 5 but an "
              "input has 'n' = 4");
}

TEST(Session, InputValidation) {
  TempDir dir;
  ArtifactBuilder builder = kernelsBuilder();
  builder.addEntryPoint(addEntry());
  Expected<std::unique_ptr<Session>> session = open(dir, builder);
  ASSERT_TRUE(session.succeeded()) << session.message();
  Session &s = **session;
  Tensor a = makeTensor(DType::F32, {4}, std::vector<float>{1, 2, 3, 4});
  Tensor b3 = makeTensor(DType::F32, {3}, std::vector<float>{1, 2, 3});
  Tensor ints = makeTensor(DType::I32, {4}, std::vector<int32_t>{1, 2, 3, 4});
  Tensor matrix =
      makeTensor(DType::F32, {2, 2}, std::vector<float>{1, 2, 3, 4});

  expectError(s.run("forward", {{"a", a.view()}, {"b", ints.view()}}).status(),
              "input 'b': expected dtype f32, got i32");
  // u16 stands in for bf16 only (numpy has no bf16), never for f32.
  Tensor bits = makeTensor(DType::U16, {4}, std::vector<uint16_t>{1, 2, 3, 4});
  expectError(s.run("forward", {{"a", a.view()}, {"b", bits.view()}}).status(),
              "input 'b': expected dtype f32, got u16");
  expectError(
      s.run("forward", {{"a", a.view()}, {"b", matrix.view()}}).status(),
      "input 'b': expected rank 1 (f32[n]), got rank 2 [2,2]");
  expectError(s.run("forward", {{"a", a.view()}, {"b", b3.view()}}).status(),
              "input 'b': dim 0 ('n') is 3 but input 'a' has 'n' = 4");
  expectError(s.run("forward", {{"a", a.view()}}).status(),
              "missing input 'b' (f32[n])");
  expectError(
      s.run("forward", {{"a", a.view()}, {"b", a.view()}, {"c", a.view()}})
          .status(),
      "unknown input 'c'; entry point 'forward' takes 'a', 'b'");
  TensorView shortData = a.view();
  shortData.sizeBytes = 12;
  expectError(s.run("forward", {{"a", a.view()}, {"b", shortData}}).status(),
              "input 'b': data is 12 bytes, expected 16 for f32[4]");
  TensorView rank9 = a.view();
  rank9.shape.assign(9, 1);
  expectError(s.run("forward", {{"a", rank9}, {"b", a.view()}}).status(),
              "input 'a': expected rank 1");
  expectError(s.run("backward", {}).status(),
              "unknown entry point 'backward'; the artifact has 'forward'");
}

TEST(Session, StaticDimsAndCaps) {
  EntryPointSpec entry{
      "forward",
      "f",
      {ArgumentSpec::fromInput(spec("x", DType::U8, {2, -1})),
       ArgumentSpec::fromInput(spec("big", DType::U8, {-1, -1, -1}))},
      {}};
  std::map<std::string, int64_t> bindings;
  uint8_t data[4] = {};
  TensorView x{DType::U8, {2, 2}, data, 4};
  TensorView wrong{DType::U8, {1, 4}, data, 4};
  TensorView empty{DType::U8, {0, 0, 0}, nullptr, 0};
  EXPECT_TRUE(
      checkInputs(entry, {{"x", x}, {"big", empty}}, bindings).succeeded());
  expectError(checkInputs(entry, {{"x", wrong}, {"big", empty}}, bindings),
              "input 'x': dim 0 is 1, expected 2");
  // Element cap at kMaxElements and kMaxElements + 1 (sizes are checked
  // before the data size, so no buffer is needed).
  TensorView atCap{DType::U8, {1024, 1024, 1048576}, data, 0};
  expectError(checkInputs(entry, {{"x", x}, {"big", atCap}}, bindings),
              "input 'big': data is 0 bytes, expected 1099511627776");
  TensorView overCap{DType::U8, {1024, 1024, 1048577}, data, 0};
  expectError(checkInputs(entry, {{"x", x}, {"big", overCap}}, bindings),
              "input 'big': shape [1024,1024,1048577] has more than");
  TensorView noData{DType::U8, {2, 2}, nullptr, 4};
  expectError(checkInputs(entry, {{"x", noData}, {"big", empty}}, bindings),
              "input 'x': no data");
}

TEST(Session, WeightErrors) {
  TempDir dir;
  writeFile(dir.file("model.weights"), std::vector<uint8_t>(16, 0));
  auto builderWith = [](WeightSpec weight) {
    ArtifactBuilder builder = kernelsBuilder();
    builder.setDefaultWeightsFile("model.weights");
    builder.addWeight(std::move(weight));
    return builder;
  };
  // offset + size == file size is fine; one byte more is not.
  EXPECT_TRUE(
      open(dir, builderWith({"w", DType::F32, {2}, "", 8, 8})).succeeded());
  expectError(open(dir, builderWith({"w", DType::F32, {2}, "", 9, 8})).status(),
              "weight 'w' (offset 9, size 8) ends past the end of the file "
              "(16 bytes)");
  expectError(
      open(dir, builderWith({"w", DType::F32, {2}, "", 64, 8})).status(),
      "ends past the end of the file");
  expectError(
      open(dir, builderWith({"w", DType::F32, {2}, "missing.bin", 0, 8}))
          .status(),
      "weight 'w': " + dir.file("missing.bin") + ": cannot open");
  ArtifactBuilder noFile = kernelsBuilder();
  noFile.addWeight({"w", DType::F32, {2}, "", 0, 8});
  expectError(open(dir, noFile).status(),
              "weight 'w' names no file and the artifact has no default "
              "weights file; pass a weights path (--weights)");
  EXPECT_TRUE(open(dir, noFile, dir.file("model.weights")).succeeded());
}

TEST(Session, WeightsPathRule) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.file("sub").c_str(), 0755), 0);
  // Weights resolve against the artifact's folder, not the working folder.
  writeFile(dir.file("sub/model.weights"), [] {
    std::vector<uint8_t> bytes;
    appendValues(bytes, std::vector<int32_t>{1, 2, 3});
    return bytes;
  }());
  writeFile(dir.file("sub/extra.bin"), [] {
    std::vector<uint8_t> bytes;
    appendValues(bytes, std::vector<int16_t>{10, 20});
    return bytes;
  }());
  writeFile(dir.file("override.bin"), [] {
    std::vector<uint8_t> bytes;
    appendValues(bytes, std::vector<int32_t>{1000, 2000, 3000});
    return bytes;
  }());
  ArtifactBuilder builder = kernelsBuilder();
  builder.setDefaultWeightsFile("model.weights");
  uint32_t w =
      builder.addWeight({"w", DType::I32, {3}, "model.weights", 0, 12});
  uint32_t v = builder.addWeight({"v", DType::I16, {2}, "extra.bin", 0, 4});
  builder.addEntryPoint(
      {"forward",
       "ds_test_sum_weights",
       {ArgumentSpec::fromWeight(w), ArgumentSpec::fromWeight(v)},
       {spec("sum", DType::I64, {})}});
  auto sum = [&](const std::string &weights) -> int64_t {
    Expected<std::unique_ptr<Session>> session =
        open(dir, builder, weights, "sub/m.dsa");
    EXPECT_TRUE(session.succeeded()) << session.message();
    if (session.failed())
      return -1;
    Expected<std::vector<Tensor>> outputs = (*session)->run("forward", {});
    EXPECT_TRUE(outputs.succeeded()) << outputs.message();
    return outputs.succeeded() ? values<int64_t>((*outputs)[0])[0] : -1;
  };
  EXPECT_EQ(sum(""), 36);
  // The override replaces the default file only; extra.bin stays.
  EXPECT_EQ(sum(dir.file("override.bin")), 6030);
}

TEST(Session, LoadErrors) {
  TempDir dir;
  // A CUDA artifact needs host code (the driver-missing error is covered by
  // test/Tools/ds-compile-cuda.test with a real CUDA artifact).
  ArtifactBuilder cuda = kernelsBuilder();
  cuda.setTarget(Target::Cuda, kernelsBuilder().artifact().targetTriple);
  expectError(open(dir, cuda).status(), "CUDA artifact without host code");
  ArtifactBuilder foreign = kernelsBuilder();
  foreign.setTarget(Target::Cpu, "riscv64-unknown-linux-gnu");
  expectError(open(dir, foreign).status(),
              "artifact targets 'riscv64-unknown-linux-gnu' but this host is");
  ArtifactBuilder missingSymbol = kernelsBuilder();
  missingSymbol.addEntryPoint({"forward", "ds_test_nope", {}, {}});
  expectError(open(dir, missingSymbol).status(),
              "entry point 'forward': symbol 'ds_test_nope' is not defined by "
              "the code blob");
  ArtifactBuilder notElf = kernelsBuilder();
  notElf.setCode({1, 2, 3, 4, 5});
  notElf.addEntryPoint(addEntry());
  expectError(open(dir, notElf).status(),
              "code blob is not an ELF shared object");
  ArtifactBuilder brokenElf = kernelsBuilder();
  brokenElf.setCode({0x7f, 'E', 'L', 'F', 9, 9, 9, 9});
  brokenElf.addEntryPoint(addEntry());
  expectError(open(dir, brokenElf).status(), "cannot load the code blob: ");
  ArtifactBuilder noCode = kernelsBuilder();
  noCode.setCode({});
  noCode.addEntryPoint(addEntry());
  expectError(open(dir, noCode).status(),
              "artifact has entry points but no code");
  expectError(Session::create(dir.file("missing.dsa")).status(),
              "missing.dsa: cannot open");
}

TEST(Session, FromMemoryAndManySessions) {
  ArtifactBuilder builder = kernelsBuilder();
  builder.addEntryPoint(addEntry());
  // Each session loads its own copy of the code.
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < 4; ++i) {
    Expected<std::unique_ptr<Session>> session =
        Session::createFromArtifact(builder.artifact(), ".");
    ASSERT_TRUE(session.succeeded()) << session.message();
    sessions.push_back(std::move(*session));
  }
  Tensor a = makeTensor(DType::F32, {1}, std::vector<float>{2});
  for (auto &session : sessions) {
    Expected<std::vector<Tensor>> outputs =
        session->run("forward", {{"a", a.view()}, {"b", a.view()}});
    ASSERT_TRUE(outputs.succeeded()) << outputs.message();
    EXPECT_EQ(values<float>((*outputs)[0]), std::vector<float>{4});
  }
}

TEST(Session, CodeLoaderFallsBackToTempFile) {
  for (bool useMemfd : {true, false}) {
    Expected<std::unique_ptr<detail::SharedObject>> object =
        detail::SharedObject::load(testKernels(), useMemfd);
    ASSERT_TRUE(object.succeeded()) << object.message();
    Expected<detail::EntryFunction> add = (*object)->lookup("ds_test_add");
    ASSERT_TRUE(add.succeeded()) << add.message();
    float a[2] = {1, 2};
    int64_t descriptor[5] = {int64_t(reinterpret_cast<uintptr_t>(a)),
                             int64_t(reinterpret_cast<uintptr_t>(a)), 0, 2, 1};
    int64_t block[10] = {};
    void *args[3] = {block, descriptor, descriptor};
    (*add)(args);
    float *sum = reinterpret_cast<float *>(uintptr_t(block[1]));
    EXPECT_EQ(sum[1], 4);
    std::free(reinterpret_cast<void *>(uintptr_t(block[0])));
    std::free(reinterpret_cast<void *>(uintptr_t(block[5])));
    EXPECT_TRUE((*object)->lookup("nope").failed());
  }
}
