//===- SliceOps.cpp - ONNX Concat, Split and Slice ------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// tensor.concat and tensor.extract_slice with sizes computed from known
// values: clamping of Slice bounds against symbolic sizes is index
// arithmetic that folds whenever the bounds are provable.
//
//===----------------------------------------------------------------------===//

#include "ImporterImpl.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::importer;

/// A static box of a static row-major tensor, as a gather of elements: the
/// source index of each result element.
static SmallVector<int64_t> boxIndices(ArrayRef<int64_t> shape,
                                       ArrayRef<int64_t> offsets,
                                       ArrayRef<int64_t> sizes,
                                       ArrayRef<int64_t> strides) {
  SmallVector<int64_t> inStrides = rowMajorStrides(shape);
  SmallVector<int64_t> outStrides = rowMajorStrides(sizes);
  int64_t numel = *checkedProduct(sizes, INT64_MAX);
  SmallVector<int64_t> out;
  out.reserve(numel);
  for (int64_t linear = 0; linear < numel; ++linear) {
    int64_t src = 0;
    for (size_t d = 0; d < shape.size(); ++d)
      src += (offsets[d] + ((linear / outStrides[d]) % sizes[d]) * strides[d]) *
             inStrides[d];
    out.push_back(src);
  }
  return out;
}

/// Defines output `i` as a static box of input 0 when that can be computed
/// at import (known or small constant input); returns false otherwise.
static FailureOr<bool> foldBox(NodeImporter &n, unsigned i,
                               ArrayRef<OpFoldResult> offsets,
                               ArrayRef<OpFoldResult> sizes,
                               ArrayRef<int64_t> strides) {
  TensorValue &in = n.input(0);
  if (!in.type.hasStaticShape() || (!in.known && !in.constant))
    return false;
  SmallVector<int64_t> off = staticShapeOf(offsets), sz = staticShapeOf(sizes);
  if (llvm::any_of(off, ShapedType::isDynamic) ||
      llvm::any_of(sz, ShapedType::isDynamic))
    return false;
  int64_t numel = *checkedProduct(sz, INT64_MAX);
  auto type = RankedTensorType::get(sz, in.elementType());
  if (in.known && numel <= kMaxKnownElements) {
    SmallVector<OpFoldResult> elems;
    for (int64_t src : boxIndices(in.type.getShape(), off, sz, strides))
      elems.push_back((*in.known)[src]);
    if (failed(n.setOutput(i, n.graph.knownValue(in.dtype, sz, elems))))
      return failure();
    return true;
  }
  if (in.constant && numel <= n.options().maxFoldElements) {
    SmallVector<int64_t> map = boxIndices(in.type.getShape(), off, sz, strides);
    DenseElementsAttr attr = remapElements(
        in.constant, type, [&](int64_t linear) { return map[linear]; });
    if (failed(n.setOutput(i, n.graph.constantValue(attr, in.dtype))))
      return failure();
    return true;
  }
  return false;
}

/// Defines output `i` as the box of input 0 at `offsets`/`sizes`/`strides`.
static LogicalResult extractBox(NodeImporter &n, unsigned i,
                                ArrayRef<OpFoldResult> offsets,
                                ArrayRef<OpFoldResult> sizes,
                                ArrayRef<int64_t> strides) {
  if (!n.hasOutput(i))
    return success();
  FailureOr<bool> folded = foldBox(n, i, offsets, sizes, strides);
  if (failed(folded) || *folded)
    return failure(failed(folded));
  TensorValue &in = n.input(0);
  // An empty box has no elements to extract (and tensor.extract_slice
  // rejects its offset when that equals the size).
  if (llvm::any_of(sizes,
                   [](OpFoldResult s) { return getConstantIntValue(s) == 0; }))
    return n.setOutput(i, n.graph.emptyTensor(sizes, in.elementType(), n.loc),
                       in.dtype, sizes);
  if (llvm::all_of(
          offsets,
          [](OpFoldResult o) { return getConstantIntValue(o) == 0; }) &&
      llvm::all_of(strides, [](int64_t s) { return s == 1; }) &&
      llvm::all_of(llvm::zip_equal(sizes, in.dims), [&](auto p) {
        return n.sym.provablyEqual(std::get<0>(p), std::get<1>(p));
      }))
    return n.setOutput(i, in);
  SmallVector<OpFoldResult> strideAttrs;
  for (int64_t s : strides)
    strideAttrs.push_back(n.b.getIndexAttr(s));
  SmallVector<OpFoldResult> offs, szs;
  for (OpFoldResult o : offsets)
    offs.push_back(
        getConstantIntValue(o) ? o : OpFoldResult(n.sym.materialize(n.loc, o)));
  for (OpFoldResult s : sizes)
    szs.push_back(
        getConstantIntValue(s) ? s : OpFoldResult(n.sym.materialize(n.loc, s)));
  RankedTensorType type = tensorTypeFor(sizes, in.elementType());
  Value r = tensor::ExtractSliceOp::create(n.b, n.loc, type, n.tensor(0), offs,
                                           szs, strideAttrs);
  return n.setOutput(i, r, in.dtype, sizes);
}

