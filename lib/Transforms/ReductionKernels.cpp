//===- ReductionKernels.cpp - kernels for ds-reductions-to-gpu ------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The gpu.launch bodies of ds-reductions-to-gpu (ReductionsToGPU.cpp has the
// matching): the warp- or block-per-output row kernel, with its optional
// row epilogue, and the column kernel.
//
//===----------------------------------------------------------------------===//

#include "ReductionsToGPU.h"
#include "GPUUtils.h"

#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

#include "llvm/ADT/bit.h"

using namespace mlir;
using namespace mlir::ds::reductions;

using mlir::ds::cIndex;

namespace {

/// Splits `linear` < `total` into ivs[0..count) over `extents`, the last
/// dimension fastest (ivs[0] takes what is left).
void delinearize(OpBuilder &b, Location loc, Value linear,
                 ArrayRef<Value> extents, unsigned count,
                 SmallVectorImpl<Value> &ivs, Value total) {
  SmallVector<Value> parts = mlir::ds::delinearizeIndex(
      b, loc, linear, extents.take_front(count), total);
  for (unsigned d = 0; d < count; ++d)
    ivs[d] = parts[d];
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

/// The accumulators folded with the candidates, keeping the body's operand
/// order and attributes (fast-math flags).
SmallVector<Value> combine(OpBuilder &b, Location loc, const RowReduction &r,
                           ValueRange accs, ValueRange candidates) {
  if (r.kind == RowReduction::Kind::Combiner) {
    SmallVector<Value, 2> operands(2);
    operands[r.outOperand] = accs[0];
    operands[1 - r.outOperand] = candidates[0];
    OperationState state(r.combiner->getLoc(), r.combiner->getName(),
                         operands, r.combiner->getResultTypes(),
                         r.combiner->getAttrs());
    return {b.create(state)->getResult(0)};
  }
  IRMapping map;
  linalg::GenericOp op = r.op;
  for (OpOperand &init : op.getDpsInitsMutable()) {
    unsigned i = init.getOperandNumber() - op.getNumDpsInputs();
    map.map(op.getMatchingBlockArgument(&init), accs[i]);
    map.map(r.candidates[i], candidates[i]);
  }
  for (Operation *op : r.conditionOps)
    b.clone(*op, map);
  Value better = map.lookupOrDefault(r.condition);
  SmallVector<Value> results;
  for (auto [acc, candidate] : llvm::zip(accs, candidates))
    results.push_back(
        arith::SelectOp::create(b, loc, better, candidate, acc));
  return results;
}

/// The body of `r` at loop indices `ivs`: its inputs loaded, its ops up to
/// the fold cloned; returns the values it folds (the combiner's operand, or
/// a select reduction's candidates).
SmallVector<Value>
evaluateCandidates(OpBuilder &lb, Location loc, const RowReduction &r,
                   ValueRange ivs,
                   const llvm::DenseMap<OpOperand *, Value> *loaded = nullptr) {
  linalg::GenericOp op = r.op;
  Block *body = op.getBlock();
  IRMapping map;
  for (OpOperand *input : op.getDpsInputOperands()) {
    BlockArgument arg = op.getMatchingBlockArgument(input);
    if (arg.use_empty())
      continue;
    if (auto it = loaded ? loaded->find(input) : decltype(loaded->find(input))();
        loaded && it != loaded->end()) {
      map.map(arg, it->second);
      continue;
    }
    if (!isa<MemRefType>(input->get().getType())) {
      map.map(arg, input->get());
      continue;
    }
    map.map(arg, memref::LoadOp::create(
                     lb, loc, input->get(),
                     evaluateMap(lb, loc, op.getMatchingIndexingMap(input),
                                 ivs)));
  }
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  for (Operation &bodyOp : body->without_terminator()) {
    if (&bodyOp == r.combiner || llvm::is_contained(r.conditionOps, &bodyOp))
      continue;
    if (llvm::is_contained(yield.getValues(), bodyOp.getResult(0)))
      continue; // the selects
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
      map.map(index.getResult(), ivs[index.getDim()]);
      continue;
    }
    lb.clone(bodyOp, map);
  }
  SmallVector<Value> candidates;
  if (r.kind == RowReduction::Kind::Select) {
    for (Value c : r.candidates)
      candidates.push_back(map.lookupOrDefault(c));
  } else {
    candidates.push_back(
        map.lookupOrDefault(r.combiner->getOperand(1 - r.outOperand)));
  }
  return candidates;
}

/// `gpu.shuffle xor` of any scalar: 32-bit values directly, narrower ones
/// widened, 64-bit ones as two 32-bit halves.
Value shuffleXor(OpBuilder &b, Location loc, Value v, int32_t offset) {
  Type type = v.getType();
  unsigned bits = type.getIntOrFloatBitWidth();
  auto shuffle = [&](Value x) {
    return gpu::ShuffleOp::create(b, loc, x, offset, kWarpSize,
                                  gpu::ShuffleMode::XOR)
        .getShuffleResult();
  };
  if (bits == 32)
    return shuffle(v);
  Type i32 = b.getI32Type();
  Type asInt = b.getIntegerType(bits);
  Value x = isa<FloatType>(type)
                ? arith::BitcastOp::create(b, loc, asInt, v).getResult()
                : v;
  Value result;
  if (bits < 32) {
    result = arith::TruncIOp::create(
        b, loc, asInt, shuffle(arith::ExtUIOp::create(b, loc, i32, x)));
  } else {
    assert(bits == 64 && "scalar wider than 64 bits");
    Value c32 = arith::ConstantOp::create(b, loc, b.getIntegerAttr(asInt, 32));
    Value lo = shuffle(arith::TruncIOp::create(b, loc, i32, x));
    Value hi = shuffle(arith::TruncIOp::create(
        b, loc, i32, arith::ShRUIOp::create(b, loc, x, c32)));
    result = arith::OrIOp::create(
        b, loc, arith::ExtUIOp::create(b, loc, asInt, lo),
        arith::ShLIOp::create(b, loc,
                              arith::ExtUIOp::create(b, loc, asInt, hi), c32));
  }
  return isa<FloatType>(type)
             ? arith::BitcastOp::create(b, loc, type, result).getResult()
             : result;
}

/// Folds the candidates at r = thread, thread + stride, ... < extent into
/// `start`: kUnroll elements a step, all evaluated (their loads issued)
/// before any is folded, so the loads overlap instead of each waiting for
/// the previous fold; then the rest one at a time.
SmallVector<Value>
foldStrided(OpBuilder &b, Location loc, const RowReduction &r,
            ValueRange start, Value thread, Value stride, Value extent,
            function_ref<SmallVector<Value>(OpBuilder &, Value)> candidatesAt) {
  Value span = arith::MulIOp::create(b, loc, stride, cIndex(b, loc, kUnroll));
  Value fullEnd = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, extent, span), span);
  auto mainLoop = scf::ForOp::create(
      b, loc, cIndex(b, loc, 0), fullEnd, span, start,
      [&](OpBuilder &lb, Location, Value base, ValueRange accs) {
        Value first = arith::AddIOp::create(lb, loc, base, thread);
        SmallVector<SmallVector<Value>, kUnroll> group;
        for (int64_t u = 0; u < kUnroll; ++u) {
          Value iv = u == 0 ? first
                            : arith::AddIOp::create(
                                  lb, loc, first,
                                  arith::MulIOp::create(lb, loc, stride,
                                                        cIndex(lb, loc, u)))
                                  .getResult();
          group.push_back(candidatesAt(lb, iv));
        }
        SmallVector<Value> folded(accs);
        for (SmallVector<Value> &candidates : group)
          folded = combine(lb, loc, r, folded, candidates);
        scf::YieldOp::create(lb, loc, folded);
      });
  auto tailLoop = scf::ForOp::create(
      b, loc, arith::AddIOp::create(b, loc, fullEnd, thread), extent, stride,
      mainLoop.getResults(),
      [&](OpBuilder &lb, Location, Value iv, ValueRange accs) {
        scf::YieldOp::create(lb, loc,
                             combine(lb, loc, r, accs, candidatesAt(lb, iv)));
      });
  return tailLoop.getResults();
}

