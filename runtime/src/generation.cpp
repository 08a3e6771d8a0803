//===- generation.cpp - Token generation over a KV cache ------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Session::checkGeneration and Session::generate (docs/Runtime.md): prefill,
// then one decode call per token over caches allocated once, sampling on
// the host or reading the compiled greedy tokens.
//
//===----------------------------------------------------------------------===//

#include "session_impl.h"

#include "sampler.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>

using namespace ds::runtime;
using namespace ds::runtime::detail;

//===----------------------------------------------------------------------===//
// Generation
//===----------------------------------------------------------------------===//

namespace {
/// The shapes one generation call passes, for checks before any work.
struct GenerationShapes {
  int64_t batch = 0;
  int64_t longest = 0;
  int64_t maxSeqLen = 0;
};

/// Returns the reason the compiler recorded under "kv_cache" in the stats
/// JSON, or "" when there is none.
std::string kvCacheReason(const std::string &stats) {
  if (stats.empty())
    return {};
  nlohmann::json json =
      nlohmann::json::parse(stats, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object())
    return {};
  auto it = json.find("kv_cache");
  if (it == json.end())
    return {};
  if (it->is_string())
    return it->get<std::string>() == "ok" ? std::string()
                                          : it->get<std::string>();
  return it->dump();
}

/// Views of the generation inputs of one call, over `tokens`, `positions`
/// and the caches.
std::map<std::string, TensorView>
generationViews(const GenerationSpec &generation, const Tensor &tokens,
                const Tensor &positions,
                const std::vector<TensorView> &caches) {
  std::map<std::string, TensorView> views;
  views[generation.tokens] = tokens.view();
  views[generation.positions] = positions.view();
  for (size_t i = 0; i < generation.caches.size(); ++i)
    views[generation.caches[i].argument] = caches[i];
  return views;
}

/// The shape of cache `spec` for `shapes`.
std::vector<int64_t> cacheShape(const TensorSpec &spec,
                                const GenerationShapes &shapes) {
  return {shapes.batch, spec.shape[1], shapes.maxSeqLen, spec.shape[3]};
}

const TensorSpec &inputSpec(const EntryPointSpec &entry,
                            const std::string &name) {
  for (const ArgumentSpec &arg : entry.arguments)
    if (arg.kind == ArgumentSpec::Kind::Input && arg.input.name == name)
      return arg.input;
  std::abort(); // validated on load
}

size_t resultIndex(const EntryPointSpec &entry, const std::string &name) {
  for (size_t i = 0; i < entry.results.size(); ++i)
    if (entry.results[i].name == name)
      return i;
  std::abort(); // validated on load
}

double milliseconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}
} // namespace

