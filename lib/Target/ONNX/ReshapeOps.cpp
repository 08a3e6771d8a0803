//===- ReshapeOps.cpp - ONNX Reshape, Squeeze, Transpose, Expand, Tile ----===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Ops that rearrange elements without computing: the target shapes come
// from known values (symbolic sizes stay symbolic), so a GPT-2 head split
// imports as one tensor.expand_shape with static sizes except the sequence.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

/// Defines output 0 as input 0 with sizes `dims` (same elements, row-major):
/// a known value, a reshaped constant, or a reshape op.
static LogicalResult reshapeTo(NodeImporter &n, ArrayRef<OpFoldResult> dims) {
  TensorValue &in = n.input(0);
  if (static_cast<int64_t>(dims.size()) > kMaxRank)
    return n.error() << "result rank " << dims.size()
                     << " exceeds the maximum of " << kMaxRank;
  if (failed(n.checkElements(dims)))
    return failure();
  RankedTensorType type = tensorTypeFor(dims, in.elementType());
  if (type.hasStaticShape() && in.type.hasStaticShape() &&
      type.getNumElements() != in.type.getNumElements())
    return n.error() << "cannot reshape " << in.type << " to " << type;
  if (in.known && type.hasStaticShape())
    return n.setOutput(
        0, n.graph.knownValue(in.dtype, type.getShape(), *in.known));
  if (in.constant && type.hasStaticShape()) {
    TensorValue out =
        n.graph.constantValue(in.constant.reshape(type), in.dtype);
    return n.setOutput(0, std::move(out));
  }
  Value r = n.graph.reshape(n.tensor(0), in.dims, dims, n.loc);
  return n.setOutput(0, r, in.dtype, dims);
}

static LogicalResult importReshape(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<int64_t> allowZero = n.intAttr("allowzero", 0);
  if (failed(allowZero))
    return failure();
  FailureOr<SmallVector<OpFoldResult>> shape = n.knownElements(1, "shape");
  if (failed(shape))
    return failure();
  if (n.input(1).rank() != 1)
    return n.error() << "expected a 1-D shape, got rank " << n.input(1).rank();
  SmallVector<OpFoldResult> dims;
  std::optional<size_t> inferred;
  for (auto [i, e] : llvm::enumerate(*shape)) {
    std::optional<int64_t> c = getConstantIntValue(e);
    if (!c) {
      dims.push_back(e);
      continue;
    }
    if (*c == 0 && !*allowZero) {
      if (i >= static_cast<size_t>(in.rank()))
        return n.error() << "shape[" << i
                         << "] is 0 (copy) but the input has rank "
                         << in.rank();
      dims.push_back(in.dims[i]);
      continue;
    }
    if (*c == -1) {
      if (inferred)
        return n.error() << "more than one -1 in the shape";
      if (*allowZero && llvm::any_of(*shape, [](OpFoldResult x) {
            return getConstantIntValue(x) == 0;
          }))
        return n.error() << "-1 and 0 in the shape with allowzero";
      inferred = i;
      dims.push_back(n.b.getIndexAttr(1));
      continue;
    }
    if (*c < -1)
      return n.error() << "invalid size " << *c << " in the shape";
    dims.push_back(e);
  }
  if (inferred) {
    OpFoldResult numel = n.b.getIndexAttr(1), known = n.b.getIndexAttr(1);
    for (OpFoldResult d : in.dims)
      numel = n.sym.mul(n.loc, numel, d);
    for (auto [i, d] : llvm::enumerate(dims))
      if (i != *inferred)
        known = n.sym.mul(n.loc, known, d);
    std::optional<int64_t> cn = getConstantIntValue(numel);
    std::optional<int64_t> ck = getConstantIntValue(known);
    if (ck && *ck == 0)
      return n.error() << "cannot infer the -1 size: the other sizes "
                          "multiply to 0";
    if (cn && ck && *cn % *ck != 0)
      return n.error() << "cannot reshape " << in.type << " to a multiple of "
                       << *ck << " elements";
    if (std::optional<OpFoldResult> q = n.sym.exactDiv(n.loc, numel, known))
      dims[*inferred] = *q;
    else
      dims[*inferred] = *n.sym.divTrunc(n.loc, numel, known);
  }
  return reshapeTo(n, dims);
}

