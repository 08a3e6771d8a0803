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

#include "ds/Dialect/DS/IR/DSAttrs.h"
#include "ds/Dialect/DS/IR/DSDialect.h"
#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSGEMVTOGPU
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kVectorBytes = 16;

/// One linear layer found in the IR.
struct Gemv {
  linalg::MatmulOp matmul;
  linalg::FillOp fill;        // zero fill of the accumulator, or null
  linalg::GenericOp epilogue; // elementwise consumer folded in, or null
  Value accView;              // what the epilogue reads: the accumulator or
                              // a view splitting M into leading dimensions
  int64_t n = 0, k = 0;
  Type elementType;           // of the activation and the weight
  int64_t vector = 0;         // elements per 16-byte load
};

/// The GEMV tile: `rows` activation rows a block, `warps` columns a block
/// (one per warp), `stages` vector loads in flight per lane.
struct Tile {
  int64_t rows = 0, warps = 0, stages = 0;
};

bool isUnitStrideRows(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return strides.back() == 1;
}

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

/// The heuristic tile for `g` when the IR carries none.
Tile chooseTile(const Gemv &g, int64_t staticRows) {
  Tile tile;
  // One accumulator per row; 16 rows covers decode up to batch 16 in one
  // pass over the weights.
  tile.rows = ShapedType::isDynamic(staticRows)
                  ? 16
                  : std::clamp<int64_t>(staticRows, 1, 16);
  tile.warps = 8;
  // Four 16-byte loads in flight per lane hide HBM latency; fewer when K
  // is short.
  tile.stages = 4;
  while (tile.stages > 1 && kWarpSize * g.vector * tile.stages > g.k)
    tile.stages /= 2;
  return tile;
}

/// `attr` as a GEMV tile for `g`, or an error.
FailureOr<Tile> tileFromAttr(Gemv &g, ds::TileAttr attr) {
  ArrayRef<int64_t> sizes = attr.getSizes();
  Tile tile{sizes.size() == 3 ? sizes[0] : 0, attr.getWarps(),
            attr.getStages()};
  if (sizes.size() != 3 || tile.rows < 1 || tile.rows > 64 ||
      tile.warps < 1 || tile.warps > 32 || sizes[1] != tile.warps ||
      tile.stages < 1 || sizes[2] != kWarpSize * g.vector * tile.stages) {
    g.matmul.emitError()
        << "ds-gemv-to-gpu: tile " << attr
        << " is not a GEMV tile: expected sizes = [rows (1-64), warps, "
        << kWarpSize * g.vector << " x stages], warps 1-32";
    return failure();
  }
  return tile;
}

