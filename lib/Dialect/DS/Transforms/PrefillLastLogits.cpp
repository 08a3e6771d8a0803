//===- PrefillLastLogits.cpp - prefill's LM head at the last positions ----===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Dialect/DS/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSPREFILLLASTLOGITS
#include "ds/Dialect/DS/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds;

/// The input name the runtime fills (docs/Artifact.md, format 1.4).
static constexpr llvm::StringLiteral kInputName = "last_positions";

/// `x` [B, S, D] at row b's position clamp(last[b], 0, S - 1): [B, 1, D].
static Value gatherRows(OpBuilder &b, Location loc, Value x, Value last) {
  auto type = cast<RankedTensorType>(x.getType());
  MLIRContext *ctx = b.getContext();
  Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
  Value c1 = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  Value seq = getValueOrCreateConstantIndexOp(b, loc, sizes[1]);
  Value lastRow = arith::SubIOp::create(b, loc, seq, c1);
  sizes[1] = b.getIndexAttr(1);
  Value init = tensor::EmptyOp::create(b, loc, sizes, type.getElementType());
  AffineMap rowMap = AffineMap::get(3, 0, {getAffineDimExpr(0, ctx)}, ctx);
  AffineMap id = AffineMap::getMultiDimIdentityMap(3, ctx);
  auto gather = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{last}, ValueRange{init},
      ArrayRef<AffineMap>{rowMap, id},
      SmallVector<utils::IteratorType>(3, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value pos = arith::IndexCastOp::create(nb, nloc, nb.getIndexType(),
                                               args[0]);
        // A position outside the prompt reads its nearest end, never
        // outside the buffer.
        pos = arith::MinSIOp::create(
            nb, nloc, arith::MaxSIOp::create(nb, nloc, pos, c0), lastRow);
        Value row = linalg::IndexOp::create(nb, nloc, 0);
        Value col = linalg::IndexOp::create(nb, nloc, 2);
        Value v = tensor::ExtractOp::create(nb, nloc, x,
                                            ValueRange{row, pos, col});
        linalg::YieldOp::create(nb, nloc, v);
      });
  return gather.getResult(0);
}

namespace {
struct PrefillLastLogitsPass
    : public ds::impl::DSPrefillLastLogitsBase<PrefillLastLogitsPass> {
  void runOnOperation() override {
    auto func = getOperation().lookupSymbol<func::FuncOp>("prefill");
    if (!func || func.isExternal() || func.getNumResults() == 0)
      return;
    SmallVector<func::ReturnOp> returns;
    func.walk([&](func::ReturnOp r) { returns.push_back(r); });
    if (returns.size() != 1)
      return;
    func::ReturnOp ret = returns.front();
    // The logits must be the LM head's [B, S, V] output, with nothing
    // per-position besides its input (a residual would need gathering).
    auto head = ret.getOperand(0).getDefiningOp<LinearOp>();
    if (!head || head.getResidual() || !head.getResult().hasOneUse())
      return;
    auto inType = cast<RankedTensorType>(head.getInput().getType());
    if (inType.getRank() != 3)
      return;
    for (unsigned i = 0, e = func.getNumArguments(); i < e; ++i)
      if (auto name = func.getArgAttrOfType<StringAttr>(i, "ds.input"))
        if (name.getValue() == kInputName) {
          func.emitError() << "a model input is already named '"
                           << kInputName << "'";
          return signalPassFailure();
        }
    MLIRContext *ctx = &getContext();
    Builder attrs(ctx);
    auto lastType = RankedTensorType::get({ShapedType::kDynamic},
                                          IntegerType::get(ctx, 64));
    unsigned index = func.getNumArguments();
    if (failed(func.insertArgument(
            index, lastType,
            attrs.getDictionaryAttr(
                {attrs.getNamedAttr("ds.input", attrs.getStringAttr(kInputName)),
                 attrs.getNamedAttr("ds.dim_names",
                                    attrs.getStrArrayAttr({"batch"}))}),
            func.getLoc()))) {
      func.emitError() << "cannot add the " << kInputName << " input";
      return signalPassFailure();
    }
    Value last = func.getArgument(index);
    OpBuilder b(head);
    Value rows = gatherRows(b, head.getLoc(), head.getInput(), last);
    Operation *lastHead = b.clone(*head);
    lastHead->setOperand(0, rows);
    auto logitsType = cast<RankedTensorType>(head.getResult().getType());
    SmallVector<int64_t> shape(logitsType.getShape());
    shape[1] = 1;
    lastHead->getResult(0).setType(logitsType.clone(shape));
    ret.setOperand(0, lastHead->getResult(0));
    head.erase();
    SmallVector<Type> results(func.getResultTypes());
    results[0] = lastHead->getResult(0).getType();
    func.setType(FunctionType::get(ctx, func.getArgumentTypes(), results));
  }
};
} // namespace
