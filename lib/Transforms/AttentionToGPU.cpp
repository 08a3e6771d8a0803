//===- AttentionToGPU.cpp - ds.fused_attention as a flash kernel ----------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// See the pass description in Passes.td. One kernel computes
// softmax(scale Q K^T) V for every (sequence, KV head, query row), where a
// KV head's rows are its G query heads at each of the S query positions
// (row = s * G + g, so a warp's rows are few consecutive positions and
// their causal limits nearly agree). Each row belongs to L lanes of a warp
// (R = 32 / L rows a warp); a lane holds D / L query elements and Dv / L
// output accumulators. Keys are read straight from the cache, K at a time:
// each lane's share of the K dot products is summed over its row's lanes
// by a shuffle butterfly, then one online-softmax step (running max m,
// running sum l, accumulators rescaled by exp(m_old - m_new)) folds the K
// keys in. Keys past a row's limit (kv_length, and with `causal` the
// row's position) score -inf; a warp stops at the last key any of its
// rows sees, so causal prefill does about half the work of a full pass.
//
// Two variants of that kernel:
//   - prefill (many rows): warps own different rows, 4 lanes a row;
//   - decode (at most R rows per KV head, i.e. one position): the warps of
//     a block split the keys instead and combine their (m, l, acc) through
//     shared memory at the end (split-KV inside the block).
// When the query length is only known at run time both are built and the
// host picks by the row count.
//
//===----------------------------------------------------------------------===//

#include "GPUUtils.h"

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/Transforms/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/MathExtras.h"

#include <limits>

namespace mlir {
namespace ds {
#define GEN_PASS_DEF_DSATTENTIONTOGPU
#include "ds/Transforms/Passes.h.inc"
} // namespace ds
} // namespace mlir

using namespace mlir;

namespace {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kVectorBytes = 16;
// Static shared memory a block may use without opting in.
constexpr int64_t kMaxSharedBytes = 48 * 1024;

using ds::cIndex;

Value cF32(OpBuilder &b, Location loc, float v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

/// What the kernel needs to know about one ds.fused_attention (buffers).
struct Attention {
  ds::FusedAttentionOp op;
  Value q, k, v, len, out;
  int64_t kvHeads = 0, group = 0, d = 0, dv = 0;
  Type elt;
  bool causal = false;
  float scale = 1.0f;
};

/// One kernel variant: `rows` rows a warp of `lanes` lanes each,
/// `rowWarps` warps on different rows and `keyWarps` splitting the keys,
/// `keys` keys folded per online-softmax step.
struct Variant {
  int64_t rows = 8, lanes = 4, rowWarps = 4, keyWarps = 1, keys = 4;
  /// Issue a step's V loads with its K loads (one memory round trip a
  /// step instead of two), at the cost of the registers holding them.
  bool prefetchValues = false;
  StringRef kind;
  int64_t rowsPerBlock() const { return rows * rowWarps; }
};

/// The largest power of two <= `want` dividing both head sizes.
int64_t lanesFor(const Attention &a, int64_t want) {
  int64_t lanes = want;
  while (lanes > 1 && (a.d % lanes || a.dv % lanes))
    lanes /= 2;
  return lanes;
}

/// Loads `count` consecutive elements of `buffer` at `indices` (the last
/// one `start`) as f32 scalars: 16-byte vector loads where the last
/// dimension has unit stride (aligned when `hasAlignedRows` proves it and
/// `start` is a multiple of the piece), else scalar loads.
SmallVector<Value> loadRun(OpBuilder &b, Location loc, Value buffer,
                           ValueRange outer, Value start, int64_t count) {
  auto type = cast<MemRefType>(buffer.getType());
  Type elt = type.getElementType();
  Type f32 = b.getF32Type();
  int64_t eltBytes = elt.getIntOrFloatBitWidth() / 8;
  SmallVector<int64_t> strides;
  int64_t offset;
  bool unitStride = succeeded(type.getStridesAndOffset(strides, offset)) &&
                    strides.back() == 1;
  auto toF32 = [&](Value x) -> Value {
    return elt == f32 ? x : arith::ExtFOp::create(b, loc, f32, x);
  };
  SmallVector<Value> result;
  SmallVector<Value> indices(outer);
  indices.push_back(start);
  if (!unitStride) {
    for (int64_t i = 0; i < count; ++i) {
      indices.back() = arith::AddIOp::create(b, loc, start, cIndex(b, loc, i));
      result.push_back(
          toF32(memref::LoadOp::create(b, loc, buffer, indices)));
    }
    return result;
  }
  int64_t piece = std::min(count, kVectorBytes / eltBytes);
  while (count % piece)
    piece /= 2;
  int64_t align =
      ds::hasAlignedRows(buffer, piece) ? piece * eltBytes : eltBytes;
  auto vecType = VectorType::get({piece}, elt);
  for (int64_t i = 0; i < count; i += piece) {
    indices.back() = arith::AddIOp::create(b, loc, start, cIndex(b, loc, i));
    Value vec = vector::LoadOp::create(b, loc, vecType, buffer, indices,
                                       /*nontemporal=*/false,
                                       llvm::MaybeAlign(align));
    for (int64_t e = 0; e < piece; ++e)
      result.push_back(toF32(vector::ExtractOp::create(b, loc, vec, e)));
  }
  return result;
}

/// `x` summed over the `lanes` lanes of its row (a butterfly).
Value sumOverRow(OpBuilder &b, Location loc, Value x, int64_t lanes) {
  for (int64_t offset = 1; offset < lanes; offset *= 2)
    x = arith::AddFOp::create(
        b, loc, x,
        gpu::ShuffleOp::create(b, loc, x, offset, kWarpSize,
                               gpu::ShuffleMode::XOR)
            .getShuffleResult());
  return x;
}

/// min(max(x, lo), hi) on indices.
Value clamp(OpBuilder &b, Location loc, Value x, Value lo, Value hi) {
  return arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, x, lo),
                                hi);
}

