//===- artifact_test.cpp - Tests of the artifact reader and writer --------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/artifact.h"

#include "test_utils.h"

#include "ds/runtime/artifact_generated.h"

#include <algorithm>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

using namespace ds::runtime;
using namespace ds::runtime::testing;

namespace {

ArtifactBuilder sampleBuilder() {
  ArtifactBuilder builder;
  builder.setTarget(Target::Cpu, "x86_64-unknown-linux-gnu");
  builder.setCode({0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 42});
  builder.setDefaultWeightsFile("model.weights");
  builder.setStats("{\"kernels\": 3, \"fused_attention\": 1}");
  uint32_t w0 = builder.addWeight({"w0", DType::F32, {2, 3}, "", 0, 24});
  uint32_t w1 = builder.addWeight({"w1", DType::I64, {4}, "other.bin", 8, 32});
  builder.addEntryPoint(
      {"forward",
       "ds_forward",
       {ArgumentSpec::fromInput(
            spec("ids", DType::I64, {-1, -1}, {"batch", "seq"})),
        ArgumentSpec::fromWeight(w0),
        ArgumentSpec::fromInput(
            spec("mask", DType::Bool, {-1, 4}, {"batch", ""})),
        ArgumentSpec::fromDerived(1)},
       {spec("logits", DType::F32, {-1, -1, 3}, {"batch", "seq", ""}),
        spec("scalar", DType::BF16, {})}});
  builder.addEntryPoint({"prepare",
                         "ds_prepare",
                         {ArgumentSpec::fromWeight(w1)},
                         {spec("w1t", DType::I64, {4}),
                          spec("w1sum", DType::I64, {})}});
  return builder;
}

/// A format 1.0 artifact: no derived weights, no generation metadata.
ArtifactBuilder v10Builder() {
  ArtifactBuilder builder;
  builder.setTarget(Target::Cpu, "x86_64-unknown-linux-gnu");
  builder.setCode({0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 42});
  uint32_t w = builder.addWeight({"w", DType::F32, {2, 3}, "w.bin", 0, 24});
  builder.addEntryPoint(
      {"forward",
       "ds_forward",
       {ArgumentSpec::fromInput(spec("x", DType::F32, {-1, 3}, {"n", ""})),
        ArgumentSpec::fromWeight(w)},
       {spec("y", DType::F32, {-1, 3}, {"n", ""})}});
  return builder;
}

TensorSpec cacheSpec(const std::string &name, DType dtype = DType::F32,
                     std::vector<int64_t> shape = {-1, 2, -1, 4}) {
  return spec(name, dtype, std::move(shape), {"batch", "", "capacity", ""});
}

/// A decoder with prefill/decode over one layer's key and value caches.
/// `edit` may change the generation metadata and the entry points before
/// they are added.
template <typename Edit> ArtifactBuilder generationBuilder(Edit edit) {
  ArtifactBuilder builder;
  builder.setTarget(Target::Cpu, "x86_64-unknown-linux-gnu");
  builder.setCode({1});
  uint32_t w = builder.addWeight({"emb", DType::F32, {8, 4}, "w.bin", 0, 128});
  GenerationSpec generation;
  generation.vocabSize = 8;
  generation.maxPositions = 64;
  generation.caches = {{"k0", 0, CacheKind::Key}, {"v0", 0, CacheKind::Value}};
  std::vector<EntryPointSpec> entries = {
      {"prefill",
       "ds_prefill",
       {ArgumentSpec::fromInput(cacheSpec("k0")),
        ArgumentSpec::fromInput(
            spec("tokens", DType::I64, {-1, -1}, {"batch", "seq"})),
        ArgumentSpec::fromWeight(w),
        ArgumentSpec::fromInput(spec("positions", DType::I64, {-1}, {"batch"})),
        ArgumentSpec::fromInput(cacheSpec("v0"))},
       {spec("logits", DType::F32, {-1, -1, 8}, {"batch", "seq", ""})}},
      {"decode",
       "ds_decode",
       {ArgumentSpec::fromInput(spec("tokens", DType::I64, {-1, 1}, {"batch", ""})),
        ArgumentSpec::fromInput(spec("positions", DType::I64, {-1}, {"batch"})),
        ArgumentSpec::fromInput(cacheSpec("v0")),
        ArgumentSpec::fromInput(cacheSpec("k0")),
        ArgumentSpec::fromWeight(w)},
       {spec("logits", DType::F32, {-1, 1, -1}, {"batch", "", "vocab"})}}};
  edit(generation, entries);
  for (EntryPointSpec &entry : entries)
    builder.addEntryPoint(std::move(entry));
  builder.setGeneration(std::move(generation));
  return builder;
}

ArtifactBuilder generationBuilder() {
  return generationBuilder([](GenerationSpec &, std::vector<EntryPointSpec> &) {});
}

std::vector<uint8_t> sampleBytes() {
  Expected<std::vector<uint8_t>> bytes = sampleBuilder().finish();
  EXPECT_TRUE(bytes.succeeded()) << bytes.message();
  return *bytes;
}

void expectSameSpec(const TensorSpec &a, const TensorSpec &b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.dtype, b.dtype);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.dimNames, b.dimNames);
}

/// Expects `builder.finish()` to fail with a message containing `needle`.
void expectInvalid(const ArtifactBuilder &builder, const std::string &needle) {
  Expected<std::vector<uint8_t>> bytes = builder.finish();
  ASSERT_TRUE(bytes.failed()) << "expected an error containing: " << needle;
  EXPECT_NE(bytes.message().find(needle), std::string::npos)
      << "message: " << bytes.message();
}

