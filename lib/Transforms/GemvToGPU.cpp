//===- GemvToGPU.cpp - linear layers as warp-per-column GEMV kernels ------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// A linear layer after bufferization is
//
//   linalg.fill 0 -> %acc                                  [M, N] f32
//   linalg.matmul ins(%x [M, K], %w [N, K]) outs(%acc)      (transposed B)
//   linalg.generic ins(%acc, bias, residual) outs(%y)       epilogue
//
// With M small (decode: the batch) it is a GEMV: memory-bound, and the
// generic path's thread per output reads each weight row sequentially. This
// pass replaces the three ops by one kernel:
//
//   - one warp per output column n; its lanes stream the weight row
//     W[n, :] in 16-byte vector loads (`stages` loads in flight per lane),
//     converted to f32 and multiplied with the matching slice of up to
//     `rows` activation rows, each row its own f32 accumulator;
//   - a butterfly of warp shuffles sums each accumulator across the lanes;
//   - lane j writes row m0 + j: the epilogue's body (bias, activation,
//     residual, cast) cloned at (m, n), so the f32 accumulator never
//     reaches memory and the zero fill disappears;
//   - blocks of `warps` columns; a second grid dimension over the rows in
//     groups of `rows` (prefill's batch x sequence rows).
//
// The tile, `#ds.tile<sizes = [rows, warps, K per iteration], warps,
// stages>`, comes from the matmul's `ds.tile` attribute when present (the
// tuning database, later) or from a heuristic, and is recorded on the
// launch.
//
//===----------------------------------------------------------------------===//

#include "GemvToGPU.h"

#include "ds/Dialect/DS/IR/DSAttrs.h"
#include "ds/Dialect/DS/IR/DSDialect.h"
#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSGEMVTOGPU
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;
using namespace mlir::ds::gemv;

