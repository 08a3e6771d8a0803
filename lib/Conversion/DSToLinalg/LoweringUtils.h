//===- LoweringUtils.h - ds lowering helpers --------------------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Private to lib/Conversion/DSToLinalg: builders for the linalg.generic
// shapes every family uses (elementwise maps with numpy broadcasting,
// reductions into filled tensors), scalar casts between the storage and
// the compute type, and the per-family pattern entry points.
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_CONVERSION_DSTOLINALG_LOWERINGUTILS_H
#define DS_LIB_CONVERSION_DSTOLINALG_LOWERINGUTILS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir {
namespace ds {
namespace lowering {

/// Body of a linalg.generic: receives the scalar block arguments of the
/// inputs (outputs' arguments follow) and returns the values to yield.
using BodyBuilder =
    function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

//===----------------------------------------------------------------------===//
// Types and scalars
//===----------------------------------------------------------------------===//

/// The type arithmetic runs in: f32 for floats narrower than 32 bits (f16,
/// bf16, f8), the type itself otherwise (f32, f64, integers).
Type getComputeType(Type elementType);

/// Converts scalar `v` to `to`: extf/truncf between floats,
/// sitofp/uitofp and fptosi/fptoui between floats and integers,
/// extsi/extui/trunci between integers, index_cast to and from index.
/// `isUnsigned` reads (or writes) the integer side as unsigned.
Value castScalar(OpBuilder &b, Location loc, Value v, Type to,
                 bool isUnsigned = false);

/// A float constant of type `type`.
Value floatConstant(OpBuilder &b, Location loc, Type type, double value);

/// +inf or -inf of float type `type`.
Value infConstant(OpBuilder &b, Location loc, Type type, bool negative);

/// Zero of `type` (float, integer or index); null for other types.
Value zeroConstant(OpBuilder &b, Location loc, Type type);

/// The number of elements in dimensions `dims` of `sizes`, as a value of
/// float type `type` (a constant when all of them are static).
Value countAsFloat(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   ArrayRef<int64_t> dims, Type type);

//===----------------------------------------------------------------------===//
// Shapes and tensors
//===----------------------------------------------------------------------===//

/// Sizes of `tensor`: static dimensions as attributes, dynamic ones read
/// with tensor.dim.
SmallVector<OpFoldResult> getSizes(OpBuilder &b, Location loc, Value tensor);

/// `sizes` with every dimension that is static in `shape` replaced by that
/// static size, so that a tensor built from them has exactly `shape`.
SmallVector<OpFoldResult> refineSizes(OpBuilder &b, ArrayRef<int64_t> shape,
                                      ArrayRef<OpFoldResult> sizes);

/// The static shape described by `sizes` (dynamic where a size is a value).
SmallVector<int64_t> staticShape(ArrayRef<OpFoldResult> sizes);

/// tensor.empty of `sizes` x `elementType`.
Value emptyTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                  Type elementType);

/// tensor.empty of `sizes` filled with `value` through linalg.fill.
Value filledTensor(OpBuilder &b, Location loc, ArrayRef<OpFoldResult> sizes,
                   Value value);

/// `v` itself when it has type `type`, else a tensor.cast to it (static
/// information the lowering computed differs from the op's result type).
Value castToType(OpBuilder &b, Location loc, Value v, Type type);

//===----------------------------------------------------------------------===//
// Indexing maps
//===----------------------------------------------------------------------===//

/// Iterator types for `numLoops` loops, `reductionDims` reductions.
SmallVector<utils::IteratorType>
getIterators(unsigned numLoops, ArrayRef<int64_t> reductionDims = {});

/// The identity map over `numLoops` loops without the loops `dropped`.
AffineMap getDropDimsMap(MLIRContext *ctx, unsigned numLoops,
                         ArrayRef<int64_t> dropped);

/// Map from loops of static sizes `loopShape` to an operand of shape
/// `operandShape` whose dimension i is indexed by loop `loopDims[i]`. An
/// operand dimension that is statically 1 while its loop is not statically
/// 1 is broadcast: it maps to the constant 0. Dynamic operand dimensions
/// are taken to equal their loop's size.
AffineMap getBroadcastMap(MLIRContext *ctx, ArrayRef<int64_t> loopShape,
                          ArrayRef<int64_t> operandShape,
                          ArrayRef<int64_t> loopDims);

/// getBroadcastMap with numpy alignment: the operand's dimensions index the
/// trailing loops.
AffineMap getTrailingBroadcastMap(MLIRContext *ctx, ArrayRef<int64_t> loopShape,
                                  ArrayRef<int64_t> operandShape);

//===----------------------------------------------------------------------===//
// linalg.generic builders
//===----------------------------------------------------------------------===//

/// An all-parallel linalg.generic over loops of `sizes` whose single result
/// (identity map) has element type `resultType`; `inputMaps` index
/// `inputs`. `body` gets the inputs' scalars and returns the result scalar.
Value buildElementwise(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, ArrayRef<OpFoldResult> sizes,
    Type resultType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// Elementwise over same-shaped `inputs` (identity maps).
Value buildElementwise(
    OpBuilder &b, Location loc, ValueRange inputs, ArrayRef<OpFoldResult> sizes,
    Type resultType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// A linalg.generic over `numLoops` loops reducing `reducedDims` into
/// `init` (a filled tensor indexed by the other loops in order). `body`
/// gets the inputs' scalars and the accumulator and returns the new
/// accumulator.
Value buildReduction(
    OpBuilder &b, Location loc, ValueRange inputs,
    ArrayRef<AffineMap> inputMaps, unsigned numLoops,
    ArrayRef<int64_t> reducedDims, Value init,
    function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body);

/// `tensor` (of sizes `sizes`, read with tensor.dim when empty) with every
/// element converted to `elementType` (castScalar); `tensor` itself when it
/// already has that element type.
Value castTensor(OpBuilder &b, Location loc, Value tensor, Type elementType,
                 ArrayRef<OpFoldResult> sizes = {});

//===----------------------------------------------------------------------===//
// Scalar activations (shared by activations and linear epilogues)
//===----------------------------------------------------------------------===//

/// 1 / (1 + exp(-x)).
Value buildSigmoid(OpBuilder &b, Location loc, Value x);
/// x * sigmoid(x).
Value buildSilu(OpBuilder &b, Location loc, Value x);
/// x * Phi(x): 0.5 x (1 + erf(x / sqrt 2)), or with `tanhForm`
/// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
Value buildGelu(OpBuilder &b, Location loc, Value x, bool tanhForm);
/// max(x, 0).
Value buildRelu(OpBuilder &b, Location loc, Value x);

//===----------------------------------------------------------------------===//
// Gather indices
//===----------------------------------------------------------------------===//

/// Turns integer index `idx` into a safe index into a dimension of size
/// `size` (index): negative indices wrap once (idx + size) and the result
/// is clamped to [0, size - 1], so no read goes out of bounds.
Value wrapAndClampIndex(OpBuilder &b, Location loc, Value idx, Value size);

//===----------------------------------------------------------------------===//
// Pattern families
//===----------------------------------------------------------------------===//

void populateGraphOpPatterns(RewritePatternSet &patterns);
void populateReductionPatterns(RewritePatternSet &patterns);
void populateGatherPatterns(RewritePatternSet &patterns);
void populateNormalizationPatterns(RewritePatternSet &patterns);
void populateActivationPatterns(RewritePatternSet &patterns);
void populateAttentionPatterns(RewritePatternSet &patterns);
void populateRopePatterns(RewritePatternSet &patterns);
void populateRopeTablePatterns(RewritePatternSet &patterns);
void populateLinearPatterns(RewritePatternSet &patterns);
void populateKVCachePatterns(RewritePatternSet &patterns);
void populateQuantizationPatterns(RewritePatternSet &patterns);

} // namespace lowering
} // namespace ds
} // namespace mlir

#endif // DS_LIB_CONVERSION_DSTOLINALG_LOWERINGUTILS_H