/// Elements a lane loads at once when every input that varies along the
/// reduction is read along its rows (the reduction its last index, nowhere
/// else) with aligned rows, and `chunk` x that divides the static row
/// `extent`: 16 bytes of the widest such input. The inputs are listed in
/// `vectorInputs`. 0 if not.
int64_t vectorWidth(const RowReduction &r, int64_t extent, int64_t lanes,
                    SmallVectorImpl<OpOperand *> &vectorInputs) {
  linalg::GenericOp op = r.op;
  unsigned red = op.getNumLoops() - 1;
  if (r.kind != RowReduction::Kind::Combiner ||
      ShapedType::isDynamic(extent))
    return 0;
  int64_t widest = 0;
  for (OpOperand *input : op.getDpsInputOperands()) {
    auto type = dyn_cast<MemRefType>(input->get().getType());
    AffineMap map = op.getMatchingIndexingMap(input);
    if (!type || !map.isFunctionOfDim(red))
      continue;
    auto last = dyn_cast<AffineDimExpr>(map.getResults().back());
    if (!last || last.getPosition() != red ||
        llvm::any_of(map.getResults().drop_back(), [&](AffineExpr e) {
          return e.isFunctionOfDim(red);
        }) ||
        !type.getElementType().isIntOrFloat())
      return 0;
    widest = std::max<int64_t>(widest,
                               type.getElementType().getIntOrFloatBitWidth());
    vectorInputs.push_back(input);
  }
  if (vectorInputs.empty() || widest % 8)
    return 0;
  int64_t width = 128 / widest;
  if (width < 2 || extent % (width * lanes))
    return 0;
  for (OpOperand *input : vectorInputs)
    if (!mlir::ds::hasAlignedRows(input->get(), width))
      return 0;
  return width;
}