namespace {

/// bf16/f16 operands and whole 32-element K steps.
bool mmaCapable(const Gemv &g) {
  return (g.elementType.isBF16() || g.elementType.isF16()) &&
         g.k % kMmaStep == 0;
}

bool isUnitStrideRows(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

bool isZero(Value v) {
  return matchPattern(v, m_AnyZeroFloat()) || matchPattern(v, m_Zero());
}

/// True if `op` neither reads nor writes buffer contents.
bool isMemoryFree(Operation *op) {
  if (isa<memref::AllocOp, memref::DeallocOp, memref::DimOp,
          memref::SubViewOp, memref::ExpandShapeOp, memref::CollapseShapeOp,
          memref::CastOp, memref::ReinterpretCastOp>(op))
    return true;
  return isMemoryEffectFree(op);
}

/// The matmul as a GEMV candidate, or nothing with the reason left unsaid
/// (the op then takes the generic path).
std::optional<Gemv> matchMatmul(linalg::MatmulOp op) {
  if (!op.hasPureBufferSemantics())
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  AffineExpr m, n, k;
  bindDims(ctx, m, n, k);
  SmallVector<AffineMap> expected = {AffineMap::get(3, 0, {m, k}, ctx),
                                     AffineMap::get(3, 0, {n, k}, ctx),
                                     AffineMap::get(3, 0, {m, n}, ctx)};
  if (op.getIndexingMapsArray() != expected)
    return std::nullopt;
  auto x = cast<MemRefType>(op.getDpsInputs()[0].getType());
  auto w = cast<MemRefType>(op.getDpsInputs()[1].getType());
  auto acc = cast<MemRefType>(op.getDpsInits()[0].getType());
  Type t = x.getElementType();
  if (w.getElementType() != t || !acc.getElementType().isF32() ||
      !(t.isF32() || t.isF16() || t.isBF16()))
    return std::nullopt;
  if (!w.hasStaticShape() || !w.getLayout().isIdentity() ||
      !isUnitStrideRows(x))
    return std::nullopt;
  Gemv g;
  g.matmul = op;
  g.n = w.getDimSize(0);
  g.k = w.getDimSize(1);
  g.elementType = t;
  g.vector = kVectorBytes / (t.getIntOrFloatBitWidth() / 8);
  if (g.k % g.vector || x.getDimSize(1) != g.k)
    return std::nullopt;

  Value accBuf = op.getDpsInits()[0];
  Block *block = op->getBlock();
  // The zero fill: the last op before the matmul that uses the accumulator.
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (!llvm::is_contained(prev->getOperands(), accBuf))
      continue;
    auto fill = dyn_cast<linalg::FillOp>(prev);
    if (fill && fill.getDpsInits()[0] == accBuf &&
        isZero(fill.getDpsInputs()[0]))
      g.fill = fill;
    break;
  }
  // Views of the accumulator that only split M into leading dimensions
  // ([B * S, N] -> [B, S, N]): the epilogue may read one of them.
  SmallVector<Value> views = {accBuf};
  for (Operation *user : accBuf.getUsers()) {
    auto expand = dyn_cast<memref::ExpandShapeOp>(user);
    if (!expand || expand.getSrc() != accBuf)
      continue;
    SmallVector<ReassociationIndices> groups =
        expand.getReassociationIndices();
    if (groups.size() == 2 && groups[1].size() == 1 &&
        expand.getResultType().getLayout().isIdentity())
      views.push_back(expand.getResult());
  }
  auto readsAcc = [&](Operation *o) {
    return llvm::any_of(o->getOperands(), [&](Value v) {
      return llvm::is_contained(views, v);
    });
  };
  // The epilogue: the first op after the matmul that reads the accumulator
  // (or a view), elementwise over [M..., N], with nothing touching memory
  // in between and no other use of the accumulator but its deallocation.
  Operation *next = op->getNextNode();
  while (next && (!readsAcc(next) || llvm::is_contained(
                                         views, next->getNumResults()
                                                    ? next->getResult(0)
                                                    : Value()))) {
    if (!isMemoryFree(next))
      return g;
    next = next->getNextNode();
  }
  auto epilogue = dyn_cast_or_null<linalg::GenericOp>(next);
  if (!epilogue || epilogue->getBlock() != block ||
      !epilogue.hasPureBufferSemantics() || epilogue.getNumLoops() < 2 ||
      epilogue.getNumReductionLoops() != 0 || epilogue.getNumDpsInits() != 1)
    return g;
  unsigned rank = epilogue.getNumLoops();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  if (epilogue.getMatchingIndexingMap(epilogue.getDpsInitOperand(0)) !=
      identity)
    return g;
  Value accView;
  for (OpOperand *input : epilogue.getDpsInputOperands()) {
    AffineMap map = epilogue.getMatchingIndexingMap(input);
    if (llvm::is_contained(views, input->get())) {
      if (map != identity || (accView && accView != input->get()) ||
          cast<MemRefType>(input->get().getType()).getRank() != rank)
        return g;
      accView = input->get();
      continue;
    }
    if (!isa<MemRefType>(input->get().getType()))
      return g;
    for (AffineExpr e : map.getResults())
      if (!isa<AffineDimExpr, AffineConstantExpr>(e))
        return g;
  }
  if (!accView)
    return g;
  for (Value view : views)
    for (Operation *user : view.getUsers()) {
      if (user == op || user == epilogue || user == g.fill ||
          isa<memref::DeallocOp>(user) ||
          (user->getNumResults() && llvm::is_contained(views, user->getResult(0))))
        continue;
      return g;
    }
  g.epilogue = epilogue;
  g.accView = accView;
  return g;
}

/// True if `size`, a subview's size of dimension `d` of `buffer` (an
/// allocation), is all of that dimension.
bool isFullExtent(OpFoldResult size, Value buffer, int64_t d) {
  auto type = cast<MemRefType>(buffer.getType());
  if (!type.isDynamicDim(d))
    return getConstantIntValue(size) == type.getDimSize(d);
  auto value = dyn_cast<Value>(size);
  if (!value)
    return false;
  if (auto dim = value.getDefiningOp<memref::DimOp>();
      dim && dim.getSource() == buffer &&
      getConstantIntValue(dim.getIndex()) == d)
    return true;
  auto alloc = buffer.getDefiningOp<memref::AllocOp>();
  return alloc && alloc.getDynamicSizes()[type.getDynamicDimIndex(d)] == value;
}

/// Matches g.pair (PairConsumer): g's epilogue writes a fresh buffer Y
/// [lead..., N] that nothing reads but two subviews, the halves
/// [..., 0:N/2] and [..., N/2:N] over all of the leading dimensions, each
/// read only by one all-parallel generic of Y's rank through the identity
/// map; that generic is the next op after the epilogue to touch memory,
/// its body is pure and its other inputs are buffers other than Y indexed
/// by loop dimensions and constants. Leaves g.pair empty otherwise.
void matchPair(Gemv &g) {
  if (!g.epilogue || g.n % 2)
    return;
  MLIRContext *ctx = g.matmul.getContext();
  Value y = g.epilogue.getDpsInits()[0];
  auto yType = cast<MemRefType>(y.getType());
  int64_t rank = yType.getRank(), half = g.n / 2;
  if (!y.getDefiningOp<memref::AllocOp>() || !yType.getLayout().isIdentity() ||
      yType.getDimSize(rank - 1) != g.n)
    return;
  Operation *next = g.epilogue->getNextNode();
  while (next && isMemoryFree(next))
    next = next->getNextNode();
  auto consumer = dyn_cast_or_null<linalg::GenericOp>(next);
  if (!consumer || !consumer.hasPureBufferSemantics() ||
      consumer.getNumLoops() != rank || consumer.getNumReductionLoops() != 0 ||
      consumer.getNumDpsInits() != 1)
    return;
  AffineMap identity = AffineMap::getMultiDimIdentityMap(rank, ctx);
  OpOperand *init = consumer.getDpsInitOperand(0);
  if (consumer.getMatchingIndexingMap(init) != identity ||
      !consumer.getMatchingBlockArgument(init).use_empty())
    return;
  for (Operation &bodyOp : consumer.getBlock()->without_terminator())
    if (!isMemoryEffectFree(&bodyOp) || isa<linalg::IndexOp>(bodyOp))
      return;
  std::optional<unsigned> low, high;
  for (Operation *user : y.getUsers()) {
    if (user == g.epilogue.getOperation() || isa<memref::DeallocOp>(user))
      continue;
    auto sub = dyn_cast<memref::SubViewOp>(user);
    if (!sub || sub.getSource() != y || sub.getType().getRank() != rank ||
        !sub->hasOneUse())
      return;
    SmallVector<OpFoldResult> offsets = sub.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = sub.getMixedSizes();
    SmallVector<OpFoldResult> strides = sub.getMixedStrides();
    for (int64_t d = 0; d < rank; ++d) {
      if (getConstantIntValue(strides[d]) != 1)
        return;
      if (d + 1 < rank && (getConstantIntValue(offsets[d]) != 0 ||
                           !isFullExtent(sizes[d], y, d)))
        return;
    }
    std::optional<int64_t> offset = getConstantIntValue(offsets.back());
    if (getConstantIntValue(sizes.back()) != half || !offset ||
        (*offset != 0 && *offset != half))
      return;
    OpOperand &use = *sub->use_begin();
    if (use.getOwner() != consumer.getOperation() ||
        !consumer.isDpsInput(&use) ||
        consumer.getMatchingIndexingMap(&use) != identity)
      return;
    std::optional<unsigned> &slot = *offset == 0 ? low : high;
    if (slot)
      return;
    slot = use.getOperandNumber();
  }
  if (!low || !high)
    return;
  // The consumer's output is none of the buffers the kernel reads.
  Value out = ds::viewRoot(init->get());
  SmallVector<Value> read = {g.matmul.getDpsInputs()[0],
                             g.matmul.getDpsInputs()[1]};
  llvm::append_range(read, g.epilogue.getDpsInputs());
  for (OpOperand *input : consumer.getDpsInputOperands()) {
    read.push_back(input->get());
    if (input->getOperandNumber() == *low ||
        input->getOperandNumber() == *high)
      continue;
    if (!isa<MemRefType>(input->get().getType()) ||
        ds::viewRoot(input->get()) == y)
      return;
    for (AffineExpr e : consumer.getMatchingIndexingMap(input).getResults())
      if (!isa<AffineDimExpr, AffineConstantExpr>(e))
        return;
  }
  if (!out || llvm::any_of(read, [&](Value v) {
        return isa<MemRefType>(v.getType()) && ds::viewRoot(v) == out;
      }))
    return;
  g.pair = {consumer, *low, *high};
}

/// True if `op` is an all-parallel generic that writes the whole of
/// `buffer` (its only init, through the identity map) and reads nothing of
/// it.
bool overwrites(linalg::GenericOp op, Value buffer) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
      op.getDpsInits()[0] != buffer || op.getNumReductionLoops() != 0)
    return false;
  OpOperand *init = op.getDpsInitOperand(0);
  return op.getMatchingIndexingMap(init).isIdentity() &&
         op.getMatchingBlockArgument(init).use_empty() &&
         llvm::none_of(op.getDpsInputs(), [&](Value v) {
           return ds::viewRoot(v) == buffer;
         });
}

