//===- GPUUtils.h - helpers of the kernel-building passes (internal) -*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Shared by the passes that build gpu.launch bodies (ds-map-to-gpu,
// ds-reductions-to-gpu, ds-gemv-to-gpu, ds-attention-to-gpu).
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_TRANSFORMS_GPUUTILS_H
#define DS_LIB_TRANSFORMS_GPUUTILS_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::ds {

/// An index constant.
inline Value cIndex(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// Splits `linear` over `extents`, the last fastest: one index per extent,
/// the first taking the whole quotient that is left, or with `keepRest`
/// one remainder per extent and that quotient last. `total` bounds
/// `linear` (the product of the extents, or more with `keepRest`): when it
/// fits in 31 bits, which is the case in practice, the divisions run on
/// 32-bit values behind a uniform branch, since 64-bit division by a value
/// known only at run time is a long instruction sequence that every thread
/// runs. Static extents divide as they are (by constants, cheaply), and so
/// does everything when `total` is null.
SmallVector<Value> delinearizeIndex(OpBuilder &b, Location loc, Value linear,
                                    ArrayRef<Value> extents, Value total,
                                    bool keepRest = false);

/// Marks `dispatch`, a host-side scf.if choosing kernels by shape, so that
/// the launches its else region ends up with count as alternatives to
/// those of its then region (ds-record-alternative-launches counts them for
/// the statistics).
void markAlternatives(Operation *dispatch);

/// The buffer `v` is a view of: `v` through subview, cast and reshape ops
/// (any ViewLikeOpInterface op).
Value viewRoot(Value v);

/// The buffers, by root (viewRoot: an allocation, a global or a block
/// argument), that an op and the ops nested in it read and write. Buffers
/// rooted inside the op (a kernel's scratch) are left out.
struct BufferAccesses {
  llvm::SmallPtrSet<Value, 8> reads, writes;

  /// True if neither writes a buffer the other reads or writes.
  bool independentOf(const BufferAccesses &other) const;
  void add(const BufferAccesses &other);
};

/// Adds what `op` (and what is nested in it) reads and writes to `into`;
/// false when an access cannot be attributed to a buffer (an op with
/// unknown effects, or an effect on no particular value).
bool collectBufferAccesses(Operation *op, BufferAccesses &into);

/// True if every row of `buffer` (its last dimension, unit stride) starts
/// `elements`-aligned, so [.., i * elements] is an aligned vector load:
/// from its layout, or from the buffer it is a view of (subviews keeping
/// the last dimension at an aligned offset, reshapes of the outer
/// dimensions) when that one has an identity layout; allocations and entry
/// buffers are at least 16-byte aligned.
bool hasAlignedRows(Value buffer, int64_t elements);

} // namespace mlir::ds

#endif // DS_LIB_TRANSFORMS_GPUUTILS_H
