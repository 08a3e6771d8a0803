//===- decoder_kernels.cpp - A fake decoder for the generation tests ------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// C-style stand-ins for compiler output (the CPU calling convention of
// docs/Artifact.md) that exercise generation and derived weights:
//
//   ds_fake_prepare(w: f32[2,3], bias: f32[4])
//       -> (wt: f32[3,2] as a transposed view of a copy of w,
//           offset: f32[] = sum(bias))
//   ds_fake_forward(x: f32[3,2], wt: derived f32[3,2]) -> (y = x + wt)
//   ds_fake_prefill(k0, tokens, offset, positions, v0) -> (count, logits)
//   ds_fake_decode(tokens, positions, v0, k0, offset) -> (logits)
//   ds_fake_prefill_next, ds_fake_decode_next: the same, plus a result
//       next_tokens: i64[B,S] = (argmax of the logits + 1) % vocab, a
//       "compiled argmax" that disagrees with the logits, so a test can
//       tell which of the two generation read
//
// The "model": for row b, query i, the token t = tokens[b,i] sits at
// position p = positions[b] + i. It writes K[b,0,p,:] = {t, p} and
// V[b,0,p,:] = {2t + 1, 0} into the caches in place, then predicts
//   next = (t + p + sum_{j<p} (K[b,0,j,0] + V[b,0,j,0]) + offset) % vocab
// reading the earlier cache slots back (causal: never j > p). Its logits
// are -0.5 * ((v - next) mod vocab), so `next` is the argmax and the other
// tokens get decreasing probabilities.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdlib>

namespace {
struct Memref0 {
  void *allocated;
  void *aligned;
  int64_t offset;
};
struct Memref1 {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[1];
  int64_t strides[1];
};
struct Memref2 {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[2];
  int64_t strides[2];
};
struct Memref3 {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[3];
  int64_t strides[3];
};
struct Memref4 {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[4];
  int64_t strides[4];
};

const int64_t kVocab = 16;

float *cacheAt(const Memref4 &c, int64_t b, int64_t p, int64_t d) {
  return static_cast<float *>(c.aligned) + c.offset + b * c.strides[0] +
         p * c.strides[2] + d * c.strides[3];
}

/// Runs the model over tokens [B,S] and writes logits [B,S,kVocab].
void step(const Memref2 &tokens, const Memref1 &positions, const Memref4 &k,
          const Memref4 &v, float offset, Memref3 &logits) {
  int64_t batch = tokens.sizes[0], seq = tokens.sizes[1];
  float *out = static_cast<float *>(
      std::malloc(sizeof(float) * (batch * seq * kVocab + 1)));
  const int64_t *ids = static_cast<const int64_t *>(tokens.aligned);
  const int64_t *starts = static_cast<const int64_t *>(positions.aligned);
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < seq; ++i) {
      int64_t t = ids[tokens.offset + b * tokens.strides[0] +
                      i * tokens.strides[1]];
      int64_t p = starts[positions.offset + b * positions.strides[0]] + i;
      int64_t next = kVocab - 1; // out of capacity: an unlikely token
      if (p < k.sizes[2]) {
        *cacheAt(k, b, p, 0) = float(t);
        *cacheAt(k, b, p, 1) = float(p);
        *cacheAt(v, b, p, 0) = float(2 * t + 1);
        *cacheAt(v, b, p, 1) = 0;
        int64_t acc = 0;
        for (int64_t j = 0; j < p; ++j)
          acc += int64_t(*cacheAt(k, b, j, 0)) + int64_t(*cacheAt(v, b, j, 0));
        next = (t + p + acc + int64_t(offset)) % kVocab;
      }
      float *row = out + (b * seq + i) * kVocab;
      for (int64_t w = 0; w < kVocab; ++w)
        row[w] = -0.5f * float((w - next + kVocab) % kVocab);
    }
  }
  logits.allocated = logits.aligned = out;
  logits.offset = 0;
  logits.sizes[0] = batch;
  logits.sizes[1] = seq;
  logits.sizes[2] = kVocab;
  logits.strides[0] = seq * kVocab;
  logits.strides[1] = kVocab;
  logits.strides[2] = 1;
}

/// next_tokens [B,S] = (argmax of `logits` + 1) % kVocab.
void shiftedArgmax(const Memref3 &logits, Memref2 &next) {
  int64_t rows = logits.sizes[0] * logits.sizes[1];
  auto *out = static_cast<int64_t *>(std::malloc(sizeof(int64_t) * (rows + 1)));
  const float *values = static_cast<const float *>(logits.aligned);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t best = 0;
    for (int64_t w = 1; w < kVocab; ++w)
      if (values[r * kVocab + w] > values[r * kVocab + best])
        best = w;
    out[r] = (best + 1) % kVocab;
  }
  next.allocated = next.aligned = out;
  next.offset = 0;
  next.sizes[0] = logits.sizes[0];
  next.sizes[1] = logits.sizes[1];
  next.strides[0] = logits.sizes[1];
  next.strides[1] = 1;
}

float scalar(const Memref0 &m) {
  return static_cast<const float *>(m.aligned)[m.offset];
}
} // namespace