/// Folds the candidates of `lanes` threads, each taking `width` consecutive
/// elements a step (thread t: [width * t, width * t + width), then + width
/// * lanes, ...): one vector load per input of `vectorInputs` a step, the
/// other inputs as in evaluateCandidates.
SmallVector<Value> foldVectors(OpBuilder &b, Location loc,
                               const RowReduction &r, ValueRange start,
                               Value thread, int64_t lanes, int64_t width,
                               int64_t extent, SmallVectorImpl<Value> &ivs,
                               ArrayRef<OpOperand *> vectorInputs) {
  linalg::GenericOp op = r.op;
  unsigned red = op.getNumLoops() - 1;
  Value first = arith::MulIOp::create(b, loc, thread, cIndex(b, loc, width));
  auto loop = scf::ForOp::create(
      b, loc, cIndex(b, loc, 0), cIndex(b, loc, extent),
      cIndex(b, loc, width * lanes), start,
      [&](OpBuilder &lb, Location, Value base, ValueRange accs) {
        Value at = arith::AddIOp::create(lb, loc, base, first);
        ivs[red] = at;
        SmallVector<Value> vectors;
        for (OpOperand *input : vectorInputs) {
          auto type = cast<MemRefType>(input->get().getType());
          int64_t bytes = width * type.getElementTypeBitWidth() / 8;
          vectors.push_back(vector::LoadOp::create(
              lb, loc, VectorType::get({width}, type.getElementType()),
              input->get(),
              evaluateMap(lb, loc, op.getMatchingIndexingMap(input), ivs),
              /*nontemporal=*/false, llvm::MaybeAlign(bytes)));
        }
        SmallVector<Value> folded(accs);
        for (int64_t e = 0; e < width; ++e) {
          llvm::DenseMap<OpOperand *, Value> loaded;
          for (auto [input, v] : llvm::zip(vectorInputs, vectors))
            loaded[input] = vector::ExtractOp::create(lb, loc, v, e);
          ivs[red] = arith::AddIOp::create(lb, loc, at, cIndex(lb, loc, e));
          folded = combine(lb, loc, r, folded,
                           evaluateCandidates(lb, loc, r, ivs, &loaded));
        }
        scf::YieldOp::create(lb, loc, folded);
      });
  return loop.getResults();
}