/// Builds the kernel replacing `g` where its last op was: the epilogue's
/// output may be allocated after the matmul, and nothing in between touches
/// memory.
void buildKernel(Gemv g, const Tile &tile, ds::TileAttr tileAttr) {
  linalg::MatmulOp op = g.matmul;
  Location loc = op.getLoc();
  OpBuilder b(g.epilogue ? g.epilogue.getOperation() : op.getOperation());
  Value x = op.getDpsInputs()[0], w = op.getDpsInputs()[1];
  Value accBuf = op.getDpsInits()[0];
  auto xType = cast<MemRefType>(x.getType());
  int64_t elementBytes = g.elementType.getIntOrFloatBitWidth() / 8;
  Type f32 = b.getF32Type();
  auto cIndex = [&](OpBuilder &ob, int64_t v) -> Value {
    return arith::ConstantIndexOp::create(ob, loc, v);
  };

  // Host side: the row count, the epilogue's leading extents, the grid.
  Value rows = memref::DimOp::create(b, loc, x, 0);
  unsigned epilogueRank = g.epilogue ? g.epilogue.getNumLoops() : 2;
  SmallVector<Value> leadSizes(epilogueRank - 1);
  for (unsigned d = 1; d + 1 < epilogueRank; ++d)
    leadSizes[d] = memref::DimOp::create(b, loc, g.accView, d);
  Value one = cIndex(b, 1);
  Value gridX = cIndex(b, llvm::divideCeil(g.n, tile.warps));
  Value gridY = arith::CeilDivSIOp::create(b, loc, rows, cIndex(b, tile.rows));
  Value threads = cIndex(b, tile.warps * kWarpSize);
  auto launch =
      gpu::LaunchOp::create(b, loc, gridX, gridY, one, threads, one, one);
  launch->setAttr("ds.tile", tileAttr);
  // Outlined as gemv_<N>x<K> (profiles name the layer's shape).
  launch.setFunctionAttr(FlatSymbolRefAttr::get(
      b.getContext(), ("gemv_" + llvm::Twine(g.n) + "x" + llvm::Twine(g.k)).str()));

  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value tid = launch.getThreadIds().x;
  Value warpSize = cIndex(kb, kWarpSize);
  Value warp = arith::DivUIOp::create(kb, loc, tid, warpSize);
  Value lane = arith::RemUIOp::create(kb, loc, tid, warpSize);
  Value col = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                            cIndex(kb, tile.warps)),
      warp);
  Value inRange = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult,
                                        col, cIndex(kb, g.n));
  auto guard = scf::IfOp::create(kb, loc, inRange, /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);

  OpBuilder ib = guard.getThenBodyBuilder();
  Value row0 = arith::MulIOp::create(ib, loc, launch.getBlockIds().y,
                                     cIndex(ib, tile.rows));
  Value rowCount = arith::MinSIOp::create(
      ib, loc, arith::SubIOp::create(ib, loc, rows, row0),
      cIndex(ib, tile.rows));
  Value lastRow = arith::SubIOp::create(ib, loc, rows, cIndex(ib, 1));

  auto vecType = VectorType::get({g.vector}, g.elementType);
  auto vecF32 = VectorType::get({g.vector}, f32);
  int64_t xAlign = rowAlignment(xType, elementBytes);
  auto toF32 = [&](OpBuilder &ob, Value v) -> Value {
    return g.elementType.isF32() ? v : arith::ExtFOp::create(ob, loc, vecF32, v);
  };
  auto loadW = [&](OpBuilder &ob, Value kIdx) -> Value {
    return vector::LoadOp::create(ob, loc, vecType, w, ValueRange{col, kIdx},
                                  /*nontemporal=*/false,
                                  llvm::MaybeAlign(kVectorBytes));
  };
  Value zero = arith::ConstantOp::create(ib, loc, ib.getF32FloatAttr(0.0f));
  Value laneK = arith::MulIOp::create(ib, loc, lane, cIndex(ib, g.vector));
  int64_t perLoad = kWarpSize * g.vector;
  int64_t perIter = perLoad * tile.stages;
  int64_t mainEnd = g.k / perIter * perIter;

  // The kernel body for a block of at most `count` live rows: `count`
  // accumulators, rows past the last one clamped to it (computed, never
  // stored), no branches inside the loops. Returns the lane's row sum.
  auto emitRows = [&](OpBuilder &ob, int64_t count) -> Value {
    SmallVector<Value> xRows;
    for (int64_t j = 0; j < count; ++j)
      xRows.push_back(arith::MinSIOp::create(
          ob, loc, arith::AddIOp::create(ob, loc, row0, cIndex(ob, j)),
          lastRow));
    auto update = [&](OpBuilder &ub, ValueRange accs, Value wf,
                      Value kIdx) -> SmallVector<Value> {
      SmallVector<Value> result;
      for (int64_t j = 0; j < count; ++j) {
        Value xv = toF32(ub, vector::LoadOp::create(
                                 ub, loc, vecType, x,
                                 ValueRange{xRows[j], kIdx}, false,
                                 llvm::MaybeAlign(xAlign)));
        Value acc = accs[j];
        for (int64_t e = 0; e < g.vector; ++e)
          acc = math::FmaOp::create(
              ub, loc, vector::ExtractOp::create(ub, loc, wf, e),
              vector::ExtractOp::create(ub, loc, xv, e), acc);
        result.push_back(acc);
      }
      return result;
    };
    SmallVector<Value> inits(count, zero);
    // Main loop: `stages` independent weight loads, then their products.
    auto main = scf::ForOp::create(
        ob, loc, cIndex(ob, 0), cIndex(ob, mainEnd), cIndex(ob, perIter),
        inits, [&](OpBuilder &lb, Location, Value kk, ValueRange accs) {
          SmallVector<Value> ks, ws;
          for (int64_t st = 0; st < tile.stages; ++st) {
            Value kIdx = arith::AddIOp::create(
                lb, loc, arith::AddIOp::create(lb, loc, kk, laneK),
                cIndex(lb, st * perLoad));
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
        ob, loc, arith::AddIOp::create(ob, loc, cIndex(ob, mainEnd), laneK),
        cIndex(ob, g.k), cIndex(ob, perLoad), main.getResults(),
        [&](OpBuilder &lb, Location, Value kIdx, ValueRange accs) {
          scf::YieldOp::create(
              lb, loc, update(lb, accs, toF32(lb, loadW(lb, kIdx)), kIdx));
        });
    // Butterfly sums across the warp; lane j keeps row j's.
    Value mine;
    for (int64_t j = 0; j < count; ++j) {
      Value v = tail.getResult(j);
      for (int32_t offset = kWarpSize / 2; offset > 0; offset /= 2) {
        Value other = gpu::ShuffleOp::create(ob, loc, v, offset, kWarpSize,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult();
        v = arith::AddFOp::create(ob, loc, v, other);
      }
      if (j == 0) {
        mine = v;
        continue;
      }
      Value isJ = arith::CmpIOp::create(ob, loc, arith::CmpIPredicate::eq,
                                        lane, cIndex(ob, j));
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
                                       rowCount, cIndex(ob, counts[i]));
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
  Value row = arith::AddIOp::create(sb, loc, row0, lane);

  if (!g.epilogue) {
    Value v = mine;
    if (!g.fill)
      v = arith::AddFOp::create(
          sb, loc, memref::LoadOp::create(sb, loc, accBuf, ValueRange{row, col}),
          v);
    memref::StoreOp::create(sb, loc, v, accBuf, ValueRange{row, col});
    return;
  }
  // The epilogue's body at (row, col), the row split into the epilogue's
  // leading dimensions (last fastest).
  linalg::GenericOp epi = g.epilogue;
  SmallVector<Value> loopIdx(epilogueRank);
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
  auto indicesFor = [&](AffineMap map) {
    SmallVector<Value> idx;
    for (AffineExpr e : map.getResults()) {
      if (auto d = dyn_cast<AffineDimExpr>(e))
        idx.push_back(loopIdx[d.getPosition()]);
      else
        idx.push_back(cIndex(sb, cast<AffineConstantExpr>(e).getValue()));
    }
    return idx;
  };
  Block *body = epi.getBlock();
  IRMapping map;
  for (OpOperand &operand : epi->getOpOperands()) {
    BlockArgument arg = body->getArgument(operand.getOperandNumber());
    if (operand.get() == g.accView) {
      Value v = mine;
      if (!g.fill)
        v = arith::AddFOp::create(
            sb, loc,
            memref::LoadOp::create(sb, loc, accBuf, ValueRange{row, col}), v);
      map.map(arg, v);
      continue;
    }
    if (arg.use_empty())
      continue;
    map.map(arg, memref::LoadOp::create(
                     sb, loc, operand.get(),
                     indicesFor(epi.getMatchingIndexingMap(&operand))));
  }
  for (Operation &bodyOp : body->without_terminator()) {
    if (auto index = dyn_cast<linalg::IndexOp>(bodyOp)) {
      map.map(index.getResult(), loopIdx[index.getDim()]);
      continue;
    }
    sb.clone(bodyOp, map);
  }
  auto yield = cast<linalg::YieldOp>(body->getTerminator());
  memref::StoreOp::create(sb, loc, map.lookup(yield.getValues()[0]),
                          epi.getDpsInits()[0], loopIdx);
}

struct GemvToGPUPass : public ds::impl::DSGemvToGPUBase<GemvToGPUPass> {
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
      Tile tile;
      auto attr = op->getAttrOfType<ds::TileAttr>("ds.tile");
      if (attr) {
        FailureOr<Tile> given = tileFromAttr(*g, attr);
        if (failed(given))
          return signalPassFailure();
        tile = *given;
      } else {
        tile = chooseTile(*g, staticRows);
        attr = ds::TileAttr::get(
            &getContext(),
            {tile.rows, tile.warps, kWarpSize * g->vector * tile.stages},
            tile.warps, tile.stages);
      }
      buildKernel(*g, tile, attr);
      if (g->epilogue)
        g->epilogue.erase();
      op.erase();
      if (g->fill)
        g->fill.erase();
    }
  }
};

} // namespace
