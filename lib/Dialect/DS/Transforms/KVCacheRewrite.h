//===- KVCacheRewrite.h - pieces of ds-insert-kv-cache -------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Shared by InsertKVCache.cpp (the rewrite) and PastKVInputs.cpp (graphs
// exported with past keys/values).
//
//===----------------------------------------------------------------------===//

#ifndef DS_LIB_DIALECT_DS_TRANSFORMS_KVCACHEREWRITE_H
#define DS_LIB_DIALECT_DS_TRANSFORMS_KVCACHEREWRITE_H

#include "SequenceAxisAnalysis.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#include <string>

namespace mlir {
namespace ds {
namespace kvcache {

/// `tensor.generate` producing `index_cast(i)`: an iota.
bool isIota(Value v);

/// The name of a graph input, for messages.
std::string inputName(func::FuncOp func, BlockArgument arg);

/// Makes every `tensor.dim` of dimension `dim` of the `sources` read one
/// value (created at the start of the body when there is none), so that
/// the mask analysis sees one symbol for one size. The sources are graph
/// inputs whose sizes are equal by the feeding convention (all past
/// keys/values have the past length).
Value unifyDims(func::FuncOp func, ArrayRef<Value> sources, int64_t dim);

/// The sequence-iota generators in `fn` (those the common rewrite offsets).
SmallVector<tensor::GenerateOp> sequenceIotas(func::FuncOp fn, Value tok);

//===----------------------------------------------------------------------===//
// Graphs exported with past keys/values
//===----------------------------------------------------------------------===//
//
// A decoder exported for use with a cache takes `past_key_i`/`past_value_i`
// `[B, Hkv, P, D]`, concatenates them with the new keys/values along the
// sequence axis before attention, returns the concatenations as
// `present_*`, and offsets positions by P. With the runtime's cache, the
// past of sequence b is `cache[b, :, :start[b]]`; so the rewrite
//   - feeds each attention its new keys/values only (the shape of a graph
//     without past), the cache read taking the concatenation's place,
//   - replaces every position tensor equal to `P + s` by an iota over the
//     sequence, which the common rewrite turns into `start[b] + s`,
//   - drops the present outputs (the cache is updated in place),
//   - reuses the past inputs as the cache arguments.
// Anything else that reads the past or its length is a refusal.

/// The past keys/values of a graph exported with a cache, as found by
/// mapPastInputs.
struct PastInputs {
  /// The past inputs (key, value) of each attention, in program order.
  SmallVector<std::pair<BlockArgument, BlockArgument>> layers;
  SmallVector<Value> args;
  /// The past length P (one `tensor.dim` for all past inputs) and P + S.
  Value length;
  Value total;
};

/// Checks the past inputs' structure and rewrites the graph to the shape of
/// one without past (KVCacheRewrite.h); positions are done by rewritePastPositions
/// after canonicalization.
FailureOr<PastInputs> mapPastInputs(func::FuncOp fn, Value seqLength,
                                    Value batch, ArrayRef<BlockArgument> pasts,
                                    Refusal &refusal);

/// Replaces every position tensor equal to `P + s` ([S], [1, S] or [B, S],
/// P the past length) by the same tensor built from an iota over the
/// sequence, which the common rewrite offsets by `start`. Afterwards
/// nothing may read P, and no other iota over the sequence may be left: it
/// would be a position that ignores the past, which the cache rewrite
/// could not reproduce.
LogicalResult rewritePastPositions(func::FuncOp fn, BlockArgument tok,
                                   ArrayRef<Value> pastArgs, Value seqLength,
                                   Value batch, Refusal &refusal);

} // namespace kvcache
} // namespace ds
} // namespace mlir

#endif // DS_LIB_DIALECT_DS_TRANSFORMS_KVCACHEREWRITE_H
