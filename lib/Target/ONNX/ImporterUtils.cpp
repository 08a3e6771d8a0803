//===- ImporterUtils.cpp - nodes, values and known values -----------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// What every op family uses: the node view (inputs, outputs, attributes,
// diagnostics), known values and their materialization.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

//===----------------------------------------------------------------------===//
// Small helpers
//===----------------------------------------------------------------------===//

TensorValue *Scope::lookup(StringRef name) {
  for (Scope *s = this; s; s = s->parent) {
    auto it = s->values.find(name);
    if (it != s->values.end())
      return &it->second;
  }
  return nullptr;
}

std::optional<SmallVector<int64_t>> TensorValue::constantInts() const {
  if (!known)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (OpFoldResult e : *known) {
    std::optional<int64_t> c = getConstantIntValue(e);
    if (!c)
      return std::nullopt;
    out.push_back(*c);
  }
  return out;
}

RankedTensorType importer::tensorTypeFor(ArrayRef<OpFoldResult> dims,
                                         Type elementType) {
  return RankedTensorType::get(staticShapeOf(dims), elementType);
}

SmallVector<int64_t> importer::staticShapeOf(ArrayRef<OpFoldResult> dims) {
  return llvm::to_vector(llvm::map_range(dims, [](OpFoldResult d) {
    return getConstantIntValue(d).value_or(ShapedType::kDynamic);
  }));
}

SmallVector<int64_t> importer::rowMajorStrides(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t i = static_cast<int64_t>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

std::string importer::dimsString(ArrayRef<OpFoldResult> dims) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(dims)) {
    if (i)
      s += ", ";
    std::optional<int64_t> c = getConstantIntValue(d);
    s += c ? std::to_string(*c) : "?";
  }
  return s + "]";
}

DenseElementsAttr importer::remapElements(DenseElementsAttr src,
                                          RankedTensorType type,
                                          function_ref<int64_t(int64_t)> map) {
  if (src.isSplat())
    return DenseElementsAttr::get(type, src.getSplatValue<Attribute>());
  int64_t n = type.getNumElements();
  if (isa<FloatType>(src.getElementType())) {
    SmallVector<APFloat> in(src.getValues<APFloat>());
    SmallVector<APFloat> out;
    out.reserve(n);
    for (int64_t i = 0; i < n; ++i)
      out.push_back(in[map(i)]);
    return DenseElementsAttr::get(type, out);
  }
  SmallVector<APInt> in(src.getValues<APInt>());
  SmallVector<APInt> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i)
    out.push_back(in[map(i)]);
  return DenseElementsAttr::get(type, out);
}

//===----------------------------------------------------------------------===//
// NodeImporter
//===----------------------------------------------------------------------===//

static std::string nodeName(const onnx::NodeProto &node, int64_t index) {
  return node.name().empty() ? "#" + std::to_string(index) : node.name();
}

NodeImporter::NodeImporter(GraphImporter &graph, const onnx::NodeProto &node,
                           int64_t index)
    : graph(graph), node(node), name(nodeName(node, index)),
      loc(NameLoc::get(StringAttr::get(&graph.ctx, name), graph.fileLoc)),
      b(graph.b), sym(graph.sym) {}

const ImportOptions &NodeImporter::options() const { return graph.options; }
int64_t NodeImporter::opset() const { return graph.opset; }

InFlightDiagnostic NodeImporter::error() {
  InFlightDiagnostic diag = emitError(loc);
  diag << "node '" << name << "' (" << node.op_type() << "): ";
  return diag;
}

bool NodeImporter::hasInput(unsigned i) const {
  return i < numInputs() && !node.input(i).empty();
}

TensorValue &NodeImporter::input(unsigned i) {
  TensorValue *v = graph.scope->lookup(node.input(i));
  assert(v && "inputs are resolved before the op importer runs");
  return *v;
}

Value NodeImporter::tensor(unsigned i) {
  return graph.materialize(input(i), loc);
}

FailureOr<SmallVector<OpFoldResult>>
NodeImporter::knownElements(unsigned i, StringRef what) {
  TensorValue &v = input(i);
  if (!v.known)
    return error() << "'" << what
                   << "' must be known at import (a constant or a shape "
                      "computation), got a computed tensor";
  return *v.known;
}

FailureOr<SmallVector<int64_t>> NodeImporter::constantInts(unsigned i,
                                                           StringRef what) {
  TensorValue &v = input(i);
  if (!isIntegralDType(v.dtype))
    return error() << "'" << what << "' must be an integer tensor, got "
                   << dtypeName(v.dtype);
  std::optional<SmallVector<int64_t>> ints = v.constantInts();
  if (!ints)
    return error() << "'" << what << "' must be a constant";
  return *ints;
}