/// The op before `op` in its block, skipping ops that touch no memory.
Operation *previousAccess(Operation *op) {
  Operation *prev = op->getPrevNode();
  while (prev && isMemoryFree(prev))
    prev = prev->getPrevNode();
  return prev;
}

/// True if `op`'s body is pure straight-line code without index ops.
bool hasPlainBody(linalg::GenericOp op) {
  return llvm::all_of(op.getBlock()->without_terminator(), [](Operation &o) {
    return isMemoryEffectFree(&o) && o.getNumRegions() == 0 &&
           !isa<linalg::IndexOp>(o);
  });
}

/// Matches the row sum `norm.op` reads through `input`: the reduction
/// right before it of the last loop of one of its identity-mapped inputs,
/// `sum = sum + f(element)` in f32 from a zero fill right before that, the
/// sum read nowhere else.
bool matchRowSum(NormFold &norm, OpOperand *input) {
  linalg::GenericOp op = norm.op;
  unsigned rank = op.getNumLoops();
  MLIRContext *ctx = op.getContext();
  Value sum = input->get();
  SmallVector<AffineExpr> lead;
  for (unsigned d = 0; d + 1 < rank; ++d)
    lead.push_back(getAffineDimExpr(d, ctx));
  AffineMap rowMap = AffineMap::get(rank, 0, lead, ctx);
  if (!sum.getDefiningOp<memref::AllocOp>() ||
      op.getMatchingIndexingMap(input) != rowMap ||
      !cast<MemRefType>(sum.getType()).getElementType().isF32())
    return false;
  // Between the fill, the reduction and op there may be linalg ops that
  // write neither the sum nor the buffer summed, such as a constant norm
  // weight's splat: they run before the kernel either way.
  auto previous = [&](Operation *from, Value summed) {
    Operation *prev = previousAccess(from);
    while (auto other = dyn_cast_or_null<linalg::LinalgOp>(prev)) {
      if (!other.hasPureBufferSemantics() ||
          llvm::any_of(other.getDpsInits(), [&](Value init) {
            Value root = ds::viewRoot(init);
            return !root || root == sum || root == summed;
          }))
        break;
      prev = previousAccess(prev);
    }
    return prev;
  };
  // The reduction is found by what it writes; what it sums comes after.
  auto firstWriter = [&](Operation *from) -> Operation * {
    for (Operation *prev = previousAccess(from); prev;
         prev = previousAccess(prev)) {
      auto other = dyn_cast<linalg::LinalgOp>(prev);
      if (!other || !other.hasPureBufferSemantics())
        return prev;
      if (llvm::is_contained(other.getDpsInits(), sum))
        return prev;
    }
    return nullptr;
  };
  auto reduction = dyn_cast_or_null<linalg::GenericOp>(firstWriter(op));
  if (!reduction || reduction.getNumDpsInputs() != 1 ||
      previous(op, ds::viewRoot(reduction.getDpsInputs()[0])) != reduction)
    return false;
  if (!reduction || !reduction.hasPureBufferSemantics() ||
      reduction.getNumLoops() != rank || reduction.getNumDpsInputs() != 1 ||
      reduction.getNumDpsInits() != 1 ||
      reduction.getDpsInits()[0] != sum ||
      reduction.getNumReductionLoops() != 1 ||
      reduction.getIteratorTypesArray().back() !=
          utils::IteratorType::reduction ||
      !hasPlainBody(reduction))
    return false;
  OpOperand *row = reduction.getDpsInputOperand(0);
  if (!reduction.getMatchingIndexingMap(row).isIdentity() ||
      reduction.getMatchingIndexingMap(reduction.getDpsInitOperand(0)) !=
          rowMap)
    return false;
  // The summed buffer is one of op's identity-mapped inputs: the kernel
  // sums the elements it loads for op.
  OpOperand *summed = nullptr;
  for (OpOperand *in : op.getDpsInputOperands())
    if (in->get() == row->get() && op.getMatchingIndexingMap(in).isIdentity())
      summed = in;
  if (!summed)
    return false;
  Block *body = reduction.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  BlockArgument out =
      reduction.getMatchingBlockArgument(reduction.getDpsInitOperand(0));
  if (!add || add->getBlock() != body || !out.hasOneUse() ||
      out.getUses().begin()->getOwner() != add || !add->hasOneUse())
    return false;
  auto fill = dyn_cast_or_null<linalg::FillOp>(
      previous(reduction, ds::viewRoot(row->get())));
  if (!fill || fill.getDpsInits()[0] != sum ||
      !isZero(fill.getDpsInputs()[0]))
    return false;
  for (Operation *user : sum.getUsers())
    if (user != fill && user != reduction && user != op &&
        !isa<memref::DeallocOp>(user))
      return false;
  norm.reduction = reduction;
  norm.fill = fill;
  norm.sumInput = input->getOperandNumber();
  norm.summed = summed->getOperandNumber();
  return true;
}

