//===- FuseParallelProducers.cpp - recompute a producer where it is read --===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// After convert-linalg-to-parallel-loops an elementwise op is an
// scf.parallel that stores one value per iteration into a temporary, and
// what reads the temporary is often a single later loop: in a decode step,
// RoPE on the new keys writes [B, H, 1, D] that only the key-cache append
// (an scf.for over the batch copying each row to the cache at its
// position) reads. On the GPU each is a kernel, and the temporary makes a
// round trip through memory. This pass recomputes the producer's value
// at each load of the temporary instead:
//
//   scf.parallel (%i, %j) = (0, 0) to (%n, 64) {      // the producer P
//     %v = <body reading other buffers at %i, %j>
//     memref.store %v, %T[%i, 0, %j]
//   }
//   scf.for %b ... {
//     %s = memref.subview %T[%b, 0, 0] [1, 1, 64] [1, 1, 1]
//     ... memref.load %s[%c0, %c0, %k] ...                // becomes
//   }                                                   //   <body at (%b, %k)>
//
// P qualifies when its bounds start at 0 with step 1, its body has no
// regions and only reads memory except for one store into %T, a fresh
// allocation, at its induction variables (a constant 0 where %T has a
// unit dimension, each variable once); its bounds over static
// dimensions of %T equal them (a loop made from a linalg op covers its
// output). %T must be read only by loads, directly or through unit-stride
// subviews keeping its rank, in later host-level ops that are not kernels
// yet, and no op from P to the last of those may write a buffer P reads.
// P, the subviews and %T then go.
//
//===----------------------------------------------------------------------===//

#include "GPUUtils.h"

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include <functional>

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSFUSEPARALLELPRODUCERS
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

/// A producer loop and what it stores.
struct Producer {
  scf::ParallelOp loop;
  memref::StoreOp store;
  memref::AllocOp temp;
  /// For each dimension of the temporary: the induction variable stored
  /// there, or -1 for a constant 0 (a unit dimension).
  SmallVector<int64_t> dimToIv;
};

std::optional<Producer> matchProducer(scf::ParallelOp loop) {
  if (loop.getNumResults() != 0 || loop.getNumReductions() != 0)
    return std::nullopt;
  for (Value lb : loop.getLowerBound())
    if (!matchPattern(lb, m_Zero()))
      return std::nullopt;
  for (Value step : loop.getStep())
    if (!matchPattern(step, m_One()))
      return std::nullopt;
  Producer p;
  p.loop = loop;
  for (Operation &op : loop.getBody()->without_terminator()) {
    if (op.getNumRegions())
      return std::nullopt;
    if (auto store = dyn_cast<memref::StoreOp>(op)) {
      if (p.store)
        return std::nullopt;
      p.store = store;
      continue;
    }
    if (isa<memref::LoadOp>(op) || isMemoryEffectFree(&op))
      continue;
    return std::nullopt;
  }
  if (!p.store)
    return std::nullopt;
  p.temp = p.store.getMemRef().getDefiningOp<memref::AllocOp>();
  if (!p.temp || p.temp->getBlock() != loop->getBlock())
    return std::nullopt;
  MemRefType type = p.temp.getType();
  ValueRange ivs = loop.getInductionVars();
  SmallVector<bool> seen(ivs.size(), false);
  for (auto [dim, index] : llvm::enumerate(p.store.getIndices())) {
    if (matchPattern(index, m_Zero()) && type.getDimSize(dim) == 1) {
      p.dimToIv.push_back(-1);
      continue;
    }
    auto iv = dyn_cast<BlockArgument>(index);
    if (!iv || iv.getOwner() != loop.getBody() || seen[iv.getArgNumber()])
      return std::nullopt;
    seen[iv.getArgNumber()] = true;
    p.dimToIv.push_back(iv.getArgNumber());
    if (!type.isDynamicDim(dim)) {
      std::optional<int64_t> bound =
          getConstantIntValue(loop.getUpperBound()[iv.getArgNumber()]);
      if (!bound || *bound != type.getDimSize(dim))
        return std::nullopt;
    }
  }
  if (!llvm::all_of(seen, [](bool s) { return s; }))
    return std::nullopt;
  return p;
}

/// Recomputes `p`'s stored value at temporary coordinates `coords`, at `b`.
Value recompute(OpBuilder &b, Producer p, ArrayRef<Value> coords) {
  IRMapping map;
  for (auto [dim, iv] : llvm::enumerate(p.dimToIv))
    if (iv >= 0)
      map.map(p.loop.getInductionVars()[iv], coords[dim]);
  for (Operation &op : p.loop.getBody()->without_terminator()) {
    if (&op == p.store.getOperation())
      break;
    b.clone(op, map);
  }
  return map.lookupOrDefault(p.store.getValueToStore());
}

