//===- ImporterImpl.h - internals of the ONNX importer ----------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Shared by the importer's files: the state of one ONNX value
// (`TensorValue`), the graph-level importer, the per-node view op importers
// receive (`NodeImporter`), and the op tables of each op family.
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_TARGET_ONNX_IMPORTERIMPL_H
#define DS_LIB_TARGET_ONNX_IMPORTERIMPL_H

#include "ds/Target/ONNX/Import.h"
#include "ds/Target/ONNX/SymbolicValues.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <optional>

namespace mlir {
namespace func {
class FuncOp;
} // namespace func
namespace ds {
namespace importer {

/// Ranks above this are rejected.
constexpr int64_t kMaxRank = 16;
/// Integer and bool tensors with at most this many elements get a known
/// value (their elements as OpFoldResults).
constexpr int64_t kMaxKnownElements = 64;

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

using DType = int32_t;

/// `FLOAT`, `INT64`, ... (the TensorProto.DataType enum name), or `<N>`.
std::string dtypeName(DType dtype);
/// The MLIR element type of a supported ONNX type, else null. Unsigned types
/// map to signless integers; bool to i1.
Type elementTypeFor(MLIRContext *ctx, DType dtype);
/// Bytes per element in raw_data (bool: 1), or 0 when unsupported.
int64_t dtypeByteSize(DType dtype);
bool isFloatDType(DType dtype);
bool isUnsignedDType(DType dtype);
bool isBoolDType(DType dtype);
/// Signed or unsigned integers and bool: what known values are kept for.
bool isIntegralDType(DType dtype);

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

/// The import-time state of one ONNX value.
struct TensorValue {
  RankedTensorType type;
  DType dtype = 0;
  /// One entry per dimension: an IntegerAttr when static, else the `index`
  /// Value of the size (shared by every tensor known to have that size).
  SmallVector<OpFoldResult> dims;
  /// The tensor; null until a consumer needs it when `known` or `constant`
  /// describes the value.
  Value value;
  /// For small integral tensors: every element (row-major), as an IntegerAttr
  /// or an `index` Value.
  std::optional<SmallVector<OpFoldResult>> known;
  /// The whole value when it is a constant of at most maxFoldElements.
  DenseElementsAttr constant;

  int64_t rank() const { return type.getRank(); }
  Type elementType() const { return type.getElementType(); }
  /// The known elements as int64_t when all are constant.
  std::optional<SmallVector<int64_t>> constantInts() const;
};

/// Builds `[d0, d1, ...]` from OpFoldResult sizes.
RankedTensorType tensorTypeFor(ArrayRef<OpFoldResult> dims, Type elementType);
/// Static sizes of `dims`, ShapedType::kDynamic for symbolic ones.
SmallVector<int64_t> staticShapeOf(ArrayRef<OpFoldResult> dims);
/// The product of static sizes, or nullopt on overflow past `cap`.
std::optional<int64_t> checkedProduct(ArrayRef<int64_t> sizes, int64_t cap);

class GraphImporter;

//===----------------------------------------------------------------------===//
// NodeImporter
//===----------------------------------------------------------------------===//

/// What an op importer sees of one node.
class NodeImporter {
public:
  NodeImporter(GraphImporter &graph, const onnx::NodeProto &node,
               int64_t index);

  GraphImporter &graph;
  const onnx::NodeProto &node;
  /// The node's name, or `#<index>` when it has none.
  std::string name;
  Location loc;
  OpBuilder &b;
  SymbolicIndexBuilder &sym;

  const ImportOptions &options() const;
  StringRef opType() const { return node.op_type(); }
  int64_t opset() const;

  /// Starts `node 'NAME' (OpType): ` at the node's location.
  InFlightDiagnostic error();

  // Inputs (all present inputs are defined when the importer runs).
  unsigned numInputs() const { return node.input_size(); }
  bool hasInput(unsigned i) const;
  TensorValue &input(unsigned i);
  /// The input as a tensor Value (materialized on first use).
  Value tensor(unsigned i);
  /// The constant integers of an input (`axes`, `repeats`, ...), with an
  /// error naming `what` when they are not known at import.
  FailureOr<SmallVector<int64_t>> constantInts(unsigned i, StringRef what);
  /// The known elements of an integral input, with an error naming `what`
  /// when the input is not known at import.
  FailureOr<SmallVector<OpFoldResult>> knownElements(unsigned i,
                                                     StringRef what);

