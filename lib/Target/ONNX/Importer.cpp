//===- Importer.cpp - ONNX model -> ds/func/arith/tensor ------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The model level of the importer: reads and validates the protobuf (IR and
// opset versions, inputs, initializers), builds `func.func @forward` with
// weights and inputs as arguments, dispatches nodes to the op families, and
// returns the graph outputs.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <climits>

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

//===----------------------------------------------------------------------===//
// Op dispatch
//===----------------------------------------------------------------------===//

static const llvm::StringMap<const OpInfo *> &opTable() {
  static const llvm::StringMap<const OpInfo *> table = [] {
    llvm::StringMap<const OpInfo *> t;
    for (ArrayRef<OpInfo> family :
         {getElementwiseOps(), getUnaryOps(), getCastOps(), getMatMulOps(),
          getReductionOps(), getReshapeOps(), getSliceOps(), getShapeOps(),
          getGatherOps(), getNormOps(), getControlFlowOps(),
          getAttentionOps()})
      for (const OpInfo &info : family)
        t[info.name] = &info;
    return t;
  }();
  return table;
}

ArrayRef<StringRef> mlir::ds::getSupportedONNXOps() {
  static const std::vector<StringRef> names = [] {
    std::vector<StringRef> v;
    for (const auto &entry : opTable())
      v.push_back(entry.second->name);
    llvm::sort(v);
    return v;
  }();
  return names;
}

void mlir::ds::registerImportDialects(DialectRegistry &registry) {
  registry.insert<DSDialect, arith::ArithDialect, func::FuncDialect,
                  linalg::LinalgDialect, math::MathDialect,
                  tensor::TensorDialect>();
}

static std::string countRange(unsigned lo, unsigned hi, StringRef noun) {
  std::string s;
  llvm::raw_string_ostream os(s);
  if (hi == kVariadic)
    os << "at least " << lo << " " << noun << (lo == 1 ? "" : "s");
  else if (lo == hi)
    os << lo << " " << noun << (lo == 1 ? "" : "s");
  else
    os << lo << " to " << hi << " " << noun << "s";
  return s;
}

LogicalResult GraphImporter::importNode(const onnx::NodeProto &node,
                                        int64_t index) {
  NodeImporter n(*this, node, index);
  if (!node.domain().empty() && node.domain() != "ai.onnx")
    return n.error() << "unknown domain '" << node.domain() << "'";
  auto it = opTable().find(node.op_type());
  if (it == opTable().end())
    return n.error() << "unsupported operator";
  const OpInfo &info = *it->second;
  unsigned numIn = node.input_size(), numOut = node.output_size();
  if (numIn < info.minInputs || numIn > info.maxInputs)
    return n.error() << "expected "
                     << countRange(info.minInputs, info.maxInputs, "input")
                     << ", got " << numIn;
  if (numOut < info.minOutputs || numOut > info.maxOutputs)
    return n.error() << "expected "
                     << countRange(info.minOutputs, info.maxOutputs, "output")
                     << ", got " << numOut;
  for (unsigned i = 0; i < numIn; ++i) {
    if (node.input(i).empty()) {
      if (i < info.minInputs)
        return n.error() << "input " << i << " is required";
      continue;
    }
    if (!scope->lookup(node.input(i)))
      return n.error() << "input '" << node.input(i) << "' is not defined";
  }
  for (unsigned i = 0; i < numOut; ++i)
    for (unsigned j = 0; j < i; ++j)
      if (!node.output(i).empty() && node.output(i) == node.output(j))
        return n.error() << "output '" << node.output(i) << "' appears twice";
  if (failed(info.import(n)))
    return failure();
  for (unsigned i = 0; i < numOut; ++i) {
    const std::string &name = node.output(i);
    if (name.empty() || scope->values.count(name))
      continue;
    if (used.contains(name))
      return n.error() << "output " << i << " ('" << name
                       << "') is not supported";
  }
  return success();
}

LogicalResult GraphImporter::importNodes(const onnx::GraphProto &graph) {
  for (auto [index, node] : llvm::enumerate(graph.node()))
    if (failed(importNode(node, index)))
      return failure();
  return success();
}

