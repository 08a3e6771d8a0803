//===- ReductionsToGPU.cpp - row reductions as warp-per-output kernels ----===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// On the generic CUDA path (docs/CUDA.md) a linalg op becomes one thread per
// output element, and a reduction runs sequentially in that thread: an
// RMSNorm's sum of squares over 2048 elements at batch 1 is one thread
// looping 2048 times. This pass gives a row reduction a warp per output
// element instead:
//
//   - a top-level `linalg.generic` on buffers whose only reduction is its
//     last loop dimension, with one init whose map is a permutation of the
//     parallel dimensions, and whose body yields `combiner(%out, %v)` (or
//     `combiner(%v, %out)`) with `combiner` one of addf, maximumf, maxnumf,
//     minimumf, minnumf on f32 and `%out` used nowhere else;
//   - warp w of block b handles output b * 8 + w (8 warps a block), the
//     index delinearised over the parallel dimensions, the last fastest;
//   - lane l computes the body's `%v` at r = l, l + 32, ... and folds it
//     into an accumulator that starts at the combiner's identity;
//   - a butterfly of `gpu.shuffle xor` combines the 32 accumulators, and
//     lane 0 combines the result with the init's value and stores it;
//   - when the init is a fresh buffer that a linalg.fill (or a copy of a
//     filled buffer, as bufferization leaves it) set just before, lane 0
//     combines with the fill's value instead and the fill (and copy) go:
//     two kernels fewer per reduction.
//
// Reductions shorter than a warp (static extent < 32) are left to the
// generic path, as is every op that does not match. (A reduction over an
// input's outer dimension, attention's P x V over the keys, has its lanes
// read rows apart; it is still faster than the generic path's sequential
// thread: 57 us against a few us per layer on an H200 at batch 1.)
//
//===----------------------------------------------------------------------===//

#include "ds/Transforms/Passes.h"

#include "mlir/Interfaces/ViewLikeInterface.h"

#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSREDUCTIONSTOGPU
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarpsPerBlock = 8;

/// A matched row reduction.
struct RowReduction {
  linalg::GenericOp op;
  /// The body op that folds a value into the output block argument.
  Operation *combiner = nullptr;
  /// The combiner's operand that is the output block argument (0 or 1).
  unsigned outOperand = 0;
  /// The value a fill left in the whole output before the reduction, or
  /// null (then the kernel loads the output's initial values).
  Value fillValue;
  /// The fill (and copy of a filled buffer) that produced it: dead once the
  /// kernel writes every output element.
  SmallVector<Operation *> deadInit;
};

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
  return llvm::all_of(buffer.getUsers(), [&](Operation *u) {
    return u->getBlock() == block && !isa<ViewLikeOpInterface>(u);
  });
}

/// Finds the fill whose value `r`'s output holds: a linalg.fill of the
/// output, or a whole copy into it of a buffer so filled (the pair that
/// bufferization leaves for a reduction's init).
void findFill(RowReduction &r) {
  Operation *op = r.op;
  Value out = r.op.getDpsInits()[0];
  Block *block = op->getBlock();
  if (!isPlainAllocation(out, block))
    return;
  Operation *last = lastUserBefore(out, op);
  if (auto fill = dyn_cast_or_null<linalg::FillOp>(last)) {
    if (fill.getDpsInits()[0] == out) {
      r.fillValue = fill.getDpsInputs()[0];
      r.deadInit.push_back(fill);
    }
    return;
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
    return;
  auto fill = dyn_cast_or_null<linalg::FillOp>(lastUserBefore(source, last));
  if (!fill || fill.getDpsInits()[0] != source)
    return;
  r.fillValue = fill.getDpsInputs()[0];
  r.deadInit.push_back(last);
  // The filled buffer itself goes too when nothing else reads it.
  if (llvm::all_of(source.getUsers(), [&](Operation *u) {
        return u == fill || u == last || isa<memref::DeallocOp>(u);
      }))
    r.deadInit.push_back(fill);
}

bool isCombiner(Operation *op) {
  return isa<arith::AddFOp, arith::MaximumFOp, arith::MaxNumFOp,
             arith::MinimumFOp, arith::MinNumFOp>(op);
}

/// The identity of `combiner` on f32: -0 for addf (x + -0 == x for every x,
/// +0 included), -inf for the maxima, +inf for the minima. When the
/// combiner promises no infinities (`ninf`), the largest finite value
/// instead, so the identity itself does not break that promise.
Value createIdentity(OpBuilder &b, Location loc, Operation *combiner) {
  const llvm::fltSemantics &sem = APFloat::IEEEsingle();
  bool finite = false;
  if (auto fm = dyn_cast<arith::ArithFastMathInterface>(combiner))
    finite = arith::bitEnumContainsAny(fm.getFastMathFlagsAttr().getValue(),
                                       arith::FastMathFlags::ninf);
  auto extreme = [&](bool negative) {
    return finite ? APFloat::getLargest(sem, negative)
                  : APFloat::getInf(sem, negative);
  };
  APFloat value = APFloat::getZero(sem, /*Negative=*/true);
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(combiner))
    value = extreme(/*negative=*/true);
  else if (isa<arith::MinimumFOp, arith::MinNumFOp>(combiner))
    value = extreme(/*negative=*/false);
  return arith::ConstantOp::create(b, loc,
                                   b.getFloatAttr(b.getF32Type(), value));
}