/// Runs `epilogue` over the row: r = thread, thread + stride, ... < extent,
/// with `rowValue` for its reads of the reduction's result; kUnroll
/// elements a step, all loaded and computed before any is stored, so the
/// loads overlap (one block or warp covers the whole row).
void buildEpilogue(OpBuilder &b, Location loc, linalg::GenericOp epilogue,
                   Value result, Value rowValue, SmallVector<Value> ivs,
                   Value thread, Value extent, Value stride) {
  unsigned last = ivs.size() - 1;
  Block *body = epilogue.getBlock();
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  // The epilogue's yielded values at row index `iv`.
  auto compute = [&](OpBuilder &lb, Value iv) {
    ivs[last] = iv;
    IRMapping map;
    for (OpOperand *input : epilogue.getDpsInputOperands()) {
      BlockArgument arg = epilogue.getMatchingBlockArgument(input);
      if (arg.use_empty())
        continue;
      if (input->get() == result)
        map.map(arg, rowValue);
      else if (!isa<MemRefType>(input->get().getType()))
        map.map(arg, input->get());
      else
        map.map(arg, memref::LoadOp::create(
                         lb, loc, input->get(),
                         evaluateMap(lb, loc,
                                     epilogue.getMatchingIndexingMap(input),
                                     ivs)));
    }
    for (OpOperand &out : epilogue.getDpsInitsMutable()) {
      BlockArgument arg = epilogue.getMatchingBlockArgument(&out);
      if (!arg.use_empty())
        map.map(arg, memref::LoadOp::create(
                         lb, loc, out.get(),
                         evaluateMap(lb, loc,
                                     epilogue.getMatchingIndexingMap(&out),
                                     ivs)));
    }
    for (Operation &bodyOp : body->without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
        map.map(index.getResult(), ivs[index.getDim()]);
        continue;
      }
      lb.clone(bodyOp, map);
    }
    SmallVector<Value> values;
    for (Value v : yield.getValues())
      values.push_back(map.lookupOrDefault(v));
    return values;
  };
  auto storeAt = [&](OpBuilder &lb, Value iv, ValueRange values) {
    ivs[last] = iv;
    for (auto [value, out] : llvm::zip(values, epilogue.getDpsInitsMutable()))
      memref::StoreOp::create(
          lb, loc, value, out.get(),
          evaluateMap(lb, loc, epilogue.getMatchingIndexingMap(&out), ivs));
  };
  Value span = arith::MulIOp::create(
      b, loc, stride, arith::ConstantIndexOp::create(b, loc, kUnroll));
  Value fullEnd = arith::MulIOp::create(
      b, loc, arith::DivUIOp::create(b, loc, extent, span), span);
  scf::ForOp::create(
      b, loc, arith::ConstantIndexOp::create(b, loc, 0), fullEnd, span,
      ValueRange{}, [&](OpBuilder &lb, Location, Value base, ValueRange) {
        SmallVector<Value, kUnroll> rows;
        SmallVector<SmallVector<Value>, kUnroll> values;
        for (int64_t u = 0; u < kUnroll; ++u) {
          rows.push_back(arith::AddIOp::create(
              lb, loc, base,
              arith::AddIOp::create(
                  lb, loc, thread,
                  arith::MulIOp::create(
                      lb, loc, stride,
                      arith::ConstantIndexOp::create(lb, loc, u)))));
          values.push_back(compute(lb, rows.back()));
        }
        for (int64_t u = 0; u < kUnroll; ++u)
          storeAt(lb, rows[u], values[u]);
        scf::YieldOp::create(lb, loc);
      });
  scf::ForOp::create(b, loc, arith::AddIOp::create(b, loc, fullEnd, thread),
                     extent, stride, ValueRange{},
                     [&](OpBuilder &lb, Location, Value iv, ValueRange) {
                       storeAt(lb, iv, compute(lb, iv));
                       scf::YieldOp::create(lb, loc);
                     });
}