/// Returns a builder with one entry point taking `input`.
ArtifactBuilder withInput(TensorSpec input) {
  ArtifactBuilder builder;
  builder.setCode({1});
  builder.addEntryPoint(
      {"forward", "f", {ArgumentSpec::fromInput(std::move(input))}, {}});
  return builder;
}

Expected<Artifact> parse(const std::vector<uint8_t> &bytes) {
  return parseArtifact(bytes.data(), bytes.size());
}

} // namespace

TEST(Artifact, RoundTrip) {
  ArtifactBuilder builder = sampleBuilder();
  std::vector<uint8_t> bytes = sampleBytes();
  Expected<Artifact> parsed = parse(bytes);
  ASSERT_TRUE(parsed.succeeded()) << parsed.message();
  const Artifact &expected = builder.artifact();
  EXPECT_EQ(parsed->formatMajor, kFormatMajor);
  EXPECT_EQ(parsed->formatMinor, kFormatMinor);
  EXPECT_EQ(kFormatMinor, 5);
  EXPECT_EQ(parsed->target, Target::Cpu);
  EXPECT_EQ(parsed->targetTriple, expected.targetTriple);
  EXPECT_EQ(parsed->code, expected.code);
  EXPECT_EQ(parsed->defaultWeightsFile, "model.weights");
  EXPECT_EQ(parsed->stats, expected.stats);
  ASSERT_EQ(parsed->weights.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const WeightSpec &a = parsed->weights[i], &b = expected.weights[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.dtype, b.dtype);
    EXPECT_EQ(a.shape, b.shape);
    EXPECT_EQ(a.file, b.file);
    EXPECT_EQ(a.offset, b.offset);
    EXPECT_EQ(a.size, b.size);
  }
  ASSERT_EQ(parsed->entryPoints.size(), 2u);
  for (size_t e = 0; e < 2; ++e) {
    const EntryPointSpec &a = parsed->entryPoints[e],
                         &b = expected.entryPoints[e];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.symbol, b.symbol);
    ASSERT_EQ(a.arguments.size(), b.arguments.size());
    for (size_t i = 0; i < a.arguments.size(); ++i) {
      EXPECT_EQ(a.arguments[i].kind, b.arguments[i].kind);
      EXPECT_EQ(a.arguments[i].weightIndex, b.arguments[i].weightIndex);
      EXPECT_EQ(a.arguments[i].derivedIndex, b.arguments[i].derivedIndex);
      if (a.arguments[i].kind == ArgumentSpec::Kind::Input)
        expectSameSpec(a.arguments[i].input, b.arguments[i].input);
    }
    ASSERT_EQ(a.results.size(), b.results.size());
    for (size_t i = 0; i < a.results.size(); ++i)
      expectSameSpec(a.results[i], b.results[i]);
  }
  ASSERT_NE(parsed->findEntryPoint("forward"), nullptr);
  EXPECT_EQ(parsed->findEntryPoint("forward")->inputs().size(), 2u);
  EXPECT_EQ(parsed->findEntryPoint("nope"), nullptr);
  // Serializing the parsed artifact gives the same bytes.
  EXPECT_EQ(*serializeArtifact(*parsed), bytes);
}

TEST(Artifact, Layout) {
  std::vector<uint8_t> bytes = sampleBytes();
  EXPECT_EQ(std::string(bytes.begin() + 4, bytes.begin() + 8), "DSA1");
  EXPECT_EQ(sampleBytes(), bytes) << "serialization must be deterministic";
  Artifact empty;
  Expected<std::vector<uint8_t>> minimal = serializeArtifact(empty);
  ASSERT_TRUE(minimal.succeeded()) << minimal.message();
  EXPECT_TRUE(parse(*minimal).succeeded());
}

