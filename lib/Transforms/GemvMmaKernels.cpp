//===- GemvMmaKernels.cpp - tensor-core kernels for ds-gemv-to-gpu --------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The tensor-core gpu.launch bodies of ds-gemv-to-gpu: the GEMV for a few
// rows (decode at batch 5 to 64) and the tiled GEMM (prefill), both on
// mma.sync m16n8k16 and writing through the layer's epilogue
// (GemvKernels.cpp has the kernel frame, the epilogue and the CUDA-core
// GEMV).
//
//===----------------------------------------------------------------------===//

#include "GemvToGPU.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::ds::gemv;

namespace {

/// Brings into L2 the weight bytes this warp will stream: `rowCount` rows
/// from `firstRow` (clamped to the last), `span` elements each from
/// `kBegin`. The lanes share the rows, each issuing
/// `cp.async.bulk.prefetch.L2` of one contiguous chunk (16-byte multiple,
/// clamped to the buffer's end), one round (the tensor-core GEMV's warp
/// streams 8 rows x at most a few KiB). Straight-line code at the kernel's
/// start, before anything touches memory: ds-gpu-programmatic-launch
/// leaves it ahead of `griddepcontrol.wait`, so under programmatic launch
/// the weights stream in while the kernel before is still running (they
/// never depend on it, and L2 is where the GPU's global memory is
/// coherent, so a prefetch cannot make a later load stale).
void emitWeightPrefetch(OpBuilder &b, Location loc, Gemv g, Value w,
                        Value lane, Value firstRow, int64_t rowCount,
                        Value kBegin, int64_t span) {
  int64_t elementBytes = g.elementType.getIntOrFloatBitWidth() / 8;
  int64_t spanBytes = span * elementBytes;
  int64_t lanesPerRow = std::max<int64_t>(1, kWarpSize / rowCount);
  int64_t chunk =
      std::max<int64_t>(16, llvm::divideCeil(spanBytes, lanesPerRow * 16) * 16);
  int64_t chunksPerRow = llvm::divideCeil(spanBytes, chunk);
  int64_t chunks = rowCount * chunksPerRow;
  int64_t bufferBytes = g.n * g.k * elementBytes;
  // A chunk per lane at most, inside the buffer (span <= K, rows <= 32).
  assert(chunks <= kWarpSize && chunk <= bufferBytes && "one round");
  MLIRContext *ctx = b.getContext();
  Value t = lane;
  if (chunks < kWarpSize)
    t = arith::MinUIOp::create(b, loc, t, cIndex(b, loc, chunks - 1));
  Value row = arith::MinUIOp::create(
      b, loc,
      arith::AddIOp::create(
          b, loc, firstRow,
          arith::DivUIOp::create(b, loc, t, cIndex(b, loc, chunksPerRow))),
      cIndex(b, loc, g.n - 1));
  Value piece = arith::RemUIOp::create(b, loc, t, cIndex(b, loc, chunksPerRow));
  // (row * K + kBegin) * bytes + piece * chunk, the chunk inside the buffer.
  Value offset = arith::AddIOp::create(
      b, loc,
      arith::MulIOp::create(
          b, loc,
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, row, cIndex(b, loc, g.k)),
              kBegin),
          cIndex(b, loc, elementBytes)),
      arith::MulIOp::create(b, loc, piece, cIndex(b, loc, chunk)));
  offset = arith::MinUIOp::create(b, loc, offset,
                                  cIndex(b, loc, bufferBytes - chunk));
  Value base = arith::IndexCastUIOp::create(
      b, loc, b.getI64Type(),
      memref::ExtractAlignedPointerAsIndexOp::create(b, loc, w));
  Value address = arith::AddIOp::create(
      b, loc, base, arith::IndexCastUIOp::create(b, loc, b.getI64Type(), offset));
  Value pointer = LLVM::IntToPtrOp::create(
      b, loc, LLVM::LLVMPointerType::get(ctx), address);
  Value global = LLVM::AddrSpaceCastOp::create(
      b, loc, LLVM::LLVMPointerType::get(ctx, 1), pointer);
  NVVM::CpAsyncBulkPrefetchOp::create(
      b, loc, global,
      arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(chunk)), Value());
}

