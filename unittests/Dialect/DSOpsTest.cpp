//===- DSOpsTest.cpp - building ds ops through the C++ API ----------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Dialect/DS/IR/DSOps.h"
#include "ds/InitAll.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::ds;

namespace {

class DSOpsTest : public ::testing::Test {
protected:
  DSOpsTest() : ctx(makeRegistry()) {
    ctx.loadAllAvailableDialects();
    ctx.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      lastError = diag.str();
      return success();
    });
  }

  static DialectRegistry makeRegistry() {
    DialectRegistry registry;
    mlir::ds::registerAllDialects(registry);
    return registry;
  }

  /// Builds `func @f(args) { %r = <op>; return %r }` with `build` and
  /// verifies the module.
  LogicalResult
  buildAndVerify(TypeRange argTypes,
                 function_ref<Value(OpBuilder &, Location, ValueRange)> build) {
    OpBuilder b(&ctx);
    Location loc = UnknownLoc::get(&ctx);
    module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    auto func =
        func::FuncOp::create(b, loc, "f", b.getFunctionType(argTypes, {}));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToEnd(body);
    Value result = build(b, loc, body->getArguments());
    func::ReturnOp::create(b, loc, ValueRange{});
    func.setType(b.getFunctionType(argTypes, {result.getType()}));
    body->getTerminator()->setOperands(result);
    return verify(*module);
  }

  MLIRContext ctx;
  OwningOpRef<ModuleOp> module;
  std::string lastError;
};

TEST_F(DSOpsTest, AttentionDefaultScaleIsInverseSqrtHeadDim) {
  Type f32 = Float32Type::get(&ctx);
  auto q = RankedTensorType::get({1, 8, 4, 64}, f32);
  auto kv = RankedTensorType::get({1, 2, 4, 64}, f32);
  AttentionOp attention;
  ASSERT_TRUE(succeeded(buildAndVerify(
      {q, kv, kv}, [&](OpBuilder &b, Location loc, ValueRange args) {
        attention = AttentionOp::create(b, loc, q, args[0], args[1], args[2],
                                        /*mask=*/Value(),
                                        /*kv_length=*/Value(),
                                        /*scale=*/nullptr, /*causal=*/true,
                                        /*tile=*/nullptr);
        return attention.getResult();
      })));
  ASSERT_TRUE(attention.getEffectiveScale().has_value());
  EXPECT_DOUBLE_EQ(*attention.getEffectiveScale(), 0.125);
  EXPECT_TRUE(attention.getCausal());
}

TEST_F(DSOpsTest, AttentionScaleUnknownForDynamicHeadDim) {
  Type f32 = Float32Type::get(&ctx);
  auto t = RankedTensorType::get({1, 2, 4, ShapedType::kDynamic}, f32);
  AttentionOp attention;
  ASSERT_TRUE(succeeded(buildAndVerify(
      {t, t, t}, [&](OpBuilder &b, Location loc, ValueRange args) {
        attention =
            AttentionOp::create(b, loc, t, args[0], args[1], args[2], Value(),
                                Value(), nullptr, false, nullptr);
        return attention.getResult();
      })));
  EXPECT_FALSE(attention.getEffectiveScale().has_value());
}

TEST_F(DSOpsTest, BuilderReportsGroupedQueryMismatch) {
  Type f32 = Float32Type::get(&ctx);
  auto q = RankedTensorType::get({1, 6, 4, 64}, f32);
  auto kv = RankedTensorType::get({1, 4, 4, 64}, f32);
  EXPECT_TRUE(failed(buildAndVerify(
      {q, kv, kv}, [&](OpBuilder &b, Location loc, ValueRange args) {
        return AttentionOp::create(b, loc, q, args[0], args[1], args[2],
                                   Value(), Value(), nullptr, false, nullptr)
            .getResult();
      })));
  EXPECT_NE(lastError.find("expected key/value heads (4) to divide query "
                           "heads (6)"),
            std::string::npos)
      << lastError;
}

TEST_F(DSOpsTest, LinearWithTransposedWeightInfersFeatures) {
  Type bf16 = BFloat16Type::get(&ctx);
  auto x = RankedTensorType::get({ShapedType::kDynamic, 64}, bf16);
  auto w = RankedTensorType::get({128, 64}, bf16);
  auto y = RankedTensorType::get({ShapedType::kDynamic, 128}, bf16);
  ASSERT_TRUE(succeeded(buildAndVerify({x, w}, [&](OpBuilder &b, Location loc,
                                                   ValueRange args) {
    auto linear = LinearOp::create(
        b, loc, y, args[0], args[1],
        /*bias=*/Value(), /*residual=*/Value(), Activation::silu,
        /*transpose_weight=*/true, TileAttr::get(&ctx, {64, 64, 32}, 4, 2));
    return linear.getResult();
  }))) << lastError;
}

TEST_F(DSOpsTest, ParsedModuleRoundTripsThroughPrinter) {
  const char *src = R"mlir(
    func.func @f(%x: tensor<2x?x16xf32>, %g: tensor<16xf32>) -> tensor<2x?x16xf32> {
      %0 = ds.rms_norm %x, %g {epsilon = 1.0e-06 : f32}
          : (tensor<2x?x16xf32>, tensor<16xf32>) -> tensor<2x?x16xf32>
      return %0 : tensor<2x?x16xf32>
    })mlir";
  OwningOpRef<ModuleOp> parsed = parseSourceString<ModuleOp>(src, &ctx);
  ASSERT_TRUE(parsed) << lastError;
  std::string printed;
  llvm::raw_string_ostream os(printed);
  parsed->print(os);
  OwningOpRef<ModuleOp> reparsed = parseSourceString<ModuleOp>(printed, &ctx);
  ASSERT_TRUE(reparsed) << printed;
  EXPECT_TRUE(OperationEquivalence::isEquivalentTo(
      parsed->getOperation(), reparsed->getOperation(),
      OperationEquivalence::ignoreValueEquivalence, nullptr,
      OperationEquivalence::IgnoreLocations));
}

} // namespace
