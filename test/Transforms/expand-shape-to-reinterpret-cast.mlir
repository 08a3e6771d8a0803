// RUN: ds-opt %s -split-input-file --ds-expand-shape-to-reinterpret-cast | FileCheck %s
// RUN: ds-opt %s -split-input-file --ds-expand-shape-to-reinterpret-cast --expand-strided-metadata -o /dev/null

// Splitting a dynamic dimension into two dynamic ones becomes a
// reinterpret_cast with suffix-product strides (upstream crashes here).
// CHECK-LABEL: func @two_dynamic
// CHECK-SAME: (%[[M:.+]]: memref<?x64xf32>, %[[B:.+]]: index, %[[S:.+]]: index)
func.func @two_dynamic(%m: memref<?x64xf32>, %b: index, %s: index) -> memref<?x?x64xf32> {
  // CHECK: %[[C64:.+]] = arith.constant 64 : index
  // CHECK: %[[ST:.+]] = arith.muli %[[S]], %[[C64]] : index
  // CHECK: memref.reinterpret_cast %[[M]] to offset: [0], sizes: [%[[B]], %[[S]], 64], strides: [%[[ST]], 64, 1] : memref<?x64xf32> to memref<?x?x64xf32>
  // CHECK-NOT: memref.expand_shape
  %e = memref.expand_shape %m [[0, 1], [2]] output_shape [%b, %s, 64] : memref<?x64xf32> into memref<?x?x64xf32>
  return %e : memref<?x?x64xf32>
}

// -----

// One dynamic size per group is left to expand-strided-metadata.
// CHECK-LABEL: func @one_dynamic
func.func @one_dynamic(%m: memref<?xf32>, %s: index) -> memref<1x?xf32> {
  // CHECK: memref.expand_shape
  %e = memref.expand_shape %m [[0, 1]] output_shape [1, %s] : memref<?xf32> into memref<1x?xf32>
  return %e : memref<1x?xf32>
}
