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
//     launch of its own: one block whose threads share its parallel loops
//     when its sequential part only reads, else one thread;
//   - what is left on the host must not touch buffer contents: a value read
//     from a buffer and used by host code (a shape that depends on data) is
//     an error, since the host cannot read device memory without a
//     synchronisation that would break graph capture.
//
//===----------------------------------------------------------------------===//

#include "GPUUtils.h"

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

/// True unless `v` is computed on the host from function arguments and
/// host ops (isHostOp) alone: a shape, not a value read from a buffer.
bool isDeviceValue(Value v) {
  SmallVector<Value> worklist = {v};
  llvm::SmallPtrSet<Operation *, 8> seen;
  while (!worklist.empty()) {
    Operation *def = worklist.pop_back_val().getDefiningOp();
    if (!def || !seen.insert(def).second)
      continue;
    if (!isHostOp(def) || isa<func::CallOp>(def))
      return true;
    llvm::append_range(worklist, def->getOperands());
  }
  return false;
}

/// True if `op` (or an op nested in it) reads or writes buffer contents.
bool touchesMemory(Operation *op) {
  bool touches = false;
  op->walk<WalkOrder::PreOrder>([&](Operation *nested) {
    // Kernels built by earlier passes run on the device already (the GEMV
    // pass picks one of two kernels with a host-side scf.if).
    if (isa<gpu::LaunchOp>(nested))
      return WalkResult::skip();
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

/// The trip count of each dimension of `loop` (never negative), built at
/// `b`'s insertion point.
SmallVector<Value> tripCounts(OpBuilder &b, Location loc,
                              scf::ParallelOp loop) {
  // Folded as built: static bounds give constant counts (cheap divisions
  // by them in the kernels).
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  SmallVector<Value> counts;
  for (unsigned d = 0; d < loop.getNumLoops(); ++d) {
    Value extent = b.createOrFold<arith::SubIOp>(
        loc, loop.getUpperBound()[d], loop.getLowerBound()[d]);
    counts.push_back(b.createOrFold<arith::MaxSIOp>(
        loc, b.createOrFold<arith::CeilDivSIOp>(loc, extent, loop.getStep()[d]),
        zero));
  }
  return counts;
}

/// `first` times every value of `counts`, built at `b`.
Value multiplyAll(OpBuilder &b, Location loc, Value first,
                  ArrayRef<Value> counts) {
  Value total = first;
  for (Value count : counts)
    total = arith::MulIOp::create(b, loc, total, count);
  return total;
}

/// Maps the induction variables of `loop` to the iteration with linear
/// index `id` < `total` (the last dimension fastest: coalesced accesses
/// for the row-major buffers the loops come from) and, with `keepRest`,
/// returns what is left of `id` above the outermost dimension.
Value mapLinearIteration(OpBuilder &b, Location loc, scf::ParallelOp loop,
                         ArrayRef<Value> counts, Value id, Value total,
                         IRMapping &map, bool keepRest = false) {
  SmallVector<Value> parts =
      ds::delinearizeIndex(b, loc, id, counts, total, keepRest);
  for (unsigned d = 0; d < loop.getNumLoops(); ++d)
    map.map(loop.getInductionVars()[d],
            arith::AddIOp::create(
                b, loc, loop.getLowerBound()[d],
                arith::MulIOp::create(b, loc, parts[d], loop.getStep()[d])));
  return keepRest ? parts.back() : Value();
}

/// The trip count of `loop` (never negative), built at `b`'s insertion
/// point.
Value tripCount(OpBuilder &b, Location loc, scf::ForOp loop) {
  return arith::MaxSIOp::create(
      b, loc,
      arith::CeilDivSIOp::create(
          b, loc,
          arith::SubIOp::create(b, loc, loop.getUpperBound(),
                                loop.getLowerBound()),
          loop.getStep()),
      arith::ConstantIndexOp::create(b, loc, 0));
}

/// Builds, at `b`, a launch of one thread per item of `total` (256 a
/// block) and returns the thread's linear id and its guard (id < total).
std::pair<Value, scf::IfOp> launchThreadPerItem(OpBuilder &b, Location loc,
                                                Value total) {
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value threads = arith::ConstantIndexOp::create(b, loc, kThreadsPerBlock);
  Value blocks = arith::CeilDivSIOp::create(b, loc, total, threads);
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  OpBuilder lb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value id = arith::AddIOp::create(
      lb, loc, arith::MulIOp::create(lb, loc, launch.getBlockIds().x, threads),
      launch.getThreadIds().x);
  auto guard = scf::IfOp::create(
      lb, loc,
      arith::CmpIOp::create(lb, loc, arith::CmpIPredicate::ult, id, total),
      /*withElse=*/false);
  gpu::TerminatorOp::create(lb, loc);
  return {id, guard};
}

/// Wraps `parallel` in a gpu.launch of one thread per iteration.
void launchParallel(scf::ParallelOp parallel) {
  Location loc = parallel.getLoc();
  OpBuilder b(parallel);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  SmallVector<Value> counts = tripCounts(b, loc, parallel);
  Value total = multiplyAll(b, loc, one, counts);
  auto [id, guard] = launchThreadPerItem(b, loc, total);
  OpBuilder ib = guard.getThenBodyBuilder();
  IRMapping map;
  mapLinearIteration(ib, loc, parallel, counts, id, total, map);
  for (Operation &op : parallel.getBody()->without_terminator())
    ib.clone(op, map);
  serializeParallelLoops(guard);
  parallel.erase();
}

/// True if every op under `root` that writes memory is nested in an
/// scf.parallel under `root`: the sequential code around the parallel
/// loops only reads (an index loaded from a buffer, say).
bool writesOnlyInParallelLoops(Operation *root) {
  bool ok = true;
  root->walk([&](Operation *nested) {
    if (isa<scf::ParallelOp>(nested) || nested == root)
      return WalkResult::advance();
    // An op that declares no effects and is not a region holder whose
    // body is walked anyway (a call, say) may write anything.
    auto iface = dyn_cast<MemoryEffectOpInterface>(nested);
    bool writes =
        isa<memref::CopyOp, linalg::LinalgOp>(nested) ||
        (iface ? iface.hasEffect<MemoryEffects::Write>()
               : !nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>());
    if (writes && !nested->getParentOfType<scf::ParallelOp>()) {
      ok = false;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return ok;
}

/// Replaces `loop` by a loop over its linearised iterations strided by the
/// block's threads, then a barrier (the code after it, in program order,
/// may read what the iterations wrote).
void distributeOverBlock(scf::ParallelOp loop, Value tid, int64_t threads) {
  Location loc = loop.getLoc();
  OpBuilder b(loop);
  SmallVector<Value> counts = tripCounts(b, loc, loop);
  Value total = arith::ConstantIndexOp::create(b, loc, 1);
  for (Value count : counts)
    total = arith::MulIOp::create(b, loc, total, count);
  auto strided = scf::ForOp::create(
      b, loc, tid, total, arith::ConstantIndexOp::create(b, loc, threads));
  OpBuilder ib = OpBuilder::atBlockBegin(strided.getBody());
  IRMapping map;
  mapLinearIteration(ib, loc, loop, counts, strided.getInductionVar(), total,
                     map);
  for (Operation &op : loop.getBody()->without_terminator())
    ib.clone(op, map);
  gpu::BarrierOp::create(b, loc);
  loop.erase();
}

constexpr int64_t kThreadsForSequential = 256;


/// True if `written` is, through views, a slice of a buffer defined outside
/// `loop` that a subview in the loop takes at offset `iv` with size 1 in
/// some dimension: distinct iterations then write distinct elements.
bool isSliceOfIteration(Value written, scf::ForOp loop) {
  Value iv = loop.getInductionVar();
  for (Value v = written; Operation *def = v.getDefiningOp();) {
    auto view = dyn_cast<ViewLikeOpInterface>(def);
    if (!view)
      return false;
    if (auto subview = dyn_cast<memref::SubViewOp>(def)) {
      // A source with an identity layout has positive strides, so its
      // slices at different offsets do not overlap.
      auto source = cast<MemRefType>(subview.getSource().getType());
      bool outside = !loop->isAncestor(
          subview.getSource().getParentBlock()->getParentOp());
      if (source.getLayout().isIdentity() && outside)
        for (auto [offset, size] : llvm::zip(subview.getMixedOffsets(),
                                             subview.getMixedSizes()))
          if (dyn_cast<Value>(offset) == iv && isConstantIntValue(size, 1))
            return true;
    }
    v = view.getViewSource();
  }
  return false;
}

/// True if the iterations of `loop` are independent: every buffer it
/// writes is a slice of its iteration (isSliceOfIteration), and it reads
/// no other part of a buffer it writes. Entry-point buffers and
/// allocations do not alias one another (the runtime allocates each).
/// The KV-cache append is such a loop: for each sequence, copy its keys
/// into its own row of the cache.
bool hasIndependentIterations(scf::ForOp loop) {
  if (loop.getNumResults() != 0)
    return false;
  llvm::SmallPtrSet<Value, 4> writtenRoots;
  SmallVector<std::pair<Value, bool>> accesses; // (buffer, is a write)
  bool ok = true;
  loop.getBody()->walk([&](Operation *op) {
    auto note = [&](Value buffer, bool write) {
      if (isa<MemRefType>(buffer.getType()))
        accesses.push_back({buffer, write});
    };
    if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
      for (Value in : linalgOp.getDpsInputs())
        note(in, false);
      for (Value out : linalgOp.getDpsInits())
        note(out, true);
    } else if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      note(copy.getSource(), false);
      note(copy.getTarget(), true);
    } else if (auto load = dyn_cast<memref::LoadOp>(op)) {
      note(load.getMemref(), false);
    } else if (auto store = dyn_cast<memref::StoreOp>(op)) {
      note(store.getMemref(), true);
    } else if (!isPure(op) && !isHostOp(op) &&
               !isa<scf::ForOp, scf::ParallelOp, scf::YieldOp,
                    scf::ReduceOp>(op)) {
      ok = false; // an effect this analysis does not understand
    }
  });
  if (!ok)
    return false;
  for (auto [buffer, write] : accesses)
    if (write) {
      if (!isSliceOfIteration(buffer, loop))
        return false;
      writtenRoots.insert(ds::viewRoot(buffer));
    }
  // Reads of a written buffer must stay in the iteration's slice too.
  for (auto [buffer, write] : accesses)
    if (!write && writtenRoots.contains(ds::viewRoot(buffer)) &&
        !isSliceOfIteration(buffer, loop))
      return false;
  return true;
}

/// The parallel loop that ends the body of `loop` when the rest of the body
/// only computes values for it (loads, views, scalar arithmetic) and its
/// bounds are defined outside `loop`, so the host can count its iterations.
scf::ParallelOp flattenableParallel(scf::ForOp loop) {
  Block *body = loop.getBody();
  if (body->getOperations().size() < 2)
    return nullptr;
  auto parallel =
      dyn_cast<scf::ParallelOp>(body->getTerminator()->getPrevNode());
  if (!parallel || parallel.getNumResults() != 0)
    return nullptr;
  for (Operation &op : body->without_terminator()) {
    if (&op == parallel.getOperation())
      break;
    if (op.getNumRegions() != 0 ||
        !(isPure(&op) || isHostOp(&op) || isa<memref::LoadOp>(op)) ||
        isa<memref::AllocOp, memref::AllocaOp, memref::DeallocOp,
            func::CallOp>(op))
      return nullptr;
  }
  for (Value bound : llvm::concat<Value>(parallel.getLowerBound(),
                                         parallel.getUpperBound(),
                                         parallel.getStep()))
    if (!loop.isDefinedOutsideOfLoop(bound))
      return nullptr;
  return parallel;
}

/// Runs a loop of independent iterations that ends in `parallel`
/// (flattenableParallel) as one launch of a thread per (iteration,
/// parallel iteration) pair, the parallel loop's last dimension fastest:
/// each thread computes its iteration's values (a position loaded from a
/// buffer, the views at it) and then its one element. A per-sequence cache
/// append of a 512-token prompt becomes 512 * heads * head_dim threads
/// rather than one block per sequence.
void launchFlattened(scf::ForOp loop, scf::ParallelOp parallel) {
  Location loc = loop.getLoc();
  OpBuilder b(loop);
  Value trips = tripCount(b, loc, loop);
  SmallVector<Value> counts = tripCounts(b, loc, parallel);
  Value total = multiplyAll(b, loc, trips, counts);
  auto [id, guard] = launchThreadPerItem(b, loc, total);
  OpBuilder ib = guard.getThenBodyBuilder();
  IRMapping map;
  Value iteration =
      mapLinearIteration(ib, loc, parallel, counts, id, total, map,
                         /*keepRest=*/true);
  map.map(loop.getInductionVar(),
          arith::AddIOp::create(
              ib, loc, loop.getLowerBound(),
              arith::MulIOp::create(ib, loc, iteration, loop.getStep())));
  for (Operation &op : loop.getBody()->without_terminator())
    if (&op != parallel.getOperation())
      ib.clone(op, map);
  for (Operation &op : parallel.getBody()->without_terminator())
    ib.clone(op, map);
  serializeParallelLoops(guard);
  loop.erase();
}

/// Wraps `op` in a gpu.launch. When its sequential part only reads memory
/// (the per-sequence KV-cache append: for each sequence, load its position,
/// copy its keys into the cache there), one block runs it: every thread
/// runs the sequential code, the parallel loops inside are spread over the
/// block's threads with a barrier after each. Otherwise one thread runs it.
void launchSequential(Operation *op) {
  Location loc = op->getLoc();
  OpBuilder b(op);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  bool distribute = writesOnlyInParallelLoops(op);
  auto loop = dyn_cast<scf::ForOp>(op);
  if (distribute && loop && hasIndependentIterations(loop)) {
    if (scf::ParallelOp parallel = flattenableParallel(loop))
      return launchFlattened(loop, parallel);
    // A block per iteration, its parallel loops spread over the block.
    Value trips = tripCount(b, loc, loop);
    Value threads =
        arith::ConstantIndexOp::create(b, loc, kThreadsForSequential);
    auto launch =
        gpu::LaunchOp::create(b, loc, trips, one, one, threads, one, one);
    OpBuilder lb = OpBuilder::atBlockBegin(&launch.getBody().front());
    IRMapping map;
    map.map(loop.getInductionVar(),
            arith::AddIOp::create(
                lb, loc, loop.getLowerBound(),
                arith::MulIOp::create(lb, loc, launch.getBlockIds().x,
                                      loop.getStep())));
    for (Operation &inner : loop.getBody()->without_terminator())
      lb.clone(inner, map);
    gpu::TerminatorOp::create(lb, loc);
    SmallVector<scf::ParallelOp> outermost;
    launch.getBody().walk<WalkOrder::PreOrder>([&](scf::ParallelOp p) {
      outermost.push_back(p);
      return WalkResult::skip();
    });
    for (scf::ParallelOp p : outermost) {
      for (Operation &inner : p.getBody()->without_terminator())
        serializeParallelLoops(&inner);
      distributeOverBlock(p, launch.getThreadIds().x, kThreadsForSequential);
    }
    serializeParallelLoops(launch);
    op->erase();
    return;
  }
  Value threads = distribute ? arith::ConstantIndexOp::create(
                                   b, loc, kThreadsForSequential)
                             : one;
  auto launch =
      gpu::LaunchOp::create(b, loc, one, one, one, threads, one, one);
  OpBuilder lb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Operation *moved = lb.clone(*op);
  gpu::TerminatorOp::create(lb, loc);
  if (distribute) {
    SmallVector<scf::ParallelOp> outermost;
    moved->walk<WalkOrder::PreOrder>([&](scf::ParallelOp loop) {
      outermost.push_back(loop);
      return WalkResult::skip();
    });
    for (scf::ParallelOp loop : outermost) {
      // Loops nested in the distributed one run in its thread.
      for (Operation &inner : loop.getBody()->without_terminator())
        serializeParallelLoops(&inner);
      distributeOverBlock(loop, launch.getThreadIds().x,
                          kThreadsForSequential);
    }
  }
  serializeParallelLoops(moved);
  op->erase();
}

struct MapToGPUPass : public ds::impl::DSMapToGPUBase<MapToGPUPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    for (Block &block : func.getBody())
      if (failed(mapBlock(block)))
        return signalPassFailure();
  }

  /// Maps the host code of `block`: parallel loops to kernels, other
  /// memory-touching ops to one-thread kernels, and the branches of a
  /// host-side scf.if (ds-gemv-to-gpu's dispatch by row count) in turn.
  LogicalResult mapBlock(Block &block) {
    SmallVector<Operation *> ops;
    for (Operation &op : block)
      ops.push_back(&op);
    for (Operation *op : ops) {
      if (auto branch = dyn_cast<scf::IfOp>(op);
          branch && branch.getNumResults() == 0 && touchesMemory(op) &&
          !isDeviceValue(branch.getCondition())) {
        for (Region &region : op->getRegions())
          for (Block &inner : region)
            if (failed(mapBlock(inner)))
              return failure();
        continue;
      }
      if (auto parallel = dyn_cast<scf::ParallelOp>(op)) {
        if (parallel.getNumResults() != 0) {
          op->emitError("ds-map-to-gpu: a parallel loop with reductions "
                        "has no GPU mapping yet");
          return failure();
        }
        launchParallel(parallel);
        continue;
      }
      // Kernels built by earlier passes (ds-gemv-to-gpu), and host code
      // around them, touch no memory on the host (touchesMemory skips
      // launches).
      if (isHostOp(op) || !touchesMemory(op))
        continue;
      if (op->getNumResults() != 0) {
        // The result would be a value read from device memory and used on
        // the host.
        InFlightDiagnostic diag = op->emitError(
            "ds-map-to-gpu: this op reads device memory and its result is "
            "used by host code (a shape or loop bound that depends on "
            "tensor data), which the CUDA target does not support");
        return failure();
      }
      launchSequential(op);
    }
    return success();
  }
};

} // namespace