/// Stores `value`, the result element at `outIndices`, unless nothing
/// needs it, and runs `r`'s pointwise epilogues on it: each link's body at
/// the element it reads, its other inputs loaded, its output stored where
/// something reads it.
void storeResult(OpBuilder &b, Location loc, const RowReduction &r,
                 Value value, ArrayRef<Value> outIndices) {
  linalg::GenericOp op = r.op;
  Value buffer = op.getDpsInits()[0];
  if (r.storeResult)
    memref::StoreOp::create(b, loc, value, buffer, outIndices);
  SmallVector<Value> indices(outIndices);
  for (auto [i, constLink] : llvm::enumerate(r.pointwise)) {
    linalg::LinalgOp link = constLink;
    OpOperand *source = nullptr;
    for (OpOperand *input : link.getDpsInputOperands())
      if (input->get() == buffer) {
        source = input;
        break;
      }
    AffineMap sourceMap = link.getMatchingIndexingMap(source);
    // The link's loop indices at this element (the map is a permutation).
    SmallVector<Value> ivs(link.getNumLoops());
    for (unsigned k = 0; k < sourceMap.getNumResults(); ++k)
      ivs[sourceMap.getDimPosition(k)] = indices[k];
    Block *body = link.getBlock();
    IRMapping map;
    for (OpOperand &operand : link->getOpOperands()) {
      BlockArgument arg = body->getArgument(operand.getOperandNumber());
      if (arg.use_empty())
        continue;
      AffineMap operandMap = link.getMatchingIndexingMap(&operand);
      if (&operand == source ||
          (operand.get() == buffer && operandMap == sourceMap)) {
        map.map(arg, value);
        continue;
      }
      if (!isa<MemRefType>(operand.get().getType())) {
        map.map(arg, operand.get());
        continue;
      }
      map.map(arg, memref::LoadOp::create(b, loc, operand.get(),
                                          evaluateMap(b, loc, operandMap, ivs)));
    }
    for (Operation &bodyOp : body->without_terminator()) {
      if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
        map.map(index.getResult(), ivs[index.getDim()]);
        continue;
      }
      b.clone(bodyOp, map);
    }
    value = map.lookupOrDefault(body->getTerminator()->getOperand(0));
    OpOperand *out = link.getDpsInitOperand(0);
    buffer = out->get();
    indices = evaluateMap(b, loc, link.getMatchingIndexingMap(out), ivs);
    if (r.storeStep[i])
      memref::StoreOp::create(b, loc, value, buffer, indices);
  }
}

} // namespace

