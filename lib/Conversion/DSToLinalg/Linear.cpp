//===- Linear.cpp - lower ds.linear to linalg.matmul and an epilogue ------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The input's leading dimensions are collapsed into M (a rank-1 input is
// expanded to [1, K]) so that the GEMM is one linalg.matmul, the op the
// tile phase and tensor-core code generation look for. `transpose_weight`
// becomes the matmul's indexing map `(m, n, k) -> (n, k)`, never a copy.
// f16/bf16 GEMMs accumulate into an f32 tensor (linalg.matmul extends its
// operands). Bias, activation, residual and the cast back to the element
// type are one elementwise epilogue generic over [M, N], computed in f32.
// The layer's `tile` becomes the matmul's `ds.tile` attribute.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::ds;
using namespace mlir::ds::lowering;

/// Views `t` of shape [..., X] as a matrix [M, X].
static Value toMatrix(OpBuilder &b, Location loc, Value t) {
  auto type = cast<RankedTensorType>(t.getType());
  int64_t rank = type.getRank();
  if (rank == 2)
    return t;
  if (rank == 1) {
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                       getSizes(b, loc, t).front()};
    auto matrixType =
        RankedTensorType::get({1, type.getDimSize(0)}, type.getElementType());
    return tensor::ExpandShapeOp::create(b, loc, matrixType, t,
                                         {ReassociationIndices{0, 1}}, sizes);
  }
  ReassociationIndices leading;
  for (int64_t d = 0; d + 1 < rank; ++d)
    leading.push_back(d);
  return tensor::CollapseShapeOp::create(
      b, loc, t, ArrayRef<ReassociationIndices>{leading, {rank - 1}});
}

/// Reshapes matrix `m` [M, N] back to the leading dimensions of `like`
/// (whose last dimension is replaced by N).
static Value fromMatrix(OpBuilder &b, Location loc, Value m, Value like) {
  auto likeType = cast<RankedTensorType>(like.getType());
  int64_t rank = likeType.getRank();
  if (rank == 2)
    return m;
  auto matrixType = cast<RankedTensorType>(m.getType());
  if (rank == 1)
    return tensor::CollapseShapeOp::create(
        b, loc, m, ArrayRef<ReassociationIndices>{{0, 1}});
  SmallVector<OpFoldResult> sizes = getSizes(b, loc, like);
  sizes.back() = tensor::getMixedSize(b, loc, m, 1);
  auto type =
      RankedTensorType::get(staticShape(sizes), matrixType.getElementType());
  ReassociationIndices leading;
  for (int64_t d = 0; d + 1 < rank; ++d)
    leading.push_back(d);
  return tensor::ExpandShapeOp::create(
      b, loc, type, m, ArrayRef<ReassociationIndices>{leading, {rank - 1}},
      sizes);
}

/// The activation of a linear epilogue applied to scalar `x`.
static Value applyActivation(OpBuilder &b, Location loc, Activation act,
                             Value x) {
  switch (act) {
  case Activation::none:
    return x;
  case Activation::relu:
    return buildRelu(b, loc, x);
  case Activation::gelu:
    return buildGelu(b, loc, x, /*tanhForm=*/false);
  case Activation::gelu_tanh:
    return buildGelu(b, loc, x, /*tanhForm=*/true);
  case Activation::silu:
    return buildSilu(b, loc, x);
  }
  llvm_unreachable("unknown activation");
}

namespace {

struct LinearOpLowering : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    RankedTensorType inType = op.getInput().getType();
    RankedTensorType weightType = op.getWeight().getType();
    if (inType.getRank() < 1 || weightType.getRank() != 2)
      return rewriter.notifyMatchFailure(op, "expected an input of rank >= 1 "
                                             "and a rank-2 weight");
    Location loc = op.getLoc();
    MLIRContext *ctx = rewriter.getContext();
    Type elementType = inType.getElementType();
    Type ct = getComputeType(elementType);
    bool transposed = op.getTransposeWeight();

    Value x = toMatrix(rewriter, loc, op.getInput());
    SmallVector<OpFoldResult> accSizes = {
        tensor::getMixedSize(rewriter, loc, x, 0),
        tensor::getMixedSize(rewriter, loc, op.getWeight(),
                             transposed ? 0 : 1)};
    Value acc = filledTensor(rewriter, loc, accSizes,
                             floatConstant(rewriter, loc, ct, 0.0));
    auto matmul = linalg::MatmulOp::create(
        rewriter, loc, TypeRange{acc.getType()}, ValueRange{x, op.getWeight()},
        ValueRange{acc});
    if (transposed) {
      AffineExpr m, n, k;
      bindDims(ctx, m, n, k);
      SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {m, k}, ctx),
                                     AffineMap::get(3, 0, {n, k}, ctx),
                                     AffineMap::get(3, 0, {m, n}, ctx)};
      matmul.setIndexingMapsAttr(rewriter.getAffineMapArrayAttr(maps));
    }
    // The tiling chosen for the layer travels to the GEMV/GEMM kernels.
    if (TileAttr tile = op.getTileAttr())
      matmul->setAttr("ds.tile", tile);
    Value y = matmul.getResult(0);

    // Epilogue: activation(y + bias) + residual, cast to the element type.
    Activation act = op.getActivation();
    Value bias = op.getBias(), residual = op.getResidual();
    if (bias || residual || act != Activation::none || ct != elementType) {
      AffineMap identity = rewriter.getMultiDimIdentityMap(2);
      SmallVector<Value> inputs = {y};
      SmallVector<AffineMap> maps = {identity};
      if (bias) {
        inputs.push_back(bias);
        maps.push_back(AffineMap::get(2, 0, rewriter.getAffineDimExpr(1), ctx));
      }
      if (residual) {
        inputs.push_back(toMatrix(rewriter, loc, residual));
        maps.push_back(identity);
      }
      y = buildElementwise(
          rewriter, loc, inputs, maps, accSizes, elementType,
          [&](OpBuilder &b, Location nloc, ValueRange args) {
            Value v = args[0];
            unsigned next = 1;
            if (bias)
              v = arith::AddFOp::create(b, nloc, v,
                                        castScalar(b, nloc, args[next++], ct));
            v = applyActivation(b, nloc, act, v);
            if (residual)
              v = arith::AddFOp::create(b, nloc, v,
                                        castScalar(b, nloc, args[next++], ct));
            return castScalar(b, nloc, v, elementType);
          });
    }
    Value result = fromMatrix(rewriter, loc, y, op.getInput());
    rewriter.replaceOp(
        op, castToType(rewriter, loc, result, op.getResult().getType()));
    return success();
  }
};

} // namespace

void lowering::populateLinearPatterns(RewritePatternSet &patterns) {
  patterns.add<LinearOpLowering>(patterns.getContext());
}
