//===- GemvKernels.cpp - CUDA-core kernels for ds-gemv-to-gpu -------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The gpu.launch bodies of ds-gemv-to-gpu (GemvToGPU.cpp has the matching
// and the choice of kernel): the kernel frame and epilogue shared by every
// kernel, and the CUDA-core GEMV with its pair-consumer and norm folds.
// The tensor-core GEMV and GEMM are in GemvMmaKernels.cpp.
//
//===----------------------------------------------------------------------===//

#include "GemvToGPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::ds::gemv;

namespace {

/// Byte alignment provable for a vector load of `type` at [row, k * vector].
int64_t rowAlignment(MemRefType type, int64_t elementBytes) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(offset) || ShapedType::isDynamic(strides[0]))
    return elementBytes;
  if ((offset * elementBytes) % kVectorBytes ||
      (strides[0] * elementBytes) % kVectorBytes)
    return elementBytes;
  return kVectorBytes;
}

/// The indices `map` gives at loop point `loopIdx` (dimensions and
/// constants only).
SmallVector<Value> loadIndices(OpBuilder &b, Location loc, AffineMap map,
                               ArrayRef<Value> loopIdx) {
  SmallVector<Value> idx;
  for (AffineExpr e : map.getResults()) {
    if (auto d = dyn_cast<AffineDimExpr>(e))
      idx.push_back(loopIdx[d.getPosition()]);
    else
      idx.push_back(cIndex(b, loc, cast<AffineConstantExpr>(e).getValue()));
  }
  return idx;
}

/// `op`'s body (a generic over memrefs) at loop point `loopIdx`: each
/// block argument takes `given(operand)` when that is non-null, else a
/// load through the operand's indexing map (dimensions and constants
/// only; none for unused arguments); index ops read `loopIdx`. Returns the
/// value the body yields.
Value bodyAt(OpBuilder &b, Location loc, linalg::GenericOp op,
             ArrayRef<Value> loopIdx,
             llvm::function_ref<Value(OpOperand &)> given) {
  Block *body = op.getBlock();
  IRMapping map;
  for (OpOperand &operand : op->getOpOperands()) {
    BlockArgument arg = body->getArgument(operand.getOperandNumber());
    if (Value v = given(operand)) {
      map.map(arg, v);
      continue;
    }
    if (arg.use_empty())
      continue;
    map.map(arg, memref::LoadOp::create(
                     b, loc, operand.get(),
                     loadIndices(b, loc, op.getMatchingIndexingMap(&operand),
                                 loopIdx)));
  }
  for (Operation &bodyOp : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
      map.map(index.getResult(), loopIdx[index.getDim()]);
      continue;
    }
    b.clone(bodyOp, map);
  }
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  return map.lookup(yield.getValues()[0]);
}

/// The value the GEMV stores for (row, col) from its f32 result `mine`:
/// the accumulator's (plus its old value when no zero fill preceded), or
/// the epilogue body's at that point, the row split into the epilogue's
/// leading dimensions (last fastest) with `leadSizes`. `loopIdx` receives
/// the store's indices (the epilogue's loop point, or {row, col}).
Value outputValue(OpBuilder &sb, Location loc, Gemv g,
                  ArrayRef<Value> leadSizes, Value row, Value col, Value mine,
                  SmallVector<Value> &loopIdx) {
  Value v = mine;
  if (!g.fill)
    v = arith::AddFOp::create(
        sb, loc,
        memref::LoadOp::create(sb, loc, g.matmul.getDpsInits()[0],
                               ValueRange{row, col}),
        v);
  if (!g.epilogue) {
    loopIdx = {row, col};
    return v;
  }
  unsigned epilogueRank = g.epilogue.getNumLoops();
  loopIdx.assign(epilogueRank, Value());
  loopIdx.back() = col;
  Value rest = row;
  for (int d = epilogueRank - 2; d >= 0; --d) {
    if (d == 0) {
      loopIdx[d] = rest;
      break;
    }
    loopIdx[d] = arith::RemUIOp::create(sb, loc, rest, leadSizes[d]);
    rest = arith::DivUIOp::create(sb, loc, rest, leadSizes[d]);
  }
  return bodyAt(sb, loc, g.epilogue, loopIdx, [&](OpOperand &operand) {
    return operand.get() == g.accView ? v : Value();
  });
}

} // namespace