/// The number of keys query position `s` sees: kv_length (clamped to the
/// buffer), and with causality the keys up to s + kv_length - S.
Value keyLimit(OpBuilder &b, Location loc, const Attention &a, Value s,
               Value seq, Value kvLen) {
  if (!a.causal)
    return kvLen;
  Value last = arith::SubIOp::create(
      b, loc, arith::AddIOp::create(b, loc, s, kvLen), seq);
  return clamp(b, loc, arith::AddIOp::create(b, loc, last, cIndex(b, loc, 1)),
               cIndex(b, loc, 0), kvLen);
}

/// Builds one launch of variant `var` at `b`. Host values: `batch`, `seq`
/// (S), `keys` (T, the key buffer's length), `rowsTotal` (S * G).
void buildLaunch(OpBuilder &b, Location loc, const Attention &a,
                 const Variant &var, Value batch, Value seq, Value keys,
                 Value rowsTotal) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  int64_t lanes = var.lanes, dq = a.d / lanes, dvl = a.dv / lanes;
  int64_t rowsPerBlock = var.rowsPerBlock();
  Value one = cIndex(b, loc, 1);
  Value gridX = arith::CeilDivSIOp::create(b, loc, rowsTotal,
                                           cIndex(b, loc, rowsPerBlock));
  Value gridY =
      arith::MulIOp::create(b, loc, batch, cIndex(b, loc, a.kvHeads));
  Value threads =
      cIndex(b, loc, kWarpSize * var.rowWarps * var.keyWarps);
  auto launch =
      gpu::LaunchOp::create(b, loc, gridX, gridY, one, threads, one, one);
  launch.setFunctionAttr(FlatSymbolRefAttr::get(
      ctx, (var.kind + "_h" + Twine(a.kvHeads * a.group) + "_d" + Twine(a.d))
               .str()));
  launch->setAttr("ds.tile",
                  ds::TileAttr::get(ctx, {rowsPerBlock, var.keys},
                                    var.rowWarps * var.keyWarps, 1));
  // Per key warp and row of the block: Dv accumulators, m and l.
  int64_t slot = a.dv + 2;
  Value partials;
  if (var.keyWarps > 1)
    partials = launch.addWorkgroupAttribution(
        MemRefType::get({var.keyWarps * rowsPerBlock * slot}, f32,
                        AffineMap(),
                        gpu::AddressSpaceAttr::get(
                            ctx, gpu::AddressSpace::Workgroup)),
        loc);

  OpBuilder kb = OpBuilder::atBlockBegin(&launch.getBody().front());
  Value zero = cIndex(kb, loc, 0);
  Value tid = launch.getThreadIds().x;
  Value warp = arith::DivUIOp::create(kb, loc, tid, cIndex(kb, loc, kWarpSize));
  Value lane = arith::RemUIOp::create(kb, loc, tid, cIndex(kb, loc, kWarpSize));
  Value rowWarp =
      arith::RemUIOp::create(kb, loc, warp, cIndex(kb, loc, var.rowWarps));
  Value keyWarp =
      arith::DivUIOp::create(kb, loc, warp, cIndex(kb, loc, var.rowWarps));
  Value rowInWarp =
      arith::DivUIOp::create(kb, loc, lane, cIndex(kb, loc, lanes));
  Value part = arith::RemUIOp::create(kb, loc, lane, cIndex(kb, loc, lanes));
  Value by = launch.getBlockIds().y;
  Value seqIdx = arith::DivUIOp::create(kb, loc, by, cIndex(kb, loc, a.kvHeads));
  Value kvHead =
      arith::RemUIOp::create(kb, loc, by, cIndex(kb, loc, a.kvHeads));
  Value warpBase = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                            cIndex(kb, loc, rowsPerBlock)),
      arith::MulIOp::create(kb, loc, rowWarp, cIndex(kb, loc, var.rows)));
  Value rowInBlock = arith::AddIOp::create(
      kb, loc, arith::MulIOp::create(kb, loc, rowWarp, cIndex(kb, loc, var.rows)),
      rowInWarp);
  Value row = arith::AddIOp::create(kb, loc, warpBase, rowInWarp);
  Value lastRow = arith::SubIOp::create(kb, loc, rowsTotal, one);
  Value valid = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, row,
                                      rowsTotal);
  Value rowc = arith::MinUIOp::create(kb, loc, row, lastRow);
  Value groupC = cIndex(kb, loc, a.group);
  Value s = arith::DivUIOp::create(kb, loc, rowc, groupC);
  Value qHead = arith::AddIOp::create(
      kb, loc, arith::MulIOp::create(kb, loc, kvHead, groupC),
      arith::RemUIOp::create(kb, loc, rowc, groupC));

  // Valid keys of this sequence, clamped to the buffer: bad lengths can
  // hide keys but never make the kernel read outside the cache.
  Value kvLen = keys;
  if (a.len) {
    Value n = memref::LoadOp::create(kb, loc, a.len, ValueRange{seqIdx});
    kvLen = clamp(kb, loc,
                  arith::IndexCastOp::create(kb, loc, kb.getIndexType(), n),
                  zero, keys);
  }
  Value limit = keyLimit(kb, loc, a, s, seq, kvLen);
  // The warp's rows are consecutive and their limits grow with the row,
  // so the warp's last valid row sees the most keys; a warp with no valid
  // row sees none (warp-uniform, as the shuffles need).
  Value warpLast = arith::MinUIOp::create(
      kb, loc, arith::AddIOp::create(kb, loc, warpBase, cIndex(kb, loc, var.rows - 1)),
      lastRow);
  Value warpLimit = arith::SelectOp::create(
      kb, loc,
      arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, warpBase,
                            rowsTotal),
      keyLimit(kb, loc, a, arith::DivUIOp::create(kb, loc, warpLast, groupC),
               seq, kvLen),
      zero);

  // The lane's query elements, pre-scaled.
  Value qStart = arith::MulIOp::create(kb, loc, part, cIndex(kb, loc, dq));
  SmallVector<Value> qv = loadRun(kb, loc, a.q, ValueRange{seqIdx, qHead, s},
                                  qStart, dq);
  Value scale = cF32(kb, loc, a.scale);
  for (Value &x : qv)
    x = arith::MulFOp::create(kb, loc, x, scale);
  Value vStart = arith::MulIOp::create(kb, loc, part, cIndex(kb, loc, dvl));

  Value negInf = cF32(kb, loc, -std::numeric_limits<float>::infinity());
  Value fzero = cF32(kb, loc, 0.0f);
  // exp(x - m) with m = -inf (nothing seen yet) taken as m = 0.
  auto safeMax = [&](OpBuilder &ob, Value m) -> Value {
    Value none = arith::CmpFOp::create(ob, loc, arith::CmpFPredicate::OEQ, m,
                                       negInf);
    return arith::SelectOp::create(ob, loc, none, fzero, m);
  };

  SmallVector<Value> init = {negInf, fzero};
  init.append(dvl, fzero);
  Value steps = arith::CeilDivUIOp::create(kb, loc, warpLimit,
                                           cIndex(kb, loc, var.keys));
  Value lastKey = arith::SubIOp::create(kb, loc, keys, one);
  auto loop = scf::ForOp::create(
      kb, loc, keyWarp, steps, cIndex(kb, loc, var.keyWarps), init,
      [&](OpBuilder &lb, Location, Value step, ValueRange iter) {
        Value first =
            arith::MulIOp::create(lb, loc, step, cIndex(lb, loc, var.keys));
        SmallVector<Value> scores, keyRows, keyIdx;
        SmallVector<SmallVector<Value>> kRows, vRows;
        for (int64_t j = 0; j < var.keys; ++j) {
          Value key = arith::AddIOp::create(lb, loc, first, cIndex(lb, loc, j));
          keyIdx.push_back(key);
          // Past the buffer only in the last step, and masked there.
          Value keyC = arith::MinUIOp::create(lb, loc, key, lastKey);
          keyRows.push_back(keyC);
          kRows.push_back(loadRun(lb, loc, a.k,
                                  ValueRange{seqIdx, kvHead, keyC}, qStart, dq));
        }
        auto loadValues = [&](Value keyC) {
          return loadRun(lb, loc, a.v, ValueRange{seqIdx, kvHead, keyC},
                         vStart, dvl);
        };
        if (var.prefetchValues)
          for (Value keyC : keyRows)
            vRows.push_back(loadValues(keyC));
        for (int64_t j = 0; j < var.keys; ++j) {
          Value key = keyIdx[j];
          ArrayRef<Value> kv = kRows[j];
          Value dot = fzero;
          for (int64_t i = 0; i < dq; ++i)
            dot = math::FmaOp::create(lb, loc, qv[i], kv[i], dot);
          dot = sumOverRow(lb, loc, dot, lanes);
          Value seen = arith::CmpIOp::create(lb, loc, arith::CmpIPredicate::ult,
                                             key, limit);
          scores.push_back(arith::SelectOp::create(lb, loc, seen, dot, negInf));
        }
        Value m = iter[0], l = iter[1];
        Value mNew = m;
        for (Value sc : scores)
          mNew = arith::MaximumFOp::create(lb, loc, mNew, sc);
        Value base = safeMax(lb, mNew);
        Value corr = math::ExpOp::create(
            lb, loc, arith::SubFOp::create(lb, loc, m, base));
        SmallVector<Value> acc;
        for (Value x : iter.drop_front(2))
          acc.push_back(arith::MulFOp::create(lb, loc, x, corr));
        Value lNew = arith::MulFOp::create(lb, loc, l, corr);
        for (int64_t j = 0; j < var.keys; ++j) {
          Value p = math::ExpOp::create(
              lb, loc, arith::SubFOp::create(lb, loc, scores[j], base));
          lNew = arith::AddFOp::create(lb, loc, lNew, p);
          SmallVector<Value> vv =
              var.prefetchValues ? vRows[j] : loadValues(keyRows[j]);
          for (int64_t i = 0; i < dvl; ++i)
            acc[i] = math::FmaOp::create(lb, loc, p, vv[i], acc[i]);
        }
        SmallVector<Value> yield = {mNew, lNew};
        yield.append(acc);
        scf::YieldOp::create(lb, loc, yield);
      });
  Value m = loop.getResult(0), l = loop.getResult(1);
  SmallVector<Value> acc(loop.getResults().drop_front(2));

  if (var.keyWarps > 1) {
    // Park (acc, m, l) per key warp and row, then key warp 0 combines.
    Value slotC = cIndex(kb, loc, slot);
    auto slotBase = [&](OpBuilder &ob, Value kw) -> Value {
      Value r = arith::AddIOp::create(
          ob, loc,
          arith::MulIOp::create(ob, loc, kw, cIndex(ob, loc, rowsPerBlock)),
          rowInBlock);
      return arith::MulIOp::create(ob, loc, r, slotC);
    };
    Value mine = slotBase(kb, keyWarp);
    for (int64_t i = 0; i < dvl; ++i) {
      Value at = arith::AddIOp::create(
          kb, loc, mine,
          arith::AddIOp::create(kb, loc, vStart, cIndex(kb, loc, i)));
      memref::StoreOp::create(kb, loc, acc[i], partials, at);
    }
    Value at = arith::AddIOp::create(kb, loc, mine, cIndex(kb, loc, a.dv));
    memref::StoreOp::create(kb, loc, m, partials, at);
    memref::StoreOp::create(kb, loc, l, partials,
                            Value(arith::AddIOp::create(kb, loc, at, one)));
    gpu::BarrierOp::create(kb, loc);
    Value first = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::eq,
                                        keyWarp, zero);
    valid = arith::AndIOp::create(kb, loc, valid, first);
    // Every lane of key warp 0 reads the others' values (all lanes run
    // this; only valid ones store below).
    SmallVector<Value> ms, ls;
    SmallVector<SmallVector<Value>> accs;
    for (int64_t w = 0; w < var.keyWarps; ++w) {
      Value theirs = slotBase(kb, cIndex(kb, loc, w));
      Value mAt = arith::AddIOp::create(kb, loc, theirs, cIndex(kb, loc, a.dv));
      ms.push_back(memref::LoadOp::create(kb, loc, partials, mAt));
      ls.push_back(memref::LoadOp::create(
          kb, loc, partials, Value(arith::AddIOp::create(kb, loc, mAt, one))));
      SmallVector<Value> row;
      for (int64_t i = 0; i < dvl; ++i)
        row.push_back(memref::LoadOp::create(
            kb, loc, partials,
            Value(arith::AddIOp::create(
                kb, loc, theirs,
                arith::AddIOp::create(kb, loc, vStart, cIndex(kb, loc, i))))));
      accs.push_back(row);
    }
    m = negInf;
    for (Value x : ms)
      m = arith::MaximumFOp::create(kb, loc, m, x);
    Value base = safeMax(kb, m);
    l = fzero;
    acc.assign(dvl, fzero);
    for (int64_t w = 0; w < var.keyWarps; ++w) {
      Value f = math::ExpOp::create(
          kb, loc, arith::SubFOp::create(kb, loc, ms[w], base));
      l = math::FmaOp::create(kb, loc, ls[w], f, l);
      for (int64_t i = 0; i < dvl; ++i)
        acc[i] = math::FmaOp::create(kb, loc, accs[w][i], f, acc[i]);
    }
  }

  // A row that saw no key gives zeros, as the decomposition does.
  Value empty =
      arith::CmpFOp::create(kb, loc, arith::CmpFPredicate::OEQ, l, fzero);
  Value inv = arith::DivFOp::create(
      kb, loc, cF32(kb, loc, 1.0f),
      arith::SelectOp::create(kb, loc, empty, cF32(kb, loc, 1.0f), l));
  auto store = scf::IfOp::create(kb, loc, valid, /*withElse=*/false);
  OpBuilder sb = store.getThenBodyBuilder();
  Type outElt = cast<MemRefType>(a.out.getType()).getElementType();
  for (int64_t i = 0; i < dvl; ++i) {
    Value o = arith::MulFOp::create(sb, loc, acc[i], inv);
    if (outElt != f32)
      o = arith::TruncFOp::create(sb, loc, outElt, o);
    Value col = arith::AddIOp::create(sb, loc, vStart, cIndex(sb, loc, i));
    memref::StoreOp::create(sb, loc, o, a.out,
                            ValueRange{seqIdx, qHead, s, col});
  }
  gpu::TerminatorOp::create(kb, loc);
}

