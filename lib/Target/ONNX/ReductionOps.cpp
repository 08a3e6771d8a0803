//===- ReductionOps.cpp - ONNX reductions, Softmax, CumSum and Trilu ------===//
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

/// The known-value form of a reduction over `axes` of a small integral
/// tensor (ReduceProd of a Shape, ...).
static LogicalResult reduceKnown(NodeImporter &n, ReduceKind kind,
                                 ArrayRef<int64_t> axes, bool keepDims) {
  TensorValue &in = n.input(0);
  ArrayRef<int64_t> shape = in.type.getShape();
  SmallVector<int64_t> outShape;
  for (auto [d, size] : llvm::enumerate(shape)) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(d)))
      outShape.push_back(size);
    else if (keepDims)
      outShape.push_back(1);
  }
  SmallVector<int64_t> strides = rowMajorStrides(shape);
  int64_t outNumel = *checkedProduct(outShape, INT64_MAX);
  SmallVector<std::optional<OpFoldResult>> acc(outNumel);
  int64_t numel = in.type.getNumElements();
  for (int64_t linear = 0; linear < numel; ++linear) {
    // The output position of this element.
    int64_t out = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (llvm::is_contained(axes, static_cast<int64_t>(d)))
        continue;
      out = out * shape[d] + (linear / strides[d]) % shape[d];
    }
    OpFoldResult e = (*in.known)[linear];
    if (!acc[out]) {
      acc[out] = e;
      continue;
    }
    switch (kind) {
    case ReduceKind::sum:
      acc[out] = n.sym.add(n.loc, *acc[out], e);
      break;
    case ReduceKind::prod:
      acc[out] = n.sym.mul(n.loc, *acc[out], e);
      break;
    case ReduceKind::max:
      acc[out] = n.sym.max(n.loc, *acc[out], e);
      break;
    case ReduceKind::min:
      acc[out] = n.sym.min(n.loc, *acc[out], e);
      break;
    case ReduceKind::mean:
      llvm_unreachable("no known means");
    }
  }
  SmallVector<OpFoldResult> elems;
  for (auto &a : acc) {
    if (a) {
      elems.push_back(*a);
      continue;
    }
    // Empty reductions: the identity.
    if (kind == ReduceKind::max || kind == ReduceKind::min)
      return n.error() << "cannot reduce an empty tensor";
    elems.push_back(n.b.getIndexAttr(kind == ReduceKind::prod ? 1 : 0));
  }
  return n.setOutput(0, n.graph.knownValue(in.dtype, outShape, elems));
}

template <ReduceKind Kind> static LogicalResult importReduce(NodeImporter &n) {
  TensorValue &in = n.input(0);
  if (isBoolDType(in.dtype))
    return n.error() << "expected a numeric tensor, got BOOL";
  FailureOr<int64_t> keepDims = n.intAttr("keepdims", 1);
  FailureOr<int64_t> noop = n.intAttr("noop_with_empty_axes", 0);
  FailureOr<std::optional<SmallVector<int64_t>>> attrAxes = n.intsAttr("axes");
  if (failed(keepDims) || failed(noop) || failed(attrAxes))
    return failure();
  SmallVector<int64_t> axes;
  if (n.hasInput(1)) {
    if (*attrAxes)
      return n.error() << "axes given both as an attribute and an input";
    FailureOr<SmallVector<int64_t>> ax = n.constantInts(1, "axes");
    if (failed(ax))
      return failure();
    axes = *ax;
  } else if (*attrAxes) {
    axes = **attrAxes;
  }
  int64_t rank = in.rank();
  if (axes.empty()) {
    if (*noop)
      return n.setOutput(0, in);
    for (int64_t d = 0; d < rank; ++d)
      axes.push_back(d);
  }
  for (int64_t &axis : axes) {
    FailureOr<int64_t> a = n.normalizeAxis(axis, rank);
    if (failed(a))
      return failure();
    axis = *a;
  }
  llvm::sort(axes);
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    return n.error() << "duplicate axis "
                     << *std::adjacent_find(axes.begin(), axes.end());
  if (in.known && Kind != ReduceKind::mean)
    return reduceKnown(n, Kind, axes, *keepDims != 0);
  SmallVector<OpFoldResult> dims;
  for (auto [d, size] : llvm::enumerate(in.dims)) {
    if (!llvm::is_contained(axes, static_cast<int64_t>(d)))
      dims.push_back(size);
    else if (*keepDims)
      dims.push_back(n.b.getIndexAttr(1));
  }
  Value r = ReduceOp::create(n.b, n.loc, tensorTypeFor(dims, in.elementType()),
                             Kind, n.tensor(0), axes, *keepDims != 0);
  return n.setOutput(0, r, in.dtype, dims);
}