/// Splits the value norm.op yields into factors (NormFold): through
/// mulf, divf by a value of the row sum alone, and casts, down to leaves
/// that depend on the row sum alone (or on nothing: row factors) or on
/// the other inputs alone (column factors). False if a leaf depends on
/// both.
bool splitFactors(NormFold &norm) {
  linalg::GenericOp op = norm.op;
  Block *body = op.getBlock();
  // What each value depends on: 1 the row sum, 2 the other inputs.
  DenseMap<Value, unsigned> deps;
  for (OpOperand *in : op.getDpsInputOperands())
    deps[op.getMatchingBlockArgument(in)] =
        in->getOperandNumber() == norm.sumInput ? 1 : 2;
  for (Operation &o : body->without_terminator()) {
    unsigned d = 0;
    for (Value v : o.getOperands())
      d |= deps.lookup(v);
    for (Value r : o.getResults())
      deps[r] = d;
  }
  std::function<bool(Value)> split = [&](Value v) -> bool {
    Operation *def = v.getDefiningOp();
    if (def && def->getBlock() == body) {
      if (isa<arith::MulFOp>(def))
        return split(def->getOperand(0)) && split(def->getOperand(1));
      if (isa<arith::DivFOp>(def) && !(deps.lookup(def->getOperand(1)) & 2)) {
        norm.rowDivisors.push_back(def->getOperand(1));
        return split(def->getOperand(0));
      }
      if (isa<arith::TruncFOp, arith::ExtFOp>(def))
        return split(def->getOperand(0));
    }
    unsigned d = deps.lookup(v);
    auto type = dyn_cast<FloatType>(v.getType());
    if (d == 3 || !type || type.getWidth() > 32)
      return false;
    (d == 2 ? norm.colFactors : norm.rowFactors).push_back(v);
    return true;
  };
  Value result = cast<linalg::YieldOp>(body->getTerminator()).getValues()[0];
  return isa<FloatType>(result.getType()) && split(result) &&
         !norm.colFactors.empty() &&
         (deps.lookup(result) & 1); // the sum scales the result
}

