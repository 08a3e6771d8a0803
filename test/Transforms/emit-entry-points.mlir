// RUN: ds-opt %s -split-input-file --ds-prepare-entry-points | FileCheck %s --check-prefix=REQUEST
// RUN: ds-opt %s -split-input-file --ds-prepare-entry-points --convert-func-to-llvm --ds-emit-entry-points | FileCheck %s

// A public function with two memref arguments and two results gets a
// C interface and an entry point that unpacks three pointers: the result
// block, then one descriptor per argument.
// REQUEST-LABEL: func @forward
// REQUEST-SAME: attributes {llvm.emit_c_interface}
// CHECK-LABEL: llvm.func @ds_entry_forward
// CHECK-SAME: (%[[ARGS:.+]]: !llvm.ptr)
// CHECK: %[[P0:.+]] = llvm.load %[[ARGS]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[G1:.+]] = llvm.getelementptr %[[ARGS]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[P1:.+]] = llvm.load %[[G1]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[G2:.+]] = llvm.getelementptr %[[ARGS]][2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[P2:.+]] = llvm.load %[[G2]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @_mlir_ciface_forward(%[[P0]], %[[P1]], %[[P2]])
// CHECK-NEXT: llvm.return
func.func @forward(%a: memref<?xf32>, %b: memref<2x3xi64>) -> (memref<?xf32>, memref<2x3xi64>) {
  return %a, %b : memref<?xf32>, memref<2x3xi64>
}

// -----

// Private helpers get neither a C interface nor an entry point.
// REQUEST: func.func private @helper
// REQUEST-NOT: emit_c_interface
// REQUEST: return
// CHECK-NOT: ds_entry_helper
func.func private @helper(%a: memref<4xf32>) -> memref<4xf32> {
  return %a : memref<4xf32>
}
func.func @uses_helper(%a: memref<4xf32>) -> memref<4xf32> {
  %0 = call @helper(%a) : (memref<4xf32>) -> memref<4xf32>
  return %0 : memref<4xf32>
}

// -----

// Tensor arguments of entry points are read-only for bufferization.
// REQUEST-LABEL: func @tensors
// REQUEST-SAME: (%{{.*}}: tensor<4xf32> {bufferization.writable = false}, %{{.*}}: index)
// REQUEST-SAME: attributes {llvm.emit_c_interface}
func.func @tensors(%t: tensor<4xf32>, %i: index) -> tensor<4xf32> {
  return %t : tensor<4xf32>
}

// -----

// The importer's ds.* argument attributes do not reach LLVM IR.
// CHECK-LABEL: llvm.func @named
// CHECK-NOT: ds.input
// CHECK: llvm.return
func.func @named(%a: memref<4xf32> {ds.input = "x", ds.dim_names = [""]}) -> memref<4xf32> {
  return %a : memref<4xf32>
}
