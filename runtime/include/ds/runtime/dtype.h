//===- dtype.h - Element types and host tensors -----------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_DTYPE_H
#define DS_RUNTIME_DTYPE_H

#include "ds/runtime/status.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ds::runtime {

/// Element types, numbered as ONNX `TensorProto.DataType` so the importer
/// and the artifact share one table. The numbers are part of the artifact
/// format: never renumber.
enum class DType : int32_t {
  F32 = 1,
  U8 = 2,
  I8 = 3,
  U16 = 4,
  I16 = 5,
  I32 = 6,
  I64 = 7,
  Bool = 9,
  F16 = 10,
  F64 = 11,
  U32 = 12,
  U64 = 13,
  BF16 = 16,
};

/// Returns true if `code` is the number of a `DType` this runtime knows.
bool isKnownDType(int32_t code);

/// Returns the size in bytes of one element (bool: 1, f16/bf16: 2), or 0 for
/// an unknown dtype.
size_t elementSize(DType dtype);

/// Returns the short name used in messages and by ds-run: "f32", "bf16",
/// "bool", ...; "dtype(<code>)" for an unknown code.
std::string dtypeName(DType dtype);

/// Parses a short name produced by `dtypeName`.
std::optional<DType> parseDType(std::string_view name);

/// Returns the number of elements of a fully static `shape`, failing if the
/// rank exceeds kMaxRank, a dim is negative, or the count overflows or
/// exceeds kMaxElements.
Expected<int64_t> computeNumElements(const std::vector<int64_t> &shape);

/// Formats a shape as "[2,3]"; dynamic dims (-1) print as "?", or as their
/// name when `dimNames` holds a non-empty one.
std::string formatShape(const std::vector<int64_t> &shape,
                        const std::vector<std::string> &dimNames = {});

/// Converts the element at `data` (of type `dtype`) to double.
double elementToDouble(DType dtype, const void *data);

/// A non-owning view of a dense, row-major host tensor.
struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void *data = nullptr;
  size_t sizeBytes = 0;
};

/// A dense, row-major host tensor owning its bytes.
struct Tensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  TensorView view() const { return {dtype, shape, data.data(), data.size()}; }
};

/// Builds a tensor of `dtype` and `shape` holding the bytes of `values`;
/// `T` must have the dtype's element size. Intended for tests and tools.
template <typename T>
Tensor makeTensor(DType dtype, std::vector<int64_t> shape,
                  const std::vector<T> &values) {
  Tensor tensor;
  tensor.dtype = dtype;
  tensor.shape = std::move(shape);
  const auto *bytes = reinterpret_cast<const uint8_t *>(values.data());
  tensor.data.assign(bytes, bytes + values.size() * sizeof(T));
  return tensor;
}

} // namespace ds::runtime

#endif // DS_RUNTIME_DTYPE_H