/// `op` as a warp-per-output row reduction, or nothing (the op then takes
/// the generic path).
std::optional<RowReduction> matchRowReduction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInits() != 1 ||
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

  // One f32 output, indexed by every parallel dimension exactly once.
  OpOperand *init = op.getDpsInitOperand(0);
  auto outType = dyn_cast<MemRefType>(init->get().getType());
  if (!outType || !outType.getElementType().isF32())
    return std::nullopt;
  AffineMap outMap = op.getMatchingIndexingMap(init);
  if (!outMap.isProjectedPermutation() || outMap.isFunctionOfDim(redDim) ||
      outMap.getNumResults() != redDim)
    return std::nullopt;

  // Inputs: buffers indexed by dimensions, constants or affine expressions
  // of the loops (no symbols), or scalars. A buffer that is also the output
  // would be read by one warp while another writes it.
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (input->get() == init->get())
      return std::nullopt;
    if (!isa<MemRefType>(input->get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.getNumSymbols() != 0)
      return std::nullopt;
  }

  // The body: pure ops without regions, ending in the combiner.
  Block *body = op.getBlock();
  for (Operation &bodyOp : body->without_terminator())
    if (bodyOp.getNumRegions() != 0 ||
        (!isa<linalg::IndexOp>(bodyOp) && !isPure(&bodyOp)))
      return std::nullopt;
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  if (yield.getValues().size() != 1)
    return std::nullopt;
  Operation *combiner = yield.getValues()[0].getDefiningOp();
  if (!combiner || combiner->getBlock() != body || !isCombiner(combiner) ||
      !combiner->getResult(0).getType().isF32() ||
      !combiner->getResult(0).hasOneUse())
    return std::nullopt;
  BlockArgument out = op.getMatchingBlockArgument(init);
  if (!out.hasOneUse() || out.getUses().begin()->getOwner() != combiner)
    return std::nullopt;
  RowReduction match;
  match.op = op;
  match.combiner = combiner;
  match.outOperand = out.getUses().begin()->getOperandNumber();
  return match;
}

/// The indices `map` gives at the loop indices `ivs`.
SmallVector<Value> evaluateMap(OpBuilder &b, Location loc, AffineMap map,
                               ValueRange ivs) {
  SmallVector<Value> indices;
  for (AffineExpr e : map.getResults()) {
    if (auto d = dyn_cast<AffineDimExpr>(e))
      indices.push_back(ivs[d.getPosition()]);
    else if (auto c = dyn_cast<AffineConstantExpr>(e))
      indices.push_back(arith::ConstantIndexOp::create(b, loc, c.getValue()));
    else
      indices.push_back(
          affine::expandAffineExpr(b, loc, e, ivs, /*symbolValues=*/{}));
  }
  return indices;
}

/// `combiner` applied to (`out`, `value`), keeping its operand order and
/// attributes (fast-math flags).
Value combine(OpBuilder &b, const RowReduction &r, Value out, Value value) {
  SmallVector<Value, 2> operands(2);
  operands[r.outOperand] = out;
  operands[1 - r.outOperand] = value;
  OperationState state(r.combiner->getLoc(), r.combiner->getName(), operands,
                       r.combiner->getResultTypes(),
                       r.combiner->getAttrs());
  return b.create(state)->getResult(0);
}

