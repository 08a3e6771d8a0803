//===- dsrun_test.cpp - Tests of the ds-run driver ------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Runs the ds-run binary of this build (skipped when the build has none).
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/npy.h"

#include "code_loader.h"
#include "test_utils.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace ds::runtime;
using namespace ds::runtime::testing;

namespace {

std::string quote(const std::string &text) { return "'" + text + "'"; }

class DsRunDriver : public ::testing::Test {
protected:
  void SetUp() override {
    if (dsRunPath().empty())
      GTEST_SKIP() << "this build has no ds-run target";
    ArtifactBuilder builder;
    builder.setTarget(Target::Cpu, detail::hostArchitecture());
    builder.setCode(testKernels());
    builder.addEntryPoint(
        {"forward",
         "ds_test_add",
         {ArgumentSpec::fromInput(spec("a", DType::F32, {-1}, {"n"})),
          ArgumentSpec::fromInput(spec("b", DType::F32, {-1}, {"n"}))},
         {spec("sum", DType::F32, {-1}, {"n"}),
          spec("../re/versed", DType::F32, {-1}, {"n"})}});
    builder.addEntryPoint(
        {"consts",
         "ds_test_consts",
         {},
         {spec("iota", DType::I64, {3}), spec("flag", DType::Bool, {}),
          spec("none", DType::F32, {0})}});
    artifact = dir.file("m.dsa");
    ASSERT_TRUE(builder.writeFile(artifact).succeeded());
    ASSERT_TRUE(
        writeNpyFile(dir.file("a.npy"),
                     makeTensor(DType::F32, {3}, std::vector<float>{1, 2, 3}))
            .succeeded());
    ASSERT_TRUE(writeNpyFile(
                    dir.file("b.npy"),
                    makeTensor(DType::F32, {3}, std::vector<float>{10, 20, 30}))
                    .succeeded());
    ASSERT_TRUE(
        writeNpyFile(dir.file("ints.npy"),
                     makeTensor(DType::I32, {3}, std::vector<int32_t>{1, 2, 3}))
            .succeeded());
  }

  /// Runs ds-run with `args`; returns its exit status.
  int run(const std::string &args) {
    return runCommand(quote(dsRunPath()) + " " + args, out, err, scratch);
  }

  std::string inputs() {
    return "--input a=" + quote(dir.file("a.npy")) +
           " --input b=" + quote(dir.file("b.npy"));
  }

  /// Expects a failure with exactly one stderr line containing `needle`.
  void expectFailure(const std::string &args, const std::string &needle) {
    EXPECT_EQ(run(args), 1) << args;
    EXPECT_EQ(err.rfind("error: ", 0), 0u) << err;
    EXPECT_NE(err.find(needle), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }

  TempDir dir, scratch;
  std::string artifact, out, err;
};

} // namespace

TEST_F(DsRunDriver, WritesOutputs) {
  std::string outDir = dir.file("out");
  ASSERT_EQ(
      run(quote(artifact) + " " + inputs() + " --output-dir " + quote(outDir)),
      0)
      << err;
  Expected<Tensor> sum = readNpyFile(outDir + "/sum.npy");
  ASSERT_TRUE(sum.succeeded()) << sum.message();
  std::vector<float> values(3);
  std::memcpy(values.data(), sum->data.data(), 12);
  EXPECT_EQ(values, (std::vector<float>{11, 22, 33}));
  // Output names are mapped to file names inside the folder.
  EXPECT_TRUE(readNpyFile(outDir + "/_.._re_versed.npy").succeeded());
}

TEST_F(DsRunDriver, PrintsSummaries) {
  ASSERT_EQ(run(quote(artifact) + " " + inputs()), 0) << err;
  EXPECT_EQ(out, "sum: f32[3] min=11 max=33 mean=22\n"
                 "../re/versed: f32[3] min=1 max=3 mean=2\n");
  ASSERT_EQ(run(quote(artifact) + " --entry consts"), 0) << err;
  EXPECT_EQ(out, "iota: i64[3] min=0 max=2 mean=1\n"
                 "flag: bool[] min=1 max=1 mean=1\n"
                 "none: f32[0] (empty)\n");
}

TEST_F(DsRunDriver, Bench) {
  ASSERT_EQ(run(quote(artifact) + " " + inputs() + " --bench --bench-iters=5"),
            0)
      << err;
  EXPECT_NE(err.find("bench: forward: 5 iterations, median "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find(" ms, p90 "), std::string::npos) << err;
}

TEST_F(DsRunDriver, Errors) {
  expectFailure("", "no artifact given");
  expectFailure(quote(dir.file("missing.dsa")), "missing.dsa: cannot open");
  writeFile(dir.file("bad.dsa"), std::vector<uint8_t>(100, 7));
  expectFailure(quote(dir.file("bad.dsa")), "not a ds artifact");
  std::vector<uint8_t> bytes = readFile(artifact);
  bytes.resize(bytes.size() / 2);
  writeFile(dir.file("half.dsa"), bytes);
  expectFailure(quote(dir.file("half.dsa")), "truncated artifact");
  expectFailure(quote(artifact) + " --generate --prompt 1,2,3",
                "artifact has no prefill/decode entry points");
  expectFailure(quote(artifact) + " --max-new-tokens=4",
                "--max-new-tokens needs --generate");
  expectFailure(quote(artifact) + " --frobnicate", "unknown option");
  expectFailure(quote(artifact) + " " + quote(artifact), "unexpected argument");
  expectFailure(quote(artifact) + " --input a", "--input expects NAME=PATH");
  expectFailure(quote(artifact) + " --input", "--input expects a value");
  expectFailure(quote(artifact) + " --bench-iters 0", "between 1 and");
  expectFailure(quote(artifact) + " --bench-iters x", "positive integer");
  expectFailure(quote(artifact) + " --entry nope",
                "no entry point 'nope' (the artifact has 'forward', 'consts')");
  expectFailure(quote(artifact) + " --input a=" + quote(dir.file("a.npy")),
                "missing input 'b' (f32[n])");
  expectFailure(quote(artifact) + " " + inputs() +
                    " --input a=" + quote(dir.file("a.npy")),
                "input 'a' given twice");
  expectFailure(quote(artifact) + " --input a=" + quote(dir.file("a.npy")) +
                    " --input b=" + quote(dir.file("ints.npy")),
                "input 'b': expected dtype f32, got i32");
  expectFailure(quote(artifact) + " --input a=" + quote(dir.file("a.npy")) +
                    " --input b=" + quote(dir.file("nope.npy")),
                "nope.npy: cannot open");
  writeFile(dir.file("junk.npy"), std::vector<uint8_t>(20, 1));
  expectFailure(quote(artifact) + " --input a=" + quote(dir.file("a.npy")) +
                    " --input b=" + quote(dir.file("junk.npy")),
                "junk.npy: not a .npy file (bad magic)");
  expectFailure(quote(artifact) + " " + inputs() + " --weights " +
                    quote(dir.file("none.bin")) + " --output-dir " +
                    quote(dir.file("a.npy")),
                "cannot create the output folder");
}

TEST_F(DsRunDriver, Help) {
  ASSERT_EQ(run("--help"), 0);
  EXPECT_EQ(out.rfind("usage: ds-run OUT.dsa", 0), 0u);
}
