//===- ReductionsToGPU.cpp - row reductions as warp/block kernels ---------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// On the generic CUDA path (docs/CUDA.md) a linalg op becomes one thread per
// output element, and a reduction runs sequentially in that thread: an
// RMSNorm's sum of squares over 2048 elements at batch 1 is one thread
// looping 2048 times. This pass gives a row reduction a warp (or a block)
// per output element instead. This file matches; ReductionKernels.cpp
// builds the kernels.
//
//   - a top-level `linalg.generic` on buffers whose only reduction is its
//     last loop dimension, whose inits share one map that is a permutation
//     of the parallel dimensions, and whose body either yields
//     `combiner(%out, %v)` with `combiner` one of addf, maximumf, maxnumf,
//     minimumf, minnumf on f32 and `%out` used nowhere else, or is a
//     select reduction (an argmax: each init yields a select of a
//     candidate or itself on one condition over outputs and candidates);
//   - inits set by a fill (or a copy of a filled buffer, as bufferization
//     leaves it) just before are folded in: the fill and copy go;
//   - the all-parallel op right after that reads the result broadcast over
//     the reduced row (a norm's normalisation, softmax's exponentials)
//     becomes the kernel's row epilogue (findEpilogue);
//   - a reduction whose inputs are contiguous along the output's last
//     dimension rather than along the reduction (attention's P x V) gets
//     the column kernel instead (prefersColumns).
//
// Reductions shorter than a warp (static extent < 32) are left to the
// generic path, as is every op that does not match.
//
//===----------------------------------------------------------------------===//

#include "ReductionsToGPU.h"
#include "GPUUtils.h"

#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/SetVector.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSREDUCTIONSTOGPU
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds::reductions;

namespace {

/// The last op before `user` in its block that has `buffer` as an operand.
Operation *lastUserBefore(Value buffer, Operation *user) {
  for (Operation *prev = user->getPrevNode(); prev; prev = prev->getPrevNode())
    if (llvm::is_contained(prev->getOperands(), buffer))
      return prev;
  return nullptr;
}

/// True if `buffer` is a fresh allocation whose users all sit in `block`
/// (no view of it can be written behind lastUserBefore's back).
bool isPlainAllocation(Value buffer, Block *block) {
  if (!buffer.getDefiningOp<memref::AllocOp>())
    return false;
  // A use inside a kernel built earlier, or a view, could write it out of
  // lastUserBefore's sight.
  // A deallocation elsewhere touches no element (ds-gemv-to-gpu moves a
  // norm into its dispatch's branch, the buffer's dealloc staying behind).
  return llvm::all_of(buffer.getUsers(), [&](Operation *u) {
    return (u->getBlock() == block && !isa<ViewLikeOpInterface>(u)) ||
           isa<memref::DeallocOp>(u);
  });
}

/// Finds the fill whose value init `out` of `op` holds: a linalg.fill of
/// the output, or a whole copy into it of a buffer so filled (the pair
/// that bufferization leaves for a reduction's init). Returns the value
/// and appends the ops that become dead to `dead`, or returns null.
Value findFill(Operation *op, Value out, SmallVectorImpl<Operation *> &dead) {
  Block *block = op->getBlock();
  if (!isPlainAllocation(out, block))
    return {};
  Operation *last = lastUserBefore(out, op);
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(last)) {
    if (fill.getDpsInits()[0] != out)
      return {};
    dead.push_back(fill);
    return fill.getDpsInputs()[0];
  }
  Value source;
  if (auto copy = dyn_cast_or_null<linalg::CopyOp>(last))
    if (copy.getDpsInits()[0] == out)
      source = copy.getDpsInputs()[0];
  if (auto copy = dyn_cast_or_null<memref::CopyOp>(last))
    if (copy.getTarget() == out)
      source = copy.getSource();
  if (!source || source.getType() != out.getType() ||
      !isPlainAllocation(source, block))
    return {};
  auto fill = dyn_cast_or_null<linalg::FillOp>(lastUserBefore(source, last));
  if (!fill || fill.getDpsInits()[0] != source)
    return {};
  dead.push_back(last);
  // The filled buffer itself goes too when nothing else reads it.
  if (llvm::all_of(source.getUsers(), [&](Operation *u) {
        return u == fill || u == last || isa<memref::DeallocOp>(u);
      }))
    dead.push_back(fill);
  return fill.getDpsInputs()[0];
}

