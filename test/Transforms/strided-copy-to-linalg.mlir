// RUN: ds-opt %s -split-input-file --ds-strided-copy-to-linalg | FileCheck %s

// A copy out of a strided view becomes linalg.copy (no memrefCopy call).
// CHECK-LABEL: func @strided
// CHECK-SAME: (%[[A:.+]]: memref<?x4xf32, strided<[8, 1]>>, %[[B:.+]]: memref<?x4xf32>)
func.func @strided(%a: memref<?x4xf32, strided<[8, 1]>>, %b: memref<?x4xf32>) {
  // CHECK: linalg.copy ins(%[[A]] : memref<?x4xf32, strided<[8, 1]>>) outs(%[[B]] : memref<?x4xf32>)
  // CHECK-NOT: memref.copy
  memref.copy %a, %b : memref<?x4xf32, strided<[8, 1]>> to memref<?x4xf32>
  return
}

// -----

// Contiguous copies stay: they lower to memcpy.
// CHECK-LABEL: func @contiguous
func.func @contiguous(%a: memref<?x4xf32>, %b: memref<?x4xf32>) {
  // CHECK: memref.copy
  memref.copy %a, %b : memref<?x4xf32> to memref<?x4xf32>
  return
}
