//===- ReductionsToGPU.h - row reduction kernels (internal) -----*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Shared between the matching side of ds-reductions-to-gpu
// (ReductionsToGPU.cpp) and the kernel builders (ReductionKernels.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_TRANSFORMS_REDUCTIONSTOGPU_H
#define DS_LIB_TRANSFORMS_REDUCTIONSTOGPU_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

namespace mlir::ds::reductions {

constexpr int64_t kWarpSize = 32;
constexpr int64_t kWarpsPerBlock = 8;
constexpr int64_t kBlockThreads = kWarpSize * kWarpsPerBlock;
/// Loads in flight per thread: the lane loop evaluates this many elements
/// before folding any of them, so their loads overlap instead of each
/// waiting for the previous fold (a latency chain per element otherwise).
constexpr int64_t kUnroll = 4;
/// 16-byte pieces a lane aims for in a vectorised row (ReductionKernels).
constexpr int64_t kVectorSteps = 8;
/// A static reduction at least this long gets a whole block per output
/// (8 warps, combined through shared memory) instead of a warp.
constexpr int64_t kBlockReductionMin = 256;

/// Lanes per output of the warp kernel for a row of `extent` elements:
/// about 8 elements a lane (two kUnroll steps), a power of two up to the
/// warp. A dynamic row gets the whole warp.
inline int64_t reductionGroup(int64_t extent) {
  if (ShapedType::isDynamic(extent))
    return kWarpSize;
  int64_t lanes = llvm::PowerOf2Ceil(llvm::divideCeil(extent, 2 * kUnroll));
  return std::clamp<int64_t>(lanes, 1, kWarpSize);
}

/// A matched row reduction.
struct RowReduction {
  linalg::GenericOp op;
  enum class Kind {
    /// One init; the body yields `combiner(%out, %v)`.
    Combiner,
    /// Inits (value, index, ...); the body yields, for each init i,
    /// `select(%better, %candidate_i, %out_i)` with one condition: an argmax
    /// or argmin. Always idempotent (a select of equal values is that
    /// value), so the inits' values can seed every thread.
    Select,
  } kind = Kind::Combiner;
  /// Combiner: the body op that folds a value into the output block
  /// argument, and its operand that is that argument (0 or 1).
  Operation *combiner = nullptr;
  unsigned outOperand = 0;
  /// Select: the condition, the candidates (one per init) and the ops,
  /// in body order, that compute the condition from the outputs and the
  /// candidates.
  Value condition;
  SmallVector<Value> candidates;
  SmallVector<Operation *> conditionOps;
  /// The values fills left in the whole outputs before the reduction (one
  /// per init), or empty (then the kernel loads the inits' values).
  SmallVector<Value> fillValues;
  /// The fills (and copies of filled buffers) that produced them: dead
  /// once the kernel writes every output element.
  SmallVector<Operation *> deadInit;
  /// A row epilogue (findEpilogue): the elementwise op right after the
  /// reduction that reads its result broadcast over the reduced row, run
  /// in the same kernel over the row; the result itself is then never
  /// stored.
  linalg::GenericOp epilogue;
  /// Pointwise epilogues (findPointwiseEpilogues), when there is no row
  /// epilogue: elementwise ops after the reduction, each reading the
  /// previous one's output (the first, the result) through a permutation,
  /// run by the thread that writes each result element. `storeResult`
  /// says whether the result itself must still be stored, `storeStep[i]`
  /// whether epilogue i's output must (not when the next one overwrites it
  /// in place, or nothing else reads it).
  SmallVector<linalg::LinalgOp> pointwise;
  bool storeResult = true;
  SmallVector<bool> storeStep;
};

/// Kernel builders (ReductionKernels.cpp). Each inserts a gpu.launch
/// before `r.op`; the caller erases the op (and its epilogue and dead
/// inits).
void buildKernel(const RowReduction &r);
void buildColumnKernel(const RowReduction &r);

} // namespace mlir::ds::reductions

#endif // DS_LIB_TRANSFORMS_REDUCTIONSTOGPU_H