/// Fills in `r.fillValues` when every init comes from a fill.
void findFills(RowReduction &r) {
  SmallVector<Value> values;
  SmallVector<Operation *> dead;
  for (Value init : r.op.getDpsInits()) {
    Value v = findFill(r.op, init, dead);
    if (!v)
      return;
    values.push_back(v);
  }
  r.fillValues = std::move(values);
  r.deadInit = std::move(dead);
}

bool isCombiner(Operation *op) {
  return isa<arith::AddFOp, arith::MaximumFOp, arith::MaxNumFOp,
             arith::MinimumFOp, arith::MinNumFOp>(op);
}

/// Matches the body of a one-init reduction: `combiner(%out, %v)`.
bool matchCombiner(RowReduction &r) {
  linalg::GenericOp op = r.op;
  auto outType = cast<MemRefType>(op.getDpsInits()[0].getType());
  if (!outType.getElementType().isF32())
    return false;
  auto yield = cast<linalg::YieldOp>(op.getBlock()->getTerminator());
  Operation *combiner = yield.getValues()[0].getDefiningOp();
  if (!combiner || combiner->getBlock() != op.getBlock() ||
      !isCombiner(combiner) || !combiner->getResult(0).getType().isF32() ||
      !combiner->getResult(0).hasOneUse())
    return false;
  BlockArgument out = op.getMatchingBlockArgument(op.getDpsInitOperand(0));
  if (!out.hasOneUse() || out.getUses().begin()->getOwner() != combiner)
    return false;
  r.kind = RowReduction::Kind::Combiner;
  r.combiner = combiner;
  r.outOperand = out.getUses().begin()->getOperandNumber();
  return true;
}

/// Matches the body of a select reduction (see RowReduction::Kind).
bool matchSelect(RowReduction &r) {
  linalg::GenericOp op = r.op;
  Block *body = op.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  SmallVector<BlockArgument> outs;
  for (OpOperand &init : op.getDpsInitsMutable())
    outs.push_back(op.getMatchingBlockArgument(&init));
  Value condition;
  SmallVector<Value> candidates;
  SmallVector<Operation *> selects;
  for (auto [i, v] : llvm::enumerate(yield.getValues())) {
    auto select = v.getDefiningOp<arith::SelectOp>();
    if (!select || select->getBlock() != body ||
        select.getFalseValue() != outs[i] || !select->hasOneUse())
      return false;
    if (condition && select.getCondition() != condition)
      return false;
    condition = select.getCondition();
    candidates.push_back(select.getTrueValue());
    selects.push_back(select);
  }
  // The condition's ops: from the outputs and the candidates (and values
  // defined outside the body) only, so that they also compare two partial
  // results.
  llvm::SetVector<Operation *> conditionOps;
  SmallVector<Value> worklist = {condition};
  auto isLeaf = [&](Value v) {
    return llvm::is_contained(candidates, v) || llvm::is_contained(outs, v) ||
           v.getParentBlock() != body;
  };
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    if (isLeaf(v))
      continue;
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != body || isa<linalg::IndexOp>(def))
      return false; // an input element or a loop index
    if (conditionOps.insert(def))
      llvm::append_range(worklist, def->getOperands());
  }
  // The outputs feed the condition and the selects, nothing else.
  for (BlockArgument out : outs)
    for (Operation *user : out.getUsers())
      if (!conditionOps.contains(user) && !llvm::is_contained(selects, user))
        return false;
  // A candidate must not depend on an output either: it is computed per
  // element, before any fold.
  for (Value c : candidates)
    if (llvm::is_contained(outs, c))
      return false;
  for (Operation &bodyOp : body->without_terminator()) {
    if (conditionOps.contains(&bodyOp) || llvm::is_contained(selects, &bodyOp))
      continue;
    for (Value operand : bodyOp.getOperands())
      if (llvm::is_contained(outs, operand))
        return false;
  }
  r.kind = RowReduction::Kind::Select;
  r.condition = condition;
  r.candidates = std::move(candidates);
  for (Operation &bodyOp : body->without_terminator())
    if (conditionOps.contains(&bodyOp))
      r.conditionOps.push_back(&bodyOp);
  return true;
}

