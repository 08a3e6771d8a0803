//===- Initializers.cpp - ONNX tensors, weights and external data ---------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Element types, TensorProto validation and decoding, and the metadata of
// weights. External data is located and bounds-checked (inside the model's
// folder, inside the file) but never read.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SwapByteOrder.h"

#include <climits>

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

static_assert(llvm::endianness::native == llvm::endianness::little,
              "the importer reads raw_data in place: little-endian hosts only");

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

std::string importer::dtypeName(DType dtype) {
  if (onnx::TensorProto_DataType_IsValid(dtype))
    return onnx::TensorProto_DataType_Name(
        static_cast<onnx::TensorProto_DataType>(dtype));
  return "<" + std::to_string(dtype) + ">";
}

Type importer::elementTypeFor(MLIRContext *ctx, DType dtype) {
  Builder b(ctx);
  switch (dtype) {
  case onnx::TensorProto_DataType_FLOAT:
    return b.getF32Type();
  case onnx::TensorProto_DataType_FLOAT16:
    return b.getF16Type();
  case onnx::TensorProto_DataType_BFLOAT16:
    return b.getBF16Type();
  case onnx::TensorProto_DataType_DOUBLE:
    return b.getF64Type();
  case onnx::TensorProto_DataType_INT64:
    return b.getI64Type();
  case onnx::TensorProto_DataType_INT32:
    return b.getI32Type();
  case onnx::TensorProto_DataType_INT8:
  case onnx::TensorProto_DataType_UINT8:
    return b.getI8Type();
  case onnx::TensorProto_DataType_BOOL:
    return b.getI1Type();
  default:
    return {};
  }
}

int64_t importer::dtypeByteSize(DType dtype) {
  switch (dtype) {
  case onnx::TensorProto_DataType_FLOAT:
  case onnx::TensorProto_DataType_INT32:
    return 4;
  case onnx::TensorProto_DataType_FLOAT16:
  case onnx::TensorProto_DataType_BFLOAT16:
    return 2;
  case onnx::TensorProto_DataType_DOUBLE:
  case onnx::TensorProto_DataType_INT64:
    return 8;
  case onnx::TensorProto_DataType_INT8:
  case onnx::TensorProto_DataType_UINT8:
  case onnx::TensorProto_DataType_BOOL:
    return 1;
  default:
    return 0;
  }
}

bool importer::isFloatDType(DType dtype) {
  return dtype == onnx::TensorProto_DataType_FLOAT ||
         dtype == onnx::TensorProto_DataType_FLOAT16 ||
         dtype == onnx::TensorProto_DataType_BFLOAT16 ||
         dtype == onnx::TensorProto_DataType_DOUBLE;
}

bool importer::isUnsignedDType(DType dtype) {
  return dtype == onnx::TensorProto_DataType_UINT8 ||
         dtype == onnx::TensorProto_DataType_BOOL;
}

bool importer::isBoolDType(DType dtype) {
  return dtype == onnx::TensorProto_DataType_BOOL;
}

bool importer::isIntegralDType(DType dtype) {
  return dtype == onnx::TensorProto_DataType_INT64 ||
         dtype == onnx::TensorProto_DataType_INT32 ||
         dtype == onnx::TensorProto_DataType_INT8 ||
         dtype == onnx::TensorProto_DataType_UINT8 ||
         dtype == onnx::TensorProto_DataType_BOOL;
}

std::optional<int64_t> importer::checkedProduct(ArrayRef<int64_t> sizes,
                                                int64_t cap) {
  int64_t n = 1;
  for (int64_t s : sizes) {
    if (s < 0 || __builtin_mul_overflow(n, s, &n) || n > cap)
      return std::nullopt;
  }
  return n;
}

//===----------------------------------------------------------------------===//
// TensorProto
//===----------------------------------------------------------------------===//

FailureOr<SmallVector<int64_t>>
importer::checkTensorHeader(GraphImporter &g, const onnx::TensorProto &tensor,
                            StringRef what) {
  if (!elementTypeFor(&g.ctx, tensor.data_type()))
    return g.error() << what << ": unsupported element type "
                     << dtypeName(tensor.data_type());
  if (tensor.dims_size() > kMaxRank)
    return g.error() << what << ": rank " << tensor.dims_size()
                     << " exceeds the maximum of " << kMaxRank;
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  for (auto [i, d] : llvm::enumerate(shape))
    if (d < 0)
      return g.error() << what << ": dimension " << i << " is negative (" << d
                       << ")";
  if (!checkedProduct(shape, g.options.maxTensorElements))
    return g.error() << what << ": more than " << g.options.maxTensorElements
                     << " elements";
  if (tensor.has_segment())
    return g.error() << what << ": segmented tensors are not supported";
  return shape;
}