template <bool Log> static LogicalResult importSoftmax(NodeImporter &n) {
  if (failed(n.requireFloat(0)))
    return failure();
  TensorValue &in = n.input(0);
  FailureOr<int64_t> axis = n.intAttr("axis", -1);
  if (failed(axis))
    return failure();
  if (in.rank() == 0)
    return n.error() << "expected an input of rank >= 1";
  FailureOr<int64_t> a = n.normalizeAxis(*axis, in.rank());
  if (failed(a))
    return failure();
  Value r = SoftmaxOp::create(n.b, n.loc, n.tensor(0), *a, Log);
  return n.setOutput(0, r, in.dtype, in.dims);
}

static LogicalResult importCumSum(NodeImporter &n) {
  TensorValue &in = n.input(0);
  if (isBoolDType(in.dtype))
    return n.error() << "expected a numeric tensor, got BOOL";
  FailureOr<int64_t> exclusive = n.intAttr("exclusive", 0);
  FailureOr<int64_t> reverse = n.intAttr("reverse", 0);
  if (failed(exclusive) || failed(reverse))
    return failure();
  FailureOr<SmallVector<int64_t>> axis = n.constantInts(1, "axis");
  if (failed(axis))
    return failure();
  if (axis->size() != 1)
    return n.error() << "expected one axis, got " << axis->size();
  if (in.rank() == 0)
    return n.error() << "expected an input of rank >= 1";
  FailureOr<int64_t> a = n.normalizeAxis((*axis)[0], in.rank());
  if (failed(a))
    return failure();
  Value r = CumSumOp::create(n.b, n.loc, n.tensor(0), *a, *exclusive != 0,
                             *reverse != 0);
  return n.setOutput(0, r, in.dtype, in.dims);
}

/// Trilu -> ds.trilu with a constant diagonal offset.
static LogicalResult importTrilu(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<int64_t> upper = n.intAttr("upper", 1);
  if (failed(upper))
    return failure();
  if (in.rank() < 2)
    return n.error() << "expected an input of rank >= 2, got rank "
                     << in.rank();
  int64_t k = 0;
  if (n.hasInput(1)) {
    FailureOr<SmallVector<int64_t>> ks = n.constantInts(1, "k");
    if (failed(ks))
      return failure();
    if (ks->size() != 1)
      return n.error() << "expected a scalar k";
    k = (*ks)[0];
  }
  Value r = TriluOp::create(n.b, n.loc, n.tensor(0), k, *upper != 0);
  return n.setOutput(0, r, in.dtype, in.dims);
}

ArrayRef<OpInfo> importer::getReductionOps() {
  static const OpInfo ops[] = {
      {"ReduceSum", 1, 2, 1, 1, importReduce<ReduceKind::sum>},
      {"ReduceMean", 1, 2, 1, 1, importReduce<ReduceKind::mean>},
      {"ReduceMax", 1, 2, 1, 1, importReduce<ReduceKind::max>},
      {"ReduceMin", 1, 2, 1, 1, importReduce<ReduceKind::min>},
      {"ReduceProd", 1, 2, 1, 1, importReduce<ReduceKind::prod>},
      {"Softmax", 1, 1, 1, 1, importSoftmax<false>},
      {"LogSoftmax", 1, 1, 1, 1, importSoftmax<true>},
      {"CumSum", 2, 2, 1, 1, importCumSum},
      {"Trilu", 1, 2, 1, 1, importTrilu},
  };
  return ops;
}
