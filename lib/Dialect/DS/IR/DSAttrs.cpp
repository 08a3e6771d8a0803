//===- DSAttrs.cpp - ds enums and attributes ------------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Constraint numbers refer to docs/DSDialect.md.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSAttrs.h"
#include "ds/Dialect/DS/IR/DSDialect.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::ds;

#include "ds/Dialect/DS/IR/DSEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "ds/Dialect/DS/IR/DSAttrs.cpp.inc"

void DSDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "ds/Dialect/DS/IR/DSAttrs.cpp.inc"
      >();
}

/// Largest warp count a thread block can hold (1024 threads).
static constexpr int64_t kMaxWarps = 32;
/// Deepest software pipeline the code generators support.
static constexpr int64_t kMaxStages = 8;

LogicalResult TileAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               ArrayRef<int64_t> sizes, int64_t warps,
                               int64_t stages) {
  // tile_c1
  if (sizes.empty())
    return emitError() << "expected at least one tile size";
  for (int64_t size : sizes)
    if (size <= 0)
      return emitError() << "expected positive tile sizes, got " << size;
  // tile_c2
  if (warps < 1 || warps > kMaxWarps || !llvm::isPowerOf2_64(warps))
    return emitError() << "expected warps to be a power of two in [1, "
                       << kMaxWarps << "], got " << warps;
  // tile_c3
  if (stages < 1 || stages > kMaxStages)
    return emitError() << "expected stages in [1, " << kMaxStages << "], got "
                       << stages;
  return success();
}

LogicalResult QuantAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                unsigned bits, QuantScheme scheme,
                                QuantGranularity granularity, int64_t groupSize,
                                Type scaleType) {
  // quant_c1
  if (bits != 4 && bits != 8)
    return emitError() << "expected bits to be 4 or 8, got " << bits;
  // quant_c2
  if (granularity == QuantGranularity::per_group) {
    if (groupSize <= 0)
      return emitError() << "expected a positive group_size for per_group "
                            "quantization, got "
                         << groupSize;
  } else if (groupSize != 0) {
    return emitError() << "expected group_size 0 for "
                       << stringifyQuantGranularity(granularity)
                       << " quantization, got " << groupSize;
  }
  // quant_c3
  if (!scaleType.isF16() && !scaleType.isBF16() && !scaleType.isF32())
    return emitError() << "expected scale_type f16, bf16 or f32, got "
                       << scaleType;
  return success();
}
