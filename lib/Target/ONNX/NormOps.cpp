//===- NormOps.cpp - ONNX LayerNormalization, RMSNormalization, Gelu ------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
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

/// The training outputs of LayerNormalization, in f32 (stash_type 1): the
/// mean and 1/sqrt(variance + epsilon) over the normalized dimensions,
/// shaped like the input with those dimensions set to 1.
static LogicalResult importLayerNormStats(NodeImporter &n, TensorValue &x,
                                          int64_t axis, float epsilon) {
  Location loc = n.loc;
  Type f32 = n.b.getF32Type();
  Value xf = n.tensor(0);
  if (x.elementType() != f32)
    xf = arith::ExtFOp::create(n.b, loc, tensorTypeFor(x.dims, f32), xf);
  SmallVector<int64_t> axes;
  SmallVector<OpFoldResult> statDims(x.dims);
  for (int64_t d = axis; d < x.rank(); ++d) {
    axes.push_back(d);
    statDims[d] = n.b.getIndexAttr(1);
  }
  RankedTensorType statType = tensorTypeFor(statDims, f32);
  auto reduceMean = [&](Value v) -> Value {
    return ReduceOp::create(n.b, loc, statType, ReduceKind::mean, v,
                            n.b.getDenseI64ArrayAttr(axes),
                            /*keep_dims=*/true);
  };
  Value mean = reduceMean(xf);
  Value centered = arith::SubFOp::create(
      n.b, loc, xf, n.graph.broadcastTo(mean, x.dims, loc));
  Value var = reduceMean(arith::MulFOp::create(n.b, loc, centered, centered));
  Value eps = arith::ConstantOp::create(
      n.b, loc,
      DenseElementsAttr::get(RankedTensorType::get({}, f32), epsilon));
  Value invStd = math::RsqrtOp::create(
      n.b, loc,
      arith::AddFOp::create(n.b, loc, var,
                            n.graph.broadcastTo(eps, statDims, loc)));
  if (n.isOutputUsed(1) &&
      failed(n.setOutput(1, mean, onnx::TensorProto_DataType_FLOAT, statDims)))
    return failure();
  if (n.isOutputUsed(2) &&
      failed(
          n.setOutput(2, invStd, onnx::TensorProto_DataType_FLOAT, statDims)))
    return failure();
  return success();
}

static LogicalResult importLayerNorm(NodeImporter &n) {
  SmallVector<unsigned> idx = {0, 1};
  if (n.hasInput(2))
    idx.push_back(2);
  if (failed(n.requireFloat(0)) || failed(n.requireSameElementType(idx)))
    return failure();
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
  if (failed(n.setOutput(0, r, x.dtype, x.dims)))
    return failure();
  if (!n.isOutputUsed(1) && !n.isOutputUsed(2))
    return success();
  if (*stash != 1)
    return n.error() << "Mean and InvStdDev with stash_type " << *stash
                     << " are not supported (only 1, float)";
  return importLayerNormStats(n, x, *axis, *epsilon);
}

/// ONNX RMSNormalization (opset 23): `X / sqrt(mean(X^2) + epsilon) *
/// scale` over dimensions [axis, rank). ds.rms_norm computes in f32 for
/// narrower types, which is what stash_type 1 asks for.
static LogicalResult importRMSNorm(NodeImporter &n) {
  if (failed(n.requireFloat(0)) || failed(n.requireSameElementType({0, 1})))
    return failure();
  TensorValue &x = n.input(0);
  FailureOr<int64_t> axisAttr = n.intAttr("axis", -1);
  FailureOr<float> epsilon = n.floatAttr("epsilon", 1e-5f);
  FailureOr<int64_t> stash = n.intAttr("stash_type", 1);
  if (failed(axisAttr) || failed(epsilon) || failed(stash))
    return failure();
  if (*stash != 1)
    return n.error() << "stash_type " << *stash
                     << " is not supported (only 1, float)";
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
  Value r = RMSNormOp::create(n.b, n.loc, x.type, n.tensor(0), *scale,
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
      {"RMSNormalization", 2, 2, 1, 1, importRMSNorm},
  };
  return ops;
}
