// RUN: ds-opt %s -split-input-file -verify-diagnostics -pass-pipeline='builtin.module(func.func(ds-merge-projections{emit-remarks=true}))'

func.func @activation(%a: tensor<8x16xf32> {ds.weight = "a"}, %b: tensor<8x16xf32> {ds.weight = "b"},
                      %x: tensor<4x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %0 = ds.linear %x, %a : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  // expected-remark @below {{ds-merge-projections: not fused: projection has activation 'gelu', the others of its input none}}
  %1 = ds.linear %x, %b {activation = #ds<activation gelu>} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  return %0, %1 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

func.func @residual(%a: tensor<8x16xf32> {ds.weight = "a"}, %b: tensor<8x16xf32> {ds.weight = "b"},
                    %x: tensor<4x8xf32>, %r: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  // expected-remark @below {{ds-merge-projections: not fused: projection has a residual}}
  %0 = ds.linear %x, %a residual(%r) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %1 = ds.linear %x, %b : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  return %0, %1 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

func.func @bias(%a: tensor<8x16xf32> {ds.weight = "a"}, %b: tensor<8x16xf32> {ds.weight = "b"},
                %bias: tensor<16xf32> {ds.weight = "bias"}, %x: tensor<4x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  // expected-remark @below {{ds-merge-projections: not fused: projections of this input differ in weight layout, bias or element type}}
  %0 = ds.linear %x, %a bias(%bias) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  // expected-remark @below {{ds-merge-projections: not fused: projections of this input differ in weight layout, bias or element type}}
  %1 = ds.linear %x, %b : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  return %0, %1 : tensor<4x16xf32>, tensor<4x16xf32>
}