/// Builds the kernel replacing `r.op` before it.
void buildKernel(const RowReduction &r) {
  linalg::GenericOp op = r.op;
  Location loc = op.getLoc();
  OpBuilder b(op);
  auto cIndex = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };
  unsigned numParallel = op.getNumLoops() - 1;

  // Host side: the loop extents, the output count and the grid.
  SmallVector<Range, 4> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  SmallVector<Value> extents;
  int64_t staticOutputs = 1;
  Value dynamicOutputs;
  for (unsigned d = 0; d <= numParallel; ++d) {
    Value extent = getValueOrCreateConstantIndexOp(b, loc, ranges[d].size);
    extents.push_back(extent);
    if (d == numParallel)
      break;
    if (std::optional<int64_t> c = getConstantIntValue(ranges[d].size)) {
      staticOutputs *= *c;
      continue;
    }
    dynamicOutputs = dynamicOutputs
                         ? arith::MulIOp::create(b, loc, dynamicOutputs, extent)
                         : extent;
  }
  Value outputs;
  Value blocks;
  if (!dynamicOutputs) {
    outputs = cIndex(b, staticOutputs);
    blocks = cIndex(b, llvm::divideCeil(staticOutputs, kWarpsPerBlock));
  } else {
    outputs = staticOutputs == 1
                  ? dynamicOutputs
                  : arith::MulIOp::create(b, loc, dynamicOutputs,
                                          cIndex(b, staticOutputs));
    blocks = arith::CeilDivSIOp::create(b, loc, outputs,
                                        cIndex(b, kWarpsPerBlock));
  }
  Value reductionExtent = extents[numParallel];
  Value one = cIndex(b, 1);
  Value threads = cIndex(b, kWarpsPerBlock * kWarpSize);
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  launch.setFunctionAttr(FlatSymbolRefAttr::get(b.getContext(), "reduce_rows"));

  // Kernel: the warp's output and the lane.
  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value warpSize = cIndex(kb, kWarpSize);
  Value warp = arith::DivUIOp::create(kb, loc, tid, warpSize);
  Value lane = arith::RemUIOp::create(kb, loc, tid, warpSize);
  Value linear = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                            cIndex(kb, kWarpsPerBlock)),
      warp);
  // Uniform across the warp, so every lane of a working warp reaches the
  // shuffles.
  Value inRange = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult,
                                        linear, outputs);
  auto guard = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);

  // Delinearise the output index, the last parallel dimension fastest.
  OpBuilder ib = guard.getThenBodyBuilder();
  SmallVector<Value> ivs(numParallel + 1);
  Value rest = linear;
  for (int d = static_cast<int>(numParallel) - 1; d >= 0; --d) {
    if (d == 0) {
      ivs[d] = rest;
      break;
    }
    ivs[d] = arith::RemUIOp::create(ib, loc, rest, extents[d]);
    rest = arith::DivUIOp::create(ib, loc, rest, extents[d]);
  }

  // Each lane folds r = lane, lane + 32, ... into its accumulator.
  Block *body = op.getBlock();
  Value identity = createIdentity(ib, loc, r.combiner);
  auto laneLoop = scf::ForOp::create(
      ib, loc, lane, reductionExtent, warpSize, ValueRange{identity},
      [&](OpBuilder &lb, Location, Value iv, ValueRange accs) {
        ivs[numParallel] = iv;
        IRMapping map;
        for (OpOperand *input : op.getDpsInputOperands()) {
          BlockArgument arg = op.getMatchingBlockArgument(input);
          if (arg.use_empty())
            continue;
          if (!isa<MemRefType>(input->get().getType())) {
            map.map(arg, input->get());
            continue;
          }
          map.map(arg, memref::LoadOp::create(
                           lb, loc, input->get(),
                           evaluateMap(lb, loc,
                                       op.getMatchingIndexingMap(input), ivs)));
        }
        for (Operation &bodyOp : body->without_terminator()) {
          if (&bodyOp == r.combiner)
            continue;
          if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
            map.map(index.getResult(), ivs[index.getDim()]);
            continue;
          }
          lb.clone(bodyOp, map);
        }
        Value value = map.lookupOrDefault(
            r.combiner->getOperand(1 - r.outOperand));
        scf::YieldOp::create(lb, loc, combine(lb, r, accs[0], value));
      });

  // Butterfly across the warp: every lane ends with the warp's result.
  Value acc = laneLoop.getResult(0);
  for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
    Value other = gpu::ShuffleOp::create(ib, loc, acc, offset, kWarpSize,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult();
    acc = combine(ib, r, acc, other);
  }

  // Lane 0 folds the result into the init's value and stores it.
  Value isLane0 = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::eq,
                                        lane, cIndex(ib, 0));
  auto store = scf::IfOp::create(ib, loc, isLane0, /*withElse=*/false);
  OpBuilder sb = store.getThenBodyBuilder();
  OpOperand *init = op.getDpsInitOperand(0);
  // The output map does not use the reduction dimension; any index does.
  ivs[numParallel] = cIndex(sb, 0);
  SmallVector<Value> outIndices =
      evaluateMap(sb, loc, op.getMatchingIndexingMap(init), ivs);
  Value initial =
      r.fillValue
          ? r.fillValue
          : memref::LoadOp::create(sb, loc, init->get(), outIndices).getResult();
  memref::StoreOp::create(sb, loc, combine(sb, r, initial, acc), init->get(),
                          outIndices);
}

struct ReductionsToGPUPass
    : public ds::impl::DSReductionsToGPUBase<ReductionsToGPUPass> {
  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (func.isExternal())
      return;
    // Top-level ops only: the host function's straight-line code (nothing
    // inside an existing gpu.launch or loop).
    SmallVector<RowReduction> matches;
    for (Block &block : func.getBody())
      for (Operation &op : block)
        if (auto generic = dyn_cast<linalg::GenericOp>(op))
          if (std::optional<RowReduction> r = matchRowReduction(generic))
            matches.push_back(*r);
    for (RowReduction &r : matches) {
      findFill(r);
      buildKernel(r);
      r.op.erase();
      // The kernel writes every output element: the fill is dead.
      for (Operation *dead : r.deadInit)
        dead->erase();
    }
  }
};

} // namespace
