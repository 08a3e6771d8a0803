//===- SymbolicValuesTest.cpp - import-time index arithmetic --------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Target/ONNX/SymbolicValues.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::ds;

namespace {

/// A function with a `tensor<?x?xf32>` argument whose sizes `d0`, `d1` are
/// symbolic (at least 1, as the importer assumes for input sizes).
class SymbolicValuesTest : public ::testing::Test {
protected:
  SymbolicValuesTest() : b(&ctx), sym(b), loc(UnknownLoc::get(&ctx)) {
    ctx.loadDialect<arith::ArithDialect, func::FuncDialect,
                    tensor::TensorDialect>();
    module = ModuleOp::create(loc);
    b.setInsertionPointToEnd(module->getBody());
    auto type = RankedTensorType::get(
        {ShapedType::kDynamic, ShapedType::kDynamic}, b.getF32Type());
    auto func =
        func::FuncOp::create(b, loc, "f", b.getFunctionType({type}, {}));
    Block *body = func.addEntryBlock();
    b.setInsertionPointToEnd(body);
    d0 = tensor::DimOp::create(b, loc, body->getArgument(0), 0);
    d1 = tensor::DimOp::create(b, loc, body->getArgument(0), 1);
    sym.assumeAtLeast(d0, 1);
    sym.assumeAtLeast(d1, 1);
  }

  OpFoldResult c(int64_t v) { return b.getIndexAttr(v); }
  static std::optional<int64_t> constant(OpFoldResult v) {
    return getConstantIntValue(v);
  }

