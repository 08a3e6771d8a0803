// RUN: ds-opt %s -split-input-file -verify-diagnostics -pass-pipeline='builtin.module(func.func(ds-fuse-linear{emit-remarks=true}))'

func.func @scores(%q: tensor<2x4x8xf32>, %k: tensor<2x8x4xf32>) -> tensor<2x4x4xf32> {
  // expected-remark @below {{ds-fuse-linear: not fused: right operand is an activation, not a weight}}
  %s = ds.matmul %q, %k : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
  return %s : tensor<2x4x4xf32>
}

// -----

func.func @rank3(%q: tensor<2x4x8xf32>, %w: tensor<2x8x4xf32> {ds.weight = "w"}) -> tensor<2x4x4xf32> {
  // expected-remark @below {{ds-fuse-linear: not fused: right operand is a weight of rank 3, not a matrix}}
  %s = ds.matmul %q, %w : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
  return %s : tensor<2x4x4xf32>
}

// -----

func.func @integer(%q: tensor<4x8xi32>) -> tensor<4x4xi32> {
  %w = arith.constant dense<1> : tensor<8x4xi32>
  // expected-remark @below {{ds-fuse-linear: not fused: operands are not of one float element type}}
  %s = ds.matmul %q, %w : (tensor<4x8xi32>, tensor<8x4xi32>) -> tensor<4x4xi32>
  return %s : tensor<4x4xi32>
}
