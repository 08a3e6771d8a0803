// RUN: ds-opt %s --split-input-file --ds-pretranspose-weights | FileCheck %s

// An nn.Linear [N, K] weight becomes an explicit transpose to [K, N]
// (weight preparation, hoisted into @prepare later) and the flag goes.
// CHECK-LABEL: func.func @lm_head
// CHECK: %[[E:.+]] = tensor.empty() : tensor<64x256xf32>
// CHECK: %[[T:.+]] = linalg.transpose ins(%{{.+}} : tensor<256x64xf32>) outs(%[[E]] : tensor<64x256xf32>) permutation = [1, 0]
// CHECK: ds.linear %{{.+}}, %[[T]] :
// CHECK-NOT: transpose_weight
func.func @lm_head(%w: tensor<256x64xf32> {ds.weight = "lm_head.weight"},
                   %x: tensor<?x64xf32>) -> tensor<?x256xf32> {
  %y = ds.linear %x, %w {transpose_weight} : (tensor<?x64xf32>, tensor<256x64xf32>) -> tensor<?x256xf32>
  return %y : tensor<?x256xf32>
}

// -----

// A weight computed from weights (a merged projection) is transposed too;
// an activation operand is not (that would be a transpose every step).
// CHECK-LABEL: func.func @merged_and_activation
// CHECK: %[[CAT:.+]] = tensor.concat
// CHECK: linalg.transpose ins(%[[CAT]] : tensor<128x64xf32>)
// CHECK: ds.linear %{{.+}}, %{{.+}} :
// CHECK: ds.linear %{{.+}}, %{{.+}} {transpose_weight}
func.func @merged_and_activation(%a: tensor<64x64xf32> {ds.weight = "a"},
                                 %b: tensor<64x64xf32> {ds.weight = "b"},
                                 %x: tensor<?x64xf32>, %h: tensor<32x64xf32>)
    -> (tensor<?x128xf32>, tensor<?x32xf32>) {
  %w = tensor.concat dim(0) %a, %b : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<128x64xf32>
  %y = ds.linear %x, %w {transpose_weight} : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  %z = ds.linear %x, %h {transpose_weight} : (tensor<?x64xf32>, tensor<32x64xf32>) -> tensor<?x32xf32>
  return %y, %z : tensor<?x128xf32>, tensor<?x32xf32>
}
