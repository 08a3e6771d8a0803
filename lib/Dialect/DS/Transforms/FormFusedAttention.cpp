//===- FormFusedAttention.cpp - keep attention whole for one kernel -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFORMFUSEDATTENTION
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

/// Why `op` cannot become one fused kernel, or empty when it can.
static StringRef unfusableReason(AttentionOp op) {
  if (op.getMask())
    return "an explicit mask";
  RankedTensorType q = op.getQuery().getType(), k = op.getKey().getType(),
                   v = op.getValue().getType();
  if (ShapedType::isDynamic(q.getDimSize(1)) ||
      ShapedType::isDynamic(k.getDimSize(1)))
    return "a dynamic number of heads";
  if (ShapedType::isDynamic(q.getDimSize(3)) ||
      ShapedType::isDynamic(v.getDimSize(3)))
    return "a dynamic head size";
  Type elt = q.getElementType();
  if (!elt.isF16() && !elt.isBF16() && !elt.isF32())
    return "an element type other than f16, bf16 and f32";
  return {};
}

namespace {
struct FormFusedAttentionPass
    : public ds::impl::DSFormFusedAttentionBase<FormFusedAttentionPass> {
  using Base::Base;

  void runOnOperation() override {
    getOperation().walk([&](AttentionOp op) {
      if (StringRef reason = unfusableReason(op); !reason.empty()) {
        if (remarks)
          op.emitRemark() << "attention not fused into one kernel: " << reason;
        return;
      }
      OpBuilder b(op);
      Location loc = op.getLoc();
      RankedTensorType resultType = op.getResult().getType();
      SmallVector<Value> dynamicSizes;
      for (int64_t d = 0; d < 4; ++d)
        if (resultType.isDynamicDim(d))
          dynamicSizes.push_back(tensor::DimOp::create(
              b, loc, d == 3 ? op.getValue() : op.getQuery(), d));
      Value init = tensor::EmptyOp::create(b, loc, resultType, dynamicSizes);
      auto fused = FusedAttentionOp::create(
          b, loc, TypeRange{resultType}, op.getQuery(), op.getKey(),
          op.getValue(), op.getKvLength(), init,
          b.getF32FloatAttr(*op.getEffectiveScale()), op.getCausalAttr());
      op.getResult().replaceAllUsesWith(fused.getResult()[0]);
      op.erase();
    });
  }
};
} // namespace
