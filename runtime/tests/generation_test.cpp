//===- generation_test.cpp - Tests of prepare and generation --------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Runs the fake decoder of testdata/decoder_kernels.cpp through
// Session::generate, the C API and ds-run.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/api.h"
#include "ds/runtime/session.h"

#include "code_loader.h"
#include "test_utils.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace ds::runtime;
using namespace ds::runtime::testing;

namespace {

constexpr int64_t kVocab = 16;
/// sum(bias) as the fake prepare computes it.
constexpr int64_t kOffset = 1 + 2 + 3 + 4;

/// The fake decoder's next token after `sequence`, computed without a cache.
int64_t referenceNext(const std::vector<int64_t> &sequence) {
  int64_t p = int64_t(sequence.size()) - 1, t = sequence.back(), acc = 0;
  for (int64_t j = 0; j < p; ++j)
    acc += sequence[j] + 2 * sequence[j] + 1;
  return (t + p + acc + kOffset) % kVocab;
}

/// `shift` > 0: the tokens of the fake compiled argmax (argmax + shift).
std::vector<int64_t> referenceGreedy(std::vector<int64_t> sequence,
                                     int64_t count, int64_t shift = 0) {
  std::vector<int64_t> generated;
  for (int64_t i = 0; i < count; ++i) {
    generated.push_back((referenceNext(sequence) + shift) % kVocab);
    sequence.push_back(generated.back());
  }
  return generated;
}

/// `tokens` cut after the first of `eos` (all of it when there is none).
std::vector<int64_t> cutAtEos(std::vector<int64_t> tokens,
                              const std::vector<int64_t> &eos) {
  for (size_t i = 0; i < tokens.size(); ++i)
    if (std::find(eos.begin(), eos.end(), tokens[i]) != eos.end()) {
      tokens.resize(i + 1);
      break;
    }
  return tokens;
}

TensorSpec cache(const std::string &name) {
  return spec(name, DType::F32, {-1, 1, -1, 2}, {"batch", "", "capacity", ""});
}

struct DecoderOptions {
  int64_t maxPositions = 0;
  bool generation = true;
  std::string stats;
  std::string decodeSymbol = "ds_fake_decode";
  /// Entry points with a next_tokens result named by the generation
  /// metadata (the _next kernels: argmax + 1).
  bool nextTokens = false;
};

/// Writes the fake decoder artifact (and its weights) into `dir`.
std::string writeDecoder(const TempDir &dir, const DecoderOptions &options = {}) {
  std::vector<uint8_t> file;
  uint64_t wOffset = appendValues(file, std::vector<float>{1, 2, 3, 4, 5, 6});
  uint64_t bOffset = appendValues(file, std::vector<float>{1, 2, 3, 4});
  writeFile(dir.file("model.weights"), file);
  ArtifactBuilder builder;
  builder.setTarget(Target::Cpu,
                    std::string(detail::hostArchitecture()) + "-linux-gnu");
  builder.setCode(testKernels());
  builder.setDefaultWeightsFile("model.weights");
  builder.setStats(options.stats);
  uint32_t w = builder.addWeight({"w", DType::F32, {2, 3}, "", wOffset, 24});
  uint32_t bias = builder.addWeight({"bias", DType::F32, {4}, "", bOffset, 16});
  builder.addEntryPoint(
      {"prepare",
       "ds_fake_prepare",
       {ArgumentSpec::fromWeight(w), ArgumentSpec::fromWeight(bias)},
       {spec("wt", DType::F32, {3, 2}), spec("offset", DType::F32, {})}});
  builder.addEntryPoint({"forward",
                         "ds_fake_forward",
                         {ArgumentSpec::fromInput(spec("x", DType::F32, {3, 2})),
                          ArgumentSpec::fromDerived(0)},
                         {spec("y", DType::F32, {3, 2})}});
  std::vector<TensorSpec> prefillResults = {
      spec("count", DType::I64, {}),
      spec("logits", DType::F32, {-1, -1, kVocab}, {"batch", "seq", ""})};
  std::vector<TensorSpec> decodeResults = {
      spec("logits", DType::F32, {-1, 1, -1}, {"batch", "", ""})};
  if (options.nextTokens)
    for (std::vector<TensorSpec> *results : {&prefillResults, &decodeResults})
      results->push_back(
          spec("next_tokens", DType::I64, {-1, -1}, {"batch", "seq"}));
  builder.addEntryPoint(
      {"prefill",
       options.nextTokens ? "ds_fake_prefill_next" : "ds_fake_prefill",
       {ArgumentSpec::fromInput(cache("k0")),
        ArgumentSpec::fromInput(
            spec("tokens", DType::I64, {-1, -1}, {"batch", "seq"})),
        ArgumentSpec::fromDerived(1),
        ArgumentSpec::fromInput(spec("positions", DType::I64, {-1}, {"batch"})),
        ArgumentSpec::fromInput(cache("v0"))},
       prefillResults});
  builder.addEntryPoint(
      {"decode",
       options.nextTokens && options.decodeSymbol == "ds_fake_decode"
           ? "ds_fake_decode_next"
           : options.decodeSymbol,
       {ArgumentSpec::fromInput(spec("tokens", DType::I64, {-1, 1}, {"batch", ""})),
        ArgumentSpec::fromInput(spec("positions", DType::I64, {-1}, {"batch"})),
        ArgumentSpec::fromInput(cache("v0")),
        ArgumentSpec::fromInput(cache("k0")),
        ArgumentSpec::fromDerived(1)},
       decodeResults});
  if (options.generation) {
    GenerationSpec generation;
    if (options.nextTokens)
      generation.nextTokens = "next_tokens";
    generation.vocabSize = kVocab;
    generation.maxPositions = options.maxPositions;
    generation.caches = {{"k0", 0, CacheKind::Key},
                         {"v0", 0, CacheKind::Value}};
    builder.setGeneration(generation);
  }
  std::string path = dir.file("decoder.dsa");
  Status status = builder.writeFile(path);
  EXPECT_TRUE(status.succeeded()) << status.message();
  return path;
}

std::unique_ptr<Session> openDecoder(const TempDir &dir,
                                     const DecoderOptions &options = {}) {
  Expected<std::unique_ptr<Session>> session =
      Session::create(writeDecoder(dir, options));
  EXPECT_TRUE(session.succeeded()) << session.message();
  return session.succeeded() ? std::move(*session) : nullptr;
}

GenerationOptions greedy(int64_t newTokens) {
  GenerationOptions options;
  options.maxNewTokens = newTokens;
  return options;
}

void expectError(const Status &status, const std::string &needle) {
  ASSERT_TRUE(status.failed()) << "expected an error containing: " << needle;
  EXPECT_NE(status.message().find(needle), std::string::npos)
      << "message: " << status.message();
}

} // namespace

