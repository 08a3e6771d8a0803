// RUN: ds-opt %s --split-input-file --ds-fold-unit-transposes | FileCheck %s

// A one-token decode step's head transpose moves only the unit sequence
// dimension: a view, not a copy.
// CHECK-LABEL: func.func @decode_heads
// CHECK-SAME: (%[[X:.+]]: tensor<?x1x32x64xbf16>)
// CHECK-NOT: linalg.transpose
// CHECK: %[[C:.+]] = tensor.collapse_shape %[[X]] {{\[}}[0], [1, 2], [3]] : tensor<?x1x32x64xbf16> into tensor<?x32x64xbf16>
// CHECK: %[[B:.+]] = tensor.dim %{{.+}}, %c0
// CHECK: %[[E:.+]] = tensor.expand_shape %[[C]] {{\[}}[0], [1], [2, 3]] output_shape [%[[B]], 32, 1, 64] : tensor<?x32x64xbf16> into tensor<?x32x1x64xbf16>
// CHECK: return %[[E]]
func.func @decode_heads(%x: tensor<?x1x32x64xbf16>) -> tensor<?x32x1x64xbf16> {
  %c0 = arith.constant 0 : index
  %b = tensor.dim %x, %c0 : tensor<?x1x32x64xbf16>
  %e = tensor.empty(%b) : tensor<?x32x1x64xbf16>
  %t = linalg.transpose ins(%x : tensor<?x1x32x64xbf16>) outs(%e : tensor<?x32x1x64xbf16>) permutation = [0, 2, 1, 3]
  return %t : tensor<?x32x1x64xbf16>
}

// -----

// Units on both ends and in the middle: each non-unit dimension takes the
// units before it, the last one the units after it.
// CHECK-LABEL: func.func @scattered_units
// CHECK: tensor.collapse_shape %{{.+}} {{\[}}[0, 1], [2, 3]] : tensor<1x4x1x8xf32> into tensor<4x8xf32>
// CHECK: tensor.expand_shape %{{.+}} {{\[}}[0], [1, 2, 3]] output_shape [4, 1, 1, 8] : tensor<4x8xf32> into tensor<4x1x1x8xf32>
func.func @scattered_units(%x: tensor<1x4x1x8x1xf32>, %e: tensor<4x1x1x8xf32>) -> tensor<4x1x1x8xf32> {
  %c = tensor.collapse_shape %x [[0], [1], [2], [3, 4]] : tensor<1x4x1x8x1xf32> into tensor<1x4x1x8xf32>
  %t = linalg.transpose ins(%c : tensor<1x4x1x8xf32>) outs(%e : tensor<4x1x1x8xf32>) permutation = [1, 0, 2, 3]
  return %t : tensor<4x1x1x8xf32>
}

// -----

// Prefill's transpose swaps the sequence (dynamic, maybe not 1) and the
// heads: a real copy, kept; so is a swap of two static non-unit
// dimensions.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-2: linalg.transpose
// CHECK-NOT: tensor.expand_shape
func.func @kept(%x: tensor<?x?x32x64xbf16>, %e: tensor<?x32x?x64xbf16>, %y: tensor<4x8xf32>, %f: tensor<8x4xf32>) -> (tensor<?x32x?x64xbf16>, tensor<8x4xf32>) {
  %t = linalg.transpose ins(%x : tensor<?x?x32x64xbf16>) outs(%e : tensor<?x32x?x64xbf16>) permutation = [0, 2, 1, 3]
  %u = linalg.transpose ins(%y : tensor<4x8xf32>) outs(%f : tensor<8x4xf32>) permutation = [1, 0]
  return %t, %u : tensor<?x32x?x64xbf16>, tensor<8x4xf32>
}