/// acc (4 f32: D[r][2g..], D[r + 8][2g..] for lane l = 4r + g) += the two
/// mma.sync m16n8k16 products of one 32-element K step, from the lane's
/// 16-byte loads of elements [8g, 8g + 8) of activation rows r and r + 8
/// (`lo`, `hi`) and of weight row r (`w`). The K order inside a step does
/// not change the sum, so those 8 elements are the lane's share of two
/// mma's: A fragment {lo[0:2], hi[0:2], lo[2:4], hi[2:4]} and B fragment
/// {w[0:2], w[2:4]} for the first, [4:8] for the second; both operands use
/// the same permutation of K.
SmallVector<Value> mmaStep(OpBuilder &mb, Location loc, Type elementType,
                           Value w, Value lo, Value hi, ValueRange acc) {
  MLIRContext *ctx = mb.getContext();
  Type i32 = mb.getI32Type(), f32 = mb.getF32Type();
  auto fragmentType =
      LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  NVVM::MMATypes ptxType =
      elementType.isBF16() ? NVVM::MMATypes::bf16 : NVVM::MMATypes::f16;
  // Packs element pairs of `v` (2n elements) into n registers: i32 for
  // bf16, vector<2xf16> for f16 (the operand types nvvm.mma.sync takes).
  auto pack = [&](Value v) -> SmallVector<Value> {
    int64_t n = cast<VectorType>(v.getType()).getNumElements() / 2;
    SmallVector<Value> regs;
    if (elementType.isF16()) {
      for (int64_t i = 0; i < n; ++i)
        regs.push_back(vector::ShuffleOp::create(
            mb, loc, v, v, ArrayRef<int64_t>{2 * i, 2 * i + 1}));
      return regs;
    }
    Value words =
        vector::BitCastOp::create(mb, loc, VectorType::get({n}, i32), v);
    for (int64_t i = 0; i < n; ++i)
      regs.push_back(vector::ExtractOp::create(mb, loc, words, i));
    return regs;
  };
  SmallVector<Value> c(acc);
  for (int64_t half = 0; half < 2; ++half) {
    int64_t e = 4 * half;
    Value a = vector::ShuffleOp::create(
        mb, loc, lo, hi,
        ArrayRef<int64_t>{e, e + 1, 8 + e, 9 + e, e + 2, e + 3, 10 + e,
                          11 + e});
    Value bv = vector::ShuffleOp::create(
        mb, loc, w, w, ArrayRef<int64_t>{e, e + 1, e + 2, e + 3});
    auto mma = NVVM::MmaOp::create(
        mb, loc, fragmentType, pack(a), pack(bv), c,
        ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
        std::array<NVVM::MMATypes, 2>{ptxType, ptxType},
        std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                       NVVM::MMALayout::col});
    for (int64_t i = 0; i < 4; ++i)
      c[i] = LLVM::ExtractValueOp::create(mb, loc, mma.getResult(), i);
  }
  return c;
}

} // namespace