/// Builds the kernel replacing `r.op` before it.
void mlir::ds::reductions::buildKernel(const RowReduction &r) {
  linalg::GenericOp op = r.op;
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  OpBuilder b(op);
  unsigned numParallel = op.getNumLoops() - 1;
  bool isSelect = r.kind == RowReduction::Kind::Select;

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
  int64_t staticExtent = op.getStaticLoopRanges()[numParallel];
  // A block per output for long static reductions, else a warp.
  bool perBlock = !ShapedType::isDynamic(staticExtent) &&
                  staticExtent >= kBlockReductionMin;
  // A short static row gets a group of lanes rather than the whole warp
  // (reductionGroup). When its inputs allow whole 16-byte pieces a lane
  // (vectorWidth), the group is smaller still, about 8 pieces a lane: the
  // index arithmetic, shuffles and store are per output, so attention's
  // scores over a 64-wide bf16 head take one thread each (8 loads of Q's
  // row and of K's), not 8 lanes with one load each.
  SmallVector<OpOperand *> vectorInputs;
  int64_t group = kWarpSize, width = 0;
  if (perBlock) {
    width = vectorWidth(r, staticExtent, kBlockThreads, vectorInputs);
  } else if ((width = vectorWidth(r, staticExtent, 1, vectorInputs))) {
    group = std::clamp<int64_t>(
        static_cast<int64_t>(llvm::bit_floor(
            static_cast<uint64_t>(staticExtent / (width * kVectorSteps)))), 1,
        kWarpSize);
    while (staticExtent % (width * group))
      group /= 2;
  } else {
    group = reductionGroup(staticExtent);
  }
  int64_t outputsPerBlock = perBlock ? 1 : kWarpsPerBlock * (kWarpSize / group);
  Value outputs;
  Value blocks;
  if (!dynamicOutputs) {
    outputs = cIndex(b, loc, staticOutputs);
    blocks = cIndex(b, loc, llvm::divideCeil(staticOutputs, outputsPerBlock));
  } else {
    outputs = staticOutputs == 1
                  ? dynamicOutputs
                  : arith::MulIOp::create(b, loc, dynamicOutputs,
                                          cIndex(b, loc, staticOutputs));
    blocks = perBlock ? outputs
                      : arith::CeilDivSIOp::create(b, loc, outputs,
                                                   cIndex(b, loc, outputsPerBlock))
                            .getResult();
  }
  Value reductionExtent = extents[numParallel];
  Value one = cIndex(b, loc, 1);
  Value threads = cIndex(b, loc, kBlockThreads);
  auto launch =
      gpu::LaunchOp::create(b, loc, blocks, one, one, threads, one, one);
  launch.setFunctionAttr(FlatSymbolRefAttr::get(ctx, "reduce_rows"));
  // Per-block mode: each warp's result, per accumulator.
  SmallVector<Value> partials;
  if (perBlock)
    for (Value init : op.getDpsInits())
      partials.push_back(launch.addWorkgroupAttribution(
          MemRefType::get({kWarpsPerBlock},
                          cast<MemRefType>(init.getType()).getElementType(),
                          AffineMap(),
                          gpu::AddressSpaceAttr::get(
                              ctx, gpu::AddressSpace::Workgroup)),
          loc));

  // Kernel: the output and the thread's place in it.
  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value warpSize = cIndex(kb, loc, kWarpSize);
  Value warp = arith::DivUIOp::create(kb, loc, tid, warpSize);
  Value lane = arith::RemUIOp::create(kb, loc, tid, warpSize);
  Value linear, thread, stride;
  if (perBlock) {
    linear = launch.getBlockIds().x;
    thread = tid;
    stride = threads;
  } else {
    linear = arith::AddIOp::create(
        kb, loc,
        arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                              cIndex(kb, loc, kWarpsPerBlock)),
        warp);
    thread = lane;
    stride = warpSize;
  }
  // Groups of lanes: `linear` is the warp's first output until the guard.
  Value groupSize = cIndex(kb, loc, group);
  if (group < kWarpSize) {
    linear = arith::MulIOp::create(kb, loc, linear,
                                   cIndex(kb, loc, kWarpSize / group));
    thread = arith::RemUIOp::create(kb, loc, lane, groupSize);
    stride = groupSize;
  }
  // Uniform across the warp (the block), so every lane of a working warp
  // reaches the shuffles (and every thread the barrier).
  Value inRange = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult,
                                        linear, outputs);
  auto guard = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);

  OpBuilder ib = guard.getThenBodyBuilder();
  // A group past the last output computes the last one again (the whole
  // warp takes part in the shuffles) and stores nothing.
  Value valid;
  if (group < kWarpSize) {
    Value own = arith::AddIOp::create(
        ib, loc, linear, arith::DivUIOp::create(ib, loc, lane, groupSize));
    valid = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::ult, own,
                                  outputs);
    linear = arith::MinUIOp::create(
        ib, loc, own, arith::SubIOp::create(ib, loc, outputs, cIndex(ib, loc, 1)));
  }
  // Delinearise the output index, the last parallel dimension fastest.
  SmallVector<Value> ivs(numParallel + 1);
  delinearize(ib, loc, linear, extents, numParallel, ivs, outputs);
  // The output map does not use the reduction dimension; any index does.
  ivs[numParallel] = cIndex(ib, loc, 0);
  SmallVector<Value> outIndices = evaluateMap(
      ib, loc, op.getMatchingIndexingMap(op.getDpsInitOperand(0)), ivs);
  auto initialValues = [&](OpBuilder &ob) {
    if (!r.fillValues.empty())
      return r.fillValues;
    SmallVector<Value> values;
    for (Value init : op.getDpsInits())
      values.push_back(memref::LoadOp::create(ob, loc, init, outIndices));
    return values;
  };

  auto candidatesAt = [&](OpBuilder &lb, Value iv) {
    ivs[numParallel] = iv;
    return evaluateCandidates(lb, loc, r, ivs);
  };

  // Accumulators: the combiner's identity, or (select reductions, which
  // are idempotent) the inits' values.
  SmallVector<Value> start =
      isSelect ? initialValues(ib)
               : SmallVector<Value>{createIdentity(ib, loc, r.combiner)};

  int64_t lanes = perBlock ? kBlockThreads : group;
  SmallVector<Value> folded =
      width ? foldVectors(ib, loc, r, start, thread, lanes, width,
                          staticExtent, ivs, vectorInputs)
            : foldStrided(ib, loc, r, start, thread, stride, reductionExtent,
                          candidatesAt);

  // Butterfly across the group: every lane ends with the group's result.
  SmallVector<Value> accs = folded;
  for (int32_t offset = group / 2; offset > 0; offset /= 2) {
    SmallVector<Value> others;
    for (Value acc : accs)
      others.push_back(shuffleXor(ib, loc, acc, offset));
    accs = combine(ib, loc, r, accs, others);
  }

  // The first lane of the warp (of the group).
  Value isLane0 = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::eq,
                                        valid ? thread : lane,
                                        cIndex(ib, loc, 0));
  if (valid) {
    isLane0 = arith::AndIOp::create(ib, loc, isLane0, valid);
    if (r.epilogue) {
      // The epilogue may write over its inputs: a repeated group must not.
      auto own = scf::IfOp::create(ib, loc, valid, /*withElse=*/false);
      ib.setInsertionPointToStart(own.thenBlock());
    }
  }
  if (r.epilogue) {
    // Every thread of the group gets the row's value, then runs the
    // epilogue over the row. The group's reads of the row are over (before
    // the shuffles, or the barrier), so the epilogue may write over it.
    Value rowValue;
    if (perBlock) {
      auto park = scf::IfOp::create(ib, loc, isLane0, /*withElse=*/false);
      OpBuilder pb = park.getThenBodyBuilder();
      memref::StoreOp::create(pb, loc, accs[0], partials[0], ValueRange{warp});
      gpu::BarrierOp::create(ib, loc);
      SmallVector<Value> folded = {memref::LoadOp::create(
          ib, loc, partials[0], ValueRange{cIndex(ib, loc, 0)})};
      for (int64_t w = 1; w < kWarpsPerBlock; ++w)
        folded = combine(ib, loc, r, folded,
                         ValueRange{memref::LoadOp::create(
                             ib, loc, partials[0], ValueRange{cIndex(ib, loc, w)})});
      accs = folded;
    }
    rowValue = combine(ib, loc, r, initialValues(ib), accs)[0];
    buildEpilogue(ib, loc, r.epilogue, op.getDpsInits()[0], rowValue, ivs,
                  thread, reductionExtent, stride);
    return;
  }
  Value isWriter = isLane0;
  if (perBlock) {
    // Lane 0 of each warp parks the warp's result; thread 0 folds them.
    auto park = scf::IfOp::create(ib, loc, isLane0, /*withElse=*/false);
    OpBuilder pb = park.getThenBodyBuilder();
    for (auto [acc, slots] : llvm::zip(accs, partials))
      memref::StoreOp::create(pb, loc, acc, slots, ValueRange{warp});
    gpu::BarrierOp::create(ib, loc);
    isWriter = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::eq, tid,
                                     cIndex(ib, loc, 0));
  }
  auto store = scf::IfOp::create(ib, loc, isWriter, /*withElse=*/false);
  OpBuilder sb = store.getThenBodyBuilder();
  SmallVector<Value> results = accs;
  if (perBlock) {
    auto slotsAt = [&](int64_t w) {
      SmallVector<Value> values;
      for (Value slots : partials)
        values.push_back(
            memref::LoadOp::create(sb, loc, slots, ValueRange{cIndex(sb, loc, w)}));
      return values;
    };
    results = slotsAt(0);
    for (int64_t w = 1; w < kWarpsPerBlock; ++w)
      results = combine(sb, loc, r, results, slotsAt(w));
  }
  // A combiner folds in the init's value once, at the end; a select
  // reduction started from it.
  if (!isSelect)
    results = combine(sb, loc, r, initialValues(sb), results);
  if (!r.pointwise.empty()) {
    storeResult(sb, loc, r, results[0], outIndices);
    return;
  }
  for (auto [value, init] : llvm::zip(results, op.getDpsInits()))
    memref::StoreOp::create(sb, loc, value, init, outIndices);
}