struct AttentionToGPUPass
    : public ds::impl::DSAttentionToGPUBase<AttentionToGPUPass> {
  void runOnOperation() override {
    SmallVector<ds::FusedAttentionOp> ops;
    getOperation().walk([&](ds::FusedAttentionOp op) { ops.push_back(op); });
    for (ds::FusedAttentionOp op : ops) {
      if (op.hasPureTensorSemantics() || op->getNumResults()) {
        op.emitOpError("expected the buffer form (run after bufferization)");
        return signalPassFailure();
      }
      Attention a;
      a.op = op;
      a.q = op.getQuery();
      a.k = op.getKey();
      a.v = op.getValue();
      a.len = op.getKvLength();
      a.out = op.getInit();
      auto qType = cast<MemRefType>(a.q.getType());
      auto kType = cast<MemRefType>(a.k.getType());
      auto vType = cast<MemRefType>(a.v.getType());
      int64_t qHeads = qType.getDimSize(1);
      a.kvHeads = kType.getDimSize(1);
      a.d = qType.getDimSize(3);
      a.dv = vType.getDimSize(3);
      if (ShapedType::isDynamic(qHeads) || ShapedType::isDynamic(a.kvHeads) ||
          ShapedType::isDynamic(a.d) || ShapedType::isDynamic(a.dv)) {
        op.emitOpError("expected static head counts and head sizes");
        return signalPassFailure();
      }
      a.group = qHeads / a.kvHeads;
      a.elt = qType.getElementType();
      a.causal = op.getCausal();
      a.scale = op.getScale().convertToFloat();

      // Prefill: 8 rows a warp (4 lanes each when the head sizes allow),
      // 4 warps on different rows. Decode: the G heads of one position a
      // warp, its lanes split between them, 16 warps splitting the keys
      // (a block per sequence and KV head is all the parallelism there
      // is, so each warp should take few steps).
      Variant prefill;
      prefill.lanes = lanesFor(a, 4);
      prefill.rows = kWarpSize / prefill.lanes;
      prefill.kind = "flash_attention";
      // Measured on an H200 (512-token Llama-1B prefill, time to first
      // token): V loaded with K 11.6 ms, after the scores 12.2; 2 keys a
      // step 12.4, 8 keys 11.8; 2 or 8 row warps 11.6 and 12.1.
      prefill.prefetchValues = true;
      Variant decode;
      decode.lanes = lanesFor(
          a, kWarpSize / std::min<int64_t>(llvm::PowerOf2Ceil(a.group), 8));
      decode.rows = kWarpSize / decode.lanes;
      decode.rowWarps = 1;
      decode.keyWarps = std::clamp<int64_t>(
          kMaxSharedBytes / (decode.rows * (a.dv + 2) * 4), 1, 16);
      decode.prefetchValues = true;
      decode.kind = "flash_decode";

      OpBuilder b(op);
      Location loc = op.getLoc();
      Value batch = memref::DimOp::create(b, loc, a.q, 0);
      Value seq = memref::DimOp::create(b, loc, a.q, 2);
      Value keys = memref::DimOp::create(b, loc, a.k, 2);
      Value rowsTotal = arith::MulIOp::create(
          b, loc, seq, cIndex(b, loc, a.group));
      Value work = arith::AndIOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, rowsTotal,
                                cIndex(b, loc, 0)),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sgt, batch,
                                cIndex(b, loc, 0)));
      int64_t staticSeq = qType.getDimSize(2);
      bool decodeOnly = !ShapedType::isDynamic(staticSeq) &&
                        staticSeq * a.group <= decode.rows;
      bool prefillOnly = !ShapedType::isDynamic(staticSeq) && !decodeOnly;
      auto guard = scf::IfOp::create(b, loc, work, /*withElse=*/false);
      OpBuilder gb = guard.getThenBodyBuilder();
      if (decodeOnly || prefillOnly) {
        buildLaunch(gb, loc, a, decodeOnly ? decode : prefill, batch, seq,
                    keys, rowsTotal);
      } else {
        Value few = arith::CmpIOp::create(gb, loc, arith::CmpIPredicate::sle,
                                          rowsTotal,
                                          cIndex(gb, loc, decode.rows));
        // One of the two runs per call (ds-record-alternative-launches).
        auto dispatch = scf::IfOp::create(
            gb, loc, few,
            [&](OpBuilder &tb, Location) {
              buildLaunch(tb, loc, a, decode, batch, seq, keys, rowsTotal);
              scf::YieldOp::create(tb, loc);
            },
            [&](OpBuilder &eb, Location) {
              buildLaunch(eb, loc, a, prefill, batch, seq, keys, rowsTotal);
              scf::YieldOp::create(eb, loc);
            });
        ds::markAlternatives(dispatch);
      }
      op.erase();
    }
  }
};

} // namespace
