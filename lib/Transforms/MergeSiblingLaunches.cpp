//===- MergeSiblingLaunches.cpp - independent kernels as one launch -------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// After ds-map-to-gpu a decode step has runs of small generic-path kernels
// that do not depend on each other: RoPE on the queries and on the keys,
// the key and the value cache appends. Each costs a launch and a drain of
// a few microseconds for a few kilobytes of work. This pass merges two
// consecutive launches A, B of a host function when
//
//   - both come from the generic path (no kernel name and no tile chosen
//     by a specialized pass, no shared memory), with a 1-D grid and the
//     same constant block size;
//   - nothing between them but host code that touches no buffer contents
//     (the deallocations there move after the merged launch);
//   - neither writes a buffer the other reads or writes. Buffers are
//     compared by their root (ds::viewRoot): an allocation, or an argument
//     of the function; distinct roots are distinct memory (the runtime
//     gives each entry-point argument a buffer of its own);
//   - the merged kernel's parameters (what both bodies capture) stay under
//     1 KiB: @prepare's dozens of independent weight copies would
//     otherwise become one kernel past CUDA's 4 KiB parameter limit.
//
// The merged launch has gA + gB blocks at B's place; a block below gA runs
// A's body, the others B's with their block index shifted down (a branch
// uniform over the block, so barriers stay legal):
//
//   gpu.launch blocks(%gA + %gB, 1, 1) threads(%t, 1, 1) {
//     scf.if %bx < %gA { A's body } else { B's body at %bx - %gA }
//   }
//
// A merged launch can take the next sibling too, so a run of independent
// kernels becomes one.
//
//===----------------------------------------------------------------------===//

#include "GPUUtils.h"

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSMERGESIBLINGLAUNCHES
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

/// The kernel parameter bytes a merged launch may capture (CUDA allows
/// 4 KiB before PTX 8.1).
constexpr int64_t kMaxParameterBytes = 1024;

bool isOne(Value v) { return matchPattern(v, m_One()); }

/// A launch this pass may merge: from the generic path, 1-D grid, constant
/// block, no shared or private attributions, synchronous.
bool isMergeable(gpu::LaunchOp launch) {
  if (launch.getFunction() || launch->hasAttr("ds.tile") ||
      launch.getAsyncToken() || !launch.getAsyncDependencies().empty() ||
      launch.getDynamicSharedMemorySize() || launch.hasClusterSize() ||
      !launch.getWorkgroupAttributions().empty() ||
      !launch.getPrivateAttributions().empty() ||
      !launch.getBody().hasOneBlock())
    return false;
  if (!isOne(launch.getGridSizeY()) || !isOne(launch.getGridSizeZ()))
    return false;
  APInt unused;
  return matchPattern(launch.getBlockSizeX(), m_ConstantInt(&unused)) &&
         matchPattern(launch.getBlockSizeY(), m_ConstantInt(&unused)) &&
         matchPattern(launch.getBlockSizeZ(), m_ConstantInt(&unused));
}

bool sameBlock(gpu::LaunchOp a, gpu::LaunchOp b) {
  auto value = [](Value v) {
    APInt x;
    (void)matchPattern(v, m_ConstantInt(&x));
    return x.getSExtValue();
  };
  return value(a.getBlockSizeX()) == value(b.getBlockSizeX()) &&
         value(a.getBlockSizeY()) == value(b.getBlockSizeY()) &&
         value(a.getBlockSizeZ()) == value(b.getBlockSizeZ());
}

/// Clones `from`'s body into `b`'s block, its launch arguments mapped to
/// `to`'s, the x block index to `blockX` and the x grid size to `gridX`.
void cloneBody(OpBuilder &b, gpu::LaunchOp from, gpu::LaunchOp to,
               Value blockX, Value gridX) {
  // Both bodies take the same launch arguments (block and thread ids, grid
  // and block sizes) in the same order.
  IRMapping map;
  map.map(from.getBody().getArguments(), to.getBody().getArguments());
  map.map(from.getBlockIds().x, blockX);
  map.map(from.getGridSize().x, gridX);
  for (Operation &op : from.getBody().front().without_terminator())
    b.clone(op, map);
}