TEST(Prepare, DerivedWeightsAndOwnership) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  Tensor x = makeTensor(DType::F32, {3, 2},
                        std::vector<float>{10, 20, 30, 40, 50, 60});
  for (int repeat = 0; repeat < 2; ++repeat) {
    Expected<std::vector<Tensor>> outputs =
        session->run("forward", {{"x", x.view()}});
    ASSERT_TRUE(outputs.succeeded()) << outputs.message();
    // w = [[1,2,3],[4,5,6]], so wt = [[1,4],[2,5],[3,6]].
    std::vector<float> y(6);
    std::memcpy(y.data(), (*outputs)[0].data.data(), 24);
    EXPECT_EQ(y, (std::vector<float>{11, 24, 32, 45, 53, 66}));
  }
  Expected<std::vector<Tensor>> prepare = session->run("prepare", {});
  ASSERT_TRUE(prepare.failed());
  EXPECT_NE(prepare.message().find("prepare runs at load"), std::string::npos)
      << prepare.message();
}

TEST(Prepare, ResultAliasingAWeightIsALoadError) {
  TempDir dir;
  std::vector<uint8_t> file;
  appendValues(file, std::vector<float>{1, 2});
  writeFile(dir.file("w.bin"), file);
  ArtifactBuilder builder;
  builder.setTarget(Target::Cpu, detail::hostArchitecture());
  builder.setCode(testKernels());
  uint32_t w = builder.addWeight({"w", DType::F32, {2}, "w.bin", 0, 8});
  builder.addEntryPoint({"prepare",
                         "ds_fake_alias_prepare",
                         {ArgumentSpec::fromWeight(w)},
                         {spec("same", DType::F32, {2})}});
  builder.addEntryPoint(
      {"forward", "ds_test_consts", {ArgumentSpec::fromDerived(0)}, {}});
  ASSERT_TRUE(builder.writeFile(dir.file("m.dsa")).succeeded());
  Expected<std::unique_ptr<Session>> session =
      Session::create(dir.file("m.dsa"));
  expectError(session.status(),
              "entry point 'prepare': result 'same' aliases a weight");
}

TEST(Generation, GreedyMatchesHandComputedTokens) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  // By hand: after [1, 2]: p=1, t=2, acc=1+3=4 -> (2+1+4+10)%16 = 1; then
  // p=2, t=1, acc=4+(2+5)=11 -> (1+2+11+10)%16 = 8; then p=3, t=8,
  // acc=11+(1+3)=15 -> (8+3+15+10)%16 = 4.
  GenerationResult result;
  ASSERT_TRUE(session->generate({{1, 2}}, greedy(3), &result).succeeded());
  ASSERT_EQ(result.tokens.size(), 1u);
  EXPECT_EQ(result.tokens[0], (std::vector<int64_t>{1, 8, 4}));
  EXPECT_EQ(referenceGreedy({1, 2}, 3), (std::vector<int64_t>{1, 8, 4}));
  EXPECT_EQ(result.decodeMs.size(), 2u);
  EXPECT_EQ(result.decodePositions, (std::vector<int64_t>{2, 3}));
  EXPECT_GE(result.prefillMs, 0);
}