TEST(Artifact, FileRoundTrip) {
  TempDir dir;
  ASSERT_TRUE(sampleBuilder().writeFile(dir.file("m.dsa")).succeeded());
  Expected<Artifact> artifact = readArtifactFile(dir.file("m.dsa"));
  ASSERT_TRUE(artifact.succeeded()) << artifact.message();
  EXPECT_EQ(artifact->entryPoints.size(), 2u);
  writeFile(dir.file("bad.dsa"), {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Expected<Artifact> bad = readArtifactFile(dir.file("bad.dsa"));
  ASSERT_TRUE(bad.failed());
  EXPECT_EQ(bad.message().rfind(dir.file("bad.dsa") + ": not a ds artifact", 0),
            0u)
      << bad.message();
  EXPECT_TRUE(readArtifactFile(dir.file("missing.dsa")).failed());
  EXPECT_TRUE(readArtifactFile(dir.path()).failed());
}

TEST(Artifact, Versions) {
  for (auto [major, minor, ok] : {std::tuple<int, int, bool>{1, 0, true},
                                  {1, 1, true},
                                  {1, 2, true},
                                  {1, 3, true},
                                  {1, 4, true},
                                  {1, 5, true},
                                  {1, 6, false},
                                  {0, 9, false},
                                  {2, 0, false}}) {
    Artifact artifact = v10Builder().artifact();
    artifact.formatMajor = uint16_t(major);
    artifact.formatMinor = uint16_t(minor);
    Expected<Artifact> parsed = parse(*serializeArtifact(artifact));
    EXPECT_EQ(parsed.succeeded(), ok) << major << "." << minor;
    if (!ok) {
      EXPECT_EQ(parsed.message(),
                "artifact format version " + std::to_string(major) + "." +
                    std::to_string(minor) +
                    " is not supported (this runtime reads 1.0 to 1.5)");
    }
  }
}

// A 1.0 artifact as the 1.0 writer laid it out (the root table without the
// 1.1 fields, arguments only WeightRef/TensorSpec) still reads, with no
// generation metadata and no derived weights.
TEST(Artifact, ReadsFormat10) {
  Artifact artifact = v10Builder().artifact();
  artifact.formatMinor = 0;
  Expected<std::vector<uint8_t>> bytes = serializeArtifact(artifact);
  ASSERT_TRUE(bytes.succeeded()) << bytes.message();
  // The 1.0 layout: the root vtable has exactly the 10 fields of 1.0.
  const auto *root = reinterpret_cast<const flatbuffers::Table *>(
      fb::GetArtifact(bytes->data()));
  EXPECT_EQ(root->GetOptionalFieldOffset(fb::Artifact::VT_GENERATION), 0);
  Expected<Artifact> parsed = parse(*bytes);
  ASSERT_TRUE(parsed.succeeded()) << parsed.message();
  EXPECT_EQ(parsed->formatMinor, 0);
  EXPECT_FALSE(parsed->generation.has_value());
  ASSERT_EQ(parsed->entryPoints.size(), 1u);
  EXPECT_EQ(parsed->entryPoints[0].arguments[1].kind,
            ArgumentSpec::Kind::Weight);

  // 1.1 features cannot be written as 1.0.
  Artifact withDerived = sampleBuilder().artifact();
  withDerived.formatMinor = 0;
  Expected<std::vector<uint8_t>> bad = serializeArtifact(withDerived);
  ASSERT_TRUE(bad.failed());
  EXPECT_NE(bad.message().find("format 1.0 cannot hold derived weights or "
                               "generation metadata"),
            std::string::npos)
      << bad.message();
  Artifact withGeneration = generationBuilder().artifact();
  withGeneration.formatMinor = 0;
  EXPECT_TRUE(serializeArtifact(withGeneration).failed());
}

// Format 1.2: CUDA artifacts carry device modules and a kernel table.
TEST(Artifact, CudaRoundTripAndChecks) {
  ArtifactBuilder builder = v10Builder();
  builder.setTarget(Target::Cuda, "x86_64-unknown-linux-gnu");
  Artifact base = builder.artifact();
  base.cudaHostAbi = kCudaHostAbiVersion;
  base.deviceModules.push_back({"kernels", "sm_90", {1, 2, 3, 4}});
  base.kernels.push_back({0, "forward_kernel"});
  base.kernels.push_back({0, "forward_kernel_0"});
  Expected<std::vector<uint8_t>> bytes = serializeArtifact(base);
  ASSERT_TRUE(bytes.succeeded()) << bytes.message();
  Expected<Artifact> parsed = parse(*bytes);
  ASSERT_TRUE(parsed.succeeded()) << parsed.message();
  EXPECT_EQ(parsed->target, Target::Cuda);
  EXPECT_EQ(parsed->cudaHostAbi, kCudaHostAbiVersion);
  ASSERT_EQ(parsed->deviceModules.size(), 1u);
  EXPECT_EQ(parsed->deviceModules[0].arch, "sm_90");
  EXPECT_EQ(parsed->deviceModules[0].image, (std::vector<uint8_t>{1, 2, 3, 4}));
  ASSERT_EQ(parsed->kernels.size(), 2u);
  EXPECT_EQ(parsed->kernels[1].name, "forward_kernel_0");

  auto expectInvalid = [](Artifact artifact, const std::string &needle) {
    Expected<std::vector<uint8_t>> out = serializeArtifact(artifact);
    ASSERT_TRUE(out.failed()) << needle;
    EXPECT_NE(out.message().find(needle), std::string::npos) << out.message();
  };
  Artifact badModule = base;
  badModule.kernels[1].module = 1;
  expectInvalid(badModule, "names device module 1 of 1");
  Artifact badArch = base;
  badArch.deviceModules[0].arch = "sm_75";
  expectInvalid(badArch, "unknown arch 'sm_75'");
  Artifact empty = base;
  empty.deviceModules[0].image.clear();
  expectInvalid(empty, "has an empty image");
  Artifact noAbi = base;
  noAbi.cudaHostAbi = 0;
  expectInvalid(noAbi, "without a host ABI version");
  Artifact old = base;
  old.formatMinor = 1;
  expectInvalid(old, "format 1.1 cannot hold CUDA code");
  Artifact cpuWithKernels = base;
  cpuWithKernels.target = Target::Cpu;
  expectInvalid(cpuWithKernels, "a cpu artifact has CUDA modules or kernels");
}

// Format 1.5: a device module may allow programmatic launch of its kernels.
TEST(Artifact, CudaProgrammaticLaunch) {
  ArtifactBuilder builder = v10Builder();
  builder.setTarget(Target::Cuda, "x86_64-unknown-linux-gnu");
  Artifact base = builder.artifact();
  base.cudaHostAbi = kCudaHostAbiVersion;
  base.deviceModules.push_back({"plain", "sm_90", {1, 2}});
  base.deviceModules.push_back({"overlapping", "sm_90a", {3, 4}, true});
  base.kernels.push_back({0, "a"});
  base.kernels.push_back({1, "b"});
  Expected<std::vector<uint8_t>> bytes = serializeArtifact(base);
  ASSERT_TRUE(bytes.succeeded()) << bytes.message();
  Expected<Artifact> parsed = parse(*bytes);
  ASSERT_TRUE(parsed.succeeded()) << parsed.message();
  ASSERT_EQ(parsed->deviceModules.size(), 2u);
  EXPECT_FALSE(parsed->deviceModules[0].programmaticLaunch);
  EXPECT_TRUE(parsed->deviceModules[1].programmaticLaunch);

  Artifact old = base;
  old.formatMinor = 4;
  Expected<std::vector<uint8_t>> out = serializeArtifact(old);
  ASSERT_TRUE(out.failed());
  EXPECT_NE(out.message().find("format 1.4 cannot mark programmatic launches "
                               "(format 1.5 adds them)"),
            std::string::npos)
      << out.message();
  // A 1.4 artifact without the flag is still written and read.
  old.deviceModules[1].programmaticLaunch = false;
  Expected<std::vector<uint8_t>> oldBytes = serializeArtifact(old);
  ASSERT_TRUE(oldBytes.succeeded()) << oldBytes.message();
  EXPECT_TRUE(parse(*oldBytes).succeeded());

  Artifact ampere = base;
  ampere.deviceModules[1].arch = "sm_80";
  out = serializeArtifact(ampere);
  ASSERT_TRUE(out.failed());
  EXPECT_NE(out.message().find("device module 'overlapping' is marked for "
                               "programmatic launch, which needs sm_90 or "
                               "newer, but targets sm_80"),
            std::string::npos)
      << out.message();
}

TEST(Artifact, GenerationRoundTrip) {
  ArtifactBuilder builder = generationBuilder();
  Expected<std::vector<uint8_t>> bytes = builder.finish();
  ASSERT_TRUE(bytes.succeeded()) << bytes.message();
  Expected<Artifact> parsed = parse(*bytes);
  ASSERT_TRUE(parsed.succeeded()) << parsed.message();
  ASSERT_TRUE(parsed->generation.has_value());
  const GenerationSpec &a = *parsed->generation,
                       &b = *builder.artifact().generation;
  EXPECT_EQ(a.prefill, "prefill");
  EXPECT_EQ(a.decode, "decode");
  EXPECT_EQ(a.tokens, "tokens");
  EXPECT_EQ(a.positions, "positions");
  EXPECT_EQ(a.logits, "logits");
  EXPECT_EQ(a.vocabSize, 8);
  EXPECT_EQ(a.maxPositions, 64);
  ASSERT_EQ(a.caches.size(), b.caches.size());
  for (size_t i = 0; i < a.caches.size(); ++i) {
    EXPECT_EQ(a.caches[i].argument, b.caches[i].argument);
    EXPECT_EQ(a.caches[i].layer, b.caches[i].layer);
    EXPECT_EQ(a.caches[i].kind, b.caches[i].kind);
  }
  EXPECT_EQ(a.caches[1].kind, CacheKind::Value);
  EXPECT_EQ(a.nextTokens, "");

  // (1.3) The greedy next tokens, a result of both entry points.
  ArtifactBuilder greedy =
      generationBuilder([](GenerationSpec &g, std::vector<EntryPointSpec> &e) {
        g.nextTokens = "next_tokens";
        for (EntryPointSpec &entry : e)
          entry.results.push_back(
              spec("next_tokens", DType::I64, {-1, -1}, {"batch", "seq"}));
      });
  Expected<std::vector<uint8_t>> greedyBytes = greedy.finish();
  ASSERT_TRUE(greedyBytes.succeeded()) << greedyBytes.message();
  Expected<Artifact> greedyParsed = parse(*greedyBytes);
  ASSERT_TRUE(greedyParsed.succeeded()) << greedyParsed.message();
  EXPECT_EQ(greedyParsed->generation->nextTokens, "next_tokens");

  // (1.4) Prefill's last prompt positions: an input of prefill only, and
  // prefill's logits at seq 1.
  ArtifactBuilder last = generationBuilder(
      [](GenerationSpec &g, std::vector<EntryPointSpec> &e) {
        g.lastPositions = "last";
        e[0].arguments.push_back(ArgumentSpec::fromInput(
            spec("last", DType::I64, {-1}, {"batch"})));
        e[0].results[0] = spec("logits", DType::F32, {-1, 1, 8},
                               {"batch", "", ""});
      });
  Expected<std::vector<uint8_t>> lastBytes = last.finish();
  ASSERT_TRUE(lastBytes.succeeded()) << lastBytes.message();
  Expected<Artifact> lastParsed = parse(*lastBytes);
  ASSERT_TRUE(lastParsed.succeeded()) << lastParsed.message();
  EXPECT_EQ(lastParsed->generation->lastPositions, "last");
  EXPECT_EQ(greedyParsed->generation->lastPositions, "");
  Artifact old = last.artifact();
  old.formatMinor = 3;
  Expected<std::vector<uint8_t>> oldBytes = serializeArtifact(old);
  ASSERT_TRUE(oldBytes.failed());
  EXPECT_NE(oldBytes.message().find("format 1.3 cannot name last prompt "
                                    "positions (format 1.4 adds them)"),
            std::string::npos)
      << oldBytes.message();
}

TEST(Artifact, DerivedWeightErrors) {
  auto base = [] {
    ArtifactBuilder builder;
    builder.setCode({1});
    builder.addWeight({"w", DType::F32, {2, 3}, "", 0, 24});
    return builder;
  };
  auto prepare = [](std::vector<ArgumentSpec> args,
                    std::vector<TensorSpec> results) {
    return EntryPointSpec{"prepare", "p", std::move(args), std::move(results)};
  };
  auto user = [](uint32_t index) {
    return EntryPointSpec{
        "forward", "f", {ArgumentSpec::fromDerived(index)}, {}};
  };
  {
    ArtifactBuilder ok = base();
    ok.addEntryPoint(prepare({ArgumentSpec::fromWeight(0)},
                             {spec("wt", DType::F32, {3, 2})}));
    ok.addEntryPoint(user(0));
    EXPECT_TRUE(ok.finish().succeeded()) << ok.finish().message();
  }
  ArtifactBuilder noPrepare = base();
  noPrepare.addEntryPoint(user(0));
  expectInvalid(noPrepare, "entry point 'forward': argument 0 is derived "
                           "weight 0 but the artifact has no 'prepare' "
                           "entry point");
  ArtifactBuilder unused = base();
  unused.addEntryPoint(prepare({ArgumentSpec::fromWeight(0)},
                               {spec("wt", DType::F32, {3, 2})}));
  expectInvalid(unused, "entry point 'prepare' exists but no argument uses "
                        "a derived weight");
  ArtifactBuilder outOfRange = base();
  outOfRange.addEntryPoint(prepare({ArgumentSpec::fromWeight(0)},
                                   {spec("wt", DType::F32, {3, 2})}));
  outOfRange.addEntryPoint(user(1));
  expectInvalid(outOfRange, "entry point 'forward': argument 0: derived "
                            "weight index 1 out of range ('prepare' has 1 "
                            "results)");
  ArtifactBuilder inputArg = base();
  inputArg.addEntryPoint(
      prepare({ArgumentSpec::fromWeight(0),
               ArgumentSpec::fromInput(spec("x", DType::F32, {1}))},
              {spec("wt", DType::F32, {3, 2})}));
  inputArg.addEntryPoint(user(0));
  expectInvalid(inputArg, "entry point 'prepare': argument 1 is not a weight "
                          "(prepare takes weights only)");
  ArtifactBuilder selfDerived = base();
  selfDerived.addEntryPoint(
      prepare({ArgumentSpec::fromDerived(0)}, {spec("wt", DType::F32, {3, 2})}));
  expectInvalid(selfDerived, "argument 0 is not a weight");
  ArtifactBuilder dynamicResult = base();
  dynamicResult.addEntryPoint(prepare({ArgumentSpec::fromWeight(0)},
                                      {spec("wt", DType::F32, {3, -1})}));
  dynamicResult.addEntryPoint(user(0));
  expectInvalid(dynamicResult, "result 'wt' has dynamic dim 1 (derived "
                               "weights have static shapes)");
}

TEST(Artifact, GenerationErrors) {
  using Entries = std::vector<EntryPointSpec>;
  EXPECT_TRUE(generationBuilder().finish().succeeded())
      << generationBuilder().finish().message();
  auto expect = [](auto edit, const std::string &needle) {
    SCOPED_TRACE(needle);
    expectInvalid(generationBuilder(edit), needle);
  };
  auto input = [](EntryPointSpec &entry, const std::string &name)
      -> TensorSpec & {
    for (ArgumentSpec &arg : entry.arguments)
      if (arg.kind == ArgumentSpec::Kind::Input && arg.input.name == name)
        return arg.input;
    throw std::runtime_error("no input " + name);
  };
  auto drop = [](EntryPointSpec &entry, const std::string &name) {
    auto &args = entry.arguments;
    args.erase(std::remove_if(args.begin(), args.end(),
                              [&](const ArgumentSpec &arg) {
                                return arg.kind == ArgumentSpec::Kind::Input &&
                                       arg.input.name == name;
                              }),
               args.end());
  };
  expect([](GenerationSpec &g, Entries &) { g.vocabSize = 0; },
         "generation: vocab_size is 0; expected > 0");
  expect([](GenerationSpec &g, Entries &) { g.maxPositions = -1; },
         "generation: max_positions is -1");
  expect([](GenerationSpec &g, Entries &) { g.decode = "nowhere"; },
         "generation: decode entry point 'nowhere' does not exist");
  expect([](GenerationSpec &g, Entries &) { g.decode = "prefill"; },
         "prefill and decode are the same entry point 'prefill'");
  expect([](GenerationSpec &g, Entries &) { g.caches.clear(); },
         "generation: no caches");
  expect([](GenerationSpec &g, Entries &) { g.caches[1].argument = "k0"; },
         "duplicate cache 'k0'");
  expect([](GenerationSpec &g, Entries &) {
           g.caches[1].kind = CacheKind::Key;
         },
         "two key caches for layer 0");
  expect([](GenerationSpec &g, Entries &) { g.caches[1].kind = CacheKind(5); },
         "cache 'v0': unknown kind code 5");
  expect([](GenerationSpec &g, Entries &) { g.caches[0].argument = "tokens"; },
         "cache 'tokens' is also the tokens or positions input");
  auto withLast = [](EntryPointSpec &entry, DType dtype,
                     std::vector<int64_t> shape) {
    entry.arguments.push_back(
        ArgumentSpec::fromInput(spec("last", dtype, std::move(shape), {})));
  };
  expect([](GenerationSpec &g, Entries &) { g.lastPositions = "last"; },
         "prefill entry point 'prefill': has no input 'last' (the last "
         "prompt positions)");
  expect([&](GenerationSpec &g, Entries &e) {
           g.lastPositions = "last";
           withLast(e[0], DType::I32, {-1});
         },
         "input 'last' is i32");
  expect([&](GenerationSpec &g, Entries &e) {
           g.lastPositions = "last";
           withLast(e[0], DType::I64, {-1});
           e[0].results[0] = spec("logits", DType::F32, {-1, 5, 8}, {});
         },
         "result 'logits' has seq dim 5; with last positions, prefill "
         "returns 1");
  expect([&](GenerationSpec &g, Entries &e) {
           g.lastPositions = "last";
           withLast(e[0], DType::I64, {-1});
           e[0].results[0] = spec("logits", DType::F32, {-1, 1, 8}, {});
           withLast(e[1], DType::I64, {-1});
         },
         "decode entry point 'decode': has input 'last', which is neither");
  expect([](GenerationSpec &g, Entries &) { g.lastPositions = "tokens"; },
         "last positions input 'tokens' is also the tokens, the positions "
         "or a cache");
  expect([](GenerationSpec &g, Entries &) { g.tokens = "ids"; },
         "generation: prefill entry point 'prefill': has no input 'ids' (the "
         "token ids)");
  expect([&](GenerationSpec &, Entries &e) { drop(e[1], "positions"); },
         "generation: decode entry point 'decode': has no input 'positions'");
  expect([&](GenerationSpec &, Entries &e) { drop(e[1], "v0"); },
         "decode entry point 'decode': has no input 'v0' (the cache of layer "
         "0)");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "tokens").dtype = DType::I32;
         },
         "input 'tokens' is i32[batch,seq]; expected i64[batch,seq]");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[1], "tokens").shape = {-1, 2};
         },
         "input 'tokens' has seq dim 2; decode takes 1 token per row");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "tokens").shape = {-1, 5};
         },
         "prefill entry point 'prefill': input 'tokens' has a static seq dim "
         "5");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "positions").shape = {-1, 1};
           input(e[0], "positions").dimNames.clear();
         },
         "input 'positions' is i64[?,1]; expected i64[batch]");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "k0") = cacheSpec("k0", DType::I64);
         },
         "cache input 'k0' has dtype i64; expected a float dtype");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "k0") = spec("k0", DType::F32, {-1, 2, -1});
         },
         "cache input 'k0' has rank 3");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "k0") = cacheSpec("k0", DType::F32, {1, 2, -1, 4});
         },
         "batch (dim 0) and capacity (dim 2) must be dynamic");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "k0") = cacheSpec("k0", DType::F32, {-1, -1, -1, 4});
         },
         "heads (dim 1) and head_dim (dim 3) must be static and positive");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[0], "k0").dimNames[2] = "seq";
         },
         "cache input 'k0': capacity dim 2 is named 'seq' like a batch or "
         "sequence dim");
  expect([&](GenerationSpec &, Entries &e) {
           input(e[1], "k0") = cacheSpec("k0", DType::F32, {-1, 2, -1, 8});
         },
         "cache 'k0' is f32[?,2,?,4] in prefill but f32[?,2,?,8] in decode");
  expect([&](GenerationSpec &, Entries &e) {
           e[1].arguments.push_back(
               ArgumentSpec::fromInput(spec("mask", DType::Bool, {-1})));
         },
         "decode entry point 'decode': has input 'mask', which is neither "
         "the tokens, the positions nor a cache");
  expect([&](GenerationSpec &, Entries &e) { e[0].results.clear(); },
         "prefill entry point 'prefill': has no result 'logits'");
  expect([&](GenerationSpec &, Entries &e) {
           e[0].results[0] = spec("logits", DType::I64, {-1, -1, 8});
         },
         "result 'logits' is i64[?,?,8]; expected float[batch,seq,vocab]");
  expect([&](GenerationSpec &, Entries &e) {
           e[0].results[0] = spec("logits", DType::F32, {-1, -1, 9});
         },
         "result 'logits' has vocab dim 9 but vocab_size is 8");
  expect([&](GenerationSpec &g, Entries &) { g.prefill = "prepare"; },
         "prefill cannot be 'prepare'");
  // (1.3) next_tokens: i64 [batch, seq] in both entry points.
  expect([&](GenerationSpec &g, Entries &e) {
           g.nextTokens = "next_tokens";
           e[0].results.push_back(spec("next_tokens", DType::I64, {-1, -1}));
         },
         "decode entry point 'decode': has no result 'next_tokens' (the "
         "greedy next tokens)");
  expect([&](GenerationSpec &g, Entries &e) {
           g.nextTokens = "next_tokens";
           for (EntryPointSpec &entry : e)
             entry.results.push_back(
                 spec("next_tokens", DType::I32, {-1, -1}));
         },
         "result 'next_tokens' is i32[?,?]; expected i64[batch,seq]");
  {
    // A 1.2 artifact cannot name them.
    ArtifactBuilder old =
        generationBuilder([](GenerationSpec &g, Entries &e) {
          g.nextTokens = "next_tokens";
          for (EntryPointSpec &entry : e)
            entry.results.push_back(spec("next_tokens", DType::I64, {-1, -1}));
        });
    Artifact artifact = old.artifact();
    artifact.formatMinor = 2;
    Expected<std::vector<uint8_t>> bytes = serializeArtifact(artifact);
    ASSERT_TRUE(bytes.failed());
    EXPECT_NE(bytes.message().find("format 1.2 cannot name greedy next "
                                   "tokens (format 1.3 adds them)"),
              std::string::npos)
        << bytes.message();
  }
}