  // Outputs.
  unsigned numOutputs() const { return node.output_size(); }
  /// Present and named.
  bool hasOutput(unsigned i) const;
  /// Present, named and read by a node or a graph output.
  bool isOutputUsed(unsigned i) const;
  LogicalResult setOutput(unsigned i, TensorValue value);
  /// Defines output `i` as `value`, whose sizes are `dims` (taken from
  /// `tensor.dim` for dynamic sizes when empty).
  LogicalResult setOutput(unsigned i, Value value, DType dtype,
                          ArrayRef<OpFoldResult> dims = {});

  // Attributes (a wrong attribute type is an error).
  const onnx::AttributeProto *attr(StringRef name) const;
  FailureOr<int64_t> intAttr(StringRef name,
                             std::optional<int64_t> dflt = std::nullopt);
  FailureOr<float> floatAttr(StringRef name,
                             std::optional<float> dflt = std::nullopt);
  FailureOr<std::string>
  stringAttr(StringRef name, std::optional<StringRef> dflt = std::nullopt);
  /// Absent: nullopt.
  FailureOr<std::optional<SmallVector<int64_t>>> intsAttr(StringRef name);

  // Checks.
  /// Fails unless input `i` has a float element type.
  LogicalResult requireFloat(unsigned i);
  /// Fails unless the inputs have one element type.
  LogicalResult requireSameElementType(ArrayRef<unsigned> inputs);
  /// Fails unless the static sizes of a result multiply to at most
  /// maxTensorElements (checked before anything of that size is built).
  LogicalResult checkElements(ArrayRef<OpFoldResult> dims);
  /// Normalizes `axis` into [0, rank).
  FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                   StringRef what = "axis");
};

//===----------------------------------------------------------------------===//
// Op tables
//===----------------------------------------------------------------------===//

using OpImportFn = LogicalResult (*)(NodeImporter &);

struct OpInfo {
  StringRef name;
  unsigned minInputs, maxInputs;
  unsigned minOutputs, maxOutputs;
  OpImportFn import;
};

constexpr unsigned kVariadic = ~0u;

ArrayRef<OpInfo> getElementwiseOps();
ArrayRef<OpInfo> getUnaryOps();
ArrayRef<OpInfo> getCastOps();
ArrayRef<OpInfo> getMatMulOps();
ArrayRef<OpInfo> getReductionOps();
ArrayRef<OpInfo> getReshapeOps();
ArrayRef<OpInfo> getSliceOps();
ArrayRef<OpInfo> getShapeOps();
ArrayRef<OpInfo> getGatherOps();
ArrayRef<OpInfo> getNormOps();
ArrayRef<OpInfo> getControlFlowOps();
ArrayRef<OpInfo> getAttentionOps();

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

/// Values of one graph; a subgraph's scope sees its parents'.
struct Scope {
  llvm::StringMap<TensorValue> values;
  Scope *parent = nullptr;
  TensorValue *lookup(StringRef name);
};

class GraphImporter {
public:
  GraphImporter(MLIRContext &ctx, StringRef path, const ImportOptions &options);

  MLIRContext &ctx;
  std::string path;
  const ImportOptions &options;
  OpBuilder b;
  SymbolicIndexBuilder sym;
  Location fileLoc;
  int64_t opset = 0;
  /// Names read by any node (in any graph) or graph output.
  llvm::StringSet<> used;
  /// Outputs of Constant nodes imported as weights (defined up front).
  llvm::StringSet<> constantWeights;
  Scope *scope = nullptr;

  /// An error located at the model file.
  InFlightDiagnostic error() { return emitError(fileLoc); }

  /// Imports the nodes of `graph` in order into the current scope.
  LogicalResult importNodes(const onnx::GraphProto &graph);
  LogicalResult importNode(const onnx::NodeProto &node, int64_t index);
  /// Imports `graph` (an If branch) in a scope nested in the current one and
  /// returns its outputs.
  FailureOr<SmallVector<TensorValue>>
  importSubgraph(const onnx::GraphProto &graph);

