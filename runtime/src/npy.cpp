//===- npy.cpp - Read and write numpy .npy files --------------------------===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// Layout: "\x93NUMPY", major, minor, header length (uint16 LE for 1.0, uint32
// LE for 2.0/3.0), then a Python dict literal such as
// "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" padded with
// spaces and a final newline, then the raw array data.
//
//===----------------------------------------------------------------------===//

#include "ds/runtime/npy.h"
#include "ds/runtime/artifact.h"

#include "file_util.h"

#include <cstring>
#include <functional>
#include <set>

using namespace ds::runtime;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the .npy reader assumes a little-endian host");

static constexpr char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicSize = 6;

namespace {
struct NpyHeader {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
};

/// A recursive-descent parser for the header dict literal.
class HeaderParser {
public:
  explicit HeaderParser(std::string_view text) : text(text) {}
  Expected<NpyHeader> parse();

private:
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }
  bool consume(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  bool consumeWord(std::string_view word) {
    skipSpace();
    if (text.substr(pos, word.size()) != word)
      return false;
    pos += word.size();
    return true;
  }
  Expected<std::string> parseString();
  Expected<std::vector<int64_t>> parseShape();
  Status parseDescr(NpyHeader &header);
  StatusBuilder error() {
    StatusBuilder builder;
    builder << "malformed header at offset " << pos << ": ";
    return builder;
  }

  std::string_view text;
  size_t pos = 0;
};
} // namespace

Expected<std::string> HeaderParser::parseString() {
  skipSpace();
  if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
    return error() << "expected a string";
  char quote = text[pos++];
  size_t end = text.find(quote, pos);
  if (end == std::string_view::npos)
    return error() << "unterminated string";
  std::string value(text.substr(pos, end - pos));
  pos = end + 1;
  return value;
}

Expected<std::vector<int64_t>> HeaderParser::parseShape() {
  if (!consume('('))
    return error() << "expected a shape tuple";
  std::vector<int64_t> shape;
  while (!consume(')')) {
    skipSpace();
    if (pos < text.size() && text[pos] == '-')
      return makeError() << "negative dim in shape";
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9')
      return error() << "expected a dim";
    int64_t dim = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (__builtin_mul_overflow(dim, 10, &dim) ||
          __builtin_add_overflow(dim, text[pos] - '0', &dim))
        return makeError() << "dim too large in shape";
      ++pos;
    }
    if (pos < text.size() && text[pos] == 'L')
      ++pos;
    if (shape.size() == kMaxRank)
      return makeError() << "rank exceeds the maximum of " << kMaxRank;
    shape.push_back(dim);
    if (!consume(',')) {
      if (!consume(')'))
        return error() << "expected ',' or ')' in shape";
      break;
    }
  }
  return shape;
}

Status HeaderParser::parseDescr(NpyHeader &header) {
  skipSpace();
  if (pos < text.size() && text[pos] == '[')
    return makeError() << "structured dtypes are not supported";
  Expected<std::string> descr = parseString();
  if (descr.failed())
    return descr.status();
  const std::string &d = *descr;
  struct Entry {
    const char *code;
    DType dtype;
  };
  static constexpr Entry kEntries[] = {
      {"f2", DType::F16}, {"f4", DType::F32}, {"f8", DType::F64},
      {"i1", DType::I8},  {"i2", DType::I16}, {"i4", DType::I32},
      {"i8", DType::I64}, {"u1", DType::U8},  {"u2", DType::U16},
      {"u4", DType::U32}, {"u8", DType::U64}, {"b1", DType::Bool},
  };
  if (d.size() == 3) {
    for (const Entry &entry : kEntries) {
      if (d.compare(1, 2, entry.code) != 0)
        continue;
      char order = d[0];
      bool single = elementSize(entry.dtype) == 1;
      if (order == '>' && !single)
        return makeError() << "big-endian data ('" << d
                           << "') is not supported; save it little-endian";
      if (order == '<' || order == '=' ||
          (single && (order == '|' || order == '>'))) {
        header.dtype = entry.dtype;
        return Status::success();
      }
      break;
    }
  }
  if (d == "<V2" || d == "|V2")
    return makeError() << "unsupported dtype '" << d
                       << "' (bf16 .npy files are not supported; save f32)";
  return makeError() << "unsupported dtype '" << d << "'";
}

