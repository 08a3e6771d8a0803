//===- session.h - Run a compiled artifact ----------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// A `Session` owns one loaded artifact: its decoded metadata, its weights
// (memory-mapped) and its code (a dlopen'ed shared object on the CPU target).
// See docs/Runtime.md.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SESSION_H
#define DS_RUNTIME_SESSION_H

#include "ds/runtime/artifact.h"
#include "ds/runtime/dtype.h"
#include "ds/runtime/status.h"

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ds::runtime {

/// Checks `inputs` against the graph inputs of `entry`: every input present
/// and no unknown one, dtype, rank, static dims, data size, and dynamic dims
/// sharing a symbolic name agree. On success `bindings` maps each symbol to
/// its value. Messages name the offending input.
Status checkInputs(const EntryPointSpec &entry,
                   const std::map<std::string, TensorView> &inputs,
                   std::map<std::string, int64_t> &bindings);

/// Options of `Session::generate` (docs/Runtime.md, "Generation").
struct GenerationOptions {
  /// Tokens to generate per sequence (>= 1): every sequence gets exactly
  /// this many unless it stops early on one of `eosTokenIds`.
  int64_t maxNewTokens = 16;
  /// KV cache capacity per sequence; 0 means longest prompt +
  /// maxNewTokens.
  int64_t maxSeqLen = 0;
  /// 0 means greedy (argmax, lowest token id on ties); otherwise logits are
  /// divided by it before top-k / top-p filtering and sampling.
  double temperature = 0;
  /// Keep only the k most likely tokens; 0 means off.
  int64_t topK = 0;
  /// Keep the smallest set of most likely tokens whose probability reaches
  /// topP, in (0, 1]; 1 means off.
  double topP = 1;
  /// Seeds the sampler's PRNG (xoshiro256**, seeded through splitmix64).
  uint64_t seed = 0;
  /// End-of-sequence token ids, each in [0, vocab_size); empty means none.
  /// A sequence stops right after emitting one of them (that token is the
  /// last of its output), and generation ends once every sequence of the
  /// batch has stopped. A stopped sequence does not perturb the others:
  /// each output is the one generated without these ids, cut after its
  /// first end-of-sequence token.
  std::vector<int64_t> eosTokenIds;
};

/// What `Session::generate` produced.
struct GenerationResult {
  /// Per sequence, the generated token ids only (not the prompt): at most
  /// maxNewTokens, ending with the first end-of-sequence token if it
  /// stopped early.
  std::vector<std::vector<int64_t>> tokens;
  /// Time to first token: the prefill call plus sampling, in ms.
  double prefillMs = 0;
  /// Per decode step (maxNewTokens - 1 of them, fewer when every sequence
  /// stopped early): the decode call plus sampling, in ms.
  std::vector<double> decodeMs;
  /// Per decode step: the cache position the step's tokens were written
  /// at (the largest over the batch).
  std::vector<int64_t> decodePositions;
};

/// A loaded artifact, ready to run. `run` may be called repeatedly; calls on
/// one session must not overlap.
class Session {
public:
  /// Loads the artifact at `artifactPath`, maps its weights and loads its
  /// code. A non-empty `weightsPath` replaces the artifact's default weights
  /// file (see docs/Runtime.md for the rule).
  static Expected<std::unique_ptr<Session>>
  create(const std::string &artifactPath, const std::string &weightsPath = {});

  /// Like `create`, for an artifact already in memory; relative weight files
  /// are resolved against `artifactFolder`.
  static Expected<std::unique_ptr<Session>>
  createFromArtifact(Artifact artifact, const std::string &artifactFolder,
                     const std::string &weightsPath = {});

  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  const Artifact &artifact() const;

  /// Runs entry point `entry` on `inputs` (by name) and returns its results
  /// in result order, as dense row-major tensors. `prepare` cannot be run:
  /// the session ran it at load. The KV cache inputs of the prefill and
  /// decode entry points are updated in place (their views' data is
  /// written, despite the const).
  Expected<std::vector<Tensor>>
  run(std::string_view entry, const std::map<std::string, TensorView> &inputs);

  /// Checks that `generate(prompts, options)` can run: the artifact has
  /// generation metadata, the prompts are non-empty with token ids in
  /// [0, vocab_size), the options are in range (end-of-sequence ids in
  /// [0, vocab_size) too) and the lengths fit max_seq_len and the model's
  /// max_positions. Does no work.
  Status checkGeneration(const std::vector<std::vector<int64_t>> &prompts,
                         const GenerationOptions &options) const;

  /// Generates up to `options.maxNewTokens` tokens after each prompt (fewer
  /// for a sequence that emits an end-of-sequence token): one batched
  /// prefill over the right-padded prompts, then one decode call per token
  /// until every sequence is done, over KV caches allocated for this call
  /// (docs/Runtime.md).
  Status generate(const std::vector<std::vector<int64_t>> &prompts,
                  const GenerationOptions &options, GenerationResult *result);

private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl;
};

} // namespace ds::runtime

#endif // DS_RUNTIME_SESSION_H