void mlir::ds::gemv::emitOutput(OpBuilder &sb, Location loc, Gemv g,
                                ArrayRef<Value> leadSizes, Value row,
                                Value col, Value mine) {
  SmallVector<Value> loopIdx;
  Value v = outputValue(sb, loc, g, leadSizes, row, col, mine, loopIdx);
  Value dest =
      g.epilogue ? g.epilogue.getDpsInits()[0] : g.matmul.getDpsInits()[0];
  memref::StoreOp::create(sb, loc, v, dest, loopIdx);
}

namespace {

/// Writes g.pair's result for (row, pair column p) from the GEMV's f32
/// results for columns p (`low`) and p + N/2 (`high`): both through the
/// epilogue, then the pair consumer's body.
void emitPairOutput(OpBuilder &sb, Location loc, Gemv g,
                    ArrayRef<Value> leadSizes, Value row, Value p, Value low,
                    Value high) {
  SmallVector<Value> loopIdx, highIdx;
  Value lowValue = outputValue(sb, loc, g, leadSizes, row, p, low, loopIdx);
  Value highValue = outputValue(
      sb, loc, g, leadSizes, row,
      arith::AddIOp::create(sb, loc, p, cIndex(sb, loc, g.n / 2)), high,
      highIdx);
  linalg::GenericOp consumer = g.pair.op;
  Value v = bodyAt(sb, loc, consumer, loopIdx, [&](OpOperand &operand) {
    unsigned number = operand.getOperandNumber();
    return number == g.pair.low    ? lowValue
           : number == g.pair.high ? highValue
                                   : Value();
  });
  memref::StoreOp::create(sb, loc, v, consumer.getDpsInits()[0], loopIdx);
}

} // namespace

KernelFrame mlir::ds::gemv::buildFrame(OpBuilder &b, Gemv g,
                                       int64_t columnsPerBlock,
                       int64_t rowsPerBlock, int64_t warps,
                       ds::TileAttr tileAttr, StringRef kind) {
  linalg::MatmulOp op = g.matmul;
  Location loc = op.getLoc();
  KernelFrame f;
  f.x = op.getDpsInputs()[0];
  f.w = op.getDpsInputs()[1];
  f.xAlign = rowAlignment(cast<MemRefType>(f.x.getType()),
                          g.elementType.getIntOrFloatBitWidth() / 8);
  f.rows = memref::DimOp::create(b, loc, f.x, 0);
  unsigned epilogueRank = g.epilogue ? g.epilogue.getNumLoops() : 2;
  f.leadSizes.resize(epilogueRank - 1);
  for (unsigned d = 1; d + 1 < epilogueRank; ++d)
    f.leadSizes[d] = memref::DimOp::create(b, loc, g.accView, d);
  Value one = cIndex(b, loc, 1);
  Value gridX = cIndex(b, loc, llvm::divideCeil(g.n, columnsPerBlock));
  Value gridY =
      arith::CeilDivSIOp::create(b, loc, f.rows, cIndex(b, loc, rowsPerBlock));
  Value threads = cIndex(b, loc, warps * kWarpSize);
  f.launch = gpu::LaunchOp::create(b, loc, gridX, gridY, one, threads, one,
                                   one);
  f.launch->setAttr("ds.tile", tileAttr);
  // Outlined as gemv[_mma]_<N>x<K> (profiles name the layer's shape).
  f.launch.setFunctionAttr(FlatSymbolRefAttr::get(
      b.getContext(), (kind + "_" + llvm::Twine(g.n) + "x" + llvm::Twine(g.k))
                          .str()));
  OpBuilder kb = OpBuilder::atBlockBegin(&f.launch.getBody().front());
  Value tid = f.launch.getThreadIds().x;
  f.warp = arith::DivUIOp::create(kb, loc, tid, cIndex(kb, loc, kWarpSize));
  f.lane = arith::RemUIOp::create(kb, loc, tid, cIndex(kb, loc, kWarpSize));
  return f;
}