// With the compiled argmax (format 1.3's next_tokens), greedy generation
// reads the token ids it computed and not the logits; sampling still reads
// the logits. The fake argmax is off by one, so the two are told apart.
TEST(Generation, GreedyReadsCompiledNextTokens) {
  TempDir dir;
  DecoderOptions options;
  options.nextTokens = true;
  std::unique_ptr<Session> session = openDecoder(dir, options);
  ASSERT_TRUE(session);
  ASSERT_EQ(session->artifact().generation->nextTokens, "next_tokens");
  GenerationResult result;
  ASSERT_TRUE(
      session->generate({{1, 2}, {3}}, greedy(4), &result).succeeded());
  ASSERT_EQ(result.tokens.size(), 2u);
  EXPECT_EQ(result.tokens[0], referenceGreedy({1, 2}, 4, /*shift=*/1));
  EXPECT_EQ(result.tokens[1], referenceGreedy({3}, 4, /*shift=*/1));
  EXPECT_NE(result.tokens[0], referenceGreedy({1, 2}, 4));

  // A temperature so low that sampling is the logits' argmax: the logits
  // path, unshifted.
  GenerationOptions sampled = greedy(4);
  sampled.temperature = 1e-6;
  ASSERT_TRUE(session->generate({{1, 2}}, sampled, &result).succeeded());
  EXPECT_EQ(result.tokens[0], referenceGreedy({1, 2}, 4));

  // A token id outside the vocabulary is a run error, not a crash.
  TempDir badDir;
  options.decodeSymbol = "ds_fake_decode_bad_next";
  std::unique_ptr<Session> bad = openDecoder(badDir, options);
  ASSERT_TRUE(bad);
  expectError(bad->generate({{1, 2}}, greedy(3), &result),
              "decode step 1: entry point 'decode': result 'next_tokens' "
              "holds token 19, outside [0, 16)");
  // So is a result of the wrong shape.
  TempDir emptyDir;
  options.decodeSymbol = "ds_fake_decode_empty_next";
  std::unique_ptr<Session> empty = openDecoder(emptyDir, options);
  ASSERT_TRUE(empty);
  expectError(empty->generate({{1, 2}}, greedy(3), &result),
              "decode step 1: entry point 'decode': result 'next_tokens' "
              "has shape [1,0], expected [1,1]");
}

TEST(Generation, RightPaddedBatchMatchesEachPromptAlone) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  std::vector<std::vector<int64_t>> prompts = {
      {3}, {5, 1, 4, 1, 5, 9}, {2, 7, 1}};
  const int64_t n = 12;
  GenerationResult batched;
  Status status = session->generate(prompts, greedy(n), &batched);
  ASSERT_TRUE(status.succeeded()) << status.message();
  ASSERT_EQ(batched.tokens.size(), 3u);
  for (size_t b = 0; b < prompts.size(); ++b) {
    SCOPED_TRACE(b);
    EXPECT_EQ(batched.tokens[b], referenceGreedy(prompts[b], n));
    GenerationResult alone;
    ASSERT_TRUE(session->generate({prompts[b]}, greedy(n), &alone).succeeded());
    EXPECT_EQ(alone.tokens[0], batched.tokens[b]);
  }
  // Decode step k writes at prompt length + k - 1; the longest row leads.
  ASSERT_EQ(batched.decodePositions.size(), size_t(n - 1));
  EXPECT_EQ(batched.decodePositions.front(), 6);
  EXPECT_EQ(batched.decodePositions.back(), 6 + n - 2);
  // A larger cache than needed changes nothing.
  GenerationOptions roomy = greedy(n);
  roomy.maxSeqLen = 100;
  GenerationResult again;
  ASSERT_TRUE(session->generate(prompts, roomy, &again).succeeded());
  EXPECT_EQ(again.tokens, batched.tokens);
  // One new token: prefill only.
  GenerationResult one;
  ASSERT_TRUE(session->generate(prompts, greedy(1), &one).succeeded());
  EXPECT_TRUE(one.decodeMs.empty());
  for (size_t b = 0; b < prompts.size(); ++b)
    EXPECT_EQ(one.tokens[b], referenceGreedy(prompts[b], 1));
}