TEST(Artifact, BadIdentifierAndSize) {
  std::vector<uint8_t> bytes = sampleBytes();
  bytes[4] = 'X';
  Expected<Artifact> parsed = parse(bytes);
  ASSERT_TRUE(parsed.failed());
  EXPECT_EQ(parsed.message(),
            "not a ds artifact: file identifier is 'XSA1', expected 'DSA1'");
  EXPECT_TRUE(checkArtifactSize(7).failed());
  EXPECT_TRUE(checkArtifactSize(8).succeeded());
  EXPECT_TRUE(checkArtifactSize(kMaxArtifactBytes - 1).succeeded());
  EXPECT_TRUE(checkArtifactSize(kMaxArtifactBytes).succeeded());
  EXPECT_TRUE(checkArtifactSize(kMaxArtifactBytes + 1).failed());
}

TEST(Artifact, OversizedFileIsRejectedBeforeReading) {
  TempDir dir;
  std::string path = dir.file("huge.dsa");
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t(kMaxArtifactBytes + 1)), 0); // sparse
  ::close(fd);
  Expected<Artifact> artifact = readArtifactFile(path);
  ASSERT_TRUE(artifact.failed());
  EXPECT_NE(artifact.message().find("more than the maximum of 1073741824"),
            std::string::npos)
      << artifact.message();
}

