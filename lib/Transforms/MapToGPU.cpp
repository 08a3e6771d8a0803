//===- MapToGPU.cpp - put every memory access of a host function on the GPU ===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The generic CUDA code path (docs/CUDA.md). After bufferization and
// convert-linalg-to-parallel-loops, a function is host code (allocations,
// views, shape arithmetic) around loops that read and write buffers. On the
// CUDA target every buffer lives in device memory, so every op that touches
// buffer contents must run inside a kernel:
//
//   - a top-level scf.parallel becomes a gpu.launch of one thread per
//     iteration (the iteration space linearised, 256 threads a block); inner
//     scf.parallel loops run sequentially in their thread;
//   - any other top-level op with memory effects on buffers (an scf.for over
//     the batch that appends to a cache, a leftover memref.copy) becomes a
//     one-thread launch;
//   - what is left on the host must not touch buffer contents: a value read
//     from a buffer and used by host code (a shape that depends on data) is
//     an error, since the host cannot read device memory without a
//     synchronisation that would break graph capture.
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSMAPTOGPU
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

/// Ops that only handle buffer metadata or scalars and may stay on the host.
bool isHostOp(Operation *op) {
  if (isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp, memref::DimOp,
          memref::SubViewOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
          memref::CastOp, memref::ReinterpretCastOp, memref::GetGlobalOp,
          memref::ExtractStridedMetadataOp, memref::ViewOp,
          memref::AssumeAlignmentOp, func::ReturnOp, func::CallOp>(op))
    return true;
  if (isa<arith::ArithDialect, affine::AffineDialect>(op->getDialect()))
    return isPure(op);
  return false;
}

/// True if `op` (or an op nested in it) reads or writes buffer contents.
bool touchesMemory(Operation *op) {
  bool touches = false;
  op->walk([&](Operation *nested) {
    if (isa<memref::LoadOp, memref::StoreOp, memref::CopyOp>(nested) ||
        isa<linalg::LinalgOp>(nested) ||
        nested->getDialect()->getNamespace() == "vector") {
      touches = true;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return touches;
}

/// Replaces every scf.parallel nested in `root` by a nest of scf.for.
void serializeParallelLoops(Operation *root) {
  SmallVector<scf::ParallelOp> loops;
  root->walk([&](scf::ParallelOp loop) { loops.push_back(loop); });
  // Walk order is post-order: inner loops first, so each rewrite sees an
  // already sequential body.
  for (scf::ParallelOp loop : loops) {
    OpBuilder b(loop);
    IRMapping map;
    Block *body = loop.getBody();
    std::function<void(OpBuilder &, unsigned)> build = [&](OpBuilder &nb,
                                                          unsigned d) {
      if (d == loop.getNumLoops()) {
        for (Operation &op : body->without_terminator())
          nb.clone(op, map);
        return;
      }
      scf::ForOp::create(nb, loop.getLoc(), loop.getLowerBound()[d],
                         loop.getUpperBound()[d], loop.getStep()[d],
                         ValueRange{},
                         [&](OpBuilder &fb, Location, Value iv, ValueRange) {
                           map.map(loop.getInductionVars()[d], iv);
                           build(fb, d + 1);
                           scf::YieldOp::create(fb, loop.getLoc());
                         });
    };
    build(b, 0);
    loop.erase();
  }
}

constexpr int64_t kThreadsPerBlock = 256;

/// Wraps `parallel` in a gpu.launch of one thread per iteration.
void launchParallel(scf::ParallelOp parallel) {
  Location loc = parallel.getLoc();
  OpBuilder b(parallel);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  // Trip count of every dimension, and their product.
  SmallVector<Value> counts;
  Value total = one;
  for (unsigned d = 0; d < parallel.getNumLoops(); ++d) {
    Value extent = arith::SubIOp::create(b, loc, parallel.getUpperBound()[d],
                                         parallel.getLowerBound()[d]);
    Value count =
        arith::CeilDivSIOp::create(b, loc, extent, parallel.getStep()[d]);
    count = arith::MaxSIOp::create(
        b, loc, count, arith::ConstantIndexOp::create(b, loc, 0));
    counts.push_back(count);
    total = arith::MulIOp::create(b, loc, total, count);
  }
  Value threads = arith::ConstantIndexOp::create(b, loc, kThreadsPerBlock);
  Value blocks = arith::CeilDivSIOp::create(b, loc, total, threads);
  auto launch = gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one,
                                      one);
  OpBuilder lb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value id = arith::AddIOp::create(
      lb, loc,
      arith::MulIOp::create(lb, loc, launch.getBlockIds().x, threads),
      launch.getThreadIds().x);
  Value inRange = arith::CmpIOp::create(lb, loc, arith::CmpIPredicate::ult,
                                        id, total);
  auto guard = scf::IfOp::create(lb, loc, inRange, /*withElse=*/false);
  gpu::TerminatorOp::create(lb, loc);

  OpBuilder ib = guard.getThenBodyBuilder();
  IRMapping map;
  // Delinearise, the last dimension fastest (coalesced accesses for the
  // row-major buffers the loops come from).
  Value rest = id;
  for (int d = parallel.getNumLoops() - 1; d >= 0; --d) {
    Value idx = d == 0 ? rest : arith::RemUIOp::create(ib, loc, rest, counts[d]);
    if (d > 0)
      rest = arith::DivUIOp::create(ib, loc, rest, counts[d]);
    Value iv = arith::AddIOp::create(
        ib, loc, parallel.getLowerBound()[d],
        arith::MulIOp::create(ib, loc, idx, parallel.getStep()[d]));
    map.map(parallel.getInductionVars()[d], iv);
  }
  for (Operation &op : parallel.getBody()->without_terminator())
    ib.clone(op, map);
  serializeParallelLoops(guard);
  parallel.erase();
}

/// Wraps `op` in a one-thread gpu.launch.
void launchSingleThread(Operation *op) {
  Location loc = op->getLoc();
  OpBuilder b(op);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  auto launch = gpu::LaunchOp::create(b, loc, one, one, one, one, one, one);
  OpBuilder lb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Operation *moved = lb.clone(*op);
  gpu::TerminatorOp::create(lb, loc);
  serializeParallelLoops(moved);
  op->erase();
}

struct MapToGPUPass : public ds::impl::DSMapToGPUBase<MapToGPUPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    SmallVector<Operation *> ops;
    for (Block &block : func.getBody())
      for (Operation &op : block)
        ops.push_back(&op);
    for (Operation *op : ops) {
      if (auto parallel = dyn_cast<scf::ParallelOp>(op)) {
        if (parallel.getNumResults() != 0) {
          op->emitError("ds-map-to-gpu: a parallel loop with reductions "
                        "has no GPU mapping yet");
          return signalPassFailure();
        }
        launchParallel(parallel);
        continue;
      }
      // Kernels built by earlier passes (ds-gemv-to-gpu) are launches
      // already.
      if (isa<gpu::LaunchOp>(op) || isHostOp(op) || !touchesMemory(op))
        continue;
      if (op->getNumResults() != 0) {
        // The result would be a value read from device memory and used on
        // the host.
        InFlightDiagnostic diag = op->emitError(
            "ds-map-to-gpu: this op reads device memory and its result is "
            "used by host code (a shape or loop bound that depends on "
            "tensor data), which the CUDA target does not support");
        return signalPassFailure();
      }
      launchSingleThread(op);
    }
  }
};

} // namespace