/// Matches g.norm (NormFold): the activation `g` reads is (a collapse of
/// the leading dimensions of) a fresh buffer that an all-parallel generic
/// right before the matmul (only ops touching no memory and the
/// accumulator's fill in between) writes whole from a row sum (matchRowSum)
/// and buffers indexed by loop dimensions and constants, none of them one
/// the kernel writes, with a body that splitFactors splits. After the
/// matmul nothing reads the activation before overwriting it whole. Leaves
/// g.norm empty otherwise.
void matchNorm(Gemv &g) {
  linalg::MatmulOp mm = g.matmul;
  Value x = mm.getDpsInputs()[0], y = x;
  if (auto collapse = x.getDefiningOp<memref::CollapseShapeOp>()) {
    if (collapse.getReassociationIndices().back().size() != 1)
      return;
    y = collapse.getSrc();
  }
  auto yType = cast<MemRefType>(y.getType());
  if (!y.getDefiningOp<memref::AllocOp>() || !yType.getLayout().isIdentity() ||
      yType.getDimSize(yType.getRank() - 1) != g.k)
    return;
  Operation *prev = mm->getPrevNode();
  while (prev && (isMemoryFree(prev) || prev == g.fill.getOperation()))
    prev = prev->getPrevNode();
  auto op = dyn_cast_or_null<linalg::GenericOp>(prev);
  if (!op || !overwrites(op, y) || !hasPlainBody(op))
    return;
  NormFold norm;
  norm.op = op;
  // What the kernel writes: none of the norm's inputs.
  SmallVector<Value> written = {ds::viewRoot(mm.getDpsInits()[0])};
  if (g.epilogue)
    written.push_back(ds::viewRoot(g.epilogue.getDpsInits()[0]));
  if (g.pair.op)
    written.push_back(ds::viewRoot(g.pair.op.getDpsInits()[0]));
  bool haveSum = false;
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (!isa<MemRefType>(input->get().getType()) ||
        llvm::is_contained(written, ds::viewRoot(input->get())))
      return;
    for (AffineExpr e : op.getMatchingIndexingMap(input).getResults())
      if (!isa<AffineDimExpr, AffineConstantExpr>(e))
        return;
    if (!haveSum && !op.getMatchingBlockArgument(input).use_empty() &&
        matchRowSum(norm, input))
      haveSum = true;
  }
  if (!haveSum || !splitFactors(norm))
    return;
  // After the matmul: nothing reads y (the CUDA-core kernel no longer
  // stores the activation there) until something overwrites it whole, or
  // the function ends. Every access to y is a use of it or of a view of
  // it, maybe inside a kernel or a loop: the first one after the matmul
  // (by its ancestor in the matmul's block) must be such an overwrite.
  Block *block = mm->getBlock();
  Operation *first = nullptr;
  SmallVector<Value> worklist = {y};
  while (!worklist.empty()) {
    Value v = worklist.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (isa<ViewLikeOpInterface>(user)) {
        llvm::append_range(worklist, user->getResults());
        continue;
      }
      if (isa<memref::DeallocOp>(user))
        continue;
      Operation *at = block->findAncestorOpInBlock(*user);
      if (!at)
        return; // used outside the block (a nested function, say)
      if (at == mm || !mm->isBeforeInBlock(at))
        continue;
      if (!first || at->isBeforeInBlock(first))
        first = at;
    }
  }
  if (first) {
    auto generic = dyn_cast<linalg::GenericOp>(first);
    if (!generic || !overwrites(generic, y))
      return;
  }
  g.norm = norm;
}

