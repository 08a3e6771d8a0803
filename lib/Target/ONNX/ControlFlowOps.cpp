//===- ControlFlowOps.cpp - ONNX If, Constant, Identity and Dropout -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// An If whose condition is known at import is replaced by its taken branch,
// imported inline; data-dependent control flow is not supported.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

static LogicalResult importIf(NodeImporter &n) {
  TensorValue &cond = n.input(0);
  if (!isBoolDType(cond.dtype))
    return n.error() << "expected a bool condition, got "
                     << dtypeName(cond.dtype);
  std::optional<SmallVector<int64_t>> c = cond.constantInts();
  if (!c)
    return n.error() << "condition must be known at import (data-dependent "
                        "control flow is not supported)";
  if (c->size() != 1)
    return n.error() << "expected a single-element condition, got " << c->size()
                     << " elements";
  StringRef branch = (*c)[0] ? "then_branch" : "else_branch";
  const onnx::AttributeProto *a = n.attr(branch);
  if (!a)
    return n.error() << "missing required attribute '" << branch << "'";
  if (a->type() != onnx::AttributeProto_AttributeType_GRAPH || !a->has_g())
    return n.error() << "attribute '" << branch << "' must be a graph";
  FailureOr<SmallVector<TensorValue>> outputs = n.graph.importSubgraph(a->g());
  if (failed(outputs))
    return failure();
  if (outputs->size() != n.numOutputs())
    return n.error() << branch << " has " << outputs->size()
                     << " outputs, the node " << n.numOutputs();
  for (auto [i, v] : llvm::enumerate(*outputs))
    if (failed(n.setOutput(i, v)))
      return failure();
  return success();
}

static LogicalResult importConstant(NodeImporter &n) {
  if (n.graph.constantWeights.contains(n.node.output(0)))
    return success(); // a weight argument, defined up front
  static const char *const kinds[] = {
      "value",      "value_float",  "value_floats",  "value_int",
      "value_ints", "value_string", "value_strings", "sparse_value"};
  const onnx::AttributeProto *a = nullptr;
  for (const char *kind : kinds) {
    if (const onnx::AttributeProto *x = n.attr(kind)) {
      if (a)
        return n.error() << "expected exactly one value attribute, got '"
                         << a->name() << "' and '" << kind << "'";
      a = x;
    }
  }
  if (!a)
    return n.error() << "missing a value attribute";
  StringRef kind = a->name();
  MLIRContext *ctx = &n.graph.ctx;
  if (kind == "value") {
    if (a->type() != onnx::AttributeProto_AttributeType_TENSOR)
      return n.error() << "attribute 'value' must be a tensor";
    std::string what = "constant '" + n.node.output(0) + "'";
    FailureOr<SmallVector<int64_t>> shape =
        checkTensorHeader(n.graph, a->t(), what);
    if (failed(shape))
      return failure();
    if (a->t().data_location() == onnx::TensorProto_DataLocation_EXTERNAL ||
        *checkedProduct(*shape, INT64_MAX) >
            n.options().maxInlineConstantElements)
      return n.error() << "constant in a subgraph is too large to inline";
    FailureOr<DenseElementsAttr> attr = decodeTensor(n.graph, a->t(), what);
    if (failed(attr))
      return failure();
    return n.setOutput(0, n.graph.constantValue(*attr, a->t().data_type()));
  }
  Builder b(ctx);
  if (kind == "value_float" || kind == "value_floats") {
    bool scalar = kind == "value_float";
    if (a->type() != (scalar ? onnx::AttributeProto_AttributeType_FLOAT
                             : onnx::AttributeProto_AttributeType_FLOATS))
      return n.error() << "attribute '" << kind << "' has the wrong type";
    SmallVector<float> values;
    if (scalar)
      values.push_back(a->f());
    else
      values.assign(a->floats().begin(), a->floats().end());
    SmallVector<int64_t> shape;
    if (!scalar)
      shape.push_back(values.size());
    auto type = RankedTensorType::get(shape, b.getF32Type());
    return n.setOutput(
        0, n.graph.constantValue(DenseElementsAttr::get(type, ArrayRef(values)),
                                 onnx::TensorProto_DataType_FLOAT));
  }
  if (kind == "value_int" || kind == "value_ints") {
    bool scalar = kind == "value_int";
    if (a->type() != (scalar ? onnx::AttributeProto_AttributeType_INT
                             : onnx::AttributeProto_AttributeType_INTS))
      return n.error() << "attribute '" << kind << "' has the wrong type";
    SmallVector<int64_t> values;
    if (scalar)
      values.push_back(a->i());
    else
      values.assign(a->ints().begin(), a->ints().end());
    SmallVector<int64_t> shape;
    if (!scalar)
      shape.push_back(values.size());
    auto type = RankedTensorType::get(shape, b.getI64Type());
    return n.setOutput(
        0, n.graph.constantValue(DenseElementsAttr::get(type, ArrayRef(values)),
                                 onnx::TensorProto_DataType_INT64));
  }
  return n.error() << "'" << kind << "' constants are not supported";
}

static LogicalResult importIdentity(NodeImporter &n) {
  return n.setOutput(0, n.input(0));
}

/// Inference-mode Dropout: the input passes through; the mask is all true.
static LogicalResult importDropout(NodeImporter &n) {
  if (n.hasInput(2)) {
    std::optional<SmallVector<int64_t>> training = n.input(2).constantInts();
    if (!training || training->size() != 1)
      return n.error() << "training_mode must be a constant";
    if ((*training)[0])
      return n.error() << "training mode is not supported";
  }
  TensorValue &x = n.input(0);
  if (failed(n.setOutput(0, x)))
    return failure();
  if (n.hasOutput(1)) {
    Value mask = n.graph.splat(n.b.getBoolAttr(true), x.dims, n.loc);
    return n.setOutput(1, mask, onnx::TensorProto_DataType_BOOL, x.dims);
  }
  return success();
}

ArrayRef<OpInfo> importer::getControlFlowOps() {
  static const OpInfo ops[] = {
      {"If", 1, 1, 1, kVariadic, importIf},
      {"Constant", 0, 0, 1, 1, importConstant},
      {"Identity", 1, 1, 1, 1, importIdentity},
      {"Dropout", 1, 3, 1, 2, importDropout},
  };
  return ops;
}