FailureOr<SmallVector<TensorValue>>
GraphImporter::importSubgraph(const onnx::GraphProto &graph) {
  Scope inner;
  inner.parent = scope;
  Scope *outer = scope;
  scope = &inner;
  llvm::scope_exit restore([&] { scope = outer; });
  for (const onnx::TensorProto &tensor : graph.initializer()) {
    std::string what = "initializer '" + tensor.name() + "'";
    FailureOr<SmallVector<int64_t>> shape =
        checkTensorHeader(*this, tensor, what);
    if (failed(shape))
      return failure();
    if (tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL ||
        *checkedProduct(*shape, INT64_MAX) > options.maxInlineConstantElements)
      return error() << what << " of a subgraph is too large to inline";
    FailureOr<DenseElementsAttr> attr = decodeTensor(*this, tensor, what);
    if (failed(attr))
      return failure();
    if (scope->lookup(tensor.name()))
      return error() << "value '" << tensor.name() << "' is defined twice";
    inner.values[tensor.name()] = constantValue(*attr, tensor.data_type());
  }
  if (failed(importNodes(graph)))
    return failure();
  SmallVector<TensorValue> outputs;
  for (const onnx::ValueInfoProto &out : graph.output()) {
    TensorValue *v = scope->lookup(out.name());
    if (!v)
      return error() << "subgraph output '" << out.name()
                     << "' is not produced by any node";
    outputs.push_back(*v);
  }
  return outputs;
}

//===----------------------------------------------------------------------===//
// ModelImporter
//===----------------------------------------------------------------------===//

namespace {
/// Imports one model file.
class ModelImporter {
public:
  ModelImporter(MLIRContext &ctx, StringRef path, const ImportOptions &options)
      : g(ctx, path, options) {}

  FailureOr<ImportedModel> run(StringRef bytes);

private:
  LogicalResult checkVersions();
  void collectUses(const onnx::GraphProto &graph);
  LogicalResult addInputs(Block &body);
  LogicalResult addInitializers(Block &body);
  LogicalResult addOutputs(func::FuncOp func);
  LogicalResult addWeight(Block &body, onnx::TensorProto &tensor,
                          StringRef valueName, StringRef what);

  GraphImporter g;
  onnx::ModelProto model;
  std::string modelDir;
  std::vector<WeightInfo> weights;
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  Scope top;
};
} // namespace

LogicalResult ModelImporter::checkVersions() {
  // IR 11 (ONNX 1.18, the IR of opset 23 exports) adds FLOAT4E2M1, which
  // is rejected as an element type like any other unsupported one, and
  // multi-device configurations, which do not change what a graph
  // computes and are ignored.
  int64_t ir = model.ir_version();
  if (ir < 3 || ir > 11)
    return g.error() << "unsupported ir_version " << ir
                     << " (expected 3 to 11)";
  std::optional<int64_t> opset;
  for (const onnx::OperatorSetIdProto &op : model.opset_import()) {
    if (!op.domain().empty() && op.domain() != "ai.onnx")
      continue;
    if (opset && *opset != op.version())
      return g.error() << "conflicting opset versions " << *opset << " and "
                       << op.version() << " for the default domain";
    opset = op.version();
  }
  if (!opset)
    return g.error() << "model does not import the default ONNX opset";
  if (*opset < 13 || *opset > 23)
    return g.error() << "unsupported opset version " << *opset
                     << " for the default domain (expected 13 to 23)";
  g.opset = *opset;
  if (!model.has_graph())
    return g.error() << "model has no graph";
  return success();
}

void ModelImporter::collectUses(const onnx::GraphProto &graph) {
  for (const onnx::NodeProto &node : graph.node()) {
    for (const std::string &in : node.input())
      if (!in.empty())
        g.used.insert(in);
    for (const onnx::AttributeProto &attr : node.attribute()) {
      if (attr.has_g())
        collectUses(attr.g());
      for (const onnx::GraphProto &sub : attr.graphs())
        collectUses(sub);
    }
  }
  for (const onnx::ValueInfoProto &out : graph.output())
    g.used.insert(out.name());
}

