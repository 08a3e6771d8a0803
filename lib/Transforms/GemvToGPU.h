//===- GemvToGPU.h - linear-layer kernels (internal) ------------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Shared between the matching side of ds-gemv-to-gpu (GemvToGPU.cpp) and
// the kernel builders (GemvKernels.cpp, GemvMmaKernels.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_TRANSFORMS_GEMVTOGPU_H
#define DS_LIB_TRANSFORMS_GEMVTOGPU_H

#include "GPUUtils.h"

#include "ds/Dialect/DS/IR/DSAttrs.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::ds::gemv {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kVectorBytes = 16;
// The tensor-core kernel: mma.sync m16n8k16, two per 32-element K step.
constexpr int64_t kMmaRows = 16, kMmaCols = 8, kMmaStep = 32;
// Up to this many rows the CUDA-core kernel is the faster (measured on an
// H200: 23 us against 31 us for Llama-1B's gate/up GEMV at batch 1).
constexpr int64_t kMmaMinRows = 4;
// The tiled tensor-core GEMM (prefill's many rows): blocks of 2 x 2 warps,
// each warp 32 rows x 32 columns (2 x 4 mma tiles), so every 16-byte load
// feeds 2 or 4 mma's instead of the GEMV kernel's 2 for 3 loads.
constexpr int64_t kGemmWarpRows = 32, kGemmWarpCols = 32;
constexpr int64_t kGemmWarpsM = 2, kGemmWarpsN = 2;
constexpr int64_t kGemmRows = kGemmWarpRows * kGemmWarpsM;
constexpr int64_t kGemmCols = kGemmWarpCols * kGemmWarpsN;
// More rows than this take the GEMM kernel; up to it the GEMV kernel, which
// reads the weight once, stays memory-bound (decode up to batch 64).
constexpr int64_t kGemmMinRows = 64;

using ds::cIndex;

/// An elementwise op that combines the two halves of a GEMV's output
/// (columns [0, N/2) and [N/2, N) of the epilogue's output, both read at
/// the same point): SwiGLU over a merged gate/up projection. The CUDA-core
/// kernel computes both halves of a pair in one block and runs this op's
/// body as its epilogue, so the halves are never stored.
struct PairConsumer {
  linalg::GenericOp op;
  unsigned low = 0, high = 0; // op's input operands reading the halves
};

/// A norm whose output is the GEMV's activation, folded into the
/// CUDA-core kernel: `op` writes the activation from a row sum (`reduction`
/// of what `op` reads through input `summed`, from a zero `fill`) and
/// inputs indexed along K, as a product `colFactors x rowFactors /
/// rowDivisors` (values of `op`'s body; casts between the factors dropped).
/// The kernel multiplies each weight element by the column factors,
/// accumulates the row sum from the activation elements it loads anyway,
/// and scales the row's dot product by the row factors at the end: the
/// activation is never stored, and the norm is no kernel of its own. An
/// RMSNorm `w * bf16(x * rsqrt(sum / K + eps))` becomes
/// `rsqrt(sum / K + eps) * dot(W, w * x)` in f32, without the activation's
/// two bf16 roundings.
struct NormFold {
  linalg::GenericOp op;        // all-parallel; writes the activation
  linalg::GenericOp reduction; // the row sum `op` reads
  linalg::FillOp fill;         // the sum's zero fill
  unsigned sumInput = 0;       // `op`'s input operand reading the sum
  unsigned summed = 0;         // `op`'s input operand the reduction sums
  SmallVector<Value> colFactors, rowFactors, rowDivisors;
};

// A norm folds into CUDA-core GEMV grids of at most this many blocks.
constexpr int64_t kNormFoldMaxBlocks = 1024;

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
  PairConsumer pair;          // folded into the CUDA-core kernel, or none
  NormFold norm;              // folded into the CUDA-core kernel, or none
};

/// The GEMV tile: `rows` activation rows a block, `warps` columns a block
/// (one per warp), `stages` vector loads in flight per lane.
struct Tile {
  int64_t rows = 0, warps = 0, stages = 0;
  /// The CUDA-core kernel: `splitK` warps share a column, each taking a
  /// contiguous K / splitK of it, their sums meeting in shared memory
  /// (`warps / splitK` columns a block). Recorded in `#ds.tile` as
  /// `warps` > sizes[1].
  int64_t splitK = 1;
  /// The tensor-core kernel: 16 rows and 8 columns a block, `warps`
  /// splitting K, `stages` 32-element steps in flight per warp.
  bool mma = false;
  /// The tiled tensor-core GEMM: kGemmRows x kGemmCols a block of
  /// kGemmWarpsM x kGemmWarpsN warps, `stages` K steps in flight.
  bool gemm = false;
  /// Open the tensor-core GEMV with L2 prefetches of its weights (the
  /// pass's `prefetch-weights`).
  bool prefetch = false;
};

/// The host side of a GEMV kernel, built where `g`'s last op was (the
/// epilogue's output may be allocated after the matmul, and nothing in
/// between touches memory), and the kernel's common prologue.
struct KernelFrame {
  gpu::LaunchOp launch;
  Value x, w;                   // the activation [M, K], the weight [N, K]
  int64_t xAlign = 0;           // provable alignment of x's 16-byte loads
  Value rows;                   // M (host)
  SmallVector<Value> leadSizes; // the epilogue's leading extents (host)
  Value warp, lane;             // in the kernel
};

/// Builds the launch of `g` at `b`: ceil(N / columnsPerBlock) x
/// ceil(M / rowsPerBlock) blocks of `warps` warps, outlined as
/// <kind>_<N>x<K>, with `tileAttr` recorded (GemvKernels.cpp).
KernelFrame buildFrame(OpBuilder &b, Gemv g, int64_t columnsPerBlock,
                       int64_t rowsPerBlock, int64_t warps,
                       ds::TileAttr tileAttr, StringRef kind);

/// Writes the GEMV's f32 result `mine` for (row, col): the accumulator's
/// (plus its old value when no zero fill preceded), or the epilogue body's
/// at that point, the row split into the epilogue's leading dimensions
/// with `leadSizes` (GemvKernels.cpp).
void emitOutput(OpBuilder &sb, Location loc, Gemv g, ArrayRef<Value> leadSizes,
                Value row, Value col, Value mine);

/// Kernel builders: buildKernel in GemvKernels.cpp, buildMmaKernel and
/// buildGemmKernel in GemvMmaKernels.cpp. Each inserts a gpu.launch of `g`
/// with `tile` at `b` (where `g`'s last op was: the epilogue's output may
/// be allocated after the matmul, and nothing in between touches memory),
/// recording `tileAttr` on it; the caller erases `g`'s ops.
void buildKernel(OpBuilder &b, Gemv g, const Tile &tile, ds::TileAttr tileAttr);
void buildMmaKernel(OpBuilder &b, Gemv g, const Tile &tile,
                    ds::TileAttr tileAttr);
void buildGemmKernel(OpBuilder &b, Gemv g, const Tile &tile,
                     ds::TileAttr tileAttr);

} // namespace mlir::ds::gemv

#endif // DS_LIB_TRANSFORMS_GEMVTOGPU_H
