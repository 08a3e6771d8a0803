// RUN: ds-opt %s --split-input-file --ds-pretranspose-weights | FileCheck %s

// A [K, N] weight becomes an explicit transpose to [N, K] (weight
// preparation, hoisted into @prepare later) and the flag is set.
// CHECK-LABEL: func.func @up_proj
// CHECK: %[[E:.+]] = tensor.empty() : tensor<256x64xf32>
// CHECK: %[[T:.+]] = linalg.transpose ins(%{{.+}} : tensor<64x256xf32>) outs(%[[E]] : tensor<256x64xf32>) permutation = [1, 0]
// CHECK: ds.linear %{{.+}}, %[[T]] {transpose_weight} :
func.func @up_proj(%w: tensor<64x256xf32> {ds.weight = "up.weight"},
                   %x: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %y = ds.linear %x, %w : (tensor<?x64xf32>, tensor<64x256xf32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// An nn.Linear [N, K] weight (a tied LM head) is already in place.
// CHECK-LABEL: func.func @lm_head
// CHECK-NOT: linalg.transpose
// CHECK: ds.linear %{{.+}}, %{{.+}} {transpose_weight}
func.func @lm_head(%w: tensor<256x64xf32> {ds.weight = "embed.weight"},
                   %x: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %y = ds.linear %x, %w {transpose_weight} : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// A weight computed from weights (a merged projection) is transposed too;
// an activation operand is not (that would be a transpose every step).
// CHECK-LABEL: func.func @merged_and_activation
// CHECK: %[[CAT:.+]] = tensor.concat
// CHECK: linalg.transpose ins(%[[CAT]] : tensor<64x128xf32>)
// CHECK: ds.linear %{{.+}}, %{{.+}} {transpose_weight} :
// CHECK: ds.linear %{{.+}}, %{{.+}} :
func.func @merged_and_activation(%a: tensor<64x64xf32> {ds.weight = "a"},
                                 %b: tensor<64x64xf32> {ds.weight = "b"},
                                 %x: tensor<?x64xf32>, %h: tensor<64x32xf32>)
    -> (tensor<?x128xf32>, tensor<?x32xf32>) {
  %w = tensor.concat dim(1) %a, %b : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x128xf32>
  %y = ds.linear %x, %w : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %z = ds.linear %x, %h : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  return %y, %z : tensor<?x128xf32>, tensor<?x32xf32>
}