extern "C" {

void ds_fake_prepare(void **args) {
  auto *block = static_cast<int64_t *>(args[0]);
  auto &wt = *reinterpret_cast<Memref2 *>(block);
  auto &offset = *reinterpret_cast<Memref0 *>(block + 7);
  auto &w = *static_cast<Memref2 *>(args[1]);
  auto &bias = *static_cast<Memref1 *>(args[2]);
  // A row-major copy of w [2,3], returned transposed as [3,2] with strides
  // [1,3] (not dense: the runtime must make it dense).
  float *copy = static_cast<float *>(std::malloc(sizeof(float) * 6));
  const float *wData = static_cast<const float *>(w.aligned) + w.offset;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 3; ++c)
      copy[r * 3 + c] = wData[r * w.strides[0] + c * w.strides[1]];
  wt.allocated = wt.aligned = copy;
  wt.offset = 0;
  wt.sizes[0] = 3;
  wt.sizes[1] = 2;
  wt.strides[0] = 1;
  wt.strides[1] = 3;
  // The sum, at offset 1 of a 2-element block (dense: kept in place).
  float *sum = static_cast<float *>(std::malloc(sizeof(float) * 2));
  sum[0] = -1;
  sum[1] = 0;
  for (int64_t i = 0; i < bias.sizes[0]; ++i)
    sum[1] += static_cast<const float *>(
        bias.aligned)[bias.offset + i * bias.strides[0]];
  offset.allocated = offset.aligned = sum;
  offset.offset = 1;
}

/// (x: f32[3,2], wt: derived f32[3,2]) -> (y: f32[3,2] = x + wt).
void ds_fake_forward(void **args) {
  auto &y = *static_cast<Memref2 *>(args[0]);
  auto &x = *static_cast<Memref2 *>(args[1]);
  auto &wt = *static_cast<Memref2 *>(args[2]);
  float *out = static_cast<float *>(std::malloc(sizeof(float) * 6));
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t c = 0; c < 2; ++c)
      out[r * 2 + c] =
          static_cast<const float *>(
              x.aligned)[x.offset + r * x.strides[0] + c * x.strides[1]] +
          static_cast<const float *>(
              wt.aligned)[wt.offset + r * wt.strides[0] + c * wt.strides[1]];
  y.allocated = y.aligned = out;
  y.offset = 0;
  y.sizes[0] = 3;
  y.sizes[1] = 2;
  y.strides[0] = 2;
  y.strides[1] = 1;
}

/// (k0, tokens, offset, positions, v0) -> (count: i64[] = B*S, logits).
void ds_fake_prefill(void **args) {
  auto *block = static_cast<int64_t *>(args[0]);
  auto &count = *reinterpret_cast<Memref0 *>(block);
  auto &logits = *reinterpret_cast<Memref3 *>(block + 3);
  auto &k = *static_cast<Memref4 *>(args[1]);
  auto &tokens = *static_cast<Memref2 *>(args[2]);
  auto &offset = *static_cast<Memref0 *>(args[3]);
  auto &positions = *static_cast<Memref1 *>(args[4]);
  auto &v = *static_cast<Memref4 *>(args[5]);
  step(tokens, positions, k, v, scalar(offset), logits);
  int64_t *n = static_cast<int64_t *>(std::malloc(sizeof(int64_t)));
  *n = tokens.sizes[0] * tokens.sizes[1];
  count.allocated = count.aligned = n;
  count.offset = 0;
}

/// (tokens, positions, v0, k0, offset) -> (logits).
void ds_fake_decode(void **args) {
  auto &logits = *static_cast<Memref3 *>(args[0]);
  auto &tokens = *static_cast<Memref2 *>(args[1]);
  auto &positions = *static_cast<Memref1 *>(args[2]);
  auto &v = *static_cast<Memref4 *>(args[3]);
  auto &k = *static_cast<Memref4 *>(args[4]);
  auto &offset = *static_cast<Memref0 *>(args[5]);
  step(tokens, positions, k, v, scalar(offset), logits);
}

/// ds_fake_prefill, then next_tokens (block words 12..18).
void ds_fake_prefill_next(void **args) {
  ds_fake_prefill(args);
  auto *block = static_cast<int64_t *>(args[0]);
  shiftedArgmax(*reinterpret_cast<Memref3 *>(block + 3),
                *reinterpret_cast<Memref2 *>(block + 12));
}

/// ds_fake_decode, then next_tokens (block words 9..15).
void ds_fake_decode_next(void **args) {
  ds_fake_decode(args);
  auto *block = static_cast<int64_t *>(args[0]);
  shiftedArgmax(*reinterpret_cast<Memref3 *>(block),
                *reinterpret_cast<Memref2 *>(block + 9));
}

/// ds_fake_decode_next with a token id outside the vocabulary in row 0.
void ds_fake_decode_bad_next(void **args) {
  ds_fake_decode_next(args);
  auto *block = static_cast<int64_t *>(args[0]);
  static_cast<int64_t *>(reinterpret_cast<Memref2 *>(block + 9)->aligned)[0] =
      kVocab + 3;
}

/// ds_fake_decode_next whose next_tokens have no positions ([B, 0]).
void ds_fake_decode_empty_next(void **args) {
  ds_fake_decode_next(args);
  auto *block = static_cast<int64_t *>(args[0]);
  reinterpret_cast<Memref2 *>(block + 9)->sizes[1] = 0;
}

/// A decode that returns logits of the wrong vocabulary size.
void ds_fake_bad_decode(void **args) {
  ds_fake_decode(args);
  static_cast<Memref3 *>(args[0])->sizes[2] = kVocab - 1;
}

/// A prepare that returns its weight argument (not its to give away).
void ds_fake_alias_prepare(void **args) {
  auto &out = *static_cast<Memref1 *>(args[0]);
  out = *static_cast<Memref1 *>(args[1]);
}

} // extern "C"