/// The column kernel for `r` (prefersColumns): a block per 32 consecutive
/// outputs along the last parallel dimension, lane l owning output l; the 8
/// warps split the reduction (warp w folds r = w, w + 8, ...), and warp 0
/// folds their 8 partial results from shared memory and stores.
void mlir::ds::reductions::buildColumnKernel(const RowReduction &r) {
  linalg::GenericOp op = r.op;
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  OpBuilder b(op);
  unsigned numParallel = op.getNumLoops() - 1;
  unsigned col = numParallel - 1;

  SmallVector<Range, 4> ranges =
      cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
  SmallVector<Value> extents;
  for (Range &range : ranges)
    extents.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
  Value rows = cIndex(b, loc, 1);
  for (unsigned d = 0; d < col; ++d)
    rows = arith::MulIOp::create(b, loc, rows, extents[d]);
  Value warpSize = cIndex(b, loc, kWarpSize);
  Value colBlocks = arith::CeilDivSIOp::create(b, loc, extents[col], warpSize);
  Value blocks = arith::MulIOp::create(b, loc, rows, colBlocks);
  Value one = cIndex(b, loc, 1);
  auto launch = gpu::LaunchOp::create(b, loc, blocks, one, one,
                                      cIndex(b, loc, kBlockThreads), one, one);
  launch.setFunctionAttr(FlatSymbolRefAttr::get(ctx, "reduce_columns"));
  Type accType = r.combiner->getResult(0).getType();
  Value partials = launch.addWorkgroupAttribution(
      MemRefType::get(
          {kWarpsPerBlock, kWarpSize}, accType, AffineMap(),
          gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup)),
      loc);

  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value warp = arith::DivUIOp::create(kb, loc, tid, warpSize);
  Value lane = arith::RemUIOp::create(kb, loc, tid, warpSize);
  Value bid = launch.getBlockIds().x;
  SmallVector<Value> ivs(numParallel + 1);
  // Once per thread, outside the loop: 64-bit division here measured
  // faster than the 32-bit branch (P x V in a 512-token Llama prefill,
  // 3.9 against 5.6 ms under ncu).
  delinearize(kb, loc, arith::DivUIOp::create(kb, loc, bid, colBlocks),
              extents, col, ivs, /*total=*/Value());
  ivs[col] = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc,
                            arith::RemUIOp::create(kb, loc, bid, colBlocks),
                            warpSize),
      lane);
  Value inRange = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult,
                                        ivs[col], extents[col]);
  Value reductionExtent = extents[numParallel];
  auto candidateAt = [&](OpBuilder &lb, Value iv) {
    ivs[numParallel] = iv;
    return evaluateCandidates(lb, loc, r, ivs);
  };

  // This warp's share of the reduction, in groups of kUnroll.
  auto compute =
      scf::IfOp::create(kb, loc, TypeRange{accType}, inRange, /*withElse=*/true);
  {
    OpBuilder ib = OpBuilder::atBlockBegin(compute.thenBlock());
    scf::YieldOp::create(
        ib, loc,
        foldStrided(ib, loc, r, ValueRange{createIdentity(ib, loc, r.combiner)},
                    warp, cIndex(ib, loc, kWarpsPerBlock), reductionExtent,
                    candidateAt));
    OpBuilder eb = OpBuilder::atBlockBegin(compute.elseBlock());
    scf::YieldOp::create(eb, loc,
                         ValueRange{createIdentity(eb, loc, r.combiner)});
  }
  memref::StoreOp::create(kb, loc, compute.getResult(0), partials,
                          ValueRange{warp, lane});
  gpu::BarrierOp::create(kb, loc);
  Value isWarp0 = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::eq,
                                        warp, cIndex(kb, loc, 0));
  auto store = scf::IfOp::create(
      kb, loc, arith::AndIOp::create(kb, loc, isWarp0, inRange),
      /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);
  OpBuilder sb = store.getThenBodyBuilder();
  SmallVector<Value> result = {memref::LoadOp::create(
      sb, loc, partials, ValueRange{cIndex(sb, loc, 0), lane})};
  for (int64_t w = 1; w < kWarpsPerBlock; ++w)
    result = combine(sb, loc, r, result,
                     ValueRange{memref::LoadOp::create(
                         sb, loc, partials, ValueRange{cIndex(sb, loc, w), lane})});
  ivs[numParallel] = cIndex(sb, loc, 0);
  Value init = op.getDpsInits()[0];
  SmallVector<Value> outIndices = evaluateMap(
      sb, loc, op.getMatchingIndexingMap(op.getDpsInitOperand(0)), ivs);
  Value initial =
      !r.fillValues.empty()
          ? r.fillValues[0]
          : memref::LoadOp::create(sb, loc, init, outIndices).getResult();
  result = combine(sb, loc, r, ValueRange{initial}, result);
  storeResult(sb, loc, r, result[0], outIndices);
}
