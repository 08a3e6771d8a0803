//===- sampler.cpp - Token sampling for generation ------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace ds::runtime::detail;

static uint64_t splitmix64(uint64_t &x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Rng::Rng(uint64_t seed) {
  for (uint64_t &word : state)
    word = splitmix64(seed);
}

uint64_t Rng::next() {
  uint64_t result = rotl(state[1] * 5, 7) * 9;
  uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return result;
}

int64_t ds::runtime::detail::argmax(const std::vector<double> &logits) {
  int64_t best = -1;
  for (size_t i = 0; i < logits.size(); ++i)
    if (!std::isnan(logits[i]) && (best < 0 || logits[i] > logits[best]))
      best = int64_t(i);
  return best < 0 ? 0 : best;
}

int64_t ds::runtime::detail::sampleToken(const std::vector<double> &logits,
                                         const SamplingParams &params,
                                         Rng &rng) {
  if (params.temperature == 0)
    return argmax(logits);
  double u = rng.uniform();
  // Candidates in a fixed order: logit descending, token id ascending.
  std::vector<int64_t> order;
  order.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i)
    if (!std::isnan(logits[i]))
      order.push_back(int64_t(i));
  if (order.empty())
    return 0;
  auto before = [&](int64_t a, int64_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  size_t keep = order.size();
  if (params.topK > 0 && size_t(params.topK) < keep)
    keep = size_t(params.topK);
  std::partial_sort(order.begin(), order.begin() + keep, order.end(), before);
  order.resize(keep);
  double top = logits[order[0]];
  if (std::isinf(top)) {
    // +inf logits share all the mass equally; all -inf: the first one.
    if (top < 0)
      return order[0];
    size_t n = 0;
    while (n < order.size() && logits[order[n]] == top)
      ++n;
    return order[std::min(n - 1, size_t(u * double(n)))];
  }
  // Softmax of logit / temperature over the candidates.
  std::vector<double> weights(order.size());
  for (size_t i = 0; i < order.size(); ++i)
    weights[i] = std::exp((logits[order[i]] - top) / params.temperature);
  double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  if (params.topP < 1) {
    // The smallest prefix whose probability reaches topP (at least one).
    double cumulative = 0;
    size_t n = 0;
    while (n < weights.size()) {
      cumulative += weights[n++];
      if (cumulative >= params.topP * total)
        break;
    }
    weights.resize(n);
    total = cumulative;
  }
  double target = u * total, cumulative = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    cumulative += weights[i];
    if (target < cumulative)
      return order[i];
  }
  return order[weights.size() - 1];
}

void ds::runtime::detail::skipToken(const SamplingParams &params, Rng &rng) {
  if (params.temperature != 0)
    (void)rng.uniform();
}