/// `op` as a warp- or block-per-output row reduction, or nothing (the op
/// then takes the generic path).
std::optional<RowReduction> matchRowReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() < 1 ||
      op.getNumDpsInputs() < 1 || op.getNumReductionLoops() != 1)
    return std::nullopt;
  unsigned numLoops = op.getNumLoops();
  unsigned redDim = numLoops - 1;
  if (op.getIteratorTypesArray()[redDim] != utils::IteratorType::reduction)
    return std::nullopt;

  // The reduction must be long enough to give every lane work.
  int64_t extent = op.getStaticLoopRanges()[redDim];
  if (!ShapedType::isDynamic(extent) && extent < kWarpSize)
    return std::nullopt;

  // Outputs of scalar types, each indexed by every parallel dimension
  // exactly once, all with the same map.
  AffineMap outMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  for (OpOperand &init : op.getDpsInitsMutable()) {
    auto outType = dyn_cast<MemRefType>(init.get().getType());
    if (!outType || !outType.getElementType().isIntOrFloat() ||
        op.getMatchingIndexingMap(&init) != outMap)
      return std::nullopt;
  }
  if (!outMap.isProjectedPermutation() || outMap.isFunctionOfDim(redDim) ||
      outMap.getNumResults() != redDim)
    return std::nullopt;

  // Inputs: buffers indexed by dimensions, constants or affine expressions
  // of the loops (no symbols), or scalars. A buffer that is also an output
  // would be read by one warp while another writes it.
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (llvm::is_contained(op.getDpsInits(), input->get()))
      return std::nullopt;
    if (!isa<MemRefType>(input->get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumSymbols() != 0)
      return std::nullopt;
  }

  // The body: pure ops without regions.
  Block *body = op.getBlock();
  for (Operation &bodyOp : body->without_terminator())
    if (bodyOp.getNumRegions() != 0 ||
        (!isa<linalg::IndexOp>(bodyOp) && !isPure(&bodyOp)))
      return std::nullopt;
  RowReduction match;
  match.op = op;
  if (op.getNumDpsInits() == 1 && matchCombiner(match))
    return match;
  if (matchSelect(match))
    return match;
  return std::nullopt;
}

/// The elementwise op that can run in `r`'s kernel after the reduction, or
/// null: the next op that touches memory, an all-parallel generic over the
/// reduction's iteration space (checked through an input both read with
/// the same permutation map, such as the row an RMSNorm normalizes) that
/// reads the reduction's result with the reduction's output map, writes
/// every element of its outputs once per iteration (permutation maps), and
/// is the result's only reader. Each row's epilogue then reads only its
/// row's result and writes only its row, so the warp (or block) that
/// reduced the row can run it: RMSNorm's normalisation, softmax's
/// exponentials, one launch fewer each.
/// The next op after `op` that is not a host op a fused kernel may be
/// built across (allocations, shapes, views, constants: they move before
/// the kernel).
Operation *nextPastHostOps(Operation *op) {
  Operation *next = op->getNextNode();
  while (next && isa<memref::AllocOp, memref::DimOp, memref::SubViewOp,
                     memref::ExpandShapeOp, memref::CollapseShapeOp,
                     memref::CastOp, arith::ConstantOp>(next))
    next = next->getNextNode();
  return next;
}

linalg::GenericOp findEpilogue(const RowReduction &r) {
  linalg::GenericOp op = r.op;
  if (r.kind != RowReduction::Kind::Combiner)
    return {};
  auto epilogue = dyn_cast_or_null<linalg::GenericOp>(nextPastHostOps(op));
  if (!epilogue || !epilogue.hasPureBufferSemantics() ||
      epilogue.getNumLoops() != op.getNumLoops() ||
      epilogue.getNumReductionLoops() != 0 ||
      epilogue.getStaticLoopRanges() != op.getStaticLoopRanges())
    return {};
  for (Operation &bodyOp : epilogue.getBlock()->without_terminator())
    if (bodyOp.getNumRegions() != 0 ||
        (!isa<linalg::IndexOp>(bodyOp) && !isPure(&bodyOp)))
      return {};
  Value result = op.getDpsInits()[0];
  AffineMap resultMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  bool readsResult = false, sharesRow = false;
  for (OpOperand *input : epilogue.getDpsInputOperands()) {
    AffineMap map = epilogue.getMatchingIndexingMap(input);
    if (input->get() == result) {
      if (map != resultMap)
        return {};
      readsResult = true;
      continue;
    }
    if (map.isPermutation())
      for (OpOperand *mine : op.getDpsInputOperands())
        sharesRow |= mine->get() == input->get() &&
                     op.getMatchingIndexingMap(mine) == map;
  }
  if (!readsResult || !sharesRow)
    return {};
  for (OpOperand &out : epilogue.getDpsInitsMutable())
    if (out.get() == result ||
        !epilogue.getMatchingIndexingMap(&out).isPermutation())
      return {};
  // Nothing else reads the result (its fill went with the reduction).
  for (Operation *user : result.getUsers())
    if (user != op && user != epilogue && !isa<memref::DeallocOp>(user) &&
        !llvm::is_contained(r.deadInit, user))
      return {};
  return epilogue;
}


