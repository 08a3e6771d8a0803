// The whole CPU pipeline from graph-opt to the LLVM dialect on a small
// graph with symbolic dims: every ds op is gone, the only external calls
// are libc/libm, and the artifact entry point exists.
// RUN: ds-opt %s --ds-compile-pipeline="from=graph-opt to=llvm" | FileCheck %s
// RUN: ds-opt %s --ds-compile-pipeline="from=graph-opt to=bufferize" | FileCheck %s --check-prefix=BUF

// BUF-LABEL: func.func @forward
// BUF-SAME: attributes {{.*}}llvm.emit_c_interface
// BUF-NOT: tensor<
// BUF: return

// CHECK-NOT: {{= ds\.|^ *ds\.}}
// CHECK-NOT: memrefCopy
// CHECK-DAG: llvm.func @malloc
// CHECK-DAG: llvm.func @erff
// CHECK-DAG: llvm.func @_mlir_ciface_forward
// CHECK-DAG: llvm.func @ds_entry_forward
func.func @forward(%w: tensor<8x16xf32> {ds.weight = "w"}, %x: tensor<?x?x8xf32> {ds.input = "x", ds.dim_names = ["batch", "seq", ""]}) -> tensor<?x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x8xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x8xf32>
  %m = ds.matmul %x, %w : (tensor<?x?x8xf32>, tensor<8x16xf32>) -> tensor<?x?x16xf32>
  %g = ds.gelu %m : tensor<?x?x16xf32>
  %p = ds.softmax %g {axis = -1 : i64} : tensor<?x?x16xf32>
  return %p : tensor<?x?x16xf32>
}
