//===- GatherOps.cpp - ONNX Gather, GatherElements and GatherND -----------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

static LogicalResult requireIndices(NodeImporter &n, unsigned i) {
  DType t = n.input(i).dtype;
  if (t == onnx::TensorProto_DataType_INT64 ||
      t == onnx::TensorProto_DataType_INT32)
    return success();
  return n.error() << "expected INT32 or INT64 indices, got " << dtypeName(t);
}

/// Checks constant indices against a static size; returns them normalized
/// to [0, size) when the size is static.
static FailureOr<SmallVector<int64_t>>
checkIndices(NodeImporter &n, ArrayRef<int64_t> indices, OpFoldResult size) {
  std::optional<int64_t> s = getConstantIntValue(size);
  SmallVector<int64_t> out;
  for (int64_t i : indices) {
    if (s && (i < -*s || i >= *s))
      return n.error() << "index " << i
                       << " is out of range for a dimension of size " << *s;
    out.push_back(s && i < 0 ? i + *s : i);
  }
  return out;
}

static LogicalResult importGather(NodeImporter &n) {
  if (failed(requireIndices(n, 1)))
    return failure();
  TensorValue &data = n.input(0), &idx = n.input(1);
  FailureOr<int64_t> axisAttr = n.intAttr("axis", 0);
  if (failed(axisAttr))
    return failure();
  if (data.rank() == 0)
    return n.error() << "expected data of rank >= 1";
  FailureOr<int64_t> axis = n.normalizeAxis(*axisAttr, data.rank());
  if (failed(axis))
    return failure();
  SmallVector<OpFoldResult> dims(data.dims.begin(), data.dims.begin() + *axis);
  llvm::append_range(dims, idx.dims);
  dims.append(data.dims.begin() + *axis + 1, data.dims.end());
  if (failed(n.checkElements(dims)))
    return failure();

  std::optional<SmallVector<int64_t>> constIdx = idx.constantInts();
  if (constIdx) {
    FailureOr<SmallVector<int64_t>> norm =
        checkIndices(n, *constIdx, data.dims[*axis]);
    if (failed(norm))
      return failure();
    RankedTensorType type = tensorTypeFor(dims, data.elementType());
    if (type.hasStaticShape() && data.type.hasStaticShape() &&
        ((data.known && type.getNumElements() <= kMaxKnownElements) ||
         (data.constant &&
          type.getNumElements() <= n.options().maxFoldElements))) {
      // result[o, i, k] = data[o, idx[i], k]
      ArrayRef<int64_t> shape = data.type.getShape();
      int64_t inner = 1;
      for (int64_t d = *axis + 1; d < data.rank(); ++d)
        inner *= shape[d];
      int64_t along = shape[*axis], numIdx = norm->size();
      auto map = [&](int64_t linear) {
        int64_t k = linear % inner;
        int64_t i = (linear / inner) % numIdx;
        int64_t o = linear / (inner * numIdx);
        return (o * along + (*norm)[i]) * inner + k;
      };
      if (data.known) {
        SmallVector<OpFoldResult> elems;
        for (int64_t l = 0; l < type.getNumElements(); ++l)
          elems.push_back((*data.known)[map(l)]);
        return n.setOutput(
            0, n.graph.knownValue(data.dtype, type.getShape(), elems));
      }
      return n.setOutput(
          0, n.graph.constantValue(remapElements(data.constant, type, map),
                                   data.dtype));
    }
  }
  Value r =
      GatherOp::create(n.b, n.loc, tensorTypeFor(dims, data.elementType()),
                       n.tensor(0), n.tensor(1), *axis);
  return n.setOutput(0, r, data.dtype, dims);
}

static LogicalResult importGatherElements(NodeImporter &n) {
  if (failed(requireIndices(n, 1)))
    return failure();
  TensorValue &data = n.input(0), &idx = n.input(1);
  FailureOr<int64_t> axisAttr = n.intAttr("axis", 0);
  if (failed(axisAttr))
    return failure();
  if (data.rank() == 0 || data.rank() != idx.rank())
    return n.error() << "expected data and indices of one rank >= 1, got "
                     << data.rank() << " and " << idx.rank();
  FailureOr<int64_t> axis = n.normalizeAxis(*axisAttr, data.rank());
  if (failed(axis))
    return failure();
  if (std::optional<SmallVector<int64_t>> c = idx.constantInts())
    if (failed(checkIndices(n, *c, data.dims[*axis])))
      return failure();
  Value r = GatherElementsOp::create(
      n.b, n.loc, tensorTypeFor(idx.dims, data.elementType()), n.tensor(0),
      n.tensor(1), *axis);
  return n.setOutput(0, r, data.dtype, idx.dims);
}

static LogicalResult importGatherND(NodeImporter &n) {
  if (failed(requireIndices(n, 1)))
    return failure();
  TensorValue &data = n.input(0), &idx = n.input(1);
  FailureOr<int64_t> batchDims = n.intAttr("batch_dims", 0);
  if (failed(batchDims))
    return failure();
  int64_t b = *batchDims;
  if (idx.rank() < 1 || data.rank() < 1 || b < 0 ||
      b >= std::min(data.rank(), idx.rank()))
    return n.error() << "expected batch_dims in [0, "
                     << std::min(data.rank(), idx.rank()) << "), got " << b;
  std::optional<int64_t> depth = getConstantIntValue(idx.dims.back());
  if (!depth || *depth < 1 || *depth > data.rank() - b)
    return n.error() << "expected a static index depth in [1, "
                     << data.rank() - b << "]";
  SmallVector<OpFoldResult> dims(idx.dims.begin(), idx.dims.end() - 1);
  dims.append(data.dims.begin() + b + *depth, data.dims.end());
  Value r =
      GatherNDOp::create(n.b, n.loc, tensorTypeFor(dims, data.elementType()),
                         n.tensor(0), n.tensor(1), b);
  return n.setOutput(0, r, data.dtype, dims);
}

ArrayRef<OpInfo> importer::getGatherOps() {
  static const OpInfo ops[] = {
      {"Gather", 2, 2, 1, 1, importGather},
      {"GatherElements", 2, 2, 1, 1, importGatherElements},
      {"GatherND", 2, 2, 1, 1, importGatherND},
  };
  return ops;
}