  MLIRContext ctx;
  OpBuilder b;
  SymbolicIndexBuilder sym;
  Location loc;
  OwningOpRef<ModuleOp> module;
  Value d0, d1;
};

TEST_F(SymbolicValuesTest, ConstantsFold) {
  EXPECT_EQ(constant(sym.add(loc, c(2), c(3))), 5);
  EXPECT_EQ(constant(sym.mul(loc, c(-4), c(3))), -12);
  EXPECT_EQ(constant(sym.sub(loc, c(INT64_MIN), c(1))), INT64_MAX); // wraps
  EXPECT_EQ(constant(*sym.floorDiv(loc, c(-7), c(2))), -4);
  EXPECT_EQ(constant(*sym.divTrunc(loc, c(-7), c(2))), -3);
  EXPECT_EQ(constant(*sym.ceilDiv(loc, c(7), c(2))), 4);
  EXPECT_EQ(constant(*sym.remFloor(loc, c(-7), c(3))), 2);
  EXPECT_EQ(constant(*sym.remTrunc(loc, c(-7), c(3))), -1);
  EXPECT_EQ(constant(sym.cmp(loc, arith::CmpIPredicate::slt, c(1), c(2))), 1);
  EXPECT_TRUE(failed(sym.divTrunc(loc, d0, c(0))));
  EXPECT_TRUE(failed(sym.remFloor(loc, c(1), c(0))));
}

TEST_F(SymbolicValuesTest, IdentitiesSimplify) {
  EXPECT_EQ(sym.add(loc, d0, c(0)), OpFoldResult(d0));
  EXPECT_EQ(sym.mul(loc, c(1), d0), OpFoldResult(d0));
  EXPECT_EQ(constant(sym.mul(loc, d0, c(0))), 0);
  EXPECT_EQ(constant(sym.sub(loc, d0, d0)), 0);
  EXPECT_EQ(sym.select(loc, c(1), d0, d1), OpFoldResult(d0));
  EXPECT_EQ(sym.select(loc, c(0), d0, d1), OpFoldResult(d1));
}

TEST_F(SymbolicValuesTest, EqualComputationsShareOneValue) {
  OpFoldResult a = sym.mul(loc, d0, c(12));
  OpFoldResult a2 = sym.mul(loc, c(12), d0);
  EXPECT_EQ(a, a2);
  EXPECT_EQ(sym.add(loc, d0, d1), sym.add(loc, d1, d0));
  EXPECT_NE(sym.sub(loc, d0, d1), sym.sub(loc, d1, d0));
  EXPECT_EQ(sym.materialize(loc, c(7)), sym.materialize(loc, c(7)));
}

TEST_F(SymbolicValuesTest, ProductsCompareAndDivide) {
  // d0 * 768 == (d0 * 12) * 64 and (d0 * d1 * 768) / (d1 * 12 * 64) == d0.
  OpFoldResult lhs = sym.mul(loc, d0, c(768));
  OpFoldResult rhs = sym.mul(loc, sym.mul(loc, d0, c(12)), c(64));
  EXPECT_TRUE(sym.provablyEqual(lhs, rhs));
  EXPECT_FALSE(sym.provablyEqual(lhs, sym.mul(loc, d1, c(768))));
  OpFoldResult numel = sym.mul(loc, sym.mul(loc, d0, d1), c(768));
  OpFoldResult part = sym.mul(loc, sym.mul(loc, d1, c(12)), c(64));
  std::optional<OpFoldResult> q = sym.exactDiv(loc, numel, part);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(*q, OpFoldResult(d0));
  EXPECT_FALSE(sym.exactDiv(loc, d0, d1).has_value());
  EXPECT_FALSE(sym.exactDiv(loc, sym.mul(loc, d0, c(3)), c(2)).has_value());
  SymbolicProduct p = sym.decompose(numel);
  EXPECT_EQ(p.coefficient, 768);
  EXPECT_EQ(p.atoms.size(), 2u);
}

TEST_F(SymbolicValuesTest, OffsetsCancel) {
  OpFoldResult plus1 = sym.add(loc, d0, c(1));
  EXPECT_EQ(sym.sub(loc, plus1, c(1)), OpFoldResult(d0));
  EXPECT_EQ(sym.constantDifference(sym.add(loc, plus1, c(2)), d0), 3);
  EXPECT_EQ(sym.min(loc, d0, plus1), OpFoldResult(d0));
  EXPECT_EQ(sym.max(loc, d0, plus1), plus1);
  EXPECT_EQ(constant(sym.sub(loc, plus1, d0)), 1);
  EXPECT_EQ(constant(sym.cmp(loc, arith::CmpIPredicate::slt, d0, plus1)), 1);
}

TEST_F(SymbolicValuesTest, LowerBoundsFold) {
  // Sizes are >= 1 here: min(1, d0) = 1, max(d0, 0) = d0, d0 < 0 is false.
  EXPECT_EQ(constant(sym.min(loc, c(1), d0)), 1);
  EXPECT_EQ(sym.max(loc, d0, c(0)), OpFoldResult(d0));
  EXPECT_EQ(constant(sym.cmp(loc, arith::CmpIPredicate::slt, d0, c(0))), 0);
  EXPECT_EQ(constant(sym.cmp(loc, arith::CmpIPredicate::sge, d0, c(1))), 1);
  EXPECT_EQ(constant(sym.cmp(loc, arith::CmpIPredicate::sgt, c(0), d0)), 0);
  EXPECT_TRUE(sym.isNonNegative(sym.mul(loc, d0, d1)));
  EXPECT_EQ(sym.lowerBound(sym.add(loc, d0, d1)), 2);
  // Not decidable from bounds: a Value, and no folding.
  OpFoldResult unknown = sym.cmp(loc, arith::CmpIPredicate::slt, d0, c(5));
  EXPECT_FALSE(constant(unknown).has_value());
  EXPECT_FALSE(constant(sym.min(loc, d0, c(1024))).has_value());
  EXPECT_FALSE(sym.lowerBound(sym.sub(loc, d0, d1)).has_value());
}

TEST_F(SymbolicValuesTest, BuildsArithOnIndexValues) {
  OpFoldResult v = sym.mul(loc, d0, d1);
  auto mul = cast<Value>(v).getDefiningOp<arith::MulIOp>();
  ASSERT_TRUE(mul);
  EXPECT_EQ(mul.getLhs(), d0);
  EXPECT_EQ(mul.getRhs(), d1);
  OpFoldResult big = sym.min(loc, d0, c(INT64_MAX));
  // INT64_MAX is a valid constant to cache (it is DenseMap's empty key).
  EXPECT_EQ(sym.materialize(loc, c(INT64_MAX)),
            sym.materialize(loc, c(INT64_MAX)));
  EXPECT_TRUE(isa<Value>(big));
}

} // namespace