/// Fuses `p` into the loads of its temporary when it qualifies.
bool fuse(Producer p) {
  Block *block = p.loop->getBlock();
  Value temp = p.temp.getResult();
  // The temporary may be reused (one buffer for every layer's keys): P's
  // value lives until the next host-level op that stores into it (or into
  // a view of it). Every other use is a possible reader.
  Operation *end = nullptr;
  auto isStoreInto = [](Operation *user, Value buffer) {
    if (auto store = dyn_cast<memref::StoreOp>(user))
      return store.getMemRef() == buffer;
    if (auto store = dyn_cast<vector::StoreOp>(user))
      return store.getBase() == buffer;
    return false;
  };
  std::function<void(Value)> findEnd = [&](Value buffer) {
    for (Operation *user : buffer.getUsers()) {
      if (auto view = dyn_cast<ViewLikeOpInterface>(user);
          view && view.getViewSource() == buffer) {
        findEnd(user->getResult(0));
        continue;
      }
      if (user == p.store.getOperation() || !isStoreInto(user, buffer))
        continue;
      Operation *top = block->findAncestorOpInBlock(*user);
      if (top && p.loop->isBeforeInBlock(top) &&
          (!end || top->isBeforeInBlock(end)))
        end = top;
    }
  };
  findEnd(temp);
  // After P and up to the end, the end itself included.
  auto inWindow = [&](Operation *top) {
    return top && p.loop->isBeforeInBlock(top) &&
           (!end || !end->isBeforeInBlock(top));
  };
  // The loads to rewrite, with the subview each goes through (or null).
  SmallVector<std::pair<memref::LoadOp, memref::SubViewOp>> loads;
  SmallVector<memref::SubViewOp> views;
  Operation *last = nullptr;
  auto addUse = [&](Operation *user, memref::SubViewOp view) {
    Operation *top = block->findAncestorOpInBlock(*user);
    if (!inWindow(top) || isa<memref::DeallocOp>(user))
      return true; // another producer's reader, or the end of the buffer
    // The op that overwrites the temporary: its stores are fine, but a
    // load there may come before them and see P's value.
    if (top == end)
      return isStoreInto(user, view ? view.getResult() : temp);
    auto load = dyn_cast<memref::LoadOp>(user);
    if (!load || load->getParentOfType<gpu::LaunchOp>())
      return false;
    if (!last || last->isBeforeInBlock(top))
      last = top;
    loads.push_back({load, view});
    return true;
  };
  // Every use of the temporary, through any chain of views: in P's window
  // only loads of it or of a plain subview of it (whatever the position of
  // the view op itself).
  std::function<bool(Value, memref::SubViewOp, bool)> visit =
      [&](Value buffer, memref::SubViewOp view, bool plain) -> bool {
    for (Operation *user : buffer.getUsers()) {
      if (user == p.store.getOperation())
        continue;
      if (auto viewLike = dyn_cast<ViewLikeOpInterface>(user);
          viewLike && viewLike.getViewSource() == buffer) {
        auto subview = dyn_cast<memref::SubViewOp>(user);
        bool plainSubview =
            plain && !view && subview &&
            subview.getSourceType().getRank() == subview.getType().getRank() &&
            llvm::all_of(subview.getMixedStrides(), [](OpFoldResult s) {
              return isConstantIntValue(s, 1);
            });
        if (plainSubview)
          views.push_back(subview);
        if (!visit(user->getResult(0), plainSubview ? subview : view,
                   plainSubview))
          return false;
        continue;
      }
      if (!plain && inWindow(block->findAncestorOpInBlock(*user)))
        return false;
      if (plain && !addUse(user, view))
        return false;
    }
    return true;
  };
  if (!visit(temp, nullptr, /*plain=*/true))
    return false;
  if (loads.empty())
    return false;
  // Nothing from the producer to the last reader may change what the
  // producer reads.
  ds::BufferAccesses reads;
  if (!ds::collectBufferAccesses(p.loop, reads))
    return false;
  for (Operation *op = p.loop->getNextNode(); op; op = op->getNextNode()) {
    ds::BufferAccesses between;
    if (!ds::collectBufferAccesses(op, between))
      return false;
    for (Value w : between.writes)
      if (reads.reads.contains(w))
        return false;
    if (op == last)
      break;
  }

  // The producer's inputs now live until the last reader: the device arena
  // hands a freed block to the next allocation, so a deallocation in the
  // window would let a later buffer overwrite what the readers recompute
  // from.
  SmallVector<Operation *> deallocs;
  for (Operation *op = p.loop->getNextNode(); op && op != last;
       op = op->getNextNode())
    if (auto dealloc = dyn_cast<memref::DeallocOp>(op))
      if (reads.reads.contains(ds::viewRoot(dealloc.getMemref())))
        deallocs.push_back(op);
  for (Operation *op : llvm::reverse(deallocs))
    op->moveAfter(last);

  for (auto [load, view] : loads) {
    OpBuilder b(load);
    Location loc = load.getLoc();
    SmallVector<Value> coords(load.getIndices());
    if (view)
      for (auto [i, offset] : llvm::enumerate(view.getMixedOffsets()))
        coords[i] = b.createOrFold<arith::AddIOp>(
            loc, getValueOrCreateConstantIndexOp(b, loc, offset), coords[i]);
    load.replaceAllUsesWith(recompute(b, p, coords));
    load.erase();
  }
  for (memref::SubViewOp view : views)
    if (view->use_empty())
      view.erase();
  p.loop.erase();
  // The last producer of the buffer takes it with it.
  if (llvm::all_of(temp.getUsers(),
                   [](Operation *u) { return isa<memref::DeallocOp>(u); })) {
    for (Operation *u : llvm::make_early_inc_range(temp.getUsers()))
      u->erase();
    p.temp.erase();
  }
  return true;
}

struct FuseParallelProducersPass
    : public ds::impl::DSFuseParallelProducersBase<FuseParallelProducersPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    for (Block &block : func.getBody()) {
      SmallVector<scf::ParallelOp> loops(block.getOps<scf::ParallelOp>());
      for (scf::ParallelOp loop : loops)
        if (std::optional<Producer> p = matchProducer(loop))
          (void)fuse(*p);
    }
  }
};

} // namespace