/// The heuristic tile for `g` when the IR carries none.
Tile chooseTile(const Gemv &g, int64_t staticRows, bool allowMma) {
  Tile tile;
  if (allowMma && mmaCapable(g)) {
    // Warps split K, at least 8 steps each; 4 steps' loads in flight.
    tile.mma = true;
    tile.rows = kMmaRows;
    tile.warps = std::clamp<int64_t>(g.k / (8 * kMmaStep), 1, 8);
    int64_t steps = llvm::divideCeil(g.k / kMmaStep, tile.warps);
    tile.stages = 4;
    while (tile.stages > 1 && tile.stages > steps)
      tile.stages /= 2;
    return tile;
  }
  // One accumulator per row; 16 rows covers decode up to batch 16 in one
  // pass over the weights.
  tile.rows = ShapedType::isDynamic(staticRows)
                  ? 16
                  : std::clamp<int64_t>(staticRows, 1, 16);
  tile.warps = 8;
  // Four 16-byte loads in flight per lane hide HBM latency; fewer when K
  // is short.
  tile.stages = 4;
  // K stays whole: splitting it between warps (tile.splitK, from a given
  // #ds.tile) did not make Llama-1B's small grids faster on an H200 under
  // ncu (down projection 11.2 -> 11.3 us split 4, O 5.0 -> 5.3 split 2;
  // docs/Benchmarks.md), so only the tuning database may ask for it.
  int64_t perLoad = kWarpSize * g.vector;
  while (tile.stages > 1 &&
         perLoad * tile.stages > g.k / tile.splitK)
    tile.stages /= 2;
  return tile;
}


/// True if the CUDA-core `tile` can fold `g`'s pair consumer: its warps
/// split evenly between the halves, each half a whole number of blocks'
/// columns, and a lane per row.
bool pairFits(const Gemv &g, const Tile &tile) {
  return g.pair.op && !tile.mma && !tile.gemm && tile.warps % 2 == 0 &&
         (g.n / 2) % (tile.warps / 2) == 0 && tile.rows <= kWarpSize;
}

/// True if the norm's column factors are the activation's input alone:
/// the fold loads nothing the GEMV does not (an RMSNorm whose scale
/// ds-fold-norm-scale moved into the weights).
bool readsOnlySummed(NormFold norm) {
  return llvm::all_of(norm.op.getDpsInputOperands(), [&](OpOperand *in) {
    unsigned number = in->getOperandNumber();
    return number == norm.sumInput || number == norm.summed ||
           norm.op.getMatchingBlockArgument(in).use_empty();
  });
}

/// True if the CUDA-core `tile` folds `g`'s norm. A norm that reads only
/// the activation's input costs the weight loop a multiply-add per
/// element (the row sum) and folds into any grid. One with more inputs
/// (an RMSNorm's scale) adds their loads and products in every warp; on
/// an H200 that costs a multi-wave grid (Llama-1B's gate/up GEMV, 2048
/// blocks; its LM head, 16032) more than the norm's kernel it saves, so
/// it folds only into grids of at most kNormFoldMaxBlocks blocks, which
/// fit the GPU at once (QKV, 384 blocks) (docs/Benchmarks.md).
bool normFits(const Gemv &g, const Tile &tile) {
  return g.norm.op && !tile.mma && !tile.gemm &&
         (readsOnlySummed(g.norm) ||
          llvm::divideCeil(g.n, tile.warps) <= kNormFoldMaxBlocks);
}