//===----------------------------------------------------------------------===//
// Concat
//===----------------------------------------------------------------------===//

static LogicalResult importConcat(NodeImporter &n) {
  SmallVector<unsigned> idx;
  for (unsigned i = 0; i < n.numInputs(); ++i) {
    if (!n.hasInput(i))
      return n.error() << "input " << i << " is missing";
    idx.push_back(i);
  }
  if (failed(n.requireSameElementType(idx)))
    return failure();
  FailureOr<int64_t> axisAttr = n.intAttr("axis");
  if (failed(axisAttr))
    return failure();
  TensorValue &first = n.input(0);
  int64_t rank = first.rank();
  if (rank == 0)
    return n.error() << "cannot concatenate scalars";
  FailureOr<int64_t> axis = n.normalizeAxis(*axisAttr, rank);
  if (failed(axis))
    return failure();
  SmallVector<OpFoldResult> dims = first.dims;
  bool allKnown = true, allConstant = true;
  for (unsigned i : idx) {
    TensorValue &in = n.input(i);
    if (in.rank() != rank)
      return n.error() << "expected inputs of rank " << rank << ", got rank "
                       << in.rank() << " for input " << i;
    for (int64_t d = 0; d < rank; ++d) {
      if (d == *axis)
        continue;
      std::optional<int64_t> a = getConstantIntValue(dims[d]);
      std::optional<int64_t> c = getConstantIntValue(in.dims[d]);
      if (a && c && *a != *c)
        return n.error() << "expected inputs to agree in dimension " << d
                         << ", got " << *a << " and " << *c;
      if (!a && c)
        dims[d] = in.dims[d];
    }
    if (i > 0)
      dims[*axis] = n.sym.add(n.loc, dims[*axis], in.dims[*axis]);
    allKnown &= in.known.has_value();
    allConstant &= static_cast<bool>(in.constant);
  }
  if (idx.size() == 1)
    return n.setOutput(0, first);
  if (failed(n.checkElements(dims)))
    return failure();
  RankedTensorType type = tensorTypeFor(dims, first.elementType());
  if ((allKnown || allConstant) && type.hasStaticShape() &&
      type.getNumElements() <=
          (allKnown ? kMaxKnownElements : n.options().maxFoldElements)) {
    // Result element -> (input, source element).
    ArrayRef<int64_t> shape = type.getShape();
    SmallVector<int64_t> outStrides = rowMajorStrides(shape);
    SmallVector<std::pair<unsigned, int64_t>> map;
    for (int64_t linear = 0; linear < type.getNumElements(); ++linear) {
      int64_t along = (linear / outStrides[*axis]) % shape[*axis];
      unsigned which = 0;
      while (along >= n.input(which).type.getDimSize(*axis))
        along -= n.input(which++).type.getDimSize(*axis);
      ArrayRef<int64_t> inShape = n.input(which).type.getShape();
      SmallVector<int64_t> inStrides = rowMajorStrides(inShape);
      int64_t src = 0;
      for (int64_t d = 0; d < rank; ++d) {
        int64_t coord =
            d == *axis ? along : (linear / outStrides[d]) % shape[d];
        src += coord * inStrides[d];
      }
      map.push_back({which, src});
    }
    if (allKnown) {
      SmallVector<OpFoldResult> elems;
      for (auto [which, src] : map)
        elems.push_back((*n.input(which).known)[src]);
      return n.setOutput(0, n.graph.knownValue(first.dtype, shape, elems));
    }
    SmallVector<Attribute> elems;
    for (auto [which, src] : map)
      elems.push_back(n.input(which).constant.getValues<Attribute>()[src]);
    return n.setOutput(
        0, n.graph.constantValue(DenseElementsAttr::get(type, elems),
                                 first.dtype));
  }
  // Inputs empty along the axis add nothing (and tensor.concat would
  // insert them at an offset equal to the size, which the slice verifier
  // rejects as out of bounds).
  SmallVector<Value> values;
  for (unsigned i : idx)
    if (getConstantIntValue(n.input(i).dims[*axis]) != 0)
      values.push_back(n.tensor(i));
  if (values.empty())
    return n.setOutput(0,
                       n.graph.emptyTensor(dims, first.elementType(), n.loc),
                       first.dtype, dims);
  Value r = values.size() == 1
                ? values.front()
                : tensor::ConcatOp::create(n.b, n.loc, *axis, values)
                      .getResult();
  if (values.size() == 1 && r.getType() != type)
    r = tensor::CastOp::create(n.b, n.loc, type, r);
  return n.setOutput(0, r, first.dtype, dims);
}

