//===- DSGraphOps.cpp - ds graph-level operations -------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Verifiers and folders of the ONNX-semantics graph ops. Constraint numbers
// refer to docs/DSDialect.md.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/IR/ShapeUtils.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
using namespace mlir::ds;

/// Checks that `axis` is in [-rank, rank) and reports it as constraint
/// `<op>_c1`-style errors.
static LogicalResult verifyAxis(Operation *op, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    return op->emitOpError() << "expected axis in [" << -rank << ", " << rank
                             << "), got " << axis;
  return success();
}

//===----------------------------------------------------------------------===//
// BroadcastOp
//===----------------------------------------------------------------------===//

LogicalResult BroadcastOp::verify() {
  RankedTensorType in = getInput().getType(), out = getResult().getType();
  // broadcast_c1
  if (in.getElementType() != out.getElementType() ||
      in.getRank() > out.getRank())
    return emitOpError() << "expected a result of rank >= " << in.getRank()
                         << " with element type " << in.getElementType()
                         << ", got " << out;
  // broadcast_c2
  ArrayRef<int64_t> tail = out.getShape().take_back(in.getRank());
  for (auto [i, o] : llvm::zip_equal(in.getShape(), tail))
    if (i != 1 && !dimsAgree(i, o))
      return emitOpError() << "expected input shape " << shapeStr(in.getShape())
                           << " to broadcast to " << shapeStr(out.getShape());
  // broadcast_c3
  if (getDynamicDims().size() != static_cast<size_t>(out.getNumDynamicDims()))
    return emitOpError() << "expected " << out.getNumDynamicDims()
                         << " dynamic sizes, got " << getDynamicDims().size();
  return success();
}

OpFoldResult BroadcastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getResult().getType())
    return getInput();
  // A splat broadcasts to a splat of the static result shape.
  if (auto splat = dyn_cast_if_present<SplatElementsAttr>(adaptor.getInput()))
    if (getResult().getType().hasStaticShape())
      return SplatElementsAttr::get(getResult().getType(),
                                    splat.getSplatValue<Attribute>());
  return {};
}

//===----------------------------------------------------------------------===//
// MatMulOp
//===----------------------------------------------------------------------===//

LogicalResult MatMulOp::verify() {
  RankedTensorType a = getLhs().getType(), b = getRhs().getType();
  RankedTensorType r = getResult().getType();
  // matmul_c1
  if (a.getRank() < 1 || b.getRank() < 1)
    return emitOpError() << "expected operands of rank >= 1";
  if (a.getElementType() != b.getElementType() ||
      r.getElementType() != a.getElementType())
    return emitOpError() << "expected operands and result to share element "
                            "type "
                         << a.getElementType();
  // matmul_c2
  int64_t k1 = a.getShape().back();
  int64_t k2 = b.getRank() == 1 ? b.getDimSize(0) : b.getShape().end()[-2];
  if (!dimsAgree(k1, k2))
    return emitOpError() << "expected contracted dimensions to agree, got "
                         << k1 << " and " << k2;
  // matmul_c3
  ArrayRef<int64_t> aBatch = a.getShape().drop_back(a.getRank() == 1 ? 1 : 2);
  ArrayRef<int64_t> bBatch = b.getShape().drop_back(b.getRank() == 1 ? 1 : 2);
  FailureOr<SmallVector<int64_t>> batch = broadcastShapes(aBatch, bBatch);
  if (failed(batch))
    return emitOpError() << "expected batch dimensions " << shapeStr(aBatch)
                         << " and " << shapeStr(bBatch) << " to broadcast";
  // matmul_c4
  SmallVector<int64_t> expected = *batch;
  if (a.getRank() > 1)
    expected.push_back(a.getShape().end()[-2]);
  if (b.getRank() > 1)
    expected.push_back(b.getShape().back());
  if (!shapesAgree(r.getShape(), expected))
    return emitOpError() << "expected result shape " << shapeStr(expected)
                         << ", got " << shapeStr(r.getShape());
  return success();
}

//===----------------------------------------------------------------------===//
// SoftmaxOp, CumSumOp, TriluOp
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  // softmax_c1
  return verifyAxis(*this, getAxis(), getInput().getType().getRank());
}

LogicalResult CumSumOp::verify() {
  // cumsum_c1
  return verifyAxis(*this, getAxis(), getInput().getType().getRank());
}

