//===- sampler.h - Token sampling for generation ----------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Host-side sampling of the next token from one row of logits: greedy
// argmax, or temperature scaling, top-k and top-p (nucleus) filtering and a
// draw from a seeded PRNG. Everything is deterministic for a given seed: the
// PRNG is xoshiro256** seeded through splitmix64, and the draw walks the
// candidates in a fixed order (probability descending, token id ascending).
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_SRC_SAMPLER_H
#define DS_RUNTIME_SRC_SAMPLER_H

#include <cstdint>
#include <vector>

namespace ds::runtime::detail {

/// xoshiro256** (Blackman and Vigna), its state filled by splitmix64.
class Rng {
public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  /// A uniform double in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t state[4];
};

/// How to pick a token; see GenerationOptions.
struct SamplingParams {
  double temperature = 0;
  int64_t topK = 0;
  double topP = 1;
};

/// Returns the index of the largest logit, the lowest index on ties; NaNs
/// are skipped (0 if every logit is NaN).
int64_t argmax(const std::vector<double> &logits);

/// Picks a token from `logits`. With temperature 0 this is `argmax` and
/// draws nothing; otherwise it draws exactly one number from `rng`.
int64_t sampleToken(const std::vector<double> &logits,
                    const SamplingParams &params, Rng &rng);

/// Consumes from `rng` exactly what `sampleToken` with `params` would (one
/// draw unless the temperature is 0) without picking anything: what a
/// sequence that has stopped does, so that the others draw what they would
/// have drawn had it kept going.
void skipToken(const SamplingParams &params, Rng &rng);

} // namespace ds::runtime::detail

#endif // DS_RUNTIME_SRC_SAMPLER_H