LogicalResult ModelImporter::addWeight(Block &body, onnx::TensorProto &tensor,
                                       StringRef valueName, StringRef what) {
  FailureOr<WeightInfo> info = makeWeightInfo(g, tensor, modelDir, what);
  if (failed(info))
    return failure();
  info->name = valueName.str();
  Type elem = elementTypeFor(&g.ctx, info->dtype);
  auto type = RankedTensorType::get(info->shape, elem);
  BlockArgument arg = body.addArgument(type, g.fileLoc);
  argTypes.push_back(type);
  argAttrs.push_back(g.b.getDictionaryAttr(
      g.b.getNamedAttr("ds.weight", g.b.getStringAttr(valueName))));
  TensorValue v;
  v.type = type;
  v.dtype = info->dtype;
  v.value = arg;
  for (int64_t d : info->shape)
    v.dims.push_back(g.b.getIndexAttr(d));
  top.values[valueName] = std::move(v);
  weights.push_back(std::move(*info));
  return success();
}

LogicalResult ModelImporter::addInitializers(Block &body) {
  onnx::GraphProto &graph = *model.mutable_graph();
  for (int i = 0, e = graph.initializer_size(); i < e; ++i) {
    onnx::TensorProto &tensor = *graph.mutable_initializer(i);
    std::string what = "initializer '" + tensor.name() + "'";
    if (tensor.name().empty())
      return g.error() << "initializer #" << i << " has no name";
    if (top.values.count(tensor.name()))
      return g.error() << what << " is defined twice";
    FailureOr<SmallVector<int64_t>> shape = checkTensorHeader(g, tensor, what);
    if (failed(shape))
      return failure();
    if (!g.used.contains(tensor.name()))
      continue;
    int64_t numel = *checkedProduct(*shape, INT64_MAX);
    bool external =
        tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
    if (!external && numel <= g.options.maxInlineConstantElements) {
      FailureOr<DenseElementsAttr> attr = decodeTensor(g, tensor, what);
      if (failed(attr))
        return failure();
      top.values[tensor.name()] = g.constantValue(*attr, tensor.data_type());
      continue;
    }
    if (failed(addWeight(body, tensor, tensor.name(), what)))
      return failure();
  }
  // Constant nodes too big to inline are weights as well.
  for (onnx::NodeProto &node : *graph.mutable_node()) {
    if (node.op_type() != "Constant" ||
        (!node.domain().empty() && node.domain() != "ai.onnx") ||
        node.output_size() != 1 || !g.used.contains(node.output(0)))
      continue;
    for (onnx::AttributeProto &attr : *node.mutable_attribute()) {
      if (attr.name() != "value" || !attr.has_t())
        continue;
      onnx::TensorProto &tensor = *attr.mutable_t();
      std::string what = "constant '" + node.output(0) + "'";
      FailureOr<SmallVector<int64_t>> shape =
          checkTensorHeader(g, tensor, what);
      if (failed(shape))
        return failure();
      int64_t numel = *checkedProduct(*shape, INT64_MAX);
      bool external =
          tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
      if (!external && numel <= g.options.maxInlineConstantElements)
        continue;
      if (top.values.count(node.output(0)))
        return g.error() << "value '" << node.output(0) << "' is defined twice";
      if (failed(addWeight(body, tensor, node.output(0), what)))
        return failure();
      g.constantWeights.insert(node.output(0));
    }
  }
  return success();
}

