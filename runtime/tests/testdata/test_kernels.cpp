//===- test_kernels.cpp - Entry points for the runtime tests --------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Hand-written stand-ins for compiler output, following the CPU calling
// convention of docs/Artifact.md: `void sym(void **args)`, args[0] -> the
// result block (descriptors end to end), args[1 + i] -> the descriptor of
// argument i; results are malloc'ed and released by the runtime.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace {
template <int Rank> struct Memref {
  void *allocated;
  void *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};
struct Memref0 {
  void *allocated;
  void *aligned;
  int64_t offset;
};

template <typename T> T *allocate(int64_t count) {
  return static_cast<T *>(std::malloc(sizeof(T) * (count > 0 ? count : 1)));
}

template <int Rank, typename T>
void setResult(Memref<Rank> &result, T *data, int64_t offset,
               const int64_t (&sizes)[Rank], const int64_t (&strides)[Rank]) {
  result.allocated = result.aligned = data;
  result.offset = offset;
  for (int i = 0; i < Rank; ++i) {
    result.sizes[i] = sizes[i];
    result.strides[i] = strides[i];
  }
}

template <typename T, int Rank> T at(const Memref<Rank> &m, int64_t i) {
  return static_cast<T *>(m.aligned)[m.offset + i * m.strides[0]];
}
} // namespace

extern "C" {

/// (a: f32[n], b: f32[n]) -> (sum: f32[n] dense, reversed: f32[n] as a view
/// with offset n-1 and stride -1 over a copy of a).
void ds_test_add(void **args) {
  auto *results = static_cast<Memref<1> *>(args[0]);
  auto &a = *static_cast<Memref<1> *>(args[1]);
  auto &b = *static_cast<Memref<1> *>(args[2]);
  int64_t n = a.sizes[0];
  float *sum = allocate<float>(n);
  float *copy = allocate<float>(n);
  for (int64_t i = 0; i < n; ++i) {
    sum[i] = at<float>(a, i) + at<float>(b, i);
    copy[i] = at<float>(a, i);
  }
  setResult<1>(results[0], sum, 0, {n}, {1});
  setResult<1>(results[1], copy, n - 1, {n}, {-1});
}

/// (x: f32[batch, seq], w: weight f32[seq]) -> (y: f32[batch, seq],
/// yt: f32[seq, batch] as a transposed view of a row-major copy of y).
void ds_test_scale(void **args) {
  auto *block = static_cast<int64_t *>(args[0]);
  auto &y = *reinterpret_cast<Memref<2> *>(block);
  auto &yt = *reinterpret_cast<Memref<2> *>(block + 7);
  auto &x = *static_cast<Memref<2> *>(args[1]);
  auto &w = *static_cast<Memref<1> *>(args[2]);
  int64_t batch = x.sizes[0], seq = x.sizes[1];
  float *out = allocate<float>(batch * seq);
  float *copy = allocate<float>(batch * seq);
  const float *xs = static_cast<float *>(x.aligned) + x.offset;
  for (int64_t i = 0; i < batch; ++i)
    for (int64_t j = 0; j < seq; ++j)
      out[i * seq + j] = copy[i * seq + j] =
          xs[i * x.strides[0] + j * x.strides[1]] * at<float>(w, j);
  setResult<2>(y, out, 0, {batch, seq}, {seq, 1});
  setResult<2>(yt, copy, 0, {seq, batch}, {1, seq});
}

/// (x: f32[n]) -> (first: f32[n], second: f32[n]) sharing one allocation.
void ds_test_dup(void **args) {
  auto *results = static_cast<Memref<1> *>(args[0]);
  auto &x = *static_cast<Memref<1> *>(args[1]);
  int64_t n = x.sizes[0];
  float *copy = allocate<float>(n);
  for (int64_t i = 0; i < n; ++i)
    copy[i] = at<float>(x, i);
  setResult<1>(results[0], copy, 0, {n}, {1});
  setResult<1>(results[1], copy, 0, {n}, {1});
}

/// (x: f32[n]) -> (y: f32[n]) returning the argument's own buffer, which
/// the contract forbids.
void ds_test_alias(void **args) {
  auto *results = static_cast<Memref<1> *>(args[0]);
  auto &x = *static_cast<Memref<1> *>(args[1]);
  results[0] = x;
}

/// () -> (y: f32[2]) pointing at a constant global, which the contract
/// forbids.
void ds_test_global(void **args) {
  static float constants[2] = {1, 2};
  auto *results = static_cast<Memref<1> *>(args[0]);
  setResult<1>(results[0], constants, 0, {2}, {1});
}

/// (x: f32[4]) -> (y: f32[4]) but returns 5 elements.
void ds_test_bad_shape(void **args) {
  auto *results = static_cast<Memref<1> *>(args[0]);
  float *out = allocate<float>(5);
  for (int i = 0; i < 5; ++i)
    out[i] = float(i);
  setResult<1>(results[0], out, 0, {5}, {1});
  (void)args[1];
}

/// () -> (iota: i64[3], flag: bool[] scalar, none: f32[0]).
void ds_test_consts(void **args) {
  auto *block = static_cast<int64_t *>(args[0]);
  auto &iota = *reinterpret_cast<Memref<1> *>(block);
  auto &flag = *reinterpret_cast<Memref0 *>(block + 5);
  auto &none = *reinterpret_cast<Memref<1> *>(block + 8);
  int64_t *values = allocate<int64_t>(3);
  for (int i = 0; i < 3; ++i)
    values[i] = i;
  setResult<1>(iota, values, 0, {3}, {1});
  uint8_t *truth = allocate<uint8_t>(1);
  *truth = 1;
  flag.allocated = flag.aligned = truth;
  flag.offset = 0;
  setResult<1>(none, allocate<float>(0), 0, {0}, {1});
}

/// (w: weight i32[3], v: weight i16[2]) -> (sum: i64[]) of all elements,
/// or -1 if a weight is not naturally aligned.
void ds_test_sum_weights(void **args) {
  auto &sum = *static_cast<Memref0 *>(args[0]);
  auto &w = *static_cast<Memref<1> *>(args[1]);
  auto &v = *static_cast<Memref<1> *>(args[2]);
  int64_t total = 0;
  bool aligned = reinterpret_cast<uintptr_t>(w.aligned) % 4 == 0 &&
                 reinterpret_cast<uintptr_t>(v.aligned) % 2 == 0;
  for (int64_t i = 0; i < w.sizes[0]; ++i)
    total += at<int32_t>(w, i);
  for (int64_t i = 0; i < v.sizes[0]; ++i)
    total += at<int16_t>(v, i);
  if (!aligned)
    total = -1;
  int64_t *out = allocate<int64_t>(1);
  *out = total;
  sum.allocated = sum.aligned = out;
  sum.offset = 0;
}

} // extern "C"