/// The elementwise ops that can run where `r` stores each result element
/// (RowReduction::pointwise): a chain of ops right after the reduction
/// (host ops between them aside), each all-parallel with pure ops in its
/// body and one output, reading the previous link's buffer (first the
/// result) exactly once and through a permutation, with an output that is
/// that buffer at the same element or a buffer nothing in the kernel reads
/// or writes otherwise. Attention's scale and mask after Q x K^T, a mean's
/// division after its sum, a cast after P x V are such ops.
void findPointwiseEpilogues(RowReduction &r) {
  linalg::GenericOp op = r.op;
  if (r.kind != RowReduction::Kind::Combiner || r.epilogue)
    return;
  Value current = op.getDpsInits()[0];
  // Buffers (roots) the kernel reads or writes: no other thread may see a
  // link's output before its own reads.
  llvm::SmallPtrSet<Value, 8> read, written;
  for (Value in : op.getDpsInputs())
    if (isa<MemRefType>(in.getType()))
      read.insert(ds::viewRoot(in));
  written.insert(ds::viewRoot(current));
  Operation *after = op;
  while (true) {
    Operation *next = nextPastHostOps(after);
    auto link = dyn_cast_or_null<linalg::LinalgOp>(next);
    if (!link || !link.hasPureBufferSemantics() ||
        link.getNumLoops() != link.getNumParallelLoops() ||
        link.getNumDpsInits() != 1 || !isa<linalg::GenericOp, linalg::TransposeOp>(next))
      break;
    bool pure = llvm::all_of(link.getBlock()->without_terminator(),
                             [](Operation &bodyOp) {
                               return bodyOp.getNumRegions() == 0 &&
                                      (isa<linalg::IndexOp>(bodyOp) ||
                                       isPure(&bodyOp));
                             });
    if (!pure)
      break;
    OpOperand *source = nullptr;
    bool ok = true;
    SmallVector<Value> others;
    for (OpOperand *input : link.getDpsInputOperands()) {
      if (input->get() == current && !source) {
        source = input;
        continue;
      }
      if (!isa<MemRefType>(input->get().getType()))
        continue;
      Value root = ds::viewRoot(input->get());
      ok &= !written.contains(root) && root != ds::viewRoot(current);
      others.push_back(root);
    }
    if (!ok || !source || !link.getMatchingIndexingMap(source).isPermutation())
      break;
    OpOperand *out = link.getDpsInitOperand(0);
    AffineMap outMap = link.getMatchingIndexingMap(out);
    if (!outMap.isPermutation())
      break;
    bool inPlace = out->get() == current &&
                   outMap == link.getMatchingIndexingMap(source);
    Value outRoot = ds::viewRoot(out->get());
    if (!inPlace && (out->get() == current || read.contains(outRoot) ||
                     written.contains(outRoot) ||
                     llvm::is_contained(others, outRoot)))
      break;
    for (Value root : others)
      read.insert(root);
    written.insert(outRoot);
    r.pointwise.push_back(link);
    after = next;
    current = out->get();
  }
  // Which buffers must still be stored: not one the next link overwrites
  // in place, nor one nothing outside the chain reads.
  auto onlyChain = [&](Value buffer) {
    return llvm::all_of(buffer.getUsers(), [&](Operation *u) {
      return u == op.getOperation() || isa<memref::DeallocOp>(u) ||
             llvm::is_contained(r.deadInit, u) ||
             llvm::any_of(r.pointwise, [&](linalg::LinalgOp l) {
               return l.getOperation() == u;
             });
    });
  };
  auto storeNeeded = [&](Value buffer, size_t nextLink) {
    if (nextLink < r.pointwise.size()) {
      linalg::LinalgOp next = r.pointwise[nextLink];
      if (next.getDpsInits()[0] == buffer)
        return false; // in place: the next link stores it
    }
    return !buffer.getDefiningOp<memref::AllocOp>() || !onlyChain(buffer);
  };
  r.storeResult = storeNeeded(op.getDpsInits()[0], 0);
  for (size_t i = 0; i < r.pointwise.size(); ++i)
    r.storeStep.push_back(storeNeeded(r.pointwise[i].getDpsInits()[0], i + 1));
}