/// Parses `--shape`-style sizes of an input into the func argument type.
LogicalResult ModelImporter::addInputs(Block &body) {
  const onnx::GraphProto &graph = model.graph();
  llvm::StringSet<> inputNames;
  llvm::StringMap<Value> dimParams;
  for (const auto &entry : g.options.pinnedShapes) {
    bool found = llvm::any_of(graph.input(), [&](const auto &in) {
      return in.name() == entry.getKey();
    });
    if (!found)
      return g.error() << "--shape names '" << entry.getKey()
                       << "', which is not a graph input";
  }
  for (const onnx::ValueInfoProto &in : graph.input()) {
    const std::string &name = in.name();
    // Inputs that repeat an initializer are its default value (IR < 4).
    if (top.values.count(name))
      continue;
    bool isInitializer = llvm::any_of(
        graph.initializer(), [&](const auto &t) { return t.name() == name; });
    if (isInitializer)
      continue;
    if (name.empty())
      return g.error() << "graph input has no name";
    if (!inputNames.insert(name).second)
      return g.error() << "input '" << name << "' is declared twice";
    if (!in.type().has_tensor_type())
      return g.error() << "input '" << name
                       << "': only tensor inputs are supported";
    const onnx::TypeProto_Tensor &tt = in.type().tensor_type();
    Type elem = elementTypeFor(&g.ctx, tt.elem_type());
    if (!elem)
      return g.error() << "input '" << name << "': unsupported element type "
                       << dtypeName(tt.elem_type());
    auto pinned = g.options.pinnedShapes.find(name);
    bool isPinned = pinned != g.options.pinnedShapes.end();
    if (!tt.has_shape() && !isPinned)
      return g.error() << "input '" << name
                       << "' has no shape (pin one with --shape)";
    int64_t rank = isPinned ? pinned->second.size() : tt.shape().dim_size();
    if (rank > kMaxRank)
      return g.error() << "input '" << name << "': rank " << rank
                       << " exceeds the maximum of " << kMaxRank;
    if (isPinned && tt.has_shape() && tt.shape().dim_size() != rank)
      return g.error() << "--shape " << name << ": expected "
                       << tt.shape().dim_size() << " dimensions, got " << rank;
    SmallVector<int64_t> shape;
    SmallVector<std::string> dimNames, dimKeys(rank);
    for (int64_t i = 0; i < rank; ++i) {
      const onnx::TensorShapeProto_Dimension *dim =
          tt.has_shape() ? &tt.shape().dim(i) : nullptr;
      if (dim && dim->has_dim_value() && dim->dim_value() < 0)
        return g.error() << "input '" << name << "': dimension " << i
                         << " is negative (" << dim->dim_value() << ")";
      if (isPinned) {
        int64_t size = pinned->second[i];
        if (size < 0)
          return g.error() << "--shape " << name << ": dimension " << i
                           << " is negative (" << size << ")";
        if (dim && dim->has_dim_value() && dim->dim_value() != size)
          return g.error() << "--shape " << name << ": dimension " << i
                           << " is " << dim->dim_value()
                           << " in the model, got " << size;
        shape.push_back(size);
        dimNames.push_back("");
        continue;
      }
      if (dim && dim->has_dim_value() && !g.options.symbolicInputs) {
        shape.push_back(dim->dim_value());
        dimNames.push_back("");
        continue;
      }
      shape.push_back(ShapedType::kDynamic);
      if (dim && dim->has_dim_param() && !dim->dim_param().empty()) {
        dimNames.push_back(dim->dim_param());
        // Sizes that share a dim_param share one Value.
        dimKeys[i] = dim->dim_param();
      } else {
        dimNames.push_back("d" + name + "_" + std::to_string(i));
      }
    }
    if (!checkedProduct(
            llvm::to_vector(llvm::map_range(
                shape,
                [](int64_t d) { return ShapedType::isDynamic(d) ? 1 : d; })),
            g.options.maxTensorElements))
      return g.error() << "input '" << name << "': more than "
                       << g.options.maxTensorElements << " elements";
    auto type = RankedTensorType::get(shape, elem);
    Location loc = NameLoc::get(g.b.getStringAttr(name), g.fileLoc);
    BlockArgument arg = body.addArgument(type, loc);
    argTypes.push_back(type);
    SmallVector<Attribute> names;
    for (const std::string &d : dimNames)
      names.push_back(g.b.getStringAttr(d));
    SmallVector<NamedAttribute> attrs = {
        g.b.getNamedAttr("ds.input", g.b.getStringAttr(name)),
        g.b.getNamedAttr("ds.dim_names", g.b.getArrayAttr(names))};
    // uint8 is i8 in the IR: say so for the runtime's dtype checks.
    if (tt.elem_type() == onnx::TensorProto_DataType_UINT8)
      attrs.push_back(g.b.getNamedAttr("ds.unsigned", g.b.getUnitAttr()));
    argAttrs.push_back(g.b.getDictionaryAttr(attrs));
    TensorValue v;
    v.type = type;
    v.dtype = tt.elem_type();
    v.value = arg;
    for (int64_t i = 0; i < rank; ++i) {
      if (!ShapedType::isDynamic(shape[i])) {
        v.dims.push_back(g.b.getIndexAttr(shape[i]));
        continue;
      }
      Value fresh;
      Value &size = dimKeys[i].empty() ? fresh : dimParams[dimKeys[i]];
      if (!size) {
        size = tensor::DimOp::create(
            g.b, loc, arg, g.sym.materialize(loc, g.b.getIndexAttr(i)));
        // Symbolic input sizes are at least 1 (docs/Importer.md).
        g.sym.assumeAtLeast(size, 1);
      }
      v.dims.push_back(size);
    }
    top.values[name] = std::move(v);
  }
  return success();
}

