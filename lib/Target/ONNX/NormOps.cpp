//===- NormOps.cpp - ONNX LayerNormalization and Gelu ---------------------===//
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

/// Scale or bias of a normalization, broadcast to the normalized sizes.
static FailureOr<Value> normParam(NodeImporter &n, unsigned i,
                                  ArrayRef<OpFoldResult> normDims,
                                  StringRef what) {
  TensorValue &p = n.input(i);
  if (p.rank() > static_cast<int64_t>(normDims.size()))
    return n.error() << what << " of rank " << p.rank()
                     << " does not match the " << normDims.size()
                     << " normalized dimensions";
  FailureOr<SmallVector<OpFoldResult>> dims =
      broadcastDims(n, {SmallVector<OpFoldResult>(normDims), p.dims});
  if (failed(dims))
    return failure();
  if (staticShapeOf(*dims) != staticShapeOf(normDims))
    return n.error() << what
                     << " does not broadcast to the normalized "
                        "dimensions";
  return n.graph.broadcastTo(n.tensor(i), normDims, n.loc);
}

static LogicalResult importLayerNorm(NodeImporter &n) {
  SmallVector<unsigned> idx = {0, 1};
  if (n.hasInput(2))
    idx.push_back(2);
  if (failed(n.requireFloat(0)) || failed(n.requireSameElementType(idx)))
    return failure();
  if (n.isOutputUsed(1) || n.isOutputUsed(2))
    return n.error() << "the Mean and InvStdDev outputs are not supported";
  TensorValue &x = n.input(0);
  FailureOr<int64_t> axisAttr = n.intAttr("axis", -1);
  FailureOr<float> epsilon = n.floatAttr("epsilon", 1e-5f);
  FailureOr<int64_t> stash = n.intAttr("stash_type", 1);
  if (failed(axisAttr) || failed(epsilon) || failed(stash))
    return failure();
  if (x.rank() == 0)
    return n.error() << "expected an input of rank >= 1";
  FailureOr<int64_t> axis = n.normalizeAxis(*axisAttr, x.rank());
  if (failed(axis))
    return failure();
  if (!(*epsilon >= 0.0f) || std::isinf(*epsilon))
    return n.error() << "epsilon must be finite and non-negative";
  ArrayRef<OpFoldResult> normDims =
      ArrayRef<OpFoldResult>(x.dims).drop_front(*axis);
  FailureOr<Value> scale = normParam(n, 1, normDims, "scale");
  if (failed(scale))
    return failure();
  Value bias;
  if (n.hasInput(2)) {
    FailureOr<Value> b = normParam(n, 2, normDims, "bias");
    if (failed(b))
      return failure();
    bias = *b;
  }
  Value r = LayerNormOp::create(n.b, n.loc, x.type, n.tensor(0), *scale, bias,
                                n.b.getF32FloatAttr(*epsilon),
                                n.b.getI64IntegerAttr(*axis));
  return n.setOutput(0, r, x.dtype, x.dims);
}

static LogicalResult importGelu(NodeImporter &n) {
  if (failed(n.requireFloat(0)))
    return failure();
  FailureOr<std::string> approx = n.stringAttr("approximate", "none");
  if (failed(approx))
    return failure();
  GeluApproximation mode;
  if (*approx == "none")
    mode = GeluApproximation::none;
  else if (*approx == "tanh")
    mode = GeluApproximation::tanh;
  else
    return n.error() << "unknown approximation '" << *approx
                     << "' (expected 'none' or 'tanh')";
  TensorValue &x = n.input(0);
  Value r = GeluOp::create(n.b, n.loc, n.tensor(0), mode);
  return n.setOutput(0, r, x.dtype, x.dims);
}

ArrayRef<OpInfo> importer::getNormOps() {
  static const OpInfo ops[] = {
      {"LayerNormalization", 2, 3, 1, 3, importLayerNorm},
      {"Gelu", 1, 1, 1, 1, importGelu},
  };
  return ops;
}