/// `attr` as a GEMV tile for `g`, or an error.
FailureOr<Tile> tileFromAttr(Gemv &g, ds::TileAttr attr) {
  ArrayRef<int64_t> sizes = attr.getSizes();
  if (mmaCapable(g) && sizes.size() == 3 && sizes[0] == kMmaRows &&
      sizes[1] == kMmaCols && attr.getStages() >= 1 &&
      sizes[2] == kMmaStep * attr.getStages() && attr.getWarps() >= 1 &&
      attr.getWarps() <= 32) {
    Tile tile{kMmaRows, attr.getWarps(), attr.getStages()};
    tile.mma = true;
    return tile;
  }
  if (mmaCapable(g) && sizes.size() == 3 && sizes[0] == kGemmRows &&
      sizes[1] == kGemmCols && attr.getStages() >= 1 &&
      sizes[2] == kMmaStep * attr.getStages() &&
      attr.getWarps() == kGemmWarpsM * kGemmWarpsN) {
    Tile tile{kGemmRows, attr.getWarps(), attr.getStages()};
    tile.gemm = true;
    return tile;
  }
  Tile tile{sizes.size() == 3 ? sizes[0] : 0, attr.getWarps(),
            attr.getStages()};
  if (sizes.size() == 3 && sizes[1] >= 1 && tile.warps % sizes[1] == 0)
    tile.splitK = tile.warps / sizes[1];
  if (sizes.size() != 3 || tile.rows < 1 || tile.rows > 64 ||
      tile.warps < 1 || tile.warps > 32 || sizes[1] < 1 ||
      tile.warps % sizes[1] != 0 ||
      g.k % (tile.splitK * g.vector) != 0 ||
      tile.stages < 1 || sizes[2] != kWarpSize * g.vector * tile.stages) {
    g.matmul.emitError()
        << "ds-gemv-to-gpu: tile " << attr
        << " is not a GEMV tile: expected sizes = [rows (1-64), columns, "
        << kWarpSize * g.vector
        << " x stages], warps 1-32 a multiple of columns (warps / columns "
           "split K, dividing it into whole vectors)"
        << (mmaCapable(g) ? ", or [16, 8, 32 x stages] for the tensor-core "
                            "GEMV, or [64, 64, 32 x stages] with 4 warps for "
                            "the tensor-core GEMM"
                          : "");
    return failure();
  }
  return tile;
}