LogicalResult ModelImporter::addOutputs(func::FuncOp func) {
  const onnx::GraphProto &graph = model.graph();
  if (graph.output_size() == 0)
    return g.error() << "graph has no outputs";
  SmallVector<Value> results;
  SmallVector<Attribute> names;
  for (const onnx::ValueInfoProto &out : graph.output()) {
    TensorValue *v = top.lookup(out.name());
    if (!v)
      return g.error() << "graph output '" << out.name()
                       << "' is not produced by any node";
    if (out.type().has_tensor_type() && out.type().tensor_type().elem_type() &&
        out.type().tensor_type().elem_type() != v->dtype)
      return g.error() << "graph output '" << out.name() << "' is declared "
                       << dtypeName(out.type().tensor_type().elem_type())
                       << " but computed as " << dtypeName(v->dtype);
    Location loc = NameLoc::get(g.b.getStringAttr(out.name()), g.fileLoc);
    results.push_back(g.materialize(*v, loc));
    names.push_back(g.b.getStringAttr(out.name()));
  }
  func::ReturnOp::create(g.b, g.fileLoc, results);
  func.setFunctionType(g.b.getFunctionType(
      argTypes, llvm::to_vector(ValueRange(results).getTypes())));
  for (auto [i, attrs] : llvm::enumerate(argAttrs))
    func.setArgAttrs(i, attrs);
  for (auto [i, out] : llvm::enumerate(graph.output()))
    if (top.lookup(out.name())->dtype == onnx::TensorProto_DataType_UINT8)
      func.setResultAttr(i, "ds.unsigned", g.b.getUnitAttr());
  func->setAttr("ds.output_names", g.b.getArrayAttr(names));
  return success();
}

/// Erases side-effect-free ops without uses (unused known values, constants
/// and sizes), last first.
static void eraseDeadOps(Block &body) {
  for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
    if (isOpTriviallyDead(&op))
      op.erase();
}

FailureOr<ImportedModel> ModelImporter::run(StringRef bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    return g.error() << "model file is larger than 2 GiB; store the weights "
                        "as external data";
  if (!model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return g.error() << "failed to parse ONNX model";
  SmallString<256> dir(g.path);
  llvm::sys::path::remove_filename(dir);
  if (dir.empty())
    dir = ".";
  modelDir = std::string(dir);
  if (failed(checkVersions()))
    return failure();
  collectUses(model.graph());

  MLIRContext &ctx = g.ctx;
  ctx.loadDialect<DSDialect, arith::ArithDialect, func::FuncDialect,
                  linalg::LinalgDialect, math::MathDialect,
                  tensor::TensorDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(g.fileLoc);
  g.b.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(g.b, g.fileLoc, "forward",
                                   g.b.getFunctionType({}, {}));
  Block *body = func.addEntryBlock();
  g.b.setInsertionPointToEnd(body);
  g.scope = &top;

  if (failed(addInitializers(*body)) || failed(addInputs(*body)) ||
      failed(g.importNodes(model.graph())) || failed(addOutputs(func)))
    return failure();
  eraseDeadOps(*body);
  // Weights only dead code read are not arguments.
  for (int64_t i = static_cast<int64_t>(weights.size()) - 1; i >= 0; --i) {
    if (!body->getArgument(i).use_empty())
      continue;
    (void)func.eraseArgument(i);
    weights.erase(weights.begin() + i);
  }
  if (failed(verify(*module)))
    return g.error() << "internal error: the imported IR does not verify";

  ImportedModel result;
  result.module = std::move(module);
  result.weights = std::move(weights);
  return result;
}

FailureOr<ImportedModel>
mlir::ds::importONNXFile(StringRef path, MLIRContext &ctx,
                         const ImportOptions &options) {
  Location loc = FileLineColLoc::get(&ctx, path, 0, 0);
  if (llvm::sys::fs::is_directory(path))
    return emitError(loc) << "is a directory, not an ONNX model";
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!buffer)
    return emitError(loc) << "cannot read the model: "
                          << buffer.getError().message();
  ModelImporter importer(ctx, path, options);
  return importer.run((*buffer)->getBuffer());
}

FailureOr<ImportedModel>
importer::importONNXBytes(StringRef bytes, StringRef path, MLIRContext &ctx,
                          const ImportOptions &options) {
  ModelImporter importer(ctx, path, options);
  return importer.run(bytes);
}