TEST(Generation, SamplingIsSeededAndFiltersApply) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  std::vector<std::vector<int64_t>> prompts = {{1, 2}, {3, 4, 5}};
  GenerationOptions options = greedy(24);
  options.temperature = 1.5;
  options.seed = 42;
  GenerationResult a, b, c;
  ASSERT_TRUE(session->generate(prompts, options, &a).succeeded());
  ASSERT_TRUE(session->generate(prompts, options, &b).succeeded());
  EXPECT_EQ(a.tokens, b.tokens) << "same seed, same tokens";
  options.seed = 43;
  ASSERT_TRUE(session->generate(prompts, options, &c).succeeded());
  EXPECT_NE(a.tokens, c.tokens) << "another seed, other tokens";
  // Sampling at temperature 1.5 over this spread is not greedy.
  std::vector<std::vector<int64_t>> greedyTokens = {
      referenceGreedy(prompts[0], 24), referenceGreedy(prompts[1], 24)};
  EXPECT_NE(a.tokens, greedyTokens);
  // Whatever was sampled, each token is a valid id and the model's next
  // token after a sampled prefix is what decode saw (the cache holds the
  // sampled tokens): checked by re-running greedily from a sampled prefix.
  for (const auto &row : a.tokens)
    for (int64_t token : row)
      EXPECT_TRUE(token >= 0 && token < kVocab);
  std::vector<int64_t> prefix = prompts[0];
  prefix.insert(prefix.end(), a.tokens[0].begin(), a.tokens[0].end());
  GenerationResult continued;
  ASSERT_TRUE(session->generate({prefix}, greedy(2), &continued).succeeded());
  EXPECT_EQ(continued.tokens[0], referenceGreedy(prefix, 2));

  // top_k = 1 and a tiny top_p are greedy whatever the temperature and
  // seed.
  GenerationOptions topK = greedy(24);
  topK.temperature = 3;
  topK.topK = 1;
  topK.seed = 7;
  GenerationResult k1;
  ASSERT_TRUE(session->generate(prompts, topK, &k1).succeeded());
  EXPECT_EQ(k1.tokens, greedyTokens);
  GenerationOptions topP = greedy(24);
  topP.temperature = 3;
  topP.topP = 0.01;
  GenerationResult p;
  ASSERT_TRUE(session->generate(prompts, topP, &p).succeeded());
  EXPECT_EQ(p.tokens, greedyTokens);
  // top_k = 2: every token is the model's best or second best.
  GenerationOptions top2 = greedy(24);
  top2.temperature = 5;
  top2.topK = 2;
  top2.seed = 3;
  GenerationResult k2;
  ASSERT_TRUE(session->generate({{1, 2}}, top2, &k2).succeeded());
  std::vector<int64_t> sequence = {1, 2};
  bool sawSecond = false;
  for (int64_t token : k2.tokens[0]) {
    int64_t best = referenceNext(sequence);
    EXPECT_TRUE(token == best || token == (best + 1) % kVocab) << token;
    sawSecond |= token != best;
    sequence.push_back(token);
  }
  EXPECT_TRUE(sawSecond);
}

TEST(Generation, EosStopsEachSequenceAsIfAlone) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  std::vector<std::vector<int64_t>> prompts = {
      {3}, {5, 1, 4, 1, 5, 9}, {2, 7, 1}, {1, 2}};
  const int64_t n = 12;
  // Pick stop tokens from the sequences themselves: row 1's 4th token and
  // row 3's 2nd token, so that rows stop at different steps.
  std::vector<std::vector<int64_t>> full;
  for (const auto &prompt : prompts)
    full.push_back(referenceGreedy(prompt, n));
  std::vector<int64_t> eos = {full[1][3], full[3][1]};
  GenerationOptions options = greedy(n);
  options.eosTokenIds = eos;
  GenerationResult batched;
  Status status = session->generate(prompts, options, &batched);
  ASSERT_TRUE(status.succeeded()) << status.message();
  ASSERT_EQ(batched.tokens.size(), prompts.size());
  size_t stoppedEarly = 0;
  for (size_t b = 0; b < prompts.size(); ++b) {
    SCOPED_TRACE(b);
    std::vector<int64_t> want = cutAtEos(full[b], eos);
    EXPECT_EQ(batched.tokens[b], want);
    stoppedEarly += want.size() < size_t(n);
    // The stop token is the last one and appears nowhere before it.
    if (batched.tokens[b].size() < size_t(n)) {
      EXPECT_NE(std::find(eos.begin(), eos.end(), batched.tokens[b].back()),
                eos.end());
    }
    // Exactly what the prompt generates alone.
    GenerationResult alone;
    ASSERT_TRUE(session->generate({prompts[b]}, options, &alone).succeeded());
    EXPECT_EQ(alone.tokens[0], batched.tokens[b]);
  }
  EXPECT_GE(stoppedEarly, 2u);
  EXPECT_LE(batched.tokens[1].size(), 4u);
  EXPECT_LE(batched.tokens[3].size(), 2u);

  // No stop token among them: every row runs to max_new_tokens.
  GenerationOptions none = greedy(n);
  none.eosTokenIds = {};
  GenerationResult all;
  ASSERT_TRUE(session->generate(prompts, none, &all).succeeded());
  EXPECT_EQ(all.tokens, full);
  EXPECT_EQ(all.decodeMs.size(), size_t(n - 1));
}