namespace {

/// Splits row `row` of a [M, K] view over the leading dimensions of a
/// rank-(extents.size() + 1) buffer (extents[0] unused; the last fastest).
SmallVector<Value> splitRow(OpBuilder &b, Location loc, Value row,
                            ArrayRef<Value> extents) {
  SmallVector<Value> idx(extents.size());
  Value rest = row;
  for (int64_t d = static_cast<int64_t>(extents.size()) - 1; d >= 1; --d) {
    idx[d] = arith::RemUIOp::create(b, loc, rest, extents[d]);
    rest = arith::DivUIOp::create(b, loc, rest, extents[d]);
  }
  if (!idx.empty())
    idx[0] = rest;
  return idx;
}

/// The `count` elements of `operand` (an input of `op`, a generic over
/// [lead..., K]) at the loop point (`lead`, k + e) for e < count: one
/// vector load when the map ends in K's dimension, used only there, on
/// rows aligned for it; scalar loads otherwise (one, repeated, when the
/// map does not use K's dimension).
SmallVector<Value> loadSpan(OpBuilder &b, Location loc, linalg::GenericOp op,
                            OpOperand *operand, ArrayRef<Value> lead, Value k,
                            int64_t count) {
  unsigned last = op.getNumLoops() - 1;
  AffineExpr kDim = getAffineDimExpr(last, b.getContext());
  AffineMap map = op.getMatchingIndexingMap(operand);
  Value buffer = operand->get();
  auto type = cast<MemRefType>(buffer.getType());
  auto indices = [&](Value kIdx) {
    SmallVector<Value> point(lead);
    point.push_back(kIdx);
    return loadIndices(b, loc, map, point);
  };
  int64_t uses = llvm::count(map.getResults(), kDim);
  SmallVector<Value> values;
  if (uses == 0) {
    values.assign(count, memref::LoadOp::create(b, loc, buffer, indices(k)));
    return values;
  }
  // Vector loads of at most 16 bytes (an f32 input takes two for the
  // weight's 8 bf16 elements).
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  int64_t chunk = std::min<int64_t>(count, kVectorBytes / bytes);
  if (uses == 1 && map.getResults().back() == kDim && count % chunk == 0 &&
      ds::hasAlignedRows(buffer, chunk)) {
    for (int64_t c = 0; c < count; c += chunk) {
      Value v = vector::LoadOp::create(
          b, loc, VectorType::get({chunk}, type.getElementType()), buffer,
          indices(c ? arith::AddIOp::create(b, loc, k, cIndex(b, loc, c))
                    : k),
          /*nontemporal=*/false, llvm::MaybeAlign(chunk * bytes));
      for (int64_t e = 0; e < chunk; ++e)
        values.push_back(vector::ExtractOp::create(b, loc, v, e));
    }
    return values;
  }
  for (int64_t e = 0; e < count; ++e)
    values.push_back(memref::LoadOp::create(
        b, loc, buffer,
        indices(arith::AddIOp::create(b, loc, k, cIndex(b, loc, e)))));
  return values;
}

/// `v` (a value of `body`, or from above it) at `b`: the ops of `body` it
/// depends on cloned once each, `map` holding the block arguments' values
/// and receiving the clones.
Value cloneValue(OpBuilder &b, Block *body, Value v, IRMapping &map) {
  if (Value mapped = map.lookupOrNull(v))
    return mapped;
  Operation *def = v.getDefiningOp();
  if (!def || def->getBlock() != body)
    return v;
  for (Value operand : def->getOperands())
    cloneValue(b, body, operand, map);
  b.clone(*def, map);
  return map.lookup(v);
}

/// Lets LLVM contract `v`'s defining op and its float operands' (a
/// cloned `sum + x * x`) into an fma: the running sum's order is the
/// reduction's own, only the rounding of the product goes.
void allowContraction(Value v) {
  Operation *op = v.getDefiningOp();
  if (!op)
    return;
  auto contract = arith::FastMathFlagsAttr::get(op->getContext(),
                                                arith::FastMathFlags::contract);
  SmallVector<Operation *> ops = {op};
  for (Value operand : op->getOperands())
    if (Operation *def = operand.getDefiningOp())
      ops.push_back(def);
  for (Operation *o : ops)
    if (auto fm = dyn_cast<arith::ArithFastMathInterface>(o);
        fm && o->getBlock() == op->getBlock())
      o->setAttr(fm.getFastMathAttrName(), contract);
}

/// Scalar `v` (a float of at most 32 bits) as f32.
Value scalarToF32(OpBuilder &b, Location loc, Value v) {
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

/// The product of `factors` (values of `body`, cloned with `map`) in f32,
/// divided by the product of `divisors`; null when both are empty.
Value productAt(OpBuilder &b, Location loc, Block *body,
                ArrayRef<Value> factors, ArrayRef<Value> divisors,
                IRMapping &map) {
  Value product;
  for (Value f : factors) {
    Value v = scalarToF32(b, loc, cloneValue(b, body, f, map));
    product = product ? arith::MulFOp::create(b, loc, product, v) : v;
  }
  for (Value d : divisors) {
    Value v = scalarToF32(b, loc, cloneValue(b, body, d, map));
    if (!product)
      product = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(1.0f));
    product = arith::DivFOp::create(b, loc, product, v);
  }
  return product;
}

} // namespace