TEST(Artifact, EveryTruncationFails) {
  std::vector<uint8_t> bytes = sampleBytes();
  for (size_t size = 0; size < bytes.size(); ++size) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    EXPECT_TRUE(parse(prefix).failed()) << "prefix of " << size << " bytes";
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  Expected<Artifact> parsed = parse(longer);
  ASSERT_TRUE(parsed.failed());
  EXPECT_NE(parsed.message().find("its header records"), std::string::npos);
  std::vector<uint8_t> shorter(bytes.begin(), bytes.end() - 8);
  parsed = parse(shorter);
  ASSERT_TRUE(parsed.failed());
  EXPECT_NE(parsed.message().find("truncated artifact"), std::string::npos)
      << parsed.message();
}

TEST(Artifact, EveryByteFlipFails) {
  std::vector<uint8_t> bytes = sampleBytes();
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> damaged = bytes;
      damaged[i] ^= mask;
      EXPECT_TRUE(parse(damaged).failed()) << "byte " << i << " ^ " << +mask;
    }
  }
}

TEST(Artifact, ResealedDamageNeverCrashes) {
  // Damage that also fixes up the size and checksum reaches the verifier
  // and the semantic checks; each case must end in a result, not a crash.
  std::vector<uint8_t> bytes = sampleBytes();
  size_t rejected = 0, total = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t mask : {0x01, 0x02, 0x10, 0x80, 0xff}) {
      std::vector<uint8_t> damaged = bytes;
      damaged[i] ^= mask;
      reseal(damaged, bytes);
      rejected += parse(damaged).failed();
      ++total;
    }
  }
  for (size_t size = 8; size < bytes.size(); ++size) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + size);
    reseal(prefix, bytes);
    rejected += parse(prefix).failed();
    ++total;
  }
  // Most damage is structural; some (e.g. in a name) is not detectable.
  EXPECT_GT(rejected, total / 4);
}