//===----------------------------------------------------------------------===//
// Split
//===----------------------------------------------------------------------===//

static LogicalResult importSplit(NodeImporter &n) {
  TensorValue &in = n.input(0);
  FailureOr<int64_t> axisAttr = n.intAttr("axis", 0);
  FailureOr<std::optional<SmallVector<int64_t>>> splitAttr =
      n.intsAttr("split");
  if (failed(axisAttr) || failed(splitAttr))
    return failure();
  if (in.rank() == 0)
    return n.error() << "cannot split a scalar";
  FailureOr<int64_t> axis = n.normalizeAxis(*axisAttr, in.rank());
  if (failed(axis))
    return failure();
  int64_t numOut = n.numOutputs();
  OpFoldResult total = in.dims[*axis];
  SmallVector<OpFoldResult> sizes;
  if (n.hasInput(1) || *splitAttr) {
    if (n.hasInput(1) && *splitAttr)
      return n.error() << "split given both as an attribute and an input";
    if (n.hasInput(1)) {
      FailureOr<SmallVector<OpFoldResult>> s = n.knownElements(1, "split");
      if (failed(s))
        return failure();
      sizes = *s;
    } else {
      for (int64_t s : **splitAttr)
        sizes.push_back(n.b.getIndexAttr(s));
    }
    if (static_cast<int64_t>(sizes.size()) != numOut)
      return n.error() << "expected " << numOut << " split sizes, got "
                       << sizes.size();
    OpFoldResult sum = n.b.getIndexAttr(0);
    for (OpFoldResult s : sizes) {
      if (std::optional<int64_t> c = getConstantIntValue(s); c && *c < 0)
        return n.error() << "negative split size " << *c;
      sum = n.sym.add(n.loc, sum, s);
    }
    std::optional<int64_t> cs = getConstantIntValue(sum);
    std::optional<int64_t> ct = getConstantIntValue(total);
    if (cs && ct && *cs != *ct)
      return n.error() << "split sizes add up to " << *cs << ", not " << *ct;
  } else {
    FailureOr<int64_t> numOutputs = n.intAttr("num_outputs", numOut);
    if (failed(numOutputs))
      return failure();
    if (*numOutputs != numOut || numOut < 1)
      return n.error() << "num_outputs is " << *numOutputs << " but the node "
                       << "has " << numOut << " outputs";
    bool uneven = static_cast<bool>(n.attr("num_outputs"));
    std::optional<int64_t> ct = getConstantIntValue(total);
    if (ct && !uneven && *ct % numOut != 0)
      return n.error() << "cannot split " << *ct << " into " << numOut
                       << " equal parts";
    // ceil(total / n) each, the last one takes the rest (opset 18).
    OpFoldResult part =
        uneven ? *n.sym.ceilDiv(n.loc, total, n.b.getIndexAttr(numOut))
               : *n.sym.divTrunc(n.loc, total, n.b.getIndexAttr(numOut));
    OpFoldResult used = n.b.getIndexAttr(0);
    for (int64_t i = 0; i < numOut; ++i) {
      if (i + 1 < numOut || !uneven) {
        sizes.push_back(part);
        used = n.sym.add(n.loc, used, part);
      } else {
        sizes.push_back(n.sym.sub(n.loc, total, used));
      }
    }
    if (uneven)
      for (OpFoldResult s : sizes)
        if (std::optional<int64_t> c = getConstantIntValue(s); c && *c < 0)
          return n.error() << "cannot split " << *ct << " into " << numOut
                           << " parts";
  }
  OpFoldResult offset = n.b.getIndexAttr(0);
  SmallVector<int64_t> strides(in.rank(), 1);
  for (int64_t i = 0; i < numOut; ++i) {
    SmallVector<OpFoldResult> offsets(in.rank(), n.b.getIndexAttr(0));
    SmallVector<OpFoldResult> boxSizes = in.dims;
    offsets[*axis] = offset;
    boxSizes[*axis] = sizes[i];
    if (failed(extractBox(n, i, offsets, boxSizes, strides)))
      return failure();
    offset = n.sym.add(n.loc, offset, sizes[i]);
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Slice
//===----------------------------------------------------------------------===//

/// Clamps a Slice bound into [0, size] (negative bounds count from the end).
static OpFoldResult clampBound(NodeImporter &n, OpFoldResult bound,
                               OpFoldResult size) {
  SymbolicIndexBuilder &s = n.sym;
  OpFoldResult zero = n.b.getIndexAttr(0);
  std::optional<int64_t> c = getConstantIntValue(bound);
  if (s.provablyEqual(bound, size))
    return size;
  if (c && *c < 0)
    return s.max(n.loc, s.add(n.loc, size, bound), zero);
  if (s.isNonNegative(bound)) {
    // INT64_MAX-style ends mean "to the end".
    if (c && *c >= (int64_t(1) << 62))
      return size;
    return s.min(n.loc, bound, size);
  }
  OpFoldResult negative = s.cmp(n.loc, arith::CmpIPredicate::slt, bound, zero);
  return s.select(n.loc, negative,
                  s.max(n.loc, s.add(n.loc, size, bound), zero),
                  s.min(n.loc, bound, size));
}

static LogicalResult importSlice(NodeImporter &n) {
  TensorValue &in = n.input(0);
  int64_t rank = in.rank();
  FailureOr<SmallVector<OpFoldResult>> starts = n.knownElements(1, "starts");
  if (failed(starts))
    return failure();
  FailureOr<SmallVector<OpFoldResult>> ends = n.knownElements(2, "ends");
  if (failed(ends))
    return failure();
  size_t count = starts->size();
  if (ends->size() != count)
    return n.error() << "expected as many ends as starts, got " << ends->size()
                     << " and " << count;
  SmallVector<int64_t> axes, steps(count, 1);
  if (n.hasInput(3)) {
    FailureOr<SmallVector<int64_t>> a = n.constantInts(3, "axes");
    if (failed(a))
      return failure();
    axes = *a;
  } else {
    for (size_t i = 0; i < count; ++i)
      axes.push_back(i);
  }
  if (n.hasInput(4)) {
    FailureOr<SmallVector<int64_t>> s = n.constantInts(4, "steps");
    if (failed(s))
      return failure();
    steps = *s;
  }
  if (axes.size() != count || steps.size() != count)
    return n.error() << "expected as many axes and steps as starts (" << count
                     << "), got " << axes.size() << " and " << steps.size();
  SmallVector<OpFoldResult> offsets(rank, n.b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = in.dims;
  SmallVector<int64_t> strides(rank, 1);
  SmallVector<bool> seen(rank, false);
  for (size_t i = 0; i < count; ++i) {
    FailureOr<int64_t> axis = n.normalizeAxis(axes[i], rank);
    if (failed(axis))
      return failure();
    if (seen[*axis])
      return n.error() << "duplicate axis " << axes[i];
    seen[*axis] = true;
    int64_t step = steps[i];
    if (step == 0)
      return n.error() << "step must not be 0";
    if (step < 0)
      return n.error() << "negative steps are not supported";
    OpFoldResult size = in.dims[*axis];
    OpFoldResult start = clampBound(n, (*starts)[i], size);
    OpFoldResult end = clampBound(n, (*ends)[i], size);
    FailureOr<OpFoldResult> len = n.sym.ceilDiv(
        n.loc, n.sym.sub(n.loc, end, start), n.b.getIndexAttr(step));
    offsets[*axis] = start;
    sizes[*axis] = n.sym.max(n.loc, *len, n.b.getIndexAttr(0));
    // Starting at the end is empty (and the only in-bounds form of it).
    if (n.sym.provablyEqual(start, size))
      sizes[*axis] = n.b.getIndexAttr(0);
    strides[*axis] = step;
  }
  return extractBox(n, 0, offsets, sizes, strides);
}

ArrayRef<OpInfo> importer::getSliceOps() {
  static const OpInfo ops[] = {
      {"Concat", 1, kVariadic, 1, 1, importConcat},
      {"Split", 1, 2, 1, kVariadic, importSplit},
      {"Slice", 3, 5, 1, 1, importSlice},
  };
  return ops;
}