TEST(Generation, EosEndsTheLoopWhenEveryRowStopped) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  // [1, 2] generates 1, 8, 4, ...; [3, 4] generates its own tokens.
  std::vector<int64_t> a = referenceGreedy({1, 2}, 10);
  std::vector<int64_t> b = referenceGreedy({3, 4}, 10);
  ASSERT_EQ(a[2], 4);
  // Stop on row 0's 3rd token and row 1's 2nd: the decode loop runs until
  // the later one (2 steps), not to max_new_tokens.
  GenerationOptions options = greedy(10);
  options.eosTokenIds = {a[2], b[1]};
  std::vector<int64_t> wantA = cutAtEos(a, options.eosTokenIds);
  std::vector<int64_t> wantB = cutAtEos(b, options.eosTokenIds);
  GenerationResult result;
  ASSERT_TRUE(
      session->generate({{1, 2}, {3, 4}}, options, &result).succeeded());
  EXPECT_EQ(result.tokens[0], wantA);
  EXPECT_EQ(result.tokens[1], wantB);
  size_t longest = std::max(wantA.size(), wantB.size());
  ASSERT_LT(longest, 10u);
  EXPECT_EQ(result.decodeMs.size(), longest - 1);
  EXPECT_EQ(result.decodePositions.size(), longest - 1);

  // The very first token stops it: prefill only, one token.
  options.eosTokenIds = {a[0]};
  ASSERT_TRUE(session->generate({{1, 2}}, options, &result).succeeded());
  EXPECT_EQ(result.tokens[0], (std::vector<int64_t>{a[0]}));
  EXPECT_TRUE(result.decodeMs.empty());
  // A stop token the sequence never emits changes nothing.
  std::vector<int64_t> unused;
  for (int64_t t = 0; t < kVocab && unused.empty(); ++t)
    if (std::find(a.begin(), a.end(), t) == a.end())
      unused.push_back(t);
  ASSERT_FALSE(unused.empty());
  options.eosTokenIds = unused;
  ASSERT_TRUE(session->generate({{1, 2}}, options, &result).succeeded());
  EXPECT_EQ(result.tokens[0], a);
}

TEST(Generation, EosWithSamplingOnlyCutsTheSampledSequences) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  std::vector<std::vector<int64_t>> prompts = {{1, 2}, {3, 4, 5}, {6}};
  GenerationOptions options = greedy(24);
  options.temperature = 1.5;
  options.seed = 42;
  GenerationResult uncut;
  ASSERT_TRUE(session->generate(prompts, options, &uncut).succeeded());
  // Stop on the token row 0 samples 3rd: rows that stop keep drawing what
  // they would have, so the others sample exactly the same tokens.
  options.eosTokenIds = {uncut.tokens[0][2]};
  GenerationResult cut;
  ASSERT_TRUE(session->generate(prompts, options, &cut).succeeded());
  for (size_t b = 0; b < prompts.size(); ++b) {
    SCOPED_TRACE(b);
    EXPECT_EQ(cut.tokens[b], cutAtEos(uncut.tokens[b], options.eosTokenIds));
  }
  EXPECT_LE(cut.tokens[0].size(), 3u);
}

TEST(Generation, ValidationErrors) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  GenerationResult result;
  auto expect = [&](const std::vector<std::vector<int64_t>> &prompts,
                    const GenerationOptions &options,
                    const std::string &needle) {
    SCOPED_TRACE(needle);
    expectError(session->checkGeneration(prompts, options), needle);
    expectError(session->generate(prompts, options, &result), needle);
  };
  expect({}, greedy(4), "no prompts");
  expect({{1}, {}}, greedy(4), "prompt 1 is empty");
  expect({{1, 16}}, greedy(4),
         "prompt 0: token 1 is 16, outside [0, 16) (the vocabulary)");
  expect({{-1}}, greedy(4), "prompt 0: token 0 is -1, outside [0, 16)");
  expect({{1}}, greedy(0), "max_new_tokens must be at least 1, got 0");
  expect({{1}}, greedy(-3), "max_new_tokens must be at least 1, got -3");
  GenerationOptions options = greedy(4);
  options.maxSeqLen = 5;
  expect({{1, 2}}, options,
         "the longest prompt (2 tokens) + max_new_tokens (4) = 6 exceeds "
         "max_seq_len 5");
  options.maxSeqLen = -1;
  expect({{1}}, options, "max_seq_len must be >= 0");
  options = greedy(4);
  options.temperature = -0.5;
  expect({{1}}, options, "temperature must be >= 0 (0: greedy), got -0.5");
  options.temperature = NAN;
  expect({{1}}, options, "temperature must be >= 0");
  options = greedy(4);
  options.topK = -1;
  expect({{1}}, options, "top_k must be >= 0 (0: off), got -1");
  options = greedy(4);
  options.eosTokenIds = {3, 16};
  expect({{1}}, options,
         "eos_token_ids[1] is 16, outside [0, 16) (the vocabulary)");
  options.eosTokenIds = {-1};
  expect({{1}}, options,
         "eos_token_ids[0] is -1, outside [0, 16) (the vocabulary)");
  options = greedy(4);
  options.topP = 0;
  expect({{1}}, options, "top_p must be in (0, 1] (1: off), got 0");
  options.topP = 1.5;
  expect({{1}}, options, "top_p must be in (0, 1]");
  expect({{1}}, greedy(INT64_MAX), "max_new_tokens 9223372036854775807 is too "
                                   "large");
  // The KV cache would exceed the element cap.
  options = greedy(4);
  options.maxSeqLen = int64_t(1) << 40;
  expect({{1}}, options, "KV cache 'k0' [1,1,1099511627776,2]");

  // The model's position table.
  TempDir limited;
  DecoderOptions small;
  small.maxPositions = 8;
  std::unique_ptr<Session> bounded = openDecoder(limited, small);
  ASSERT_TRUE(bounded);
  expectError(bounded->checkGeneration({{1, 2, 3}}, greedy(6)),
              "the longest prompt (3 tokens) + max_new_tokens (6) = 9 exceeds "
              "the model's max_positions 8");
  options = greedy(2);
  options.maxSeqLen = 9;
  expectError(bounded->checkGeneration({{1}}, options),
              "max_seq_len 9 exceeds the model's max_positions 8");
  EXPECT_TRUE(bounded->generate({{1, 2, 3}}, greedy(5), &result).succeeded());
  EXPECT_EQ(result.tokens[0], referenceGreedy({1, 2, 3}, 5));
}

