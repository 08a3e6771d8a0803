//===- DSAttrsTest.cpp - C++ API of the ds attributes ---------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSAttrs.h"
#include "ds/Dialect/DS/IR/DSDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::ds;

namespace {

class DSAttrsTest : public ::testing::Test {
protected:
  DSAttrsTest() {
    ctx.loadDialect<DSDialect>();
    // Invalid attributes report through the diagnostic engine; keep the
    // last message so tests can check it.
    ctx.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      lastError = diag.str();
      return success();
    });
  }

  std::function<InFlightDiagnostic()> emitter() {
    return [this]() { return emitError(UnknownLoc::get(&ctx)); };
  }

  TileAttr tile(ArrayRef<int64_t> sizes, int64_t warps, int64_t stages) {
    return TileAttr::getChecked(emitter(), &ctx, sizes, warps, stages);
  }

  QuantAttr quant(unsigned bits, QuantScheme scheme,
                  QuantGranularity granularity, int64_t groupSize,
                  Type scaleType) {
    return QuantAttr::getChecked(emitter(), &ctx, bits, scheme, granularity,
                                 groupSize, scaleType);
  }

  MLIRContext ctx;
  std::string lastError;
};

TEST_F(DSAttrsTest, TileAcceptsValidParameters) {
  TileAttr t = tile({128, 64, 32}, 4, 3);
  ASSERT_TRUE(t);
  EXPECT_EQ(t.getSizes().size(), 3u);
  EXPECT_EQ(t.getWarps(), 4);
  EXPECT_EQ(t.getStages(), 3);
  EXPECT_TRUE(lastError.empty());
}

TEST_F(DSAttrsTest, TileRejectsEachConstraint) {
  EXPECT_FALSE(tile({}, 4, 3));
  EXPECT_EQ(lastError, "expected at least one tile size");
  EXPECT_FALSE(tile({64, 0}, 4, 3));
  EXPECT_EQ(lastError, "expected positive tile sizes, got 0");
  EXPECT_FALSE(tile({64}, 3, 3));
  EXPECT_EQ(lastError, "expected warps to be a power of two in [1, 32], got 3");
  EXPECT_FALSE(tile({64}, 64, 3));
  EXPECT_FALSE(tile({64}, 4, 0));
  EXPECT_EQ(lastError, "expected stages in [1, 8], got 0");
  // Boundaries: 32 warps and 8 stages are the largest accepted values.
  EXPECT_TRUE(tile({64}, 32, 8));
  EXPECT_FALSE(tile({64}, 32, 9));
}

TEST_F(DSAttrsTest, QuantChecksGroupSizeAgainstGranularity) {
  Type f16 = Float16Type::get(&ctx);
  EXPECT_TRUE(
      quant(4, QuantScheme::symmetric, QuantGranularity::per_group, 128, f16));
  EXPECT_FALSE(
      quant(4, QuantScheme::symmetric, QuantGranularity::per_group, 0, f16));
  EXPECT_EQ(lastError,
            "expected a positive group_size for per_group quantization, got 0");
  EXPECT_FALSE(
      quant(8, QuantScheme::symmetric, QuantGranularity::per_channel, 64, f16));
  EXPECT_EQ(lastError,
            "expected group_size 0 for per_channel quantization, got 64");
}

TEST_F(DSAttrsTest, QuantRejectsBitsAndScaleType) {
  Type f16 = Float16Type::get(&ctx);
  EXPECT_FALSE(
      quant(3, QuantScheme::symmetric, QuantGranularity::per_tensor, 0, f16));
  EXPECT_EQ(lastError, "expected bits to be 4 or 8, got 3");
  EXPECT_FALSE(quant(8, QuantScheme::asymmetric, QuantGranularity::per_tensor,
                     0, IntegerType::get(&ctx, 8)));
  EXPECT_EQ(lastError, "expected scale_type f16, bf16 or f32, got 'i8'");
}

TEST_F(DSAttrsTest, EnumsRoundTripThroughStrings) {
  EXPECT_EQ(symbolizeActivation("gelu_tanh"), Activation::gelu_tanh);
  EXPECT_EQ(stringifyRopeMode(RopeMode::interleaved), "interleaved");
  EXPECT_FALSE(symbolizeQuantScheme("affine").has_value());
}

} // namespace
