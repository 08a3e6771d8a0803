//===- DSToLinalg.h - lower ds ops to linalg --------------------*- C++ -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// The `lower` phase (DESIGN.md section 2): every ds op becomes upstream
// linalg/tensor/arith/math on tensors. docs/Lowering.md describes each
// op's lowering and the numerics it keeps.
//
//===----------------------------------------------------------------------===//

#ifndef DS_CONVERSION_DSTOLINALG_DSTOLINALG_H
#define DS_CONVERSION_DSTOLINALG_DSTOLINALG_H

namespace mlir {
class ConversionTarget;
class RewritePatternSet;

namespace ds {

/// Adds the patterns that rewrite every ds op into linalg, tensor, arith and
/// math ops on tensors. Each pattern rewrites one op and leaves no ds op
/// behind; the types of values outside the rewritten op do not change.
void populateDSToLinalgPatterns(RewritePatternSet &patterns);

/// Marks the ds dialect illegal and the dialects the patterns produce
/// (linalg, tensor, arith, math, scf) legal.
void configureDSToLinalgLegality(ConversionTarget &target);

} // namespace ds
} // namespace mlir

#endif // DS_CONVERSION_DSTOLINALG_DSTOLINALG_H