/// The bytes of kernel parameters the launch's body captures, as the
/// outlined kernel will take them (a memref descriptor is two pointers, an
/// offset and a size and a stride per dimension; a scalar is 8 bytes at
/// most).
int64_t parameterBytes(ArrayRef<gpu::LaunchOp> launches) {
  llvm::SetVector<Value> captured;
  for (gpu::LaunchOp launch : launches)
    getUsedValuesDefinedAbove(launch.getBody(), captured);
  int64_t bytes = 0;
  for (Value v : captured) {
    if (auto type = dyn_cast<MemRefType>(v.getType()))
      bytes += 8 * (3 + 2 * type.getRank());
    else
      bytes += 8;
  }
  return bytes;
}

/// Merges `a` into `b` (see the file comment); returns the new launch.
gpu::LaunchOp merge(gpu::LaunchOp a, gpu::LaunchOp b) {
  Location loc = b.getLoc();
  // Deallocations between the two wait until both have run.
  SmallVector<Operation *> deallocs;
  for (Operation *op = a->getNextNode(); op != b; op = op->getNextNode())
    if (isa<memref::DeallocOp>(op))
      deallocs.push_back(op);
  OpBuilder hb(b);
  Value gridA = a.getGridSizeX(), gridB = b.getGridSizeX();
  Value total = arith::AddIOp::create(hb, loc, gridA, gridB);
  Value one = ds::cIndex(hb, loc, 1);
  auto merged = gpu::LaunchOp::create(hb, loc, total, one, one,
                                      b.getBlockSizeX(), b.getBlockSizeY(),
                                      b.getBlockSizeZ());
  OpBuilder kb = OpBuilder::atBlockBegin(&merged.getBody().front());
  Value bx = merged.getBlockIds().x;
  Value inA = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, bx,
                                    gridA);
  auto branch = scf::IfOp::create(kb, loc, inA, /*withElse=*/true);
  OpBuilder tb = branch.getThenBodyBuilder();
  cloneBody(tb, a, merged, bx, gridA);
  OpBuilder eb = branch.getElseBodyBuilder();
  cloneBody(eb, b, merged, arith::SubIOp::create(eb, loc, bx, gridA), gridB);
  gpu::TerminatorOp::create(kb, loc);
  for (Operation *op : deallocs)
    op->moveAfter(merged);
  a.erase();
  b.erase();
  return merged;
}

/// True if only host code that touches no buffer contents lies between
/// `a` and `b` (same block, `a` first).
bool onlyHostCodeBetween(gpu::LaunchOp a, gpu::LaunchOp b) {
  for (Operation *op = a->getNextNode(); op && op != b;
       op = op->getNextNode()) {
    if (isa<memref::DeallocOp, memref::AllocOp>(op))
      continue;
    if (!isMemoryEffectFree(op) || op->getNumRegions())
      return false;
  }
  return true;
}

struct MergeSiblingLaunchesPass
    : public ds::impl::DSMergeSiblingLaunchesBase<MergeSiblingLaunchesPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<Block *> blocks;
    func.walk([&](Block *block) {
      // Host code only: never inside a kernel.
      if (!block->getParentOp()->getParentOfType<gpu::LaunchOp>() &&
          !isa<gpu::LaunchOp>(block->getParentOp()))
        blocks.push_back(block);
    });
    for (Block *block : blocks) {
      gpu::LaunchOp previous;
      ds::BufferAccesses previousAccesses;
      bool previousKnown = false;
      for (Operation &op : llvm::make_early_inc_range(*block)) {
        auto launch = dyn_cast<gpu::LaunchOp>(op);
        if (!launch)
          continue;
        if (!isMergeable(launch)) {
          previous = nullptr;
          continue;
        }
        ds::BufferAccesses mine;
        bool known = ds::collectBufferAccesses(launch, mine);
        // The kernel parameters must fit the 4 KiB a launch may pass;
        // stay well below (the generic kernels take few).
        if (previous && known && previousKnown &&
            sameBlock(previous, launch) &&
            parameterBytes({previous, launch}) <= kMaxParameterBytes &&
            onlyHostCodeBetween(previous, launch) &&
            previousAccesses.independentOf(mine)) {
          previousAccesses.add(mine);
          previous = merge(previous, launch);
          continue;
        }
        previous = launch;
        previousAccesses = std::move(mine);
        previousKnown = known;
      }
    }
  }
};

} // namespace