/// True if `r` reads its inputs along the last parallel dimension rather
/// than along the reduction: attention's P x V, out[.., d] = sum_k p[.., k]
/// * v[.., k, d], whose values are contiguous in d. A warp per output would
/// have its lanes read rows apart (one 32-byte sector per lane); a column
/// kernel gives consecutive outputs of that dimension to the lanes
/// instead. Every input that varies with that dimension must have it as
/// its last index, and some input must vary with both.
bool prefersColumns(const RowReduction &r) {
  linalg::GenericOp op = r.op;
  unsigned numParallel = op.getNumLoops() - 1;
  if (r.kind != RowReduction::Kind::Combiner || numParallel == 0)
    return false;
  unsigned col = numParallel - 1, red = numParallel;
  auto lastIsCol = [&](AffineMap map) {
    if (map.getNumResults() == 0)
      return false;
    auto d = dyn_cast<AffineDimExpr>(map.getResults().back());
    return d && d.getPosition() == col;
  };
  if (!lastIsCol(op.getMatchingIndexingMap(op.getDpsInitOperand(0))))
    return false;
  bool streams = false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (!isa<MemRefType>(input->get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!map.isFunctionOfDim(col))
      continue;
    if (!lastIsCol(map))
      return false;
    streams |= map.isFunctionOfDim(red);
  }
  return streams;
}

struct ReductionsToGPUPass
    : public ds::impl::DSReductionsToGPUBase<ReductionsToGPUPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    // Host code only: the function's straight-line code and the branches
    // of host-side scf.if ops (ds-gemv-to-gpu's dispatch by row count),
    // nothing inside an existing gpu.launch or loop.
    SmallVector<RowReduction, 0> matches;
    std::function<void(Block &)> collect = [&](Block &block) {
      for (Operation &op : block) {
        if (auto generic = dyn_cast<linalg::GenericOp>(op))
          if (std::optional<RowReduction> r = matchRowReduction(generic))
            matches.push_back(*r);
        if (isa<scf::IfOp>(op))
          for (Region &region : op.getRegions())
            for (Block &inner : region)
              collect(inner);
      }
    };
    for (Block &block : func.getBody())
      collect(block);
    for (RowReduction &r : matches) {
      findFills(r);
      bool columns = prefersColumns(r);
      if (!columns)
        r.epilogue = findEpilogue(r);
      findPointwiseEpilogues(r);
      // The host ops between the reduction and its epilogues (their output
      // allocations, views) go before the kernel, which uses them.
      Operation *lastFused = r.epilogue ? r.epilogue.getOperation()
                             : !r.pointwise.empty()
                                 ? r.pointwise.back().getOperation()
                                 : nullptr;
      if (lastFused) {
        SmallVector<Operation *> hostOps;
        for (Operation *o = r.op->getNextNode(); o != lastFused;
             o = o->getNextNode())
          if (!llvm::any_of(r.pointwise, [&](linalg::LinalgOp l) {
                return l.getOperation() == o;
              }))
            hostOps.push_back(o);
        for (Operation *o : hostOps)
          o->moveBefore(r.op);
      }
      if (columns)
        buildColumnKernel(r);
      else
        buildKernel(r);
      if (r.epilogue)
        r.epilogue.erase();
      for (linalg::LinalgOp link : llvm::reverse(r.pointwise))
        link->erase();
      r.op.erase();
      // The kernel writes every output element: the fill is dead.
      for (Operation *dead : r.deadInit)
        dead->erase();
    }
  }
};

} // namespace