bool NodeImporter::hasOutput(unsigned i) const {
  return i < numOutputs() && !node.output(i).empty();
}

bool NodeImporter::isOutputUsed(unsigned i) const {
  return hasOutput(i) && graph.used.contains(node.output(i));
}

LogicalResult NodeImporter::setOutput(unsigned i, TensorValue value) {
  if (!hasOutput(i))
    return success();
  const std::string &out = node.output(i);
  if (graph.scope->lookup(out))
    return error() << "value '" << out << "' is defined twice";
  assert(value.type &&
         static_cast<int64_t>(value.dims.size()) == value.type.getRank() &&
         "a value has one size per dimension");
  if (value.rank() > kMaxRank)
    return error() << "result rank " << value.rank()
                   << " exceeds the maximum of " << kMaxRank;
  if (failed(checkElements(value.dims)))
    return failure();
  graph.scope->values[out] = std::move(value);
  return success();
}

LogicalResult NodeImporter::setOutput(unsigned i, Value value, DType dtype,
                                      ArrayRef<OpFoldResult> dims) {
  TensorValue v;
  v.dtype = dtype;
  auto type = cast<RankedTensorType>(value.getType());
  if (dims.empty() && type.getRank() > 0) {
    v.dims = graph.dimsOf(value, loc);
  } else {
    v.dims.assign(dims.begin(), dims.end());
    // The type knows a size statically: use it.
    for (auto [d, s] : llvm::zip_equal(v.dims, type.getShape()))
      if (!ShapedType::isDynamic(s))
        d = b.getIndexAttr(s);
    // The sizes know more than the type: refine the type.
    RankedTensorType refined = tensorTypeFor(v.dims, type.getElementType());
    if (refined != type) {
      value = tensor::CastOp::create(b, loc, refined, value);
      type = refined;
    }
  }
  // Folded results are constants for later folding.
  DenseElementsAttr folded;
  if (matchPattern(value, m_Constant(&folded)) &&
      type.getNumElements() <= options().maxFoldElements) {
    TensorValue c = graph.constantValue(folded, dtype);
    c.value = value;
    return setOutput(i, std::move(c));
  }
  v.type = type;
  v.value = value;
  return setOutput(i, std::move(v));
}

const onnx::AttributeProto *NodeImporter::attr(StringRef attrName) const {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == attrName)
      return &a;
  return nullptr;
}

FailureOr<int64_t> NodeImporter::intAttr(StringRef attrName,
                                         std::optional<int64_t> dflt) {
  const onnx::AttributeProto *a = attr(attrName);
  if (!a) {
    if (dflt)
      return *dflt;
    return error() << "missing required attribute '" << attrName << "'";
  }
  if (a->type() != onnx::AttributeProto_AttributeType_INT)
    return error() << "attribute '" << attrName << "' must be an int";
  return a->i();
}

FailureOr<float> NodeImporter::floatAttr(StringRef attrName,
                                         std::optional<float> dflt) {
  const onnx::AttributeProto *a = attr(attrName);
  if (!a) {
    if (dflt)
      return *dflt;
    return error() << "missing required attribute '" << attrName << "'";
  }
  if (a->type() != onnx::AttributeProto_AttributeType_FLOAT)
    return error() << "attribute '" << attrName << "' must be a float";
  return a->f();
}

FailureOr<std::string> NodeImporter::stringAttr(StringRef attrName,
                                                std::optional<StringRef> dflt) {
  const onnx::AttributeProto *a = attr(attrName);
  if (!a) {
    if (dflt)
      return dflt->str();
    return error() << "missing required attribute '" << attrName << "'";
  }
  if (a->type() != onnx::AttributeProto_AttributeType_STRING)
    return error() << "attribute '" << attrName << "' must be a string";
  return a->s();
}

FailureOr<std::optional<SmallVector<int64_t>>>
NodeImporter::intsAttr(StringRef attrName) {
  const onnx::AttributeProto *a = attr(attrName);
  if (!a)
    return std::optional<SmallVector<int64_t>>();
  if (a->type() != onnx::AttributeProto_AttributeType_INTS)
    return error() << "attribute '" << attrName << "' must be a list of ints";
  return std::optional<SmallVector<int64_t>>(
      SmallVector<int64_t>(a->ints().begin(), a->ints().end()));
}

LogicalResult NodeImporter::requireFloat(unsigned i) {
  if (isFloatDType(input(i).dtype))
    return success();
  return error() << "expected a float tensor, got "
                 << dtypeName(input(i).dtype);
}

LogicalResult NodeImporter::requireSameElementType(ArrayRef<unsigned> inputs) {
  DType first = 0;
  for (unsigned i : inputs) {
    if (!hasInput(i))
      continue;
    DType t = input(i).dtype;
    if (!first)
      first = t;
    else if (t != first)
      return error() << "expected operands of one element type, got "
                     << dtypeName(first) << " and " << dtypeName(t);
  }
  return success();
}

