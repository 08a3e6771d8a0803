//===- npy.h - Read and write numpy .npy files ------------------*- C++ -*-===//
//
// Part of the ds project.
//
//===----------------------------------------------------------------------===//
//
// .npy is ds-run's interchange format. Supported: format versions 1.0, 2.0
// and 3.0, little-endian, C order, dtypes f16 f32 f64 i8 i16 i32 i64 u8 u16
// u32 u64 bool. Fortran order, big-endian data, structured and other dtypes
// (including the '<V2' that ml_dtypes writes for bfloat16) are clean errors.
//
// A reader never trusts the file: the header length is capped
// (kMaxNpyHeaderBytes), the element count is overflow-checked and capped
// (kMaxElements), and the data size must match the bytes actually present
// before anything is allocated. Trailing bytes after the data are an error.
//
//===----------------------------------------------------------------------===//

#ifndef DS_RUNTIME_NPY_H
#define DS_RUNTIME_NPY_H

#include "ds/runtime/dtype.h"
#include "ds/runtime/status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ds::runtime {

/// Parses a whole .npy file held in memory.
Expected<Tensor> parseNpy(const uint8_t *data, size_t size);

/// Reads a .npy file. Messages are prefixed with the path.
Expected<Tensor> readNpyFile(const std::string &path);

/// Encodes `tensor` as a version 1.0 .npy file. Fails for bf16 (numpy has no
/// bf16 dtype) and when the data size does not match the shape.
Expected<std::vector<uint8_t>> encodeNpy(const Tensor &tensor);

/// Encodes `tensor` and writes it to `path`.
Status writeNpyFile(const std::string &path, const Tensor &tensor);

} // namespace ds::runtime

#endif // DS_RUNTIME_NPY_H
