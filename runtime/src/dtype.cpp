//===- dtype.cpp - Element types and host tensors -------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/dtype.h"
#include "ds/runtime/caps.h"

#include <cmath>
#include <cstring>

using namespace ds::runtime;

namespace {
struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};
} // namespace

static constexpr DTypeInfo kDTypes[] = {
    {DType::F32, "f32", 4},   {DType::U8, "u8", 1},     {DType::I8, "i8", 1},
    {DType::U16, "u16", 2},   {DType::I16, "i16", 2},   {DType::I32, "i32", 4},
    {DType::I64, "i64", 8},   {DType::Bool, "bool", 1}, {DType::F16, "f16", 2},
    {DType::F64, "f64", 8},   {DType::U32, "u32", 4},   {DType::U64, "u64", 8},
    {DType::BF16, "bf16", 2},
};

static const DTypeInfo *lookup(DType dtype) {
  for (const DTypeInfo &info : kDTypes)
    if (info.dtype == dtype)
      return &info;
  return nullptr;
}

bool ds::runtime::isKnownDType(int32_t code) {
  return lookup(static_cast<DType>(code)) != nullptr;
}

size_t ds::runtime::elementSize(DType dtype) {
  const DTypeInfo *info = lookup(dtype);
  return info ? info->size : 0;
}

std::string ds::runtime::dtypeName(DType dtype) {
  if (const DTypeInfo *info = lookup(dtype))
    return info->name;
  return "dtype(" + std::to_string(static_cast<int32_t>(dtype)) + ")";
}

std::optional<DType> ds::runtime::parseDType(std::string_view name) {
  for (const DTypeInfo &info : kDTypes)
    if (name == info.name)
      return info.dtype;
  return std::nullopt;
}

Expected<int64_t>
ds::runtime::computeNumElements(const std::vector<int64_t> &shape) {
  if (shape.size() > kMaxRank)
    return makeError() << "rank " << shape.size() << " exceeds the maximum of "
                       << kMaxRank;
  int64_t count = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0)
      return makeError() << "dim " << i << " is negative (" << shape[i] << ")";
    if (__builtin_mul_overflow(count, shape[i], &count) || count > kMaxElements)
      return makeError() << "shape " << formatShape(shape) << " has more than "
                         << kMaxElements << " elements";
  }
  return count;
}

std::string ds::runtime::formatShape(const std::vector<int64_t> &shape,
                                     const std::vector<std::string> &dimNames) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      text += ",";
    if (shape[i] >= 0)
      text += std::to_string(shape[i]);
    else if (i < dimNames.size() && !dimNames[i].empty())
      text += dimNames[i];
    else
      text += "?";
  }
  return text + "]";
}

static double halfToDouble(uint16_t bits) {
  int sign = bits >> 15;
  int exponent = (bits >> 10) & 0x1f;
  int mantissa = bits & 0x3ff;
  double value;
  if (exponent == 0)
    value = std::ldexp(mantissa, -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(mantissa + 1024, exponent - 25);
  return sign ? -value : value;
}

template <typename T> static double load(const void *data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return static_cast<double>(value);
}

double ds::runtime::elementToDouble(DType dtype, const void *data) {
  switch (dtype) {
  case DType::F32:
    return load<float>(data);
  case DType::F64:
    return load<double>(data);
  case DType::U8:
    return load<uint8_t>(data);
  case DType::I8:
    return load<int8_t>(data);
  case DType::U16:
    return load<uint16_t>(data);
  case DType::I16:
    return load<int16_t>(data);
  case DType::U32:
    return load<uint32_t>(data);
  case DType::I32:
    return load<int32_t>(data);
  case DType::U64:
    return load<uint64_t>(data);
  case DType::I64:
    return load<int64_t>(data);
  case DType::Bool:
    return *static_cast<const uint8_t *>(data) ? 1.0 : 0.0;
  case DType::F16: {
    uint16_t bits;
    std::memcpy(&bits, data, 2);
    return halfToDouble(bits);
  }
  case DType::BF16: {
    uint16_t bits;
    std::memcpy(&bits, data, 2);
    uint32_t wide = uint32_t(bits) << 16;
    float value;
    std::memcpy(&value, &wide, 4);
    return value;
  }
  }
  return NAN;
}