/// The tensor-core kernel (bf16/f16): a block owns 8 columns and 16 rows;
/// its warps split K and run mma.sync m16n8k16 over their share in steps of
/// 32, then sum their fragments through shared memory and warp 0 writes.
/// Lane l (group g = l % 4, row r = l / 4) loads 16 bytes per step:
/// W[n0 + r, k + 8g ..] and the same K slice of activation rows r and
/// r + 8. The K order inside a step does not change the sum, so those 8
/// elements are the lane's share of two mma's: A fragment {x_r[0:2],
/// x_r+8[0:2], x_r[2:4], x_r+8[2:4]} and B fragment {w[0:2], w[2:4]} for
/// the first, [4:8] for the second; both operands use the same permutation
/// of K. The weight is read once, in coalesced 64-byte row pieces, and the
/// multiply costs two instructions per 16 bytes: batch 16 stays
/// memory-bound. Rows past M are clamped (read, never stored).
void mlir::ds::gemv::buildMmaKernel(OpBuilder &b, Gemv g, const Tile &tile,
                    ds::TileAttr tileAttr) {
  linalg::MatmulOp op = g.matmul;
  Location loc = op.getLoc();
  MLIRContext *ctx = op.getContext();
  KernelFrame frame =
      buildFrame(b, g, kMmaCols, kMmaRows, tile.warps, tileAttr, "gemv_mma");
  gpu::LaunchOp launch = frame.launch;
  Value x = frame.x, w = frame.w, rows = frame.rows, lane = frame.lane,
        warp = frame.warp;
  int64_t xAlign = frame.xAlign;
  // Each warp's four accumulator values, per lane.
  auto partialsType = MemRefType::get(
      {tile.warps, kWarpSize * 4}, Float32Type::get(ctx), AffineMap(),
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup));
  Value partials = launch.addWorkgroupAttribution(partialsType, loc);

  OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
  Value n0 = arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                                   cIndex(kb, loc, kMmaCols));
  Value group = arith::RemUIOp::create(kb, loc, lane, cIndex(kb, loc, 4));
  Value r = arith::DivUIOp::create(kb, loc, lane, cIndex(kb, loc, 4));
  Value m0 = arith::MulIOp::create(kb, loc, launch.getBlockIds().y,
                                   cIndex(kb, loc, kMmaRows));
  Value lastRow = arith::SubIOp::create(kb, loc, rows, cIndex(kb, loc, 1));
  Value wRow = arith::MinUIOp::create(kb, loc,
                                      arith::AddIOp::create(kb, loc, n0, r),
                                      cIndex(kb, loc, g.n - 1));
  Value xLo = arith::MinSIOp::create(kb, loc,
                                     arith::AddIOp::create(kb, loc, m0, r),
                                     lastRow);
  Value xHi = arith::MinSIOp::create(
      kb, loc,
      arith::AddIOp::create(kb, loc, m0,
                            arith::AddIOp::create(kb, loc, r, cIndex(kb, loc, 8))),
      lastRow);
  Value kOff = arith::MulIOp::create(kb, loc, group, cIndex(kb, loc, 8));
  // This warp's K range: [kBegin, kEnd), whole steps.
  int64_t perWarp = llvm::divideCeil(g.k / kMmaStep, tile.warps) * kMmaStep;
  Value kBegin = arith::MinUIOp::create(
      kb, loc, arith::MulIOp::create(kb, loc, warp, cIndex(kb, loc, perWarp)),
      cIndex(kb, loc, g.k));
  Value kEnd = arith::MinUIOp::create(
      kb, loc, arith::AddIOp::create(kb, loc, kBegin, cIndex(kb, loc, perWarp)),
      cIndex(kb, loc, g.k));
  // The block's 8 weight rows over this warp's K range.
  if (tile.prefetch)
    emitWeightPrefetch(kb, loc, g, w, lane, n0, kMmaCols, kBegin, perWarp);

  auto vec8 = VectorType::get({8}, g.elementType);
  // One step: three 16-byte loads, two mma's.
  struct Loads {
    Value w, lo, hi;
  };
  auto load = [&](OpBuilder &lb, Value kIdx) -> Loads {
    return {vector::LoadOp::create(lb, loc, vec8, w, ValueRange{wRow, kIdx},
                                   false, llvm::MaybeAlign(kVectorBytes)),
            vector::LoadOp::create(lb, loc, vec8, x, ValueRange{xLo, kIdx},
                                   false, llvm::MaybeAlign(xAlign)),
            vector::LoadOp::create(lb, loc, vec8, x, ValueRange{xHi, kIdx},
                                   false, llvm::MaybeAlign(xAlign))};
  };
  auto multiply = [&](OpBuilder &mb, const Loads &l, ValueRange acc) {
    return mmaStep(mb, loc, g.elementType, l.w, l.lo, l.hi, acc);
  };

  Value zero = arith::ConstantOp::create(kb, loc, kb.getF32FloatAttr(0.0f));
  int64_t perIter = kMmaStep * tile.stages;
  Value mainEnd = arith::AddIOp::create(
      kb, loc, kBegin,
      arith::MulIOp::create(
          kb, loc,
          arith::DivUIOp::create(
              kb, loc, arith::SubIOp::create(kb, loc, kEnd, kBegin),
              cIndex(kb, loc, perIter)),
          cIndex(kb, loc, perIter)));
  SmallVector<Value> inits(4 * tile.stages, zero);
  // Main loop: the loads of `stages` steps first, then their mma's, each
  // step into its own accumulator (independent mma chains).
  auto main = scf::ForOp::create(
      kb, loc, kBegin, mainEnd, cIndex(kb, loc, perIter), inits,
      [&](OpBuilder &lb, Location, Value kk, ValueRange accs) {
        SmallVector<Loads> loads;
        for (int64_t st = 0; st < tile.stages; ++st)
          loads.push_back(load(
              lb, arith::AddIOp::create(
                      lb, loc, arith::AddIOp::create(lb, loc, kk, kOff),
                      cIndex(lb, loc, st * kMmaStep))));
        SmallVector<Value> next;
        for (int64_t st = 0; st < tile.stages; ++st)
          llvm::append_range(next,
                             multiply(lb, loads[st], accs.slice(4 * st, 4)));
        scf::YieldOp::create(lb, loc, next);
      });
  auto tail = scf::ForOp::create(
      kb, loc, mainEnd, kEnd, cIndex(kb, loc, kMmaStep),
      main.getResults().take_front(4),
      [&](OpBuilder &lb, Location, Value kk, ValueRange acc) {
        Value kIdx = arith::AddIOp::create(lb, loc, kk, kOff);
        scf::YieldOp::create(lb, loc, multiply(lb, load(lb, kIdx), acc));
      });
  SmallVector<Value> d(tail.getResults());
  for (int64_t st = 1; st < tile.stages; ++st)
    for (int64_t i = 0; i < 4; ++i)
      d[i] = arith::AddFOp::create(kb, loc, d[i], main.getResult(4 * st + i));

  // Warps' fragments through shared memory; warp 0 sums and writes.
  Value slot = arith::MulIOp::create(kb, loc, lane, cIndex(kb, loc, 4));
  for (int64_t i = 0; i < 4; ++i)
    memref::StoreOp::create(
        kb, loc, d[i], partials,
        ValueRange{warp, arith::AddIOp::create(kb, loc, slot, cIndex(kb, loc, i))});
  gpu::BarrierOp::create(kb, loc);
  Value first = arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::eq, warp,
                                      cIndex(kb, loc, 0));
  auto writer = scf::IfOp::create(kb, loc, first, /*withElse=*/false);
  gpu::TerminatorOp::create(kb, loc);

  OpBuilder ib = writer.getThenBodyBuilder();
  // Lane l holds D[r][2g + j] and D[r + 8][2g + j], j = 0, 1.
  Value col0 = arith::AddIOp::create(
      ib, loc, n0, arith::MulIOp::create(ib, loc, group, cIndex(ib, loc, 2)));
  for (int64_t i = 0; i < 4; ++i) {
    Value idx = arith::AddIOp::create(ib, loc, slot, cIndex(ib, loc, i));
    Value v = memref::LoadOp::create(ib, loc, partials,
                                     ValueRange{cIndex(ib, loc, 0), idx});
    for (int64_t wi = 1; wi < tile.warps; ++wi)
      v = arith::AddFOp::create(
          ib, loc, v,
          memref::LoadOp::create(ib, loc, partials,
                                 ValueRange{cIndex(ib, loc, wi), idx}));
    Value row = arith::AddIOp::create(
        ib, loc, m0, arith::AddIOp::create(ib, loc, r, cIndex(ib, loc, 8 * (i / 2))));
    Value col = arith::AddIOp::create(ib, loc, col0, cIndex(ib, loc, i % 2));
    Value ok = arith::AndIOp::create(
        ib, loc,
        arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::slt, row, rows),
        arith::CmpIOp::create(ib, loc, arith::CmpIPredicate::ult, col,
                              cIndex(ib, loc, g.n)));
    auto store = scf::IfOp::create(ib, loc, ok, /*withElse=*/false);
    OpBuilder sb = store.getThenBodyBuilder();
    emitOutput(sb, loc, g, frame.leadSizes, row, col, v);
  }
}