TEST(Artifact, ValidationErrors) {
  ArtifactBuilder unknownDType = withInput(spec("x", DType(99), {2}));
  expectInvalid(unknownDType, "input 'x': unknown dtype code 99");
  std::vector<int64_t> rank8(8, 1), rank9(9, 1);
  EXPECT_TRUE(withInput(spec("x", DType::F32, rank8)).finish().succeeded());
  expectInvalid(withInput(spec("x", DType::F32, rank9)),
                "entry point 'forward': input 'x': rank 9 exceeds the "
                "maximum of 8");
  expectInvalid(withInput(spec("x", DType::F32, {-2})),
                "dim 0 is -2; expected >= 0 or -1 (dynamic)");
  expectInvalid(withInput(spec("x", DType::F32, {-1, 2}, {"batch"})),
                "has 2 dims but 1 dim names");
  expectInvalid(withInput(spec("", DType::F32, {1})), "empty name");

  // Element cap: kMaxElements - 1, kMaxElements, kMaxElements + 1.
  EXPECT_TRUE(
      withInput(spec("x", DType::F32, {3, 366503875925})).finish().succeeded());
  EXPECT_TRUE(withInput(spec("x", DType::F32, {-1, 1024, 1073741824}))
                  .finish()
                  .succeeded());
  expectInvalid(withInput(spec("x", DType::F32, {257, 4278255361})),
                "has more than 1099511627776 elements");
  expectInvalid(withInput(spec("x", DType::F32, {INT64_MAX, 2})),
                "has more than");

  ArtifactBuilder weights;
  weights.addWeight({"w", DType::F32, {3}, "", 0, 8});
  expectInvalid(weights, "weight 0 'w': size 8 does not match f32[3] (12 "
                         "bytes)");
  ArtifactBuilder dynamicWeight;
  dynamicWeight.addWeight({"w", DType::F32, {-1}, "", 0, 0});
  expectInvalid(dynamicWeight, "dim 0 is negative");
  ArtifactBuilder overflow;
  overflow.addWeight({"w", DType::U8, {16}, "", UINT64_MAX - 8, 16});
  expectInvalid(overflow, "overflows");
  ArtifactBuilder absolute;
  absolute.addWeight({"w", DType::U8, {1}, "/etc/passwd", 0, 1});
  expectInvalid(absolute, "file '/etc/passwd' is absolute");
  ArtifactBuilder duplicateWeight;
  duplicateWeight.addWeight({"w", DType::U8, {1}, "", 0, 1});
  duplicateWeight.addWeight({"w", DType::U8, {1}, "", 1, 1});
  expectInvalid(duplicateWeight, "duplicate weight 'w'");

  ArtifactBuilder badIndex;
  badIndex.addEntryPoint({"forward", "f", {ArgumentSpec::fromWeight(3)}, {}});
  expectInvalid(badIndex, "argument 0: weight index 3 out of range");
  ArtifactBuilder duplicateEntry;
  duplicateEntry.addEntryPoint({"forward", "f", {}, {}});
  duplicateEntry.addEntryPoint({"forward", "g", {}, {}});
  expectInvalid(duplicateEntry, "duplicate entry point 'forward'");
  ArtifactBuilder noSymbol;
  noSymbol.addEntryPoint({"forward", "", {}, {}});
  expectInvalid(noSymbol, "entry point 'forward': empty symbol");
  ArtifactBuilder nulSymbol;
  nulSymbol.addEntryPoint({"forward", std::string("f\0g", 3), {}, {}});
  expectInvalid(nulSymbol, "symbol contains a NUL byte");
  ArtifactBuilder duplicateInput;
  duplicateInput.addEntryPoint(
      {"forward",
       "f",
       {ArgumentSpec::fromInput(spec("x", DType::F32, {1})),
        ArgumentSpec::fromInput(spec("x", DType::F32, {1}))},
       {}});
  expectInvalid(duplicateInput, "duplicate input 'x'");
  ArtifactBuilder duplicateResult;
  duplicateResult.addEntryPoint(
      {"forward",
       "f",
       {},
       {spec("y", DType::F32, {1}), spec("y", DType::F32, {1})}});
  expectInvalid(duplicateResult, "duplicate result 'y'");
  ArtifactBuilder badTarget;
  badTarget.setTarget(Target(7), "");
  expectInvalid(badTarget, "unknown target code 7");
}