Expected<NpyHeader> HeaderParser::parse() {
  NpyHeader header;
  if (!consume('{'))
    return error() << "expected '{'";
  std::set<std::string> seen;
  while (!consume('}')) {
    Expected<std::string> key = parseString();
    if (key.failed())
      return key.status();
    if (!seen.insert(*key).second)
      return error() << "duplicate key '" << *key << "'";
    if (!consume(':'))
      return error() << "expected ':'";
    if (*key == "descr") {
      if (Status status = parseDescr(header); status.failed())
        return status;
    } else if (*key == "fortran_order") {
      if (consumeWord("True"))
        return makeError() << "fortran-order arrays are not supported; save "
                              "a C-order array";
      if (!consumeWord("False"))
        return error() << "expected True or False";
    } else if (*key == "shape") {
      Expected<std::vector<int64_t>> shape = parseShape();
      if (shape.failed())
        return shape.status();
      header.shape = std::move(*shape);
    } else {
      return error() << "unexpected key '" << *key << "'";
    }
    if (!consume(',')) {
      if (!consume('}'))
        return error() << "expected ',' or '}'";
      break;
    }
  }
  skipSpace();
  if (pos != text.size())
    return error() << "unexpected text after the dict";
  for (const char *key : {"descr", "fortran_order", "shape"})
    if (!seen.count(key))
      return makeError() << "header has no '" << key << "' key";
  return header;
}

using ReadAtFn = std::function<Status(uint64_t, void *, size_t)>;

static Expected<Tensor> readNpy(uint64_t fileSize, const ReadAtFn &readAt) {
  uint8_t prefix[12];
  if (fileSize < 10)
    return makeError() << "truncated file: " << fileSize
                       << " bytes is too short for a .npy header";
  if (Status status = readAt(0, prefix, 10); status.failed())
    return status;
  if (std::memcmp(prefix, kMagic, kMagicSize) != 0)
    return makeError() << "not a .npy file (bad magic)";
  uint8_t major = prefix[6], minor = prefix[7];
  if (major < 1 || major > 3 || minor != 0)
    return makeError() << "unsupported .npy format version " << int(major)
                       << "." << int(minor);
  uint64_t headerOffset, headerLength;
  if (major == 1) {
    headerOffset = 10;
    headerLength = prefix[8] | (uint64_t(prefix[9]) << 8);
  } else {
    if (fileSize < 12)
      return makeError() << "truncated file: " << fileSize
                         << " bytes is too short for a .npy header";
    if (Status status = readAt(10, prefix + 10, 2); status.failed())
      return status;
    headerOffset = 12;
    headerLength = prefix[8] | (uint64_t(prefix[9]) << 8) |
                   (uint64_t(prefix[10]) << 16) | (uint64_t(prefix[11]) << 24);
  }
  if (headerLength > kMaxNpyHeaderBytes)
    return makeError() << "header length " << headerLength
                       << " exceeds the maximum of " << kMaxNpyHeaderBytes;
  if (headerOffset + headerLength > fileSize)
    return makeError() << "truncated header: " << headerLength
                       << " bytes declared, " << fileSize - headerOffset
                       << " present";
  std::string text(headerLength, '\0');
  if (Status status = readAt(headerOffset, text.data(), text.size());
      status.failed())
    return status;
  Expected<NpyHeader> header = HeaderParser(text).parse();
  if (header.failed())
    return header.status();
  Expected<int64_t> count = computeNumElements(header->shape);
  if (count.failed())
    return count.status();
  uint64_t dataBytes = uint64_t(*count) * elementSize(header->dtype);
  uint64_t dataOffset = headerOffset + headerLength;
  uint64_t present = fileSize - dataOffset;
  if (dataBytes > present)
    return makeError() << "truncated data: " << dtypeName(header->dtype)
                       << formatShape(header->shape) << " needs " << dataBytes
                       << " bytes, file holds " << present;
  if (dataBytes < present)
    return makeError() << present - dataBytes
                       << " unexpected trailing bytes after the array data";
  Tensor tensor;
  tensor.dtype = header->dtype;
  tensor.shape = std::move(header->shape);
  tensor.data.resize(static_cast<size_t>(dataBytes));
  if (dataBytes == 0)
    return tensor;
  if (Status status =
          readAt(dataOffset, tensor.data.data(), tensor.data.size());
      status.failed())
    return status;
  return tensor;
}