/// The CUDA-core kernel: a warp per column, up to `tile.rows` rows.
void mlir::ds::gemv::buildKernel(OpBuilder &b, Gemv g, const Tile &tile,
                 ds::TileAttr tileAttr) {
  linalg::MatmulOp op = g.matmul;
  Location loc = op.getLoc();
  // A folded norm (g.norm): the activation's leading extents, on the host.
  NormFold norm = g.norm;
  SmallVector<Value> normLead;
  if (norm.op) {
    Value y = norm.op.getDpsInits()[0];
    normLead.resize(norm.op.getNumLoops() - 1);
    for (size_t d = 1; d < normLead.size(); ++d)
      normLead[d] = memref::DimOp::create(b, loc, y, d);
  }
  // Split K (tile.splitK warps a column) only without a pair consumer or a
  // folded norm (chooseTile and tileFromAttr see to it).
  int64_t splitK = tile.splitK;
  int64_t columns = tile.warps / splitK;
  KernelFrame frame =
      buildFrame(b, g, columns, tile.rows, tile.warps, tileAttr, "gemv");
  gpu::LaunchOp launch = frame.launch;
  Value x = frame.x, w = frame.w, rows = frame.rows, lane = frame.lane;
  auto xType = cast<MemRefType>(x.getType());
  int64_t xAlign = frame.xAlign;
  ArrayRef<Value> leadSizes = frame.leadSizes;
  Type f32 = Float32Type::get(op.getContext());
  OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
  // With a pair consumer (g.pair) the block's first half of warps takes
  // columns p of [0, N/2), the second half columns p + N/2, and the
  // results meet in shared memory ([warp][row]).
  bool paired = static_cast<bool>(g.pair.op);
  int64_t halfWarps = tile.warps / 2;
  Value col, pairCol, results;
  if (paired) {
    Value slot =
        arith::RemUIOp::create(kb, loc, frame.warp, cIndex(kb, loc, halfWarps));
    pairCol = arith::AddIOp::create(
        kb, loc,
        arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                              cIndex(kb, loc, halfWarps)),
        slot);
    Value isHigh = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::uge,
                                         frame.warp,
                                         cIndex(kb, loc, halfWarps));
    col = arith::AddIOp::create(
        kb, loc, pairCol,
        arith::SelectOp::create(kb, loc, isHigh, cIndex(kb, loc, g.n / 2),
                                cIndex(kb, loc, 0)));
    results = launch.addWorkgroupAttribution(
        MemRefType::get({tile.warps, tile.rows}, f32, AffineMap(),
                        gpu::AddressSpaceAttr::get(
                            op.getContext(), gpu::AddressSpace::Workgroup)),
        loc);
  } else {
    col = arith::AddIOp::create(
        kb, loc,
        arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                              cIndex(kb, loc, columns)),
        splitK == 1 ? frame.warp
                    : Value(arith::DivUIOp::create(kb, loc, frame.warp,
                                                   cIndex(kb, loc, splitK))));
    if (splitK > 1)
      results = launch.addWorkgroupAttribution(
          MemRefType::get({tile.warps, tile.rows}, f32, AffineMap(),
                          gpu::AddressSpaceAttr::get(
                              op.getContext(), gpu::AddressSpace::Workgroup)),
          loc);
  }
  Value inRange = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult,
                                        col, cIndex(kb, loc, g.n));
  auto guard = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
  auto terminator = gpu::TerminatorOp::create(kb, loc);

  OpBuilder ib = guard.getThenBodyBuilder();
  Value row0 = arith::MulIOp::create(ib, loc, launch.getBlockIds().y,
                                     cIndex(ib, loc, tile.rows));
  Value rowCount = arith::MinSIOp::create(
      ib, loc, arith::SubIOp::create(ib, loc, rows, row0),
      cIndex(ib, loc, tile.rows));
  Value lastRow = arith::SubIOp::create(ib, loc, rows, cIndex(ib, loc, 1));

  auto vecType = VectorType::get({g.vector}, g.elementType);
  auto vecF32 = VectorType::get({g.vector}, f32);
  auto toF32 = [&](OpBuilder &ob, Value v) -> Value {
    return g.elementType.isF32() ? v : arith::ExtFOp::create(ob, loc, vecF32, v);
  };
  auto loadW = [&](OpBuilder &ob, Value kIdx) -> Value {
    return vector::LoadOp::create(ob, loc, vecType, w, ValueRange{col, kIdx},
                                  /*nontemporal=*/false,
                                  llvm::MaybeAlign(kVectorBytes));
  };
  Value zero = arith::ConstantOp::create(ib, loc, ib.getF32FloatAttr(0.0f));
  // The warp's share of K: [kBegin, kBegin + kLen), kLen = K / splitK (a
  // multiple of the vector; chooseTile, tileFromAttr).
  int64_t kLen = g.k / splitK;
  Value kBegin = cIndex(ib, loc, 0);
  if (splitK > 1)
    kBegin = arith::MulIOp::create(
        ib, loc,
        arith::RemUIOp::create(ib, loc, frame.warp, cIndex(ib, loc, splitK)),
        cIndex(ib, loc, kLen));
  Value laneK = arith::AddIOp::create(
      ib, loc, kBegin,
      arith::MulIOp::create(ib, loc, lane, cIndex(ib, loc, g.vector)));
  int64_t perLoad = kWarpSize * g.vector;
  int64_t perIter = perLoad * tile.stages;
  int64_t mainEnd = kLen / perIter * perIter;

  // The kernel body for a block of at most `count` live rows: `count`
  // accumulators (and with a folded norm `count` row sums after them),
  // rows past the last one clamped to it (computed, never stored), no
  // branches inside the loops. Returns the lane's row result.
  auto emitRows = [&](OpBuilder &ob, int64_t count) -> Value {
    SmallVector<Value> xRows;
    SmallVector<SmallVector<Value>> normRows; // the norm's loop points
    for (int64_t j = 0; j < count; ++j) {
      xRows.push_back(arith::MinSIOp::create(
          ob, loc, arith::AddIOp::create(ob, loc, row0, cIndex(ob, loc, j)),
          lastRow));
      if (norm.op)
        normRows.push_back(splitRow(ob, loc, xRows.back(), normLead));
    }
    // Row j's product with the weight's vector `wf` at kIdx, added to
    // `acc`; with a folded norm also its row sum's share, added to `sum`.
    auto rowUpdate = [&](OpBuilder &ub, int64_t j, Value wf, Value kIdx,
                         Value &acc, Value &sum) {
      if (!norm.op) {
        Value xv = toF32(ub, vector::LoadOp::create(
                                 ub, loc, vecType, x,
                                 ValueRange{xRows[j], kIdx}, false,
                                 llvm::MaybeAlign(xAlign)));
        for (int64_t e = 0; e < g.vector; ++e)
          acc = math::FmaOp::create(
              ub, loc, vector::ExtractOp::create(ub, loc, wf, e),
              vector::ExtractOp::create(ub, loc, xv, e), acc);
        return;
      }
      // The norm's inputs at (row j, kIdx + e): its column factors times
      // the weight, and the reduction's body over the summed input.
      linalg::GenericOp nop = norm.op;
      Block *body = nop.getBlock();
      SmallVector<std::pair<BlockArgument, SmallVector<Value>>> inputs;
      for (OpOperand *in : nop.getDpsInputOperands()) {
        BlockArgument arg = nop.getMatchingBlockArgument(in);
        unsigned number = in->getOperandNumber();
        if (number == norm.sumInput ||
            (arg.use_empty() && number != norm.summed))
          continue;
        inputs.emplace_back(arg, loadSpan(ub, loc, nop, in, normRows[j], kIdx,
                                          g.vector));
      }
      BlockArgument summedArg =
          nop.getMatchingBlockArgument(&nop->getOpOperand(norm.summed));
      Block *sumBody = norm.reduction.getBlock();
      for (int64_t e = 0; e < g.vector; ++e) {
        IRMapping map;
        Value element;
        for (auto &[arg, values] : inputs) {
          map.map(arg, values[e]);
          if (arg == summedArg)
            element = values[e];
        }
        Value factor =
            productAt(ub, loc, body, norm.colFactors, {}, map);
        acc = math::FmaOp::create(
            ub, loc, vector::ExtractOp::create(ub, loc, wf, e), factor, acc);
        IRMapping sumMap;
        sumMap.map(sumBody->getArgument(0), element);
        sumMap.map(sumBody->getArgument(1), sum);
        sum = cloneValue(ub, sumBody,
                         sumBody->getTerminator()->getOperand(0), sumMap);
        allowContraction(sum);
      }
    };
    auto update = [&](OpBuilder &ub, ValueRange accs, Value wf,
                      Value kIdx) -> SmallVector<Value> {
      SmallVector<Value> result(accs);
      for (int64_t j = 0; j < count; ++j) {
        Value sum = norm.op ? result[count + j] : Value();
        rowUpdate(ub, j, wf, kIdx, result[j], sum);
        if (norm.op)
          result[count + j] = sum;
      }
      return result;
    };
    SmallVector<Value> inits(norm.op ? 2 * count : count, zero);
    // Main loop: `stages` independent weight loads, then their products.
    auto main = scf::ForOp::create(
        ob, loc, cIndex(ob, loc, 0), cIndex(ob, loc, mainEnd), cIndex(ob, loc, perIter),
        inits, [&](OpBuilder &lb, Location, Value kk, ValueRange accs) {
          SmallVector<Value> ks, ws;
          for (int64_t st = 0; st < tile.stages; ++st) {
            Value kIdx = arith::AddIOp::create(
                lb, loc, arith::AddIOp::create(lb, loc, kk, laneK),
                cIndex(lb, loc, st * perLoad));
            ks.push_back(kIdx);
            ws.push_back(toF32(lb, loadW(lb, kIdx)));
          }
          SmallVector<Value> cur(accs);
          for (int64_t st = 0; st < tile.stages; ++st)
            cur = update(lb, cur, ws[st], ks[st]);
          scf::YieldOp::create(lb, loc, cur);
        });
    // Remainder: one load at a time.
    auto tail = scf::ForOp::create(
        ob, loc, arith::AddIOp::create(ob, loc, cIndex(ob, loc, mainEnd), laneK),
        arith::AddIOp::create(ob, loc, kBegin, cIndex(ob, loc, kLen)),
        cIndex(ob, loc, perLoad), main.getResults(),
        [&](OpBuilder &lb, Location, Value kIdx, ValueRange accs) {
          scf::YieldOp::create(
              lb, loc, update(lb, accs, toF32(lb, loadW(lb, kIdx)), kIdx));
        });
    // Butterfly sums across the warp; lane j keeps row j's.
    auto warpSum = [&](Value v) {
      for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
        Value other = gpu::ShuffleOp::create(ob, loc, v, offset, kWarpSize,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult();
        v = arith::AddFOp::create(ob, loc, v, other);
      }
      return v;
    };
    Value mine;
    for (int64_t j = 0; j < count; ++j) {
      Value v = warpSum(tail.getResult(j));
      if (norm.op) {
        // The folded norm's row factors, from the whole row's sum.
        IRMapping map;
        map.map(norm.op.getMatchingBlockArgument(
                    &norm.op->getOpOperand(norm.sumInput)),
                warpSum(tail.getResult(count + j)));
        if (Value scale =
                productAt(ob, loc, norm.op.getBlock(), norm.rowFactors,
                          norm.rowDivisors, map))
          v = arith::MulFOp::create(ob, loc, v, scale);
      }
      if (j == 0) {
        mine = v;
        continue;
      }
      Value isJ = arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::eq,
                                        lane, cIndex(ob, loc, j));
      mine = arith::SelectOp::create(ob, loc, isJ, v, mine);
    }
    return mine;
  };

  // One variant per power-of-two row count up to the tile's, chosen by the
  // block's live rows (uniform across the block): decode at batch 1 does
  // one row's work, not the tile's.
  SmallVector<int64_t> counts;
  if (!xType.isDynamicDim(0) && xType.getDimSize(0) % tile.rows == 0) {
    counts.push_back(tile.rows);
  } else {
    for (int64_t c = 1; c < tile.rows; c *= 2)
      counts.push_back(c);
    counts.push_back(tile.rows);
  }
  std::function<Value(OpBuilder &, size_t)> dispatch =
      [&](OpBuilder &ob, size_t i) -> Value {
    if (i + 1 == counts.size())
      return emitRows(ob, counts[i]);
    Value fits = arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::sle,
                                       rowCount, cIndex(ob, loc, counts[i]));
    auto ifOp = scf::IfOp::create(
        ob, loc, fits,
        [&](OpBuilder &tb, Location) {
          scf::YieldOp::create(tb, loc, emitRows(tb, counts[i]));
        },
        [&](OpBuilder &eb, Location) {
          scf::YieldOp::create(eb, loc, dispatch(eb, i + 1));
        });
    return ifOp.getResult(0);
  };
  Value mine = dispatch(ib, 0);

  // Lane j writes row row0 + j.
  Value writes = arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::slt,
                                       lane, rowCount);
  auto store = scf::IfOp::create(ib, loc, writes, /*withElse=*/false);
  OpBuilder sb = store.getThenBodyBuilder();
  if (!paired && splitK == 1) {
    Value row = arith::AddIOp::create(sb, loc, row0, lane);
    emitOutput(sb, loc, g, leadSizes, row, col, mine);
    return;
  }
  // The warps' results meet in shared memory ([warp][row]): after a
  // barrier at the block's end, the lanes where `writerCond` holds (and a
  // live row) write. Returns the writers' builder and the block's first
  // row.
  memref::StoreOp::create(sb, loc, mine, results,
                          ValueRange{frame.warp, lane});
  auto afterBarrier = [&](llvm::function_ref<Value(OpBuilder &)> writerCond)
      -> std::pair<OpBuilder, Value> {
    OpBuilder pb(terminator);
    gpu::BarrierOp::create(pb, loc);
    Value blockRow0 = arith::MulIOp::create(pb, loc, launch.getBlockIds().y,
                                            cIndex(pb, loc, tile.rows));
    Value blockRows = arith::MinSIOp::create(
        pb, loc, arith::SubIOp::create(pb, loc, rows, blockRow0),
        cIndex(pb, loc, tile.rows));
    Value cond = writerCond(pb);
    Value writer = arith::AndIOp::create(
        pb, loc, cond,
        arith::CmpIOp::create(pb, loc, arith::CmpIPredicate::slt, lane,
                              blockRows));
    auto ifOp = scf::IfOp::create(pb, loc, writer, /*withElse=*/false);
    return {ifOp.getThenBodyBuilder(), blockRow0};
  };
  if (!paired) {
    // Split K: the first warp of each column adds its column's sums.
    Value splitCol;
    auto [wb, splitRow0] = afterBarrier([&](OpBuilder &pb) -> Value {
      Value slot = arith::RemUIOp::create(pb, loc, frame.warp,
                                          cIndex(pb, loc, splitK));
      splitCol = arith::AddIOp::create(
          pb, loc,
          arith::MulIOp::create(pb, loc, launch.getBlockIds().x,
                                cIndex(pb, loc, columns)),
          arith::DivUIOp::create(pb, loc, frame.warp,
                                 cIndex(pb, loc, splitK)));
      return arith::AndIOp::create(
          pb, loc,
          arith::CmpIOp::create(pb, loc, arith::CmpIPredicate::eq, slot,
                                cIndex(pb, loc, 0)),
          arith::CmpIOp::create(pb, loc, arith::CmpIPredicate::ult, splitCol,
                                cIndex(pb, loc, g.n)));
    });
    Value total;
    for (int64_t p = 0; p < splitK; ++p) {
      Value part = memref::LoadOp::create(
          wb, loc, results,
          ValueRange{arith::AddIOp::create(wb, loc, frame.warp,
                                           cIndex(wb, loc, p)),
                     lane});
      total = total ? Value(arith::AddFOp::create(wb, loc, total, part)) : part;
    }
    emitOutput(wb, loc, g, leadSizes,
               arith::AddIOp::create(wb, loc, splitRow0, lane), splitCol,
               total);
    return;
  }
  // A pair consumer: the first half's lanes write the pairs.
  auto [psb, pairRow0] = afterBarrier([&](OpBuilder &pb) -> Value {
    return arith::CmpIOp::create(pb, loc, arith::CmpIPredicate::ult,
                                 frame.warp, cIndex(pb, loc, halfWarps));
  });
  Value low = memref::LoadOp::create(psb, loc, results,
                                     ValueRange{frame.warp, lane});
  Value high = memref::LoadOp::create(
      psb, loc, results,
      ValueRange{arith::AddIOp::create(psb, loc, frame.warp,
                                       cIndex(psb, loc, halfWarps)),
                 lane});
  emitPairOutput(psb, loc, g, leadSizes,
                 arith::AddIOp::create(psb, loc, pairRow0, lane), pairCol, low,
                 high);
}
