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

// -----

// A gate/up pair that does not merge says why once; its SiLU folds back
// into the gate.
func.func @gate_up_bias_on_one(%gate: tensor<8x16xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                               %bias: tensor<16xf32> {ds.weight = "bias"}, %x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  // expected-remark @below {{ds-merge-projections: not fused: gate/up pair: only one of gate and up has a bias}}
  %g = ds.linear %x, %gate bias(%bias) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %u = ds.linear %x, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  return %m : tensor<4x16xf32>
}

// -----

func.func @gate_up_other_uses(%gate: tensor<8x16xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                              %x: tensor<4x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %g = ds.linear %x, %gate : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  // expected-remark @below {{ds-merge-projections: not fused: gate/up pair: gate or up has other uses}}
  %u = ds.linear %x, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %u : tensor<4x16xf32>
  %m = arith.mulf %g, %s : tensor<4x16xf32>
  return %m, %g : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

func.func @gate_up_layouts(%gate: tensor<16x8xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                           %x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  // expected-remark @below {{ds-merge-projections: not fused: gate/up pair: gate and up differ in shape or weight layout}}
  %g = ds.linear %x, %gate {transpose_weight} : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  %u = ds.linear %x, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  return %m : tensor<4x16xf32>
}

// -----

func.func @gate_up_tiled(%gate: tensor<8x16xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                         %x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  // expected-remark @below {{ds-merge-projections: not fused: gate/up pair: up is already tiled}}
  %g = ds.linear %x, %gate : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  // expected-remark @below {{ds-merge-projections: not fused: projection is already tiled}}
  %u = ds.linear %x, %upw {tile = #ds.tile<sizes = [64, 64, 32], warps = 4, stages = 2>} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  return %m : tensor<4x16xf32>
}