Status
Session::checkGeneration(const std::vector<std::vector<int64_t>> &prompts,
                         const GenerationOptions &options) const {
  const Artifact &artifact = impl->artifact;
  if (!artifact.generation) {
    std::string reason = kvCacheReason(artifact.stats);
    return makeError() << "artifact has no prefill/decode entry points"
                       << (reason.empty() ? std::string(
                                                " (it was compiled without "
                                                "a KV cache)")
                                          : ": " + reason);
  }
  const GenerationSpec &generation = *artifact.generation;
  if (prompts.empty())
    return makeError() << "no prompts";
  GenerationShapes shapes;
  shapes.batch = int64_t(prompts.size());
  for (size_t b = 0; b < prompts.size(); ++b) {
    if (prompts[b].empty())
      return makeError() << "prompt " << b << " is empty";
    for (size_t i = 0; i < prompts[b].size(); ++i)
      if (prompts[b][i] < 0 || prompts[b][i] >= generation.vocabSize)
        return makeError() << "prompt " << b << ": token " << i << " is "
                           << prompts[b][i] << ", outside [0, "
                           << generation.vocabSize << ") (the vocabulary)";
    shapes.longest = std::max(shapes.longest, int64_t(prompts[b].size()));
  }
  if (options.maxNewTokens < 1)
    return makeError() << "max_new_tokens must be at least 1, got "
                       << options.maxNewTokens;
  if (options.maxSeqLen < 0)
    return makeError() << "max_seq_len must be >= 0 (0: longest prompt + "
                          "max_new_tokens), got "
                       << options.maxSeqLen;
  if (!std::isfinite(options.temperature) || options.temperature < 0)
    return makeError() << "temperature must be >= 0 (0: greedy), got "
                       << options.temperature;
  if (options.topK < 0)
    return makeError() << "top_k must be >= 0 (0: off), got " << options.topK;
  if (!(options.topP > 0 && options.topP <= 1))
    return makeError() << "top_p must be in (0, 1] (1: off), got "
                       << options.topP;
  for (size_t i = 0; i < options.eosTokenIds.size(); ++i)
    if (options.eosTokenIds[i] < 0 ||
        options.eosTokenIds[i] >= generation.vocabSize)
      return makeError() << "eos_token_ids[" << i << "] is "
                         << options.eosTokenIds[i] << ", outside [0, "
                         << generation.vocabSize << ") (the vocabulary)";
  int64_t needed;
  if (__builtin_add_overflow(shapes.longest, options.maxNewTokens, &needed))
    return makeError() << "max_new_tokens " << options.maxNewTokens
                       << " is too large";
  shapes.maxSeqLen = options.maxSeqLen ? options.maxSeqLen : needed;
  if (needed > shapes.maxSeqLen)
    return makeError() << "the longest prompt (" << shapes.longest
                       << " tokens) + max_new_tokens ("
                       << options.maxNewTokens << ") = " << needed
                       << " exceeds max_seq_len " << shapes.maxSeqLen;
  if (generation.maxPositions > 0 && shapes.maxSeqLen > generation.maxPositions)
    return makeError() << (options.maxSeqLen
                               ? "max_seq_len " +
                                     std::to_string(shapes.maxSeqLen)
                               : "the longest prompt (" +
                                     std::to_string(shapes.longest) +
                                     " tokens) + max_new_tokens (" +
                                     std::to_string(options.maxNewTokens) +
                                     ") = " + std::to_string(needed))
                       << " exceeds the model's max_positions "
                       << generation.maxPositions;
  // The inputs every call will pass, checked against both entry points
  // without data (checkInputs reads none).
  static const uint64_t kNoData = 0;
  const EntryPointSpec *entries[2] = {
      artifact.findEntryPoint(generation.prefill),
      artifact.findEntryPoint(generation.decode)};
  for (int i = 0; i < 2; ++i) {
    int64_t seq = i == 0 ? shapes.longest : 1;
    std::map<std::string, TensorView> views;
    views[generation.tokens] = {DType::I64, {shapes.batch, seq}, &kNoData,
                                size_t(shapes.batch * seq) * 8};
    views[generation.positions] = {DType::I64, {shapes.batch}, &kNoData,
                                   size_t(shapes.batch) * 8};
    if (i == 0 && !generation.lastPositions.empty())
      views[generation.lastPositions] = {DType::I64, {shapes.batch}, &kNoData,
                                         size_t(shapes.batch) * 8};
    for (const CacheSpec &cache : generation.caches) {
      const TensorSpec &spec = inputSpec(*entries[i], cache.argument);
      std::vector<int64_t> shape = cacheShape(spec, shapes);
      Expected<int64_t> count = computeNumElements(shape);
      if (count.failed())
        return count.status().withPrefix("KV cache '" + cache.argument +
                                         "' " + formatShape(shape));
      views[cache.argument] = {spec.dtype, shape, &kNoData,
                               size_t(*count) * elementSize(spec.dtype)};
    }
    std::map<std::string, int64_t> bindings;
    if (Status status = checkInputs(*entries[i], views, bindings);
        status.failed())
      return status.withPrefix("entry point '" + entries[i]->name + "'");
  }
  return Status::success();
}