namespace {
namespace fbs = flatbuffers;

/// Serializes a root table written by `build` with the raw FlatBuffers API
/// (bypassing validation), then seals it.
template <typename Fn> std::vector<uint8_t> rawArtifact(Fn build) {
  fbs::FlatBufferBuilder builder;
  fb::Version version(kFormatMajor, kFormatMinor);
  auto extra = build(builder);
  fb::ArtifactBuilder table(builder);
  table.add_format_version(&version);
  table.add_byte_size(~uint64_t(0));
  table.add_checksum(~uint64_t(0));
  extra(table);
  fb::FinishArtifactBuffer(builder, table.Finish());
  std::vector<uint8_t> bytes(builder.GetBufferPointer(),
                             builder.GetBufferPointer() + builder.GetSize());
  reseal(bytes, bytes);
  return bytes;
}
} // namespace

TEST(Artifact, ReaderRunsSemanticChecks) {
  auto expectParseError = [](const std::vector<uint8_t> &bytes,
                             const std::string &needle) {
    Expected<Artifact> parsed = parse(bytes);
    ASSERT_TRUE(parsed.failed()) << needle;
    EXPECT_NE(parsed.message().find(needle), std::string::npos)
        << parsed.message();
  };
  expectParseError(
      rawArtifact([](fbs::FlatBufferBuilder &builder) {
        auto name = builder.CreateString("w");
        auto shape = builder.CreateVector(std::vector<int64_t>{2});
        auto weight = fb::CreateWeight(builder, name, 99, shape, 0, 0, 8);
        auto weights =
            builder.CreateVector(std::vector<fbs::Offset<fb::Weight>>{weight});
        return [=](fb::ArtifactBuilder &table) { table.add_weights(weights); };
      }),
      "invalid artifact: weight 0 'w': unknown dtype code 99");
  expectParseError(rawArtifact([](fbs::FlatBufferBuilder &) {
                     return [](fb::ArtifactBuilder &table) {
                       table.add_target(fb::Target(9));
                     };
                   }),
                   "corrupt artifact: unknown target code 9");
  expectParseError(
      rawArtifact([](fbs::FlatBufferBuilder &builder) {
        auto ref = fb::CreateWeightRef(builder, 0);
        auto arg =
            fb::CreateArgument(builder, fb::ArgumentSource(5), ref.Union());
        auto args =
            builder.CreateVector(std::vector<fbs::Offset<fb::Argument>>{arg});
        auto name = builder.CreateString("forward");
        auto symbol = builder.CreateString("f");
        auto entry = fb::CreateEntryPoint(builder, name, symbol, args);
        auto entries = builder.CreateVector(
            std::vector<fbs::Offset<fb::EntryPoint>>{entry});
        return [=](fb::ArtifactBuilder &table) {
          table.add_entry_points(entries);
        };
      }),
      "argument 0 has unknown source type 5");
}

TEST(Artifact, TableCap) {
  // The verifier counts the root table plus one table per weight:
  // kMaxFlatBufferTables tables pass, one more fails.
  for (unsigned tables : {kMaxFlatBufferTables, kMaxFlatBufferTables + 1}) {
    Artifact artifact;
    artifact.weights.resize(tables - 1);
    for (size_t i = 0; i < artifact.weights.size(); ++i) {
      artifact.weights[i].name = std::to_string(i);
      artifact.weights[i].dtype = DType::U8;
      artifact.weights[i].size = 1;
    }
    Expected<std::vector<uint8_t>> bytes = serializeArtifact(artifact);
    ASSERT_TRUE(bytes.succeeded()) << bytes.message();
    Expected<Artifact> parsed = parse(*bytes);
    EXPECT_EQ(parsed.succeeded(), tables <= kMaxFlatBufferTables)
        << tables << ": " << parsed.message();
  }
}