/// The axes of Squeeze/Unsqueeze: the input (opset 13) or the attribute.
static FailureOr<std::optional<SmallVector<int64_t>>>
squeezeAxes(NodeImporter &n) {
  FailureOr<std::optional<SmallVector<int64_t>>> attrAxes = n.intsAttr("axes");
  if (failed(attrAxes))
    return failure();
  if (!n.hasInput(1))
    return *attrAxes;
  if (*attrAxes)
    return n.error() << "axes given both as an attribute and an input";
  FailureOr<SmallVector<int64_t>> axes = n.constantInts(1, "axes");
  if (failed(axes))
    return failure();
  return std::optional<SmallVector<int64_t>>(*axes);
}

static LogicalResult importSqueeze(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<std::optional<SmallVector<int64_t>>> axes = squeezeAxes(n);
  if (failed(axes))
    return failure();
  SmallVector<bool> drop(in.rank(), false);
  if (!*axes) {
    // Every static 1; a dynamic size is assumed not to be 1.
    for (auto [d, size] : llvm::enumerate(in.dims))
      drop[d] = getConstantIntValue(size) == 1;
  } else {
    for (int64_t axis : **axes) {
      FailureOr<int64_t> a = n.normalizeAxis(axis, in.rank());
      if (failed(a))
        return failure();
      if (drop[*a])
        return n.error() << "duplicate axis " << axis;
      std::optional<int64_t> size = getConstantIntValue(in.dims[*a]);
      if (size && *size != 1)
        return n.error() << "cannot squeeze dimension " << *a << " of size "
                         << *size;
      drop[*a] = true;
    }
  }
  SmallVector<OpFoldResult> dims;
  bool castNeeded = false;
  for (auto [d, size] : llvm::enumerate(in.dims)) {
    if (!drop[d]) {
      dims.push_back(size);
      continue;
    }
    castNeeded |= !getConstantIntValue(size);
  }
  if (castNeeded) {
    // A squeezed dynamic size is 1: say so before collapsing.
    SmallVector<OpFoldResult> ones = in.dims;
    for (auto [d, size] : llvm::enumerate(ones))
      if (drop[d])
        size = n.b.getIndexAttr(1);
    Value cast = tensor::CastOp::create(
        n.b, n.loc, tensorTypeFor(ones, in.elementType()), n.tensor(0));
    Value r = n.graph.reshape(cast, ones, dims, n.loc);
    return n.setOutput(0, r, in.dtype, dims);
  }
  return reshapeTo(n, dims);
}

static LogicalResult importUnsqueeze(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<std::optional<SmallVector<int64_t>>> axes = squeezeAxes(n);
  if (failed(axes))
    return failure();
  if (!*axes)
    return n.error() << "missing required 'axes'";
  int64_t outRank = in.rank() + (*axes)->size();
  SmallVector<bool> inserted(outRank, false);
  for (int64_t axis : **axes) {
    FailureOr<int64_t> a = n.normalizeAxis(axis, outRank);
    if (failed(a))
      return failure();
    if (inserted[*a])
      return n.error() << "duplicate axis " << axis;
    inserted[*a] = true;
  }
  SmallVector<OpFoldResult> dims;
  size_t next = 0;
  for (int64_t d = 0; d < outRank; ++d)
    dims.push_back(inserted[d] ? OpFoldResult(n.b.getIndexAttr(1))
                               : in.dims[next++]);
  return reshapeTo(n, dims);
}

static LogicalResult importFlatten(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<int64_t> axis = n.intAttr("axis", 1);
  if (failed(axis))
    return failure();
  int64_t rank = in.rank();
  if (*axis < -rank || *axis > rank)
    return n.error() << "axis " << *axis << " is out of range for rank "
                     << rank;
  int64_t a = *axis < 0 ? *axis + rank : *axis;
  OpFoldResult outer = n.b.getIndexAttr(1), inner = n.b.getIndexAttr(1);
  for (int64_t d = 0; d < rank; ++d) {
    OpFoldResult &acc = d < a ? outer : inner;
    acc = n.sym.mul(n.loc, acc, in.dims[d]);
  }
  return reshapeTo(n, {outer, inner});
}