TEST(Generation, WithoutGenerationMetadata) {
  TempDir dir;
  DecoderOptions options;
  options.generation = false;
  options.stats = R"({"kernels": 3, "kv_cache": "attention 3 is not causal"})";
  std::unique_ptr<Session> session = openDecoder(dir, options);
  ASSERT_TRUE(session);
  GenerationResult result;
  expectError(session->generate({{1}}, greedy(2), &result),
              "artifact has no prefill/decode entry points: attention 3 is "
              "not causal");
  TempDir bare;
  options.stats = "not json";
  session = openDecoder(bare, options);
  ASSERT_TRUE(session);
  expectError(session->generate({{1}}, greedy(2), &result),
              "artifact has no prefill/decode entry points (it was compiled "
              "without a KV cache)");
}

TEST(Generation, MalformedLogitsAreARunError) {
  TempDir dir;
  DecoderOptions options;
  options.decodeSymbol = "ds_fake_bad_decode";
  std::unique_ptr<Session> session = openDecoder(dir, options);
  ASSERT_TRUE(session);
  GenerationResult result;
  expectError(session->generate({{1}}, greedy(3), &result),
              "entry point 'decode': result 'logits' has shape [1,1,15], "
              "expected [1,1,16]");
}

TEST(Generation, DirectCallsUpdateUnalignedCachesInPlace) {
  TempDir dir;
  std::unique_ptr<Session> session = openDecoder(dir);
  ASSERT_TRUE(session);
  // A cache [1,1,4,2] at an odd address: the session copies it in and back.
  std::vector<uint8_t> storage(1 + 8 * sizeof(float), 0);
  TensorView k{DType::F32, {1, 1, 4, 2}, storage.data() + 1, 8 * sizeof(float)};
  std::vector<float> v(8, 0);
  TensorView vView{DType::F32, {1, 1, 4, 2}, v.data(), v.size() * 4};
  Tensor tokens = makeTensor(DType::I64, {1, 2}, std::vector<int64_t>{7, 9});
  Tensor positions = makeTensor(DType::I64, {1}, std::vector<int64_t>{0});
  Expected<std::vector<Tensor>> outputs = session->run(
      "prefill", {{"tokens", tokens.view()},
                  {"positions", positions.view()},
                  {"k0", k},
                  {"v0", vView}});
  ASSERT_TRUE(outputs.succeeded()) << outputs.message();
  std::vector<float> kValues(8);
  std::memcpy(kValues.data(), storage.data() + 1, 8 * sizeof(float));
  EXPECT_EQ(kValues, (std::vector<float>{7, 0, 9, 1, 0, 0, 0, 0}));
  EXPECT_EQ(v, (std::vector<float>{15, 0, 19, 0, 0, 0, 0, 0}));
}