LogicalResult NodeImporter::checkElements(ArrayRef<OpFoldResult> dims) {
  SmallVector<int64_t> sizes;
  for (OpFoldResult d : dims)
    sizes.push_back(getConstantIntValue(d).value_or(1));
  if (checkedProduct(sizes, options().maxTensorElements))
    return success();
  return error() << "result " << dimsString(dims) << " has more than "
                 << options().maxTensorElements << " elements";
}

FailureOr<int64_t> NodeImporter::normalizeAxis(int64_t axis, int64_t rank,
                                               StringRef what) {
  if (axis < -rank || axis >= rank)
    return error() << what << " " << axis << " is out of range for rank "
                   << rank;
  return axis < 0 ? axis + rank : axis;
}

//===----------------------------------------------------------------------===//
// GraphImporter: values
//===----------------------------------------------------------------------===//

GraphImporter::GraphImporter(MLIRContext &ctx, StringRef path,
                             const ImportOptions &options)
    : ctx(ctx), path(path.str()), options(options), b(&ctx), sym(b),
      fileLoc(FileLineColLoc::get(&ctx, path, 0, 0)) {}

TensorValue GraphImporter::constantValue(DenseElementsAttr attr, DType dtype) {
  TensorValue v;
  v.type = cast<RankedTensorType>(attr.getType());
  v.dtype = dtype;
  for (int64_t d : v.type.getShape())
    v.dims.push_back(b.getIndexAttr(d));
  v.constant = attr;
  if (isIntegralDType(dtype) && v.type.getNumElements() <= kMaxKnownElements) {
    SmallVector<OpFoldResult> elems;
    bool zext = isUnsignedDType(dtype);
    for (const APInt &e : attr.getValues<APInt>())
      elems.push_back(
          b.getIndexAttr(zext ? e.getZExtValue() : e.getSExtValue()));
    v.known = std::move(elems);
  }
  return v;
}

TensorValue GraphImporter::knownValue(DType dtype, ArrayRef<int64_t> shape,
                                      ArrayRef<OpFoldResult> elements) {
  Type elem = elementTypeFor(&ctx, dtype);
  auto type = RankedTensorType::get(shape, elem);
  SmallVector<APInt> ints;
  unsigned width = elem.getIntOrFloatBitWidth();
  for (OpFoldResult e : elements) {
    std::optional<int64_t> c = getConstantIntValue(e);
    if (!c)
      break;
    ints.push_back(APInt(width, isBoolDType(dtype) ? (*c != 0) : *c,
                         /*isSigned=*/true, /*implicitTrunc=*/true));
  }
  if (ints.size() == elements.size()) {
    // Normalize the stored elements to what the type holds.
    return constantValue(DenseElementsAttr::get(type, ints), dtype);
  }
  TensorValue v;
  v.type = type;
  v.dtype = dtype;
  for (int64_t d : shape)
    v.dims.push_back(b.getIndexAttr(d));
  v.known = SmallVector<OpFoldResult>(elements);
  return v;
}

Value GraphImporter::materialize(TensorValue &v, Location loc) {
  if (v.value)
    return v.value;
  if (v.constant) {
    v.value = arith::ConstantOp::create(b, loc, v.constant);
    return v.value;
  }
  assert(v.known && "a value without a tensor is known");
  Type elem = v.elementType();
  SmallVector<Value> elems;
  for (OpFoldResult e : *v.known) {
    if (std::optional<int64_t> c = getConstantIntValue(e)) {
      int64_t value = elem.isInteger(1) ? (*c != 0) : *c;
      elems.push_back(
          arith::ConstantOp::create(b, loc, IntegerAttr::get(elem, value)));
      continue;
    }
    Value idx = cast<Value>(e);
    if (elem.isInteger(1))
      elems.push_back(
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, idx,
                                sym.materialize(loc, b.getIndexAttr(0))));
    else
      elems.push_back(arith::IndexCastOp::create(b, loc, elem, idx));
  }
  v.value = tensor::FromElementsOp::create(b, loc, v.type, elems);
  return v.value;
}

SmallVector<OpFoldResult> GraphImporter::dimsOf(Value tensor, Location loc) {
  auto type = cast<RankedTensorType>(tensor.getType());
  SmallVector<OpFoldResult> dims;
  for (auto [i, d] : llvm::enumerate(type.getShape())) {
    if (!ShapedType::isDynamic(d)) {
      dims.push_back(b.getIndexAttr(d));
      continue;
    }
    Value size = tensor::DimOp::create(b, loc, tensor,
                                       sym.materialize(loc, b.getIndexAttr(i)));
    sym.assumeNonNegative(size);
    dims.push_back(size);
  }
  return dims;
}