static LogicalResult importTranspose(NodeImporter &n) {
  TensorValue &in = n.input(0);
  int64_t rank = in.rank();
  FailureOr<std::optional<SmallVector<int64_t>>> permAttr = n.intsAttr("perm");
  if (failed(permAttr))
    return failure();
  SmallVector<int64_t> perm;
  if (*permAttr) {
    perm = **permAttr;
  } else {
    for (int64_t d = rank - 1; d >= 0; --d)
      perm.push_back(d);
  }
  if (static_cast<int64_t>(perm.size()) != rank)
    return n.error() << "expected a permutation of " << rank
                     << " dimensions, got " << perm.size();
  SmallVector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= rank || seen[p])
      return n.error() << "perm is not a permutation of [0, " << rank << ")";
    seen[p] = true;
  }
  SmallVector<OpFoldResult> dims;
  for (int64_t p : perm)
    dims.push_back(in.dims[p]);
  if (llvm::equal(perm, llvm::seq<int64_t>(0, rank)))
    return n.setOutput(0, in);
  if (in.constant && in.type.getNumElements() <= n.options().maxFoldElements) {
    ArrayRef<int64_t> shape = in.type.getShape();
    SmallVector<int64_t> inStrides = rowMajorStrides(shape);
    RankedTensorType type = tensorTypeFor(dims, in.elementType());
    SmallVector<int64_t> outStrides = rowMajorStrides(type.getShape());
    DenseElementsAttr attr =
        remapElements(in.constant, type, [&](int64_t linear) {
          int64_t src = 0;
          for (int64_t d = 0; d < rank; ++d)
            src += ((linear / outStrides[d]) % type.getDimSize(d)) *
                   inStrides[perm[d]];
          return src;
        });
    return n.setOutput(0, n.graph.constantValue(attr, in.dtype));
  }
  Value r = n.graph.transpose(n.tensor(0), in.dims, perm, n.loc);
  return n.setOutput(0, r, in.dtype, dims);
}

/// Maps a row-major index of `out` to the index of the broadcast source
/// `in` (trailing-aligned; size-1 dimensions repeat).
static int64_t broadcastSource(ArrayRef<int64_t> in, ArrayRef<int64_t> out,
                               int64_t linear) {
  SmallVector<int64_t> inStrides = rowMajorStrides(in);
  SmallVector<int64_t> outStrides = rowMajorStrides(out);
  size_t lead = out.size() - in.size();
  int64_t src = 0;
  for (size_t d = 0; d < in.size(); ++d)
    if (in[d] != 1)
      src += ((linear / outStrides[lead + d]) % out[lead + d]) * inStrides[d];
  return src;
}

static LogicalResult importExpand(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<SmallVector<OpFoldResult>> shape = n.knownElements(1, "shape");
  if (failed(shape))
    return failure();
  for (OpFoldResult e : *shape)
    if (std::optional<int64_t> c = getConstantIntValue(e); c && *c < 0)
      return n.error() << "invalid size " << *c << " in the shape";
  FailureOr<SmallVector<OpFoldResult>> dims =
      broadcastDims(n, {in.dims, *shape});
  if (failed(dims))
    return failure();
  RankedTensorType type = tensorTypeFor(*dims, in.elementType());
  if (type.hasStaticShape() && in.type.hasStaticShape()) {
    ArrayRef<int64_t> inShape = in.type.getShape();
    if (in.known && type.getNumElements() <= kMaxKnownElements) {
      SmallVector<OpFoldResult> elems;
      for (int64_t i = 0; i < type.getNumElements(); ++i)
        elems.push_back(
            (*in.known)[broadcastSource(inShape, type.getShape(), i)]);
      return n.setOutput(0,
                         n.graph.knownValue(in.dtype, type.getShape(), elems));
    }
    if (in.constant && type.getNumElements() <= n.options().maxFoldElements) {
      DenseElementsAttr attr = remapElements(in.constant, type, [&](int64_t i) {
        return broadcastSource(inShape, type.getShape(), i);
      });
      return n.setOutput(0, n.graph.constantValue(attr, in.dtype));
    }
  }
  Value r = n.graph.broadcastTo(n.tensor(0), *dims, n.loc);
  return n.setOutput(0, r, in.dtype, *dims);
}