TEST(Generation, CApi) {
  TempDir dir;
  std::string path = writeDecoder(dir);
  ds_session_t *session = nullptr;
  ASSERT_EQ(ds_session_create(path.c_str(), nullptr, &session), DS_OK)
      << ds_last_error();
  int64_t first[] = {1, 2}, second[] = {5, 1, 4, 1, 5, 9};
  const int64_t *prompts[] = {first, second};
  size_t lengths[] = {2, 6};
  ds_generation_options_t options;
  ds_generation_options_init(&options);
  EXPECT_EQ(options.max_new_tokens, 16);
  EXPECT_EQ(options.top_p, 1.0);
  options.max_new_tokens = 5;
  // Nothing generated yet.
  const int64_t *tokens = nullptr;
  size_t count = 0;
  EXPECT_EQ(ds_session_generated_tokens(session, 0, &tokens, &count),
            DS_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(ds_session_generate(session, prompts, lengths, 2, &options), DS_OK)
      << ds_last_error();
  for (size_t b = 0; b < 2; ++b) {
    ASSERT_EQ(ds_session_generated_tokens(session, b, &tokens, &count), DS_OK);
    std::vector<int64_t> prompt(prompts[b], prompts[b] + lengths[b]);
    EXPECT_EQ(std::vector<int64_t>(tokens, tokens + count),
              referenceGreedy(prompt, 5));
  }
  EXPECT_EQ(ds_session_generated_tokens(session, 2, &tokens, &count),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ds_last_error()).find("out of range"),
            std::string::npos);
  double prefillMs = -1;
  const double *decodeMs = nullptr;
  size_t steps = 0;
  ASSERT_EQ(ds_session_generation_timing(session, &prefillMs, &decodeMs, &steps),
            DS_OK);
  EXPECT_GE(prefillMs, 0);
  EXPECT_EQ(steps, 4u);
  ASSERT_NE(decodeMs, nullptr);
  // End-of-sequence ids: the defaults have none; each row stops after
  // its first one.
  EXPECT_EQ(options.eos_token_ids, nullptr);
  EXPECT_EQ(options.num_eos_token_ids, 0u);
  std::vector<int64_t> firstFull = referenceGreedy({1, 2}, 5);
  int64_t eos[] = {firstFull[1]};
  options.eos_token_ids = eos;
  options.num_eos_token_ids = 1;
  ASSERT_EQ(ds_session_generate(session, prompts, lengths, 2, &options), DS_OK)
      << ds_last_error();
  for (size_t b = 0; b < 2; ++b) {
    ASSERT_EQ(ds_session_generated_tokens(session, b, &tokens, &count), DS_OK);
    std::vector<int64_t> prompt(prompts[b], prompts[b] + lengths[b]);
    EXPECT_EQ(std::vector<int64_t>(tokens, tokens + count),
              cutAtEos(referenceGreedy(prompt, 5), {eos[0]}));
  }
  ASSERT_EQ(ds_session_generated_tokens(session, 0, &tokens, &count), DS_OK);
  EXPECT_LE(count, 2u);
  int64_t badEos[] = {16};
  options.eos_token_ids = badEos;
  EXPECT_EQ(ds_session_generate(session, prompts, lengths, 2, &options),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ds_last_error())
                .find("eos_token_ids[0] is 16, outside [0, 16)"),
            std::string::npos)
      << ds_last_error();
  options.eos_token_ids = nullptr;
  EXPECT_EQ(ds_session_generate(session, prompts, lengths, 2, &options),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ds_last_error()).find("eos_token_ids is null"),
            std::string::npos)
      << ds_last_error();
  options.num_eos_token_ids = 0;
  // NULL options: the defaults (16 new tokens).
  ASSERT_EQ(ds_session_generate(session, prompts, lengths, 1, nullptr), DS_OK);
  ASSERT_EQ(ds_session_generated_tokens(session, 0, &tokens, &count), DS_OK);
  EXPECT_EQ(count, 16u);
  // Bad prompts are invalid arguments, and forget the last result.
  int64_t bad[] = {1, 99};
  const int64_t *badPrompts[] = {bad};
  size_t badLengths[] = {2};
  EXPECT_EQ(ds_session_generate(session, badPrompts, badLengths, 1, &options),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ds_last_error()).find("token 1 is 99"),
            std::string::npos);
  EXPECT_EQ(ds_session_generated_tokens(session, 0, &tokens, &count),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ds_session_generate(session, nullptr, lengths, 1, &options),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(ds_session_generate(session, prompts, lengths, 0, &options),
            DS_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ds_last_error()).find("no prompts"),
            std::string::npos);
  EXPECT_EQ(ds_session_run(session, "prepare"), DS_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ds_last_error()).find("prepare runs at load"),
            std::string::npos);
  ds_session_destroy(session);
}

