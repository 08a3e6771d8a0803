//===- ImportTest.cpp - the importer's C++ API ----------------------------===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#include "ds/Target/ONNX/Import.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <onnx/onnx_pb.h>

#include <fstream>
#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::ds;

namespace {

class ImportTest : public ::testing::Test {
protected:
  ImportTest() {
    ctx.getDiagEngine().registerHandler([this](Diagnostic &diag) {
      errors.push_back(diag.str());
      return success();
    });
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("ds-import", dir));
  }
  ~ImportTest() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(StringRef name) {
    SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

  /// y = MatMul(x, w) with x: [seq, 2] and w: [2, 3] (raw_data).
  static onnx::ModelProto matmulModel() {
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.add_opset_import()->set_version(17);
    onnx::GraphProto *g = model.mutable_graph();
    onnx::NodeProto *node = g->add_node();
    node->set_name("mm");
    node->set_op_type("MatMul");
    node->add_input("x");
    node->add_input("w");
    node->add_output("y");
    onnx::TensorProto *w = g->add_initializer();
    w->set_name("w");
    w->set_data_type(onnx::TensorProto_DataType_FLOAT);
    w->add_dims(2);
    w->add_dims(3);
    float values[6] = {1, 2, 3, 4, 5, 6};
    w->set_raw_data(std::string(reinterpret_cast<char *>(values), 24));
    onnx::ValueInfoProto *x = g->add_input();
    x->set_name("x");
    auto *tt = x->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto_DataType_FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("seq");
    tt->mutable_shape()->add_dim()->set_dim_value(2);
    g->add_output()->set_name("y");
    return model;
  }

  void write(const onnx::ModelProto &model, StringRef name) {
    std::ofstream out(path(name), std::ios::binary);
    ASSERT_TRUE(model.SerializeToOstream(&out));
  }

  MLIRContext ctx;
  SmallString<128> dir;
  std::vector<std::string> errors;
};

TEST_F(ImportTest, MissingFileIsAnError) {
  FailureOr<ImportedModel> m =
      importONNXFile(path("absent.onnx"), ctx, ImportOptions());
  EXPECT_TRUE(failed(m));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("cannot read the model"), std::string::npos);
}

TEST_F(ImportTest, DirectoryIsAnError) {
  EXPECT_TRUE(failed(importONNXFile(dir, ctx, ImportOptions())));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "is a directory, not an ONNX model");
}

TEST_F(ImportTest, WeightsAreLeadingArguments) {
  write(matmulModel(), "mm.onnx");
  ImportOptions options;
  options.maxInlineConstantElements = 4; // w (6 elements) is a weight
  FailureOr<ImportedModel> m = importONNXFile(path("mm.onnx"), ctx, options);
  ASSERT_TRUE(succeeded(m)) << (errors.empty() ? "" : errors[0]);
  ASSERT_EQ(m->weights.size(), 1u);
  const WeightInfo &w = m->weights[0];
  EXPECT_EQ(w.name, "w");
  EXPECT_EQ(w.dtype, onnx::TensorProto_DataType_FLOAT);
  EXPECT_EQ(w.shape, (SmallVector<int64_t>{2, 3}));
  EXPECT_FALSE(w.external);
  EXPECT_EQ(w.size, 24u);
  ASSERT_EQ(w.data.size(), 24u);
  float second;
  memcpy(&second, w.data.data() + 4, 4);
  EXPECT_EQ(second, 2.0f);
  auto func = cast<func::FuncOp>(m->module->getBody()->front());
  EXPECT_EQ(func.getSymName(), "forward");
  ASSERT_EQ(func.getNumArguments(), 2u);
  EXPECT_EQ(func.getArgAttrOfType<StringAttr>(0, "ds.weight").getValue(), "w");
  EXPECT_EQ(func.getArgAttrOfType<StringAttr>(1, "ds.input").getValue(), "x");
}

TEST_F(ImportTest, ExternalDataIsOnlyLocated) {
  onnx::ModelProto model = matmulModel();
  onnx::TensorProto *w = model.mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
  auto *loc = w->add_external_data();
  loc->set_key("location");
  loc->set_value("w.bin");
  auto *off = w->add_external_data();
  off->set_key("offset");
  off->set_value("8");
  write(model, "ext.onnx");
  {
    std::ofstream data(path("w.bin"), std::ios::binary);
    data << std::string(32, 'x');
  }
  FailureOr<ImportedModel> m =
      importONNXFile(path("ext.onnx"), ctx, ImportOptions());
  ASSERT_TRUE(succeeded(m)) << (errors.empty() ? "" : errors[0]);
  ASSERT_EQ(m->weights.size(), 1u);
  const WeightInfo &info = m->weights[0];
  EXPECT_TRUE(info.external);
  EXPECT_EQ(info.offset, 8u);
  EXPECT_EQ(info.size, 24u);
  EXPECT_TRUE(info.data.empty());
  EXPECT_TRUE(llvm::sys::path::is_absolute(info.file));
  EXPECT_EQ(llvm::sys::path::filename(info.file), "w.bin");
}

TEST_F(ImportTest, PinnedShapeReplacesSymbolicSize) {
  write(matmulModel(), "pin.onnx");
  ImportOptions options;
  options.pinnedShapes["x"] = {5, 2};
  FailureOr<ImportedModel> m = importONNXFile(path("pin.onnx"), ctx, options);
  ASSERT_TRUE(succeeded(m)) << (errors.empty() ? "" : errors[0]);
  auto func = cast<func::FuncOp>(m->module->getBody()->front());
  EXPECT_EQ(func.getResultTypes()[0],
            RankedTensorType::get({5, 3}, Float32Type::get(&ctx)));
}

TEST_F(ImportTest, SupportedOpsAreSorted) {
  ArrayRef<StringRef> ops = getSupportedONNXOps();
  EXPECT_TRUE(llvm::is_sorted(ops));
  EXPECT_TRUE(llvm::is_contained(ops, "MatMul"));
  EXPECT_TRUE(llvm::is_contained(ops, "LayerNormalization"));
  EXPECT_FALSE(llvm::is_contained(ops, "LSTM"));
}

} // namespace