/// Copies up to this many along one axis concatenate; more broadcast.
constexpr int64_t kMaxTileCopies = 64;

static LogicalResult importTile(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<SmallVector<int64_t>> repeats = n.constantInts(1, "repeats");
  if (failed(repeats))
    return failure();
  int64_t rank = in.rank();
  if (static_cast<int64_t>(repeats->size()) != rank)
    return n.error() << "expected " << rank << " repeats, got "
                     << repeats->size();
  SmallVector<OpFoldResult> dims;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t r = (*repeats)[d];
    if (r < 0)
      return n.error() << "negative repeat " << r;
    // A static size times a repeat past the cap is an error, not a wrap.
    std::optional<int64_t> size = getConstantIntValue(in.dims[d]);
    if (size && !checkedProduct({*size, r}, n.options().maxTensorElements))
      return n.error() << "result has more than "
                       << n.options().maxTensorElements << " elements";
    if (!size && r > n.options().maxTensorElements)
      return n.error() << "repeat " << r << " exceeds "
                       << n.options().maxTensorElements;
    dims.push_back(n.sym.mul(n.loc, in.dims[d], n.b.getIndexAttr(r)));
  }
  if (failed(n.checkElements(dims)))
    return failure();
  RankedTensorType type = tensorTypeFor(dims, in.elementType());
  if (in.constant && type.hasStaticShape() &&
      type.getNumElements() <= n.options().maxFoldElements) {
    ArrayRef<int64_t> inShape = in.type.getShape();
    SmallVector<int64_t> inStrides = rowMajorStrides(inShape);
    SmallVector<int64_t> outStrides = rowMajorStrides(type.getShape());
    DenseElementsAttr attr =
        remapElements(in.constant, type, [&](int64_t linear) {
          int64_t src = 0;
          for (int64_t d = 0; d < rank; ++d)
            src += ((linear / outStrides[d]) % inShape[d]) * inStrides[d];
          return src;
        });
    return n.setOutput(0, n.graph.constantValue(attr, in.dtype));
  }
  Value cur = n.tensor(0);
  SmallVector<OpFoldResult> curDims = in.dims;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t r = (*repeats)[d];
    if (r == 1)
      continue;
    if (r <= kMaxTileCopies && r > 0) {
      SmallVector<Value> copies(r, cur);
      cur = tensor::ConcatOp::create(n.b, n.loc, d, copies);
    } else {
      // [.., D, ..] -> [.., 1, D, ..] -> [.., r, D, ..] -> [.., r*D, ..]
      SmallVector<OpFoldResult> unit = curDims, wide = curDims;
      unit.insert(unit.begin() + d, n.b.getIndexAttr(1));
      wide.insert(wide.begin() + d, n.b.getIndexAttr(r));
      Value x = n.graph.reshape(cur, curDims, unit, n.loc);
      x = n.graph.broadcastTo(x, wide, n.loc);
      SmallVector<OpFoldResult> merged = curDims;
      merged[d] = dims[d];
      cur = n.graph.reshape(x, wide, merged, n.loc);
    }
    curDims[d] = dims[d];
  }
  return n.setOutput(0, cur, in.dtype, dims);
}

ArrayRef<OpInfo> importer::getReshapeOps() {
  static const OpInfo ops[] = {
      {"Reshape", 2, 2, 1, 1, importReshape},
      {"Squeeze", 1, 2, 1, 1, importSqueeze},
      {"Unsqueeze", 1, 2, 1, 1, importUnsqueeze},
      {"Flatten", 1, 1, 1, 1, importFlatten},
      {"Transpose", 1, 1, 1, 1, importTranspose},
      {"Expand", 2, 2, 1, 1, importExpand},
      {"Tile", 2, 2, 1, 1, importTile},
  };
  return ops;
}
