//===- BufferizableOpInterfaceImpl.cpp - ds ops in one-shot bufferize -----===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// ds.fused_attention is destination style: its result is its `init`
// operand's buffer, written in place; query, key, value and kv_length are
// only read. The init's old contents are never read (every element of the
// result is written), so a tensor.empty init needs no copy.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/Transforms/BufferizableOpInterfaceImpl.h"
#include "ds/Dialect/DS/IR/DSOps.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/IR/DialectRegistry.h"

using namespace mlir;
using namespace mlir::bufferization;

namespace {

struct FusedAttentionOpInterface
    : public DstBufferizableOpInterfaceExternalModel<FusedAttentionOpInterface,
                                                     ds::FusedAttentionOp> {
  bool bufferizesToMemoryRead(Operation *op, OpOperand &operand,
                              const AnalysisState &) const {
    return !cast<DestinationStyleOpInterface>(op).isDpsInit(&operand);
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto attention = cast<ds::FusedAttentionOp>(op);
    SmallVector<Value> buffers;
    for (Value operand : op->getOperands()) {
      FailureOr<Value> buffer = getBuffer(rewriter, operand, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    Value kvLength = attention.getKvLength() ? buffers[3] : Value();
    Value init = buffers.back();
    rewriter.setInsertionPoint(op);
    ds::FusedAttentionOp::create(rewriter, op->getLoc(), TypeRange{},
                                 buffers[0], buffers[1], buffers[2], kvLength,
                                 init, attention.getScaleAttr(),
                                 attention.getCausalAttr());
    replaceOpWithBufferizedValues(rewriter, op, init);
    return success();
  }
};

} // namespace

void mlir::ds::registerBufferizableOpInterfaceExternalModels(
    DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, DSDialect *) {
    FusedAttentionOp::attachInterface<FusedAttentionOpInterface>(*ctx);
  });
}