struct GemvToGPUPass : public ds::impl::DSGemvToGPUBase<GemvToGPUPass> {
  using DSGemvToGPUBase::DSGemvToGPUBase;
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    SmallVector<linalg::MatmulOp> matmuls;
    func.walk([&](linalg::MatmulOp op) {
      // Top-level ops only: the host function's straight-line code.
      if (op->getParentOp() == func.getOperation())
        matmuls.push_back(op);
    });
    for (linalg::MatmulOp op : matmuls) {
      std::optional<Gemv> g = matchMatmul(op);
      if (!g)
        continue;
      int64_t staticRows =
          cast<MemRefType>(op.getDpsInputs()[0].getType()).getDimSize(0);
      auto attr = op->getAttrOfType<ds::TileAttr>("ds.tile");
      // An epilogue's pair consumer (SwiGLU) may fold into the CUDA-core
      // kernel (cleared below where the tile does not allow it); the
      // other kernels get `plain`, without it.
      matchPair(*g);
      // So may the norm that writes its activation (an RMSNorm).
      if (foldNorms)
        matchNorm(*g);
      Gemv plain = *g;
      plain.pair = {};
      plain.norm = {};
      Operation *pairOp = g->pair.op;
      // The folded norm's ops, in program order.
      auto normOps = [&]() -> SmallVector<Operation *> {
        if (!g->norm.op)
          return {};
        return {g->norm.fill, g->norm.reduction, g->norm.op};
      };
      // The kernels go where the GEMV's last op was: the epilogue's output
      // may be allocated after the matmul, and nothing in between touches
      // memory. With a pair consumer, right after it (its output may be
      // allocated after the epilogue, nothing in between touches memory
      // either), so that moving it into a branch of the dispatch built
      // there leaves the insertion point where it was; it moves back in
      // front of the kernels when it does not fold.
      OpBuilder b(g->epilogue ? g->epilogue.getOperation()
                              : op.getOperation());
      if (pairOp)
        b.setInsertionPointAfter(pairOp);
      if (attr) {
        FailureOr<Tile> given = tileFromAttr(*g, attr);
        if (failed(given))
          return signalPassFailure();
        given->prefetch = prefetchWeights;
        if (!pairFits(*g, *given) || given->splitK > 1)
          g->pair = {};
        if (!normFits(*g, *given) || given->splitK > 1)
          g->norm = {};
        if (given->gemm)
          buildGemmKernel(b, plain, *given, attr);
        else if (given->mma)
          buildMmaKernel(b, plain, *given, attr);
        else
          buildKernel(b, *g, *given, attr);
      } else {
        Tile core = chooseTile(*g, staticRows, /*allowMma=*/false);
        Tile mma = chooseTile(*g, staticRows, /*allowMma=*/true);
        mma.prefetch = prefetchWeights; // only that kernel prefetches
        bool dispatch = mma.mma && (ShapedType::isDynamic(staticRows) ||
                                    staticRows > kMmaMinRows);
        // Beside the tensor-core kernel the CUDA-core one sees few rows.
        if (dispatch)
          core.rows = std::min(core.rows, kMmaMinRows);
        if (!pairFits(*g, core))
          g->pair = {};
        if (!normFits(*g, core))
          g->norm = {};
        ds::TileAttr coreAttr = ds::TileAttr::get(
            &getContext(),
            {core.rows, core.warps / core.splitK,
             kWarpSize * g->vector * core.stages},
            core.warps, core.stages);
        if (!dispatch) {
          buildKernel(b, *g, core, coreAttr);
        } else {
          ds::TileAttr mmaAttr = ds::TileAttr::get(
              &getContext(), {kMmaRows, kMmaCols, kMmaStep * mma.stages},
              mma.warps, mma.stages);
          Tile gemm{kGemmRows, kGemmWarpsM * kGemmWarpsN, 2};
          gemm.gemm = true;
          ds::TileAttr gemmAttr = ds::TileAttr::get(
              &getContext(), {kGemmRows, kGemmCols, kMmaStep * gemm.stages},
              gemm.warps, gemm.stages);
          // The GEMM kernel can run only past kGemmMinRows rows.
          bool gemmPossible = ShapedType::isDynamic(staticRows) ||
                              staticRows > kGemmMinRows;
          // A few rows (decode at small batch) stream the weight faster on
          // the CUDA cores; from kMmaMinRows + 1 rows the tensor cores
          // keep the GEMV memory-bound. The row count is known at launch.
          Location loc = op.getLoc();
          Value rows =
              memref::DimOp::create(b, loc, op.getDpsInputs()[0], 0);
          Value few = arith::CmpIOp::create(
              b, loc, arith::CmpIPredicate::sle, rows,
              arith::ConstantIndexOp::create(b, loc, kMmaMinRows));
          // One branch runs per call: the statistics count the kernels
          // of the tensor-core branch (with a folded pair consumer's and
          // norm's) as alternatives (ds-record-alternative-launches).
          auto dispatchOp = scf::IfOp::create(
              b, loc, few,
              [&](OpBuilder &tb, Location) {
                buildKernel(tb, *g, core, coreAttr);
                scf::YieldOp::create(tb, loc);
              },
              [&](OpBuilder &eb, Location) {
                // The tensor-core kernels read the activation as it is:
                // a folded norm runs first, in this branch only.
                for (Operation *o : normOps())
                  o->moveBefore(eb.getInsertionBlock(),
                                eb.getInsertionPoint());
                // The tensor-core kernels store both halves; the pair
                // consumer runs after them, in this branch only.
                auto finish = [&]() {
                  if (g->pair.op)
                    g->pair.op->moveBefore(eb.getInsertionBlock(),
                                           eb.getInsertionPoint());
                  scf::YieldOp::create(eb, loc);
                };
                if (!gemmPossible) {
                  buildMmaKernel(eb, plain, mma, mmaAttr);
                  finish();
                  return;
                }
                // Past kGemmMinRows rows (prefill) the tiled GEMM.
                Value many = arith::CmpIOp::create(
                    eb, loc, arith::CmpIPredicate::sgt, rows,
                    arith::ConstantIndexOp::create(eb, loc, kGemmMinRows));
                scf::IfOp::create(
                    eb, loc, many,
                    [&](OpBuilder &tb, Location) {
                      buildGemmKernel(tb, plain, gemm, gemmAttr);
                      scf::YieldOp::create(tb, loc);
                    },
                    [&](OpBuilder &fb, Location) {
                      buildMmaKernel(fb, plain, mma, mmaAttr);
                      scf::YieldOp::create(fb, loc);
                    });
                finish();
              });
          mlir::ds::markAlternatives(dispatchOp);
        }
      }
      // A consumer that did not fold runs after the kernels; one that
      // folded and was not moved into a tensor-core branch goes.
      if (pairOp && !g->pair.op)
        pairOp->moveBefore(b.getInsertionBlock(), b.getInsertionPoint());
      else if (pairOp && pairOp->getParentOp() == func.getOperation())
        pairOp->erase();
      if (g->epilogue)
        g->epilogue.erase();
      op.erase();
      if (g->fill)
        g->fill.erase();
      // A folded norm not moved into a tensor-core branch goes: nothing
      // reads the activation or its row sum any more.
      SmallVector<Operation *> folded = normOps();
      for (Operation *o : llvm::reverse(folded))
        if (o->getParentOp() == func.getOperation())
          o->erase();
    }
  }
};

} // namespace