  // Constants and known values.
  /// A constant value (kept as a known value too when small and integral).
  TensorValue constantValue(DenseElementsAttr attr, DType dtype);
  /// A value with known elements (a constant when they all are).
  TensorValue knownValue(DType dtype, ArrayRef<int64_t> shape,
                         ArrayRef<OpFoldResult> elements);
  /// The tensor of `value`, materializing a constant or known value here.
  Value materialize(TensorValue &value, Location loc);
  /// The sizes of a tensor Value (`tensor.dim` for dynamic ones).
  SmallVector<OpFoldResult> dimsOf(Value tensor, Location loc);

  // Emission helpers.
  /// The `index` Values of the dynamic entries of `dims`.
  SmallVector<Value> dynamicSizes(ArrayRef<OpFoldResult> dims, Location loc);
  /// `value` broadcast to `dims` (itself when its type already matches).
  Value broadcastTo(Value value, ArrayRef<OpFoldResult> dims, Location loc);
  /// Reshapes `value` (sizes `from`) to `to`: tensor.expand_shape or
  /// collapse_shape when the sizes regroup, tensor.reshape otherwise.
  Value reshape(Value value, ArrayRef<OpFoldResult> from,
                ArrayRef<OpFoldResult> to, Location loc);
  /// A tensor of `dims` filled with `scalar` (a TypedAttr).
  Value splat(TypedAttr scalar, ArrayRef<OpFoldResult> dims, Location loc);
  /// `tensor.empty` of `dims`.
  Value emptyTensor(ArrayRef<OpFoldResult> dims, Type elementType,
                    Location loc);
  /// linalg.transpose of `value` (sizes `dims`) into a tensor.empty:
  /// result dimension i is input dimension perm[i].
  Value transpose(Value value, ArrayRef<OpFoldResult> dims,
                  ArrayRef<int64_t> perm, Location loc);
  /// A scalar attribute of `elementType` with value `v`.
  TypedAttr scalarAttr(Type elementType, double v);
};

//===----------------------------------------------------------------------===//
// Shared helpers of the op families
//===----------------------------------------------------------------------===//

/// Numpy broadcast of the sizes of several operands; reports an error on the
/// node when two static sizes disagree.
FailureOr<SmallVector<OpFoldResult>>
broadcastDims(NodeImporter &n, ArrayRef<SmallVector<OpFoldResult>> shapes);

/// Decodes a TensorProto that is not external into an attribute; `what`
/// names it in errors.
FailureOr<DenseElementsAttr>
decodeTensor(GraphImporter &g, const onnx::TensorProto &tensor, StringRef what);
/// Checks a TensorProto's type, dims and element count; returns its shape.
FailureOr<SmallVector<int64_t>>
checkTensorHeader(GraphImporter &g, const onnx::TensorProto &tensor,
                  StringRef what);

/// The metadata (and embedded bytes, moved out of `tensor`) of a weight;
/// external data is located inside `modelDir` and bounds-checked, not read.
FailureOr<WeightInfo> makeWeightInfo(GraphImporter &g,
                                     onnx::TensorProto &tensor,
                                     StringRef modelDir, StringRef what);

/// importONNXFile on bytes already read (the translation's buffer); `path`
/// locates external data and names the file in diagnostics.
FailureOr<ImportedModel> importONNXBytes(StringRef bytes, StringRef path,
                                         MLIRContext &ctx,
                                         const ImportOptions &options);

/// Folds `tensor` on index maps: result element i is `src[map(i)]`.
DenseElementsAttr remapElements(DenseElementsAttr src, RankedTensorType type,
                                function_ref<int64_t(int64_t)> map);

/// Formats sizes as `[2, ?, 64]`.
std::string dimsString(ArrayRef<OpFoldResult> dims);

/// Formats sizes as `[2, ?, 64]`.
std::string dimsString(ArrayRef<OpFoldResult> dims);

/// Strides of a row-major static shape.
SmallVector<int64_t> rowMajorStrides(ArrayRef<int64_t> shape);

} // namespace importer
} // namespace ds
} // namespace mlir

#endif // DS_LIB_TARGET_ONNX_IMPORTERIMPL_H