namespace {
std::string quote(const std::string &text) { return "'" + text + "'"; }

class DsRunGenerate : public ::testing::Test {
protected:
  void SetUp() override {
    if (dsRunPath().empty())
      GTEST_SKIP() << "this build has no ds-run target";
    artifact = writeDecoder(dir);
  }
  int run(const std::string &args) {
    return runCommand(quote(dsRunPath()) + " " + quote(artifact) + " " + args,
                      out, err, scratch);
  }
  void expectFailure(const std::string &args, const std::string &needle) {
    SCOPED_TRACE(args);
    EXPECT_EQ(run(args), 1);
    EXPECT_EQ(err.rfind("error: ", 0), 0u) << err;
    EXPECT_NE(err.find(needle), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_EQ(out, "");
  }
  static std::string line(const std::vector<int64_t> &tokens) {
    std::string text;
    for (size_t i = 0; i < tokens.size(); ++i)
      text += (i ? " " : "") + std::to_string(tokens[i]);
    return text + "\n";
  }

  TempDir dir, scratch;
  std::string artifact, out, err;
};
} // namespace

TEST_F(DsRunGenerate, PrintsGeneratedTokens) {
  ASSERT_EQ(run("--generate --prompt 1,2 --prompt 5,1,4,1,5,9 "
                "--max-new-tokens 6"),
            0)
      << err;
  EXPECT_EQ(out, line(referenceGreedy({1, 2}, 6)) +
                     line(referenceGreedy({5, 1, 4, 1, 5, 9}, 6)));
  EXPECT_NE(err.find("time to first token"), std::string::npos) << err;
  EXPECT_NE(err.find("tokens/s"), std::string::npos) << err;

  ASSERT_EQ(run("--generate --prompt=3,4 --batch 3 --max-new-tokens=4"), 0)
      << err;
  std::string expected = line(referenceGreedy({3, 4}, 4));
  EXPECT_EQ(out, expected + expected + expected);

  // Seeded sampling is reproducible.
  std::string args = "--generate --prompt 1,2 --max-new-tokens 20 "
                     "--temperature 2 --top-k 5 --top-p 0.9 --seed 11";
  ASSERT_EQ(run(args), 0) << err;
  std::string first = out;
  ASSERT_EQ(run(args), 0) << err;
  EXPECT_EQ(out, first);
}

TEST_F(DsRunGenerate, EosStopsSequences) {
  std::vector<int64_t> a = referenceGreedy({1, 2}, 8);
  std::vector<int64_t> b = referenceGreedy({5, 1, 4, 1, 5, 9}, 8);
  // Repeated and comma-separated --eos flags add up.
  std::vector<int64_t> eos = {a[2], b[4], b[5]};
  ASSERT_EQ(run("--generate --prompt 1,2 --prompt 5,1,4,1,5,9 "
                "--max-new-tokens 8 --eos " +
                std::to_string(eos[0]) + " --eos=" + std::to_string(eos[1]) +
                "," + std::to_string(eos[2])),
            0)
      << err;
  EXPECT_EQ(out, line(cutAtEos(a, eos)) + line(cutAtEos(b, eos)));
  EXPECT_LT(cutAtEos(a, eos).size(), 8u);
  EXPECT_NE(err.find("time to first token"), std::string::npos) << err;
}

TEST_F(DsRunGenerate, BenchJson) {
  std::string json = dir.file("bench.json");
  ASSERT_EQ(run("--generate --prompt 1,2,3 --max-new-tokens 5 --bench "
                "--bench-json " +
                quote(json)),
            0)
      << err;
  EXPECT_NE(err.find("bench: decode: 4 steps, median"), std::string::npos)
      << err;
  std::ifstream stream(json);
  std::stringstream text;
  text << stream.rdbuf();
  std::string content = text.str();
  EXPECT_EQ(content.rfind("{\"ttft_ms\": ", 0), 0u) << content;
  EXPECT_NE(content.find("\"positions\": [3, 4, 5, 6], \"batch\": 1}"),
            std::string::npos)
      << content;
  EXPECT_NE(content.find("\"decode_ms\": ["), std::string::npos) << content;
}

TEST_F(DsRunGenerate, FlagErrors) {
  expectFailure("--prompt 1,2", "--prompt needs --generate");
  expectFailure("--generate", "--generate needs at least one --prompt");
  expectFailure("--generate --prompt 1,-2",
                "--prompt expects comma-separated token ids >= 0, got '1,-2'");
  expectFailure("--generate --prompt 1,,2", "got '1,,2'");
  expectFailure("--generate --prompt abc", "got 'abc'");
  expectFailure("--generate --prompt ''", "got ''");
  expectFailure("--generate --prompt 99999999999999999999",
                "--prompt expects comma-separated token ids");
  expectFailure("--generate --prompt 1 --max-new-tokens 0",
                "--max-new-tokens must be >= 1, got 0");
  expectFailure("--generate --prompt 1 --max-new-tokens -4",
                "--max-new-tokens must be >= 1, got -4");
  expectFailure("--generate --prompt 1 --max-new-tokens x",
                "--max-new-tokens expects an integer, got 'x'");
  expectFailure("--generate --prompt 1 --top-p 1.5",
                "--top-p must be in (0, 1], got 1.5");
  expectFailure("--generate --prompt 1 --top-p 0", "--top-p must be in (0, 1]");
  expectFailure("--generate --prompt 1 --top-p nan",
                "--top-p expects a number, got 'nan'");
  expectFailure("--generate --prompt 1 --temperature -1",
                "--temperature must be >= 0");
  expectFailure("--generate --prompt 1 --temperature 1x",
                "--temperature expects a number, got '1x'");
  expectFailure("--generate --prompt 1 --top-k -1",
                "--top-k must be >= 0, got -1");
  expectFailure("--generate --prompt 1 --seed -1",
                "--seed expects an integer >= 0, got '-1'");
  expectFailure("--generate --prompt 1 --batch 0", "--batch must be >= 1, got 0");
  expectFailure("--generate --prompt 1 --prompt 2 --batch 2",
                "--batch repeats a single --prompt; got 2 prompts");
  expectFailure("--generate --prompt 1 --max-seq-len 0",
                "--max-seq-len must be >= 1, got 0");
  expectFailure("--generate --prompt 1,2 --max-new-tokens 4 --max-seq-len 5",
                "the longest prompt (2 tokens) + max_new_tokens (4) = 6 "
                "exceeds max_seq_len 5");
  expectFailure("--generate --prompt 1,16", "token 1 is 16, outside [0, 16)");
  expectFailure("--generate --prompt 1 --eos 3 --eos 16",
                "eos_token_ids[1] is 16, outside [0, 16) (the vocabulary)");
  expectFailure("--generate --prompt 1 --eos -1",
                "--eos expects comma-separated token ids >= 0, got '-1'");
  expectFailure("--generate --prompt 1 --eos 2,,3",
                "--eos expects comma-separated token ids >= 0, got '2,,3'");
  expectFailure("--generate --prompt 1 --eos", "--eos expects a value");
  expectFailure("--eos 2", "--eos needs --generate");
  expectFailure("--generate --prompt 1 --input x=y.npy",
                "--input cannot be combined with --generate");
  expectFailure("--generate --prompt 1 --bench-json x.json",
                "--bench-json needs --bench");
  expectFailure("--generate --prompt 1 --max-new-tokens",
                "--max-new-tokens expects a value");
  expectFailure("--entry prepare", "prepare runs at load");
}