/// The tiled tensor-core GEMM (bf16/f16) for many rows (prefill): a block
/// of kGemmWarpsM x kGemmWarpsN warps owns kGemmRows x kGemmCols outputs,
/// each warp a 32 x 32 tile of 2 x 4 m16n8k16 fragments over the whole K.
/// Per 32-element K step, lane l = 4r + g loads 16 bytes (elements
/// [8g, 8g + 8)) of the 4 weight rows n0 + 8j + r and of the 4 activation
/// rows m0 + 16i + r (+ 8), and runs the 16 mma's they feed (mmaStep);
/// `stages` steps' loads are issued before their mma's. The warps of a
/// block share rows and columns through L1. No shared memory and no K
/// split: each lane ends with its fragments and writes them through the
/// epilogue. Rows and columns past the edges are clamped (read, never
/// stored).
void mlir::ds::gemv::buildGemmKernel(OpBuilder &b, Gemv g, const Tile &tile,
                     ds::TileAttr tileAttr) {
  Location loc = g.matmul.getLoc();
  constexpr int64_t mt = kGemmWarpRows / kMmaRows; // m16 tiles a warp
  constexpr int64_t nt = kGemmWarpCols / kMmaCols; // n8 tiles a warp
  KernelFrame frame = buildFrame(b, g, kGemmCols, kGemmRows,
                                 kGemmWarpsM * kGemmWarpsN, tileAttr,
                                 "gemm_mma");
  gpu::LaunchOp launch = frame.launch;
  Value x = frame.x, w = frame.w, rows = frame.rows, lane = frame.lane,
        warp = frame.warp;
  OpBuilder kb = OpBuilder::atBlockEnd(&launch.getBody().front());
  Value m0 = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc, launch.getBlockIds().y,
                            cIndex(kb, loc, kGemmRows)),
      arith::MulIOp::create(
          kb, loc,
          arith::DivUIOp::create(kb, loc, warp, cIndex(kb, loc, kGemmWarpsN)),
          cIndex(kb, loc, kGemmWarpRows)));
  Value n0 = arith::AddIOp::create(
      kb, loc,
      arith::MulIOp::create(kb, loc, launch.getBlockIds().x,
                            cIndex(kb, loc, kGemmCols)),
      arith::MulIOp::create(
          kb, loc,
          arith::RemUIOp::create(kb, loc, warp, cIndex(kb, loc, kGemmWarpsN)),
          cIndex(kb, loc, kGemmWarpCols)));
  Value group = arith::RemUIOp::create(kb, loc, lane, cIndex(kb, loc, 4));
  Value r = arith::DivUIOp::create(kb, loc, lane, cIndex(kb, loc, 4));
  Value kOff = arith::MulIOp::create(kb, loc, group, cIndex(kb, loc, 8));
  Value lastRow = arith::SubIOp::create(kb, loc, rows, cIndex(kb, loc, 1));
  // The rows this lane loads: weight rows n0 + 8j + r, activation rows
  // m0 + 16i + r and + 8 (clamped).
  // Rows base + r + 8i, i < count, clamped to `last` (the same rows the
  // GEMV kernels clamp: unsigned for the weight, signed for the
  // activation, whose last row is M - 1).
  auto clampedRows = [&](Value base, int64_t count, Value last,
                         bool isSigned) {
    SmallVector<Value> rowsAt;
    for (int64_t i = 0; i < count; ++i) {
      Value row = arith::AddIOp::create(
          kb, loc, base,
          arith::AddIOp::create(kb, loc, r, cIndex(kb, loc, 8 * i)));
      rowsAt.push_back(
          isSigned ? arith::MinSIOp::create(kb, loc, row, last).getResult()
                   : arith::MinUIOp::create(kb, loc, row, last).getResult());
    }
    return rowsAt;
  };
  SmallVector<Value> wRows =
      clampedRows(n0, nt, cIndex(kb, loc, g.n - 1), /*isSigned=*/false);
  SmallVector<Value> xRows =
      clampedRows(m0, 2 * mt, lastRow, /*isSigned=*/true);

  auto vec8 = VectorType::get({8}, g.elementType);
  // One step's loads: nt weight pieces, then 2 * mt activation pieces.
  auto load = [&](OpBuilder &lb, Value kIdx) {
    SmallVector<Value> v;
    for (Value row : wRows)
      v.push_back(vector::LoadOp::create(lb, loc, vec8, w, ValueRange{row, kIdx},
                                         false, llvm::MaybeAlign(kVectorBytes)));
    for (Value row : xRows)
      v.push_back(vector::LoadOp::create(lb, loc, vec8, x, ValueRange{row, kIdx},
                                         false,
                                         llvm::MaybeAlign(frame.xAlign)));
    return v;
  };
  // Accumulators: fragment (i, j) at 4 * (i * nt + j).
  auto multiply = [&](OpBuilder &mb, ArrayRef<Value> l, ValueRange acc) {
    SmallVector<Value> next;
    for (int64_t i = 0; i < mt; ++i)
      for (int64_t j = 0; j < nt; ++j)
        llvm::append_range(
            next, mmaStep(mb, loc, g.elementType, l[j], l[nt + 2 * i],
                          l[nt + 2 * i + 1], acc.slice(4 * (i * nt + j), 4)));
    return next;
  };
  Value zero = arith::ConstantOp::create(kb, loc, kb.getF32FloatAttr(0.0f));
  int64_t perIter = kMmaStep * tile.stages;
  Value mainEnd = cIndex(kb, loc, g.k / perIter * perIter);
  SmallVector<Value> inits(4 * mt * nt, zero);
  auto main = scf::ForOp::create(
      kb, loc, cIndex(kb, loc, 0), mainEnd, cIndex(kb, loc, perIter), inits,
      [&](OpBuilder &lb, Location, Value kk, ValueRange accs) {
        SmallVector<SmallVector<Value>> loads;
        for (int64_t st = 0; st < tile.stages; ++st)
          loads.push_back(load(
              lb, arith::AddIOp::create(
                      lb, loc, arith::AddIOp::create(lb, loc, kk, kOff),
                      cIndex(lb, loc, st * kMmaStep))));
        SmallVector<Value> acc(accs);
        for (int64_t st = 0; st < tile.stages; ++st)
          acc = multiply(lb, loads[st], acc);
        scf::YieldOp::create(lb, loc, acc);
      });
  auto tail = scf::ForOp::create(
      kb, loc, mainEnd, cIndex(kb, loc, g.k), cIndex(kb, loc, kMmaStep),
      main.getResults(),
      [&](OpBuilder &lb, Location, Value kk, ValueRange acc) {
        Value kIdx = arith::AddIOp::create(lb, loc, kk, kOff);
        scf::YieldOp::create(lb, loc, multiply(lb, load(lb, kIdx), acc));
      });

  // Lane l holds D[r + 8h][2g + e] of each fragment (value 2h + e).
  Value col0 = arith::AddIOp::create(
      kb, loc, n0, arith::MulIOp::create(kb, loc, group, cIndex(kb, loc, 2)));
  Value row0 = arith::AddIOp::create(kb, loc, m0, r);
  for (int64_t i = 0; i < mt; ++i)
    for (int64_t j = 0; j < nt; ++j)
      for (int64_t v = 0; v < 4; ++v) {
        Value row = arith::AddIOp::create(
            kb, loc, row0, cIndex(kb, loc, kMmaRows * i + 8 * (v / 2)));
        Value col = arith::AddIOp::create(
            kb, loc, col0, cIndex(kb, loc, kMmaCols * j + v % 2));
        Value ok = arith::AndIOp::create(
            kb, loc,
            arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::slt, row,
                                  rows),
            arith::CmpIOp::create(kb, loc, arith::CmpIPredicate::ult, col,
                                  cIndex(kb, loc, g.n)));
        auto store = scf::IfOp::create(kb, loc, ok, /*withElse=*/false);
        OpBuilder sb = store.getThenBodyBuilder();
        emitOutput(sb, loc, g, frame.leadSizes, row, col,
                   tail.getResult(4 * (i * nt + j) + v));
      }
  gpu::TerminatorOp::create(kb, loc);
}
