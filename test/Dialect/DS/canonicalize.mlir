// Folders of the ds ops.
// RUN: ds-opt %s -split-input-file -canonicalize | FileCheck %s

// A broadcast to its own type is the input.
// CHECK-LABEL: func @broadcast_identity
// CHECK-SAME: (%[[X:.+]]: tensor<4x?xf32>
func.func @broadcast_identity(%x: tensor<4x?xf32>, %n: index) -> tensor<4x?xf32> {
  // CHECK-NOT: ds.broadcast
  // CHECK: return %[[X]]
  %0 = ds.broadcast %x [%n] : (tensor<4x?xf32>) -> tensor<4x?xf32>
  return %0 : tensor<4x?xf32>
}

// -----

// A splat constant broadcasts to a splat of the static result shape.
// CHECK-LABEL: func @broadcast_splat
func.func @broadcast_splat() -> tensor<2x3xf32> {
  // CHECK: %[[C:.+]] = arith.constant dense<1.500000e+00> : tensor<2x3xf32>
  // CHECK: return %[[C]]
  %c = arith.constant dense<1.5> : tensor<3xf32>
  %0 = ds.broadcast %c [] : (tensor<3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// A non-splat constant is left alone (no size blow-up from folding).
// CHECK-LABEL: func @broadcast_dense_kept
func.func @broadcast_dense_kept() -> tensor<2x2xf32> {
  // CHECK: ds.broadcast
  %c = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %0 = ds.broadcast %c [] : (tensor<2xf32>) -> tensor<2x2xf32>
  return %0 : tensor<2x2xf32>
}