Status Session::generate(const std::vector<std::vector<int64_t>> &prompts,
                         const GenerationOptions &options,
                         GenerationResult *result) {
  if (!result)
    return makeError() << "generate: no result";
  if (Status status = checkGeneration(prompts, options); status.failed())
    return status;
  const GenerationSpec &generation = *impl->artifact.generation;
  const EntryPointSpec &prefill =
      *impl->artifact.findEntryPoint(generation.prefill);
  const EntryPointSpec &decode =
      *impl->artifact.findEntryPoint(generation.decode);
  size_t prefillLogits = resultIndex(prefill, generation.logits);
  size_t decodeLogits = resultIndex(decode, generation.logits);
  // Greedy with the compiled argmax: read the token ids, leave the logits
  // (on a GPU, where they are) unread.
  const bool compiledGreedy =
      options.temperature == 0 && !generation.nextTokens.empty();
  std::set<std::string> skip;
  size_t prefillNext = 0, decodeNext = 0;
  if (compiledGreedy) {
    skip.insert(generation.logits);
    prefillNext = resultIndex(prefill, generation.nextTokens);
    decodeNext = resultIndex(decode, generation.nextTokens);
  }
  GenerationShapes shapes;
  shapes.batch = int64_t(prompts.size());
  for (const std::vector<int64_t> &prompt : prompts)
    shapes.longest = std::max(shapes.longest, int64_t(prompt.size()));
  shapes.maxSeqLen = options.maxSeqLen ? options.maxSeqLen
                                       : shapes.longest + options.maxNewTokens;
  const int64_t batch = shapes.batch, vocab = generation.vocabSize;

  // The caches, zero-filled, allocated once for the whole generation.
  std::vector<std::unique_ptr<void, std::function<void(void *)>>> cacheBlocks;
  std::vector<TensorView> caches;
  for (const CacheSpec &cache : generation.caches) {
    const TensorSpec &spec = inputSpec(prefill, cache.argument);
    std::vector<int64_t> shape = cacheShape(spec, shapes);
    size_t bytes = size_t(*computeNumElements(shape)) * elementSize(spec.dtype);
    if (impl->cuda) {
      Expected<void *> device = impl->cuda->allocCache(bytes, cache.argument);
      if (device.failed())
        return device.status();
      cuda::CudaBackend *backend = impl->cuda.get();
      cacheBlocks.emplace_back(*device, [backend](void *p) {
        backend->freeCache(p);
      });
      caches.push_back({spec.dtype, shape, *device, bytes});
      continue;
    }
    void *block = std::calloc(std::max<size_t>(bytes, 1), 1);
    if (!block)
      return makeError() << "cannot allocate KV cache '" << cache.argument
                         << "' " << dtypeName(spec.dtype)
                         << formatShape(shape) << " (" << bytes << " bytes)";
    cacheBlocks.emplace_back(block, [](void *p) { std::free(p); });
    caches.push_back({spec.dtype, shape, block, bytes});
  }

  SamplingParams params{options.temperature, options.topK, options.topP};
  Rng rng(options.seed);
  std::vector<double> row(size_t(vocab), 0.0);
  // Rows that emitted an end-of-sequence token. They keep being fed (their
  // last token at the next position: batch rows are independent, so this
  // changes nothing for the others) but their samples are skipped, with the
  // draws they would have taken, so that every other row samples what it
  // would have without the end-of-sequence ids.
  std::vector<char> stopped(size_t(batch), 0);
  int64_t running = batch;
  auto emit = [&](int64_t b, int64_t token) {
    result->tokens[b].push_back(token);
    if (std::find(options.eosTokenIds.begin(), options.eosTokenIds.end(),
                  token) != options.eosTokenIds.end()) {
      stopped[b] = 1;
      --running;
    }
  };
  // Samples the next token of every running row from logits
  // [batch, seq, vocab] at `s`.
  auto sampleRows = [&](const Tensor &logits, int64_t s) {
    int64_t seq = logits.shape[1];
    size_t elemSize = elementSize(logits.dtype);
    for (int64_t b = 0; b < batch; ++b) {
      if (stopped[b]) {
        skipToken(params, rng);
        continue;
      }
      const uint8_t *base =
          logits.data.data() + size_t((b * seq + s) * vocab) * elemSize;
      if (logits.dtype == DType::F32) {
        const float *values = reinterpret_cast<const float *>(base);
        for (int64_t v = 0; v < vocab; ++v)
          row[v] = values[v];
      } else {
        for (int64_t v = 0; v < vocab; ++v)
          row[v] = elementToDouble(logits.dtype, base + v * elemSize);
      }
      emit(b, sampleToken(row, params, rng));
    }
  };
  // Row b's greedy token at position s of next_tokens, [batch, seq].
  auto nextToken = [&](const Tensor &next, int64_t seq, int64_t b,
                       int64_t s) -> Expected<int64_t> {
    std::vector<int64_t> expected = {batch, seq};
    if (next.shape != expected)
      return makeError() << "result '" << generation.nextTokens
                         << "' has shape " << formatShape(next.shape)
                         << ", expected " << formatShape(expected);
    int64_t token;
    std::memcpy(&token, next.data.data() + size_t(b * seq + s) * 8, 8);
    if (token < 0 || token >= vocab)
      return makeError() << "result '" << generation.nextTokens
                         << "' holds token " << token << ", outside [0, "
                         << vocab << ")";
    return token;
  };
  auto checkLogits = [&](const Tensor &logits, int64_t seq,
                         const std::string &entry) -> Status {
    std::vector<int64_t> expected = {batch, seq, vocab};
    if (logits.shape != expected)
      return makeError() << "entry point '" << entry << "': result '"
                         << generation.logits << "' has shape "
                         << formatShape(logits.shape) << ", expected "
                         << formatShape(expected);
    return Status::success();
  };

  result->tokens.assign(size_t(batch), {});
  result->decodeMs.clear();
  result->decodePositions.clear();
  result->prefillMs = 0;

  // Prefill: the prompts right-padded with token 0, all starting at 0. The
  // padding is harmless: attention is causal, so a row's real tokens never
  // see the padding after them, and decode overwrites the padded cache
  // slots before any query can see them.
  Tensor tokens;
  tokens.dtype = DType::I64;
  tokens.shape = {batch, shapes.longest};
  tokens.data.assign(size_t(batch * shapes.longest) * 8, 0);
  auto *tokenData = reinterpret_cast<int64_t *>(tokens.data.data());
  for (int64_t b = 0; b < batch; ++b)
    std::copy(prompts[b].begin(), prompts[b].end(),
              tokenData + b * shapes.longest);
  Tensor positions;
  positions.dtype = DType::I64;
  positions.shape = {batch};
  positions.data.assign(size_t(batch) * 8, 0);
  auto *positionData = reinterpret_cast<int64_t *>(positions.data.data());

  auto start = std::chrono::steady_clock::now();
  const bool onDevice = impl->cuda != nullptr;
  // With last positions (format 1.4) prefill returns each row's last
  // prompt position only: seq 1, row b at 0.
  const bool lastOnly = !generation.lastPositions.empty();
  std::map<std::string, TensorView> prefillViews =
      generationViews(generation, tokens, positions, caches);
  Tensor last;
  if (lastOnly) {
    last.dtype = DType::I64;
    last.shape = {batch};
    last.data.assign(size_t(batch) * 8, 0);
    auto *lastData = reinterpret_cast<int64_t *>(last.data.data());
    for (int64_t b = 0; b < batch; ++b)
      lastData[b] = int64_t(prompts[b].size()) - 1;
    prefillViews[generation.lastPositions] = last.view();
  }
  const int64_t prefillSeq = lastOnly ? 1 : shapes.longest;
  auto lastPosition = [&](int64_t b) {
    return lastOnly ? 0 : int64_t(prompts[b].size()) - 1;
  };
  Expected<std::vector<Tensor>> outputs =
      impl->call(prefill, prefillViews, onDevice, skip);
  if (outputs.failed())
    return outputs.status().withPrefix("prefill");
  const Tensor &prefillOut = (*outputs)[prefillLogits];
  if (Status status = checkLogits(prefillOut, prefillSeq, prefill.name);
      status.failed())
    return status;
  if (compiledGreedy) {
    for (int64_t b = 0; b < batch; ++b) {
      Expected<int64_t> token = nextToken((*outputs)[prefillNext], prefillSeq,
                                          b, lastPosition(b));
      if (token.failed())
        return token.status().withPrefix("entry point '" + prefill.name + "'");
      emit(b, *token);
    }
  } else {
    // Row b's first token comes from its last prompt position.
    int64_t seq = prefillOut.shape[1];
    size_t elemSize = elementSize(prefillOut.dtype);
    for (int64_t b = 0; b < batch; ++b) {
      int64_t s = lastPosition(b);
      const uint8_t *base =
          prefillOut.data.data() + size_t((b * seq + s) * vocab) * elemSize;
      for (int64_t v = 0; v < vocab; ++v)
        row[v] = elementToDouble(prefillOut.dtype, base + v * elemSize);
      emit(b, sampleToken(row, params, rng));
    }
  }
  result->prefillMs = milliseconds(start);

  // Decode: each row's last token at the position after its sequence so
  // far (the number of its tokens already in the cache), until every row
  // has maxNewTokens tokens or has stopped.
  tokens.shape = {batch, 1};
  tokens.data.assign(size_t(batch) * 8, 0);
  tokenData = reinterpret_cast<int64_t *>(tokens.data.data());
  for (int64_t step = 1; step < options.maxNewTokens && running > 0; ++step) {
    start = std::chrono::steady_clock::now();
    int64_t maxPosition = 0;
    for (int64_t b = 0; b < batch; ++b) {
      tokenData[b] = result->tokens[b].back();
      positionData[b] = int64_t(prompts[b].size()) + step - 1;
      maxPosition = std::max(maxPosition, positionData[b]);
    }
    outputs = impl->call(decode,
                         generationViews(generation, tokens, positions, caches),
                         onDevice, skip);
    if (outputs.failed())
      return outputs.status().withPrefix("decode step " +
                                         std::to_string(step));
    const Tensor &logits = (*outputs)[decodeLogits];
    if (Status status = checkLogits(logits, 1, decode.name); status.failed())
      return status;
    if (compiledGreedy) {
      for (int64_t b = 0; b < batch; ++b) {
        if (stopped[b])
          continue;
        Expected<int64_t> token = nextToken((*outputs)[decodeNext], 1, b, 0);
        if (token.failed())
          return token.status()
              .withPrefix("entry point '" + decode.name + "'")
              .withPrefix("decode step " + std::to_string(step));
        emit(b, *token);
      }
    } else {
      sampleRows(logits, 0);
    }
    result->decodeMs.push_back(milliseconds(start));
    result->decodePositions.push_back(maxPosition);
  }
  return Status::success();
}