Expected<Tensor> ds::runtime::parseNpy(const uint8_t *data, size_t size) {
  return readNpy(size, [&](uint64_t offset, void *out, size_t count) {
    // readNpy only reads inside [0, size).
    std::memcpy(out, data + offset, count);
    return Status::success();
  });
}

Expected<Tensor> ds::runtime::readNpyFile(const std::string &path) {
  Expected<detail::InputFile> file = detail::InputFile::open(path);
  if (file.failed())
    return file.status();
  const detail::InputFile &input = *file;
  Expected<Tensor> tensor =
      readNpy(input.size(), [&](uint64_t offset, void *out, size_t count) {
        return input.readAt(offset, out, count);
      });
  if (tensor.failed())
    return tensor.status().withPrefix(path);
  return tensor;
}

static const char *npyDescr(DType dtype) {
  switch (dtype) {
  case DType::F16:
    return "<f2";
  case DType::F32:
    return "<f4";
  case DType::F64:
    return "<f8";
  case DType::I8:
    return "|i1";
  case DType::I16:
    return "<i2";
  case DType::I32:
    return "<i4";
  case DType::I64:
    return "<i8";
  case DType::U8:
    return "|u1";
  case DType::U16:
    return "<u2";
  case DType::U32:
    return "<u4";
  case DType::U64:
    return "<u8";
  case DType::Bool:
    return "|b1";
  case DType::BF16:
    // numpy has no bfloat16: bf16 travels as its bit patterns (what
    // onnx.numpy_helper produces); ds-run reads such arrays back as bf16
    // where the artifact expects bf16.
    return "<u2";
  }
  return nullptr;
}

Expected<std::vector<uint8_t>> ds::runtime::encodeNpy(const Tensor &tensor) {
  const char *descr = npyDescr(tensor.dtype);
  if (!descr)
    return makeError() << "cannot write a " << dtypeName(tensor.dtype)
                       << " tensor as .npy (numpy has no such dtype)";
  Expected<int64_t> count = computeNumElements(tensor.shape);
  if (count.failed())
    return count.status();
  uint64_t expected = uint64_t(*count) * elementSize(tensor.dtype);
  if (tensor.data.size() != expected)
    return makeError() << "tensor data is " << tensor.data.size()
                       << " bytes, expected " << expected << " for "
                       << dtypeName(tensor.dtype) << formatShape(tensor.shape);
  std::string header = "{'descr': '";
  header += descr;
  header += "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < tensor.shape.size(); ++i) {
    if (i)
      header += ", ";
    header += std::to_string(tensor.shape[i]);
  }
  header += tensor.shape.size() == 1 ? ",), }" : "), }";
  // Pad so that the data starts on a 64-byte boundary; the header ends with
  // a newline.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> bytes(kMagic, kMagic + kMagicSize);
  bytes.push_back(1);
  bytes.push_back(0);
  bytes.push_back(static_cast<uint8_t>(header.size() & 0xff));
  bytes.push_back(static_cast<uint8_t>(header.size() >> 8));
  bytes.insert(bytes.end(), header.begin(), header.end());
  bytes.insert(bytes.end(), tensor.data.begin(), tensor.data.end());
  return bytes;
}

Status ds::runtime::writeNpyFile(const std::string &path,
                                 const Tensor &tensor) {
  Expected<std::vector<uint8_t>> bytes = encodeNpy(tensor);
  if (bytes.failed())
    return bytes.status().withPrefix(path);
  return writeFileBytes(path, *bytes);
}