static std::string dimsStr(const onnx::TensorProto &tensor) {
  std::string s = "[";
  for (int i = 0; i < tensor.dims_size(); ++i)
    s += (i ? ", " : "") + std::to_string(tensor.dims(i));
  return s + "]";
}

/// Appends the `bytes` low bytes of `v`, little-endian.
static void appendLE(std::string &out, uint64_t v, int64_t bytes) {
  for (int64_t i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

/// The raw little-endian bytes of an embedded tensor (`numel * size`), taken
/// from raw_data (moved out of `steal` when given: the same tensor) or
/// converted from typed fields.
static FailureOr<std::string> embeddedBytes(GraphImporter &g,
                                            const onnx::TensorProto &tensor,
                                            int64_t numel, StringRef what,
                                            onnx::TensorProto *steal) {
  DType dtype = tensor.data_type();
  int64_t size = dtypeByteSize(dtype);
  int64_t expected = numel * size; // numel <= maxTensorElements: no overflow
  bool hasTyped = tensor.float_data_size() || tensor.int32_data_size() ||
                  tensor.int64_data_size() || tensor.double_data_size() ||
                  tensor.uint64_data_size();
  if (tensor.has_raw_data()) {
    if (hasTyped)
      return g.error() << what << ": has both raw_data and typed data";
    if (static_cast<int64_t>(tensor.raw_data().size()) != expected)
      return g.error() << what << ": raw_data has " << tensor.raw_data().size()
                       << " bytes, expected " << expected << " (dims "
                       << dimsStr(tensor) << " x " << size << ")";
    if (steal)
      return std::move(*steal->mutable_raw_data());
    return tensor.raw_data();
  }
  std::string out;
  auto checkCount = [&](int64_t count, StringRef field) -> LogicalResult {
    if (count == numel)
      return success();
    return g.error() << what << ": " << field << " has " << count
                     << " values, expected " << numel << " (dims "
                     << dimsStr(tensor) << ")";
  };
  if (numel == 0 && !hasTyped)
    return out;
  if (!hasTyped)
    return g.error() << what << ": has no data";
  // The typed field's length equals numel (checked below, before any
  // element is appended), so this reserves what the protobuf already holds.
  int64_t fieldCount = 0;
  switch (dtype) {
  case onnx::TensorProto_DataType_FLOAT:
    fieldCount = tensor.float_data_size();
    break;
  case onnx::TensorProto_DataType_DOUBLE:
    fieldCount = tensor.double_data_size();
    break;
  case onnx::TensorProto_DataType_INT64:
    fieldCount = tensor.int64_data_size();
    break;
  default:
    fieldCount = tensor.int32_data_size();
    break;
  }
  if (fieldCount == numel)
    out.reserve(expected);
  switch (dtype) {
  case onnx::TensorProto_DataType_FLOAT:
    if (failed(checkCount(tensor.float_data_size(), "float_data")))
      return failure();
    for (float f : tensor.float_data())
      appendLE(out, llvm::bit_cast<uint32_t>(f), 4);
    break;
  case onnx::TensorProto_DataType_DOUBLE:
    if (failed(checkCount(tensor.double_data_size(), "double_data")))
      return failure();
    for (double d : tensor.double_data())
      appendLE(out, llvm::bit_cast<uint64_t>(d), 8);
    break;
  case onnx::TensorProto_DataType_INT64:
    if (failed(checkCount(tensor.int64_data_size(), "int64_data")))
      return failure();
    for (int64_t v : tensor.int64_data())
      appendLE(out, static_cast<uint64_t>(v), 8);
    break;
  case onnx::TensorProto_DataType_BOOL:
    if (failed(checkCount(tensor.int32_data_size(), "int32_data")))
      return failure();
    for (int32_t v : tensor.int32_data())
      out.push_back(v != 0 ? 1 : 0);
    break;
  default:
    // INT32, INT8, UINT8, FLOAT16 and BFLOAT16 (bit patterns) in int32_data.
    if (failed(checkCount(tensor.int32_data_size(), "int32_data")))
      return failure();
    for (int32_t v : tensor.int32_data())
      appendLE(out, static_cast<uint32_t>(v), size);
    break;
  }
  return out;
}

FailureOr<DenseElementsAttr>
importer::decodeTensor(GraphImporter &g, const onnx::TensorProto &tensor,
                       StringRef what) {
  FailureOr<SmallVector<int64_t>> shape = checkTensorHeader(g, tensor, what);
  if (failed(shape))
    return failure();
  if (tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
    return g.error() << what << ": external data cannot be inlined";
  int64_t numel = *checkedProduct(*shape, INT64_MAX);
  FailureOr<std::string> bytes =
      embeddedBytes(g, tensor, numel, what, /*steal=*/nullptr);
  if (failed(bytes))
    return failure();
  auto type =
      RankedTensorType::get(*shape, elementTypeFor(&g.ctx, tensor.data_type()));
  if (isBoolDType(tensor.data_type())) {
    SmallVector<bool> values;
    for (char c : *bytes)
      values.push_back(c != 0);
    return DenseElementsAttr::get(type, values);
  }
  if (numel == 0)
    return DenseElementsAttr::getFromRawBuffer(type, {});
  return DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(bytes->data(), bytes->size()));
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

/// Parses a non-negative decimal integer.
static std::optional<uint64_t> parseSize(StringRef s) {
  uint64_t v;
  if (s.empty() || s.getAsInteger(10, v))
    return std::nullopt;
  return v;
}

FailureOr<WeightInfo> importer::makeWeightInfo(GraphImporter &g,
                                               onnx::TensorProto &tensor,
                                               StringRef modelDir,
                                               StringRef what) {
  FailureOr<SmallVector<int64_t>> shape = checkTensorHeader(g, tensor, what);
  if (failed(shape))
    return failure();
  WeightInfo info;
  info.dtype = tensor.data_type();
  info.shape = *shape;
  int64_t numel = *checkedProduct(*shape, INT64_MAX);
  uint64_t bytes = static_cast<uint64_t>(numel) * dtypeByteSize(info.dtype);
  if (tensor.data_location() != onnx::TensorProto_DataLocation_EXTERNAL) {
    if (tensor.external_data_size())
      return g.error() << what
                       << ": has external_data but data_location is not "
                          "EXTERNAL";
    FailureOr<std::string> data =
        embeddedBytes(g, tensor, numel, what, /*steal=*/&tensor);
    if (failed(data))
      return failure();
    info.data = std::move(*data);
    info.size = info.data.size();
    return info;
  }

  if (tensor.has_raw_data() || tensor.float_data_size() ||
      tensor.int32_data_size() || tensor.int64_data_size() ||
      tensor.double_data_size() || tensor.uint64_data_size())
    return g.error() << what << ": has both external and embedded data";
  std::optional<std::string> location;
  std::optional<uint64_t> offset, length;
  for (const onnx::StringStringEntryProto &kv : tensor.external_data()) {
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset" || kv.key() == "length") {
      std::optional<uint64_t> v = parseSize(kv.value());
      if (!v || *v > static_cast<uint64_t>(INT64_MAX))
        return g.error() << what << ": external data " << kv.key() << " '"
                         << kv.value() << "' is not a non-negative integer";
      (kv.key() == "offset" ? offset : length) = *v;
    }
  }
  if (!location || location->empty())
    return g.error() << what << ": external data has no location";
  StringRef loc = *location;
  if (llvm::sys::path::is_absolute(loc) ||
      llvm::sys::path::is_absolute(loc, llvm::sys::path::Style::windows) ||
      loc.starts_with("/") || loc.starts_with("\\"))
    return g.error() << what << ": external data location '" << loc
                     << "' must be relative to the model's folder";
  SmallVector<StringRef> parts;
  loc.split(parts, '/');
  SmallVector<StringRef> parts2;
  for (StringRef p : parts)
    p.split(parts2, '\\');
  if (llvm::is_contained(parts2, ".."))
    return g.error() << what << ": external data location '" << loc
                     << "' must not contain '..'";
  SmallString<256> realDir, full(modelDir), realFull;
  llvm::sys::path::append(full, loc);
  if (llvm::sys::fs::real_path(modelDir, realDir))
    return g.error() << "cannot resolve the model's folder '" << modelDir
                     << "'";
  if (std::error_code ec = llvm::sys::fs::real_path(full, realFull))
    return g.error() << what << ": cannot open external data file '" << loc
                     << "': " << ec.message();
  StringRef resolved = realFull;
  if (!resolved.starts_with(realDir) ||
      (resolved.size() > realDir.size() &&
       !llvm::sys::path::is_separator(resolved[realDir.size()])) ||
      resolved.size() == realDir.size())
    return g.error() << what << ": external data location '" << loc
                     << "' resolves outside the model's folder";
  llvm::sys::fs::file_status status;
  if (std::error_code ec = llvm::sys::fs::status(realFull, status))
    return g.error() << what << ": cannot stat external data file '" << loc
                     << "': " << ec.message();
  if (status.type() != llvm::sys::fs::file_type::regular_file)
    return g.error() << what << ": external data file '" << loc
                     << "' is not a regular file";
  uint64_t fileSize = status.getSize();
  info.offset = offset.value_or(0);
  if (length && *length != bytes)
    return g.error() << what << ": external data length " << *length
                     << " does not match the tensor's " << bytes << " bytes";
  info.size = bytes;
  if (info.offset > fileSize || bytes > fileSize - info.offset)
    return g.error() << what << ": external data [" << info.offset << ", "
                     << info.offset << " + " << bytes
                     << ") is past the end of '" << loc << "' (" << fileSize
                     << " bytes)";
  info.external = true;
  info.file = std::string(realFull);
  return info;
}
