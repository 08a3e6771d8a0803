//===- MatMulOps.cpp - ONNX MatMul and Gemm -------------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

/// Fails with the contraction error unless `k1` and `k2` may agree.
static LogicalResult checkContracted(NodeImporter &n, OpFoldResult k1,
                                     OpFoldResult k2) {
  std::optional<int64_t> a = getConstantIntValue(k1);
  std::optional<int64_t> c = getConstantIntValue(k2);
  if (a && c && *a != *c)
    return n.error() << "expected contracted dimensions to agree, got " << *a
                     << " and " << *c;
  return success();
}

/// MatMul -> ds.matmul with numpy batch broadcasting.
static LogicalResult importMatMul(NodeImporter &n) {
  if (failed(n.requireSameElementType({0, 1})))
    return failure();
  TensorValue &a = n.input(0), &c = n.input(1);
  if (isBoolDType(a.dtype))
    return n.error() << "expected numeric operands, got BOOL";
  if (a.rank() < 1 || c.rank() < 1)
    return n.error() << "expected operands of rank >= 1, got ranks " << a.rank()
                     << " and " << c.rank();
  OpFoldResult k1 = a.dims.back();
  OpFoldResult k2 = c.rank() == 1 ? c.dims[0] : c.dims[c.rank() - 2];
  if (failed(checkContracted(n, k1, k2)))
    return failure();
  SmallVector<OpFoldResult> aBatch(
      ArrayRef<OpFoldResult>(a.dims).drop_back(a.rank() == 1 ? 1 : 2));
  SmallVector<OpFoldResult> cBatch(
      ArrayRef<OpFoldResult>(c.dims).drop_back(c.rank() == 1 ? 1 : 2));
  FailureOr<SmallVector<OpFoldResult>> dims =
      broadcastDims(n, {aBatch, cBatch});
  if (failed(dims))
    return failure();
  if (a.rank() > 1)
    dims->push_back(a.dims[a.rank() - 2]);
  if (c.rank() > 1)
    dims->push_back(c.dims.back());
  Value lhs = n.tensor(0), rhs = n.tensor(1);
  Value r = MatMulOp::create(n.b, n.loc, tensorTypeFor(*dims, a.elementType()),
                             lhs, rhs);
  return n.setOutput(0, r, a.dtype, *dims);
}

/// Gemm -> optional transposes, ds.matmul, alpha/beta scaling and a
/// broadcast add of C.
static LogicalResult importGemm(NodeImporter &n) {
  SmallVector<unsigned> idx = {0, 1};
  if (n.hasInput(2))
    idx.push_back(2);
  if (failed(n.requireSameElementType(idx)) || failed(n.requireFloat(0)))
    return failure();
  FailureOr<int64_t> transA = n.intAttr("transA", 0);
  FailureOr<int64_t> transB = n.intAttr("transB", 0);
  FailureOr<float> alpha = n.floatAttr("alpha", 1.0f);
  FailureOr<float> beta = n.floatAttr("beta", 1.0f);
  if (failed(transA) || failed(transB) || failed(alpha) || failed(beta))
    return failure();
  TensorValue &a = n.input(0), &c = n.input(1);
  if (a.rank() != 2 || c.rank() != 2)
    return n.error() << "expected rank-2 A and B, got ranks " << a.rank()
                     << " and " << c.rank();
  Value lhs = n.tensor(0), rhs = n.tensor(1);
  SmallVector<OpFoldResult> aDims = a.dims, cDims = c.dims;
  if (*transA) {
    lhs = n.graph.transpose(lhs, aDims, {1, 0}, n.loc);
    std::swap(aDims[0], aDims[1]);
  }
  if (*transB) {
    rhs = n.graph.transpose(rhs, cDims, {1, 0}, n.loc);
    std::swap(cDims[0], cDims[1]);
  }
  if (failed(checkContracted(n, aDims[1], cDims[0])))
    return failure();
  SmallVector<OpFoldResult> dims = {aDims[0], cDims[1]};
  Type elem = a.elementType();
  Value y = MatMulOp::create(n.b, n.loc, tensorTypeFor(dims, elem), lhs, rhs);
  if (*alpha != 1.0f)
    y = arith::MulFOp::create(
        n.b, n.loc, y,
        n.graph.splat(n.graph.scalarAttr(elem, *alpha), dims, n.loc));
  if (n.hasInput(2) && *beta != 0.0f) {
    TensorValue &bias = n.input(2);
    FailureOr<SmallVector<OpFoldResult>> out =
        broadcastDims(n, {dims, bias.dims});
    if (failed(out))
      return failure();
    if (out->size() != 2 || staticShapeOf(*out) != staticShapeOf(dims))
      return n.error() << "expected C to broadcast to the [M, N] result";
    Value cv = n.tensor(2);
    if (*beta != 1.0f)
      cv = arith::MulFOp::create(
          n.b, n.loc, cv,
          n.graph.splat(n.graph.scalarAttr(elem, *beta), bias.dims, n.loc));
    y = arith::AddFOp::create(n.b, n.loc, y,
                              n.graph.broadcastTo(cv, dims, n.loc));
  }
  return n.setOutput(0, y, a.dtype, dims);
}

ArrayRef<OpInfo> importer::getMatMulOps() {
  static const OpInfo ops[] = {
      {"MatMul", 2, 2, 1, 1, importMatMul},
      {"Gemm", 2, 3, 1, 1, importGemm},
  };
  return ops;
}