LogicalResult TriluOp::verify() {
  // trilu_c1
  if (getInput().getType().getRank() < 2)
    return emitOpError() << "expected an input of rank >= 2, got rank "
                         << getInput().getType().getRank();
  return success();
}

//===----------------------------------------------------------------------===//
// ReduceOp
//===----------------------------------------------------------------------===//

LogicalResult ReduceOp::verify() {
  RankedTensorType in = getInput().getType(), r = getResult().getType();
  ArrayRef<int64_t> axes = getAxes();
  // reduce_c1
  for (auto [i, axis] : llvm::enumerate(axes))
    if (axis < 0 || axis >= in.getRank() || (i > 0 && axes[i - 1] >= axis))
      return emitOpError() << "expected sorted unique axes in [0, "
                           << in.getRank() << "), got " << shapeStr(axes);
  // reduce_c2
  SmallVector<int64_t> expected;
  for (auto [d, size] : llvm::enumerate(in.getShape())) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(d)))
      expected.push_back(size);
    else if (getKeepDims())
      expected.push_back(1);
  }
  if (r.getElementType() != in.getElementType() ||
      !shapesAgree(r.getShape(), expected))
    return emitOpError() << "expected result " << shapeStr(expected) << " of "
                         << in.getElementType() << ", got " << r;
  return success();
}

//===----------------------------------------------------------------------===//
// Gathers
//===----------------------------------------------------------------------===//

LogicalResult GatherOp::verify() {
  RankedTensorType data = getData().getType(), idx = getIndices().getType();
  int64_t rank = data.getRank();
  // gather_c1
  if (rank < 1)
    return emitOpError() << "expected data of rank >= 1";
  if (failed(verifyAxis(*this, getAxis(), rank)))
    return failure();
  int64_t axis = getAxis() < 0 ? getAxis() + rank : getAxis(); // signed getter
  // gather_c2
  SmallVector<int64_t> expected(data.getShape().take_front(axis));
  llvm::append_range(expected, idx.getShape());
  llvm::append_range(expected, data.getShape().drop_front(axis + 1));
  RankedTensorType r = getResult().getType();
  if (r.getElementType() != data.getElementType() ||
      !shapesAgree(r.getShape(), expected))
    return emitOpError() << "expected result " << shapeStr(expected) << " of "
                         << data.getElementType() << ", got " << r;
  return success();
}

LogicalResult GatherElementsOp::verify() {
  RankedTensorType data = getData().getType(), idx = getIndices().getType();
  // gather_elements_c1
  if (data.getRank() < 1 || data.getRank() != idx.getRank())
    return emitOpError() << "expected data and indices of one rank >= 1, got "
                         << data.getRank() << " and " << idx.getRank();
  if (failed(verifyAxis(*this, getAxis(), data.getRank())))
    return failure();
  // gather_elements_c2
  RankedTensorType r = getResult().getType();
  if (r.getElementType() != data.getElementType() ||
      !shapesAgree(r.getShape(), idx.getShape()))
    return emitOpError() << "expected result " << shapeStr(idx.getShape())
                         << " of " << data.getElementType() << ", got " << r;
  return success();
}

LogicalResult GatherNDOp::verify() {
  RankedTensorType data = getData().getType(), idx = getIndices().getType();
  int64_t b = getBatchDims();
  // gather_nd_c1
  if (idx.getRank() < 1 || b < 0 ||
      b >= std::min(data.getRank(), idx.getRank()))
    return emitOpError() << "expected batch_dims in [0, "
                         << std::min(data.getRank(), idx.getRank()) << "), got "
                         << b;
  int64_t k = idx.getShape().back();
  if (ShapedType::isDynamic(k) || k < 1 || k > data.getRank() - b)
    return emitOpError() << "expected a static index depth in [1, "
                         << data.getRank() - b << "], got " << shapeStr({k});
  // gather_nd_c2
  SmallVector<int64_t> expected(idx.getShape().drop_back());
  llvm::append_range(expected, data.getShape().drop_front(b + k));
  RankedTensorType r = getResult().getType();
  if (r.getElementType() != data.getElementType() ||
      !shapesAgree(r.getShape(), expected))
    return emitOpError() << "expected result " << shapeStr(expected) << " of "
                         << data.getElementType() << ", got " << r;
  return success();
}
