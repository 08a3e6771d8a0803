// RUN: ds-opt %s -split-input-file -ds-fuse-activations | FileCheck %s

// GPT-2's tanh GELU: (x * 0.5) * (1 + tanh(0.79788 * (x + 0.044715 x^3))).
// CHECK-LABEL: func @gelu_tanh_gpt2
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x256xf32>)
// CHECK: %[[R:.*]] = ds.gelu %[[X]] approximation = tanh : tensor<2x8x256xf32>
// CHECK-NOT: math.tanh
// CHECK: return %[[R]]
func.func @gelu_tanh_gpt2(%x: tensor<2x8x256xf32>) -> tensor<2x8x256xf32> {
  %half = arith.constant dense<0.5> : tensor<f32>
  %three = arith.constant dense<3.0> : tensor<f32>
  %k = arith.constant dense<0.044715> : tensor<f32>
  %c = arith.constant dense<0.797884583> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %0 = ds.broadcast %half[] : (tensor<f32>) -> tensor<2x8x256xf32>
  %1 = arith.mulf %x, %0 : tensor<2x8x256xf32>
  %2 = ds.broadcast %three[] : (tensor<f32>) -> tensor<2x8x256xf32>
  %3 = math.powf %x, %2 : tensor<2x8x256xf32>
  %4 = ds.broadcast %k[] : (tensor<f32>) -> tensor<2x8x256xf32>
  %5 = arith.mulf %3, %4 : tensor<2x8x256xf32>
  %6 = arith.addf %x, %5 : tensor<2x8x256xf32>
  %7 = ds.broadcast %c[] : (tensor<f32>) -> tensor<2x8x256xf32>
  %8 = arith.mulf %6, %7 : tensor<2x8x256xf32>
  %9 = math.tanh %8 : tensor<2x8x256xf32>
  %10 = ds.broadcast %one[] : (tensor<f32>) -> tensor<2x8x256xf32>
  %11 = arith.addf %9, %10 : tensor<2x8x256xf32>
  %12 = arith.mulf %1, %11 : tensor<2x8x256xf32>
  return %12 : tensor<2x8x256xf32>
}

// -----

// tanh GELU with x * x * x and 0.5 applied last.
// CHECK-LABEL: func @gelu_tanh_cube_mul
// CHECK: ds.gelu %{{.*}} approximation = tanh : tensor<4x16xf32>
// CHECK-NOT: math.tanh
func.func @gelu_tanh_cube_mul(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %half = arith.constant dense<0.5> : tensor<4x16xf32>
  %k = arith.constant dense<0.044715> : tensor<4x16xf32>
  %c = arith.constant dense<0.797884583> : tensor<4x16xf32>
  %one = arith.constant dense<1.0> : tensor<4x16xf32>
  %0 = arith.mulf %x, %x : tensor<4x16xf32>
  %1 = arith.mulf %0, %x : tensor<4x16xf32>
  %2 = arith.mulf %k, %1 : tensor<4x16xf32>
  %3 = arith.addf %2, %x : tensor<4x16xf32>
  %4 = arith.mulf %c, %3 : tensor<4x16xf32>
  %5 = math.tanh %4 : tensor<4x16xf32>
  %6 = arith.addf %one, %5 : tensor<4x16xf32>
  %7 = arith.mulf %x, %6 : tensor<4x16xf32>
  %8 = arith.mulf %7, %half : tensor<4x16xf32>
  return %8 : tensor<4x16xf32>
}

// -----

// BERT's erf GELU: ((x * (1 + erf(x / 1.4142))) * 0.5).
// CHECK-LABEL: func @gelu_erf_bert
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x128xf32>)
// CHECK: %[[R:.*]] = ds.gelu %[[X]] : tensor<2x8x128xf32>
// CHECK-NOT: math.erf
// CHECK: return %[[R]]
func.func @gelu_erf_bert(%x: tensor<2x8x128xf32>) -> tensor<2x8x128xf32> {
  %s = arith.constant dense<1.41421354> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<f32>
  %half = arith.constant dense<0.5> : tensor<f32>
  %0 = ds.broadcast %s[] : (tensor<f32>) -> tensor<2x8x128xf32>
  %1 = arith.divf %x, %0 : tensor<2x8x128xf32>
  %2 = math.erf %1 : tensor<2x8x128xf32>
  %3 = ds.broadcast %one[] : (tensor<f32>) -> tensor<2x8x128xf32>
  %4 = arith.addf %2, %3 : tensor<2x8x128xf32>
  %5 = arith.mulf %x, %4 : tensor<2x8x128xf32>
  %6 = ds.broadcast %half[] : (tensor<f32>) -> tensor<2x8x128xf32>
  %7 = arith.mulf %5, %6 : tensor<2x8x128xf32>
  return %7 : tensor<2x8x128xf32>
}

// -----

// erf GELU as 0.5 * x * (1 + erf(x * 0.70710678)).
// CHECK-LABEL: func @gelu_erf_mul
// CHECK: ds.gelu %{{.*}} : tensor<8xf32>
// CHECK-NOT: math.erf
func.func @gelu_erf_mul(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = arith.constant dense<0.707106769> : tensor<8xf32>
  %one = arith.constant dense<1.0> : tensor<8xf32>
  %half = arith.constant dense<0.5> : tensor<8xf32>
  %0 = arith.mulf %x, %s : tensor<8xf32>
  %1 = math.erf %0 : tensor<8xf32>
  %2 = arith.addf %one, %1 : tensor<8xf32>
  %3 = arith.mulf %half, %x : tensor<8xf32>
  %4 = arith.mulf %3, %2 : tensor<8xf32>
  return %4 : tensor<8xf32>
}

// -----

// SiLU with ds.sigmoid, times an up projection that is a separate tensor:
// the SiLU fuses, the product stays for ds-merge-projections.
// CHECK-LABEL: func @silu_sigmoid
// CHECK-SAME: (%[[G:.*]]: tensor<2x8x128xf32>, %[[U:.*]]: tensor<2x8x128xf32>)
// CHECK: %[[S:.*]] = ds.silu %[[G]] : tensor<2x8x128xf32>
// CHECK: arith.mulf %[[S]], %[[U]]
// CHECK-NOT: ds.sigmoid
func.func @silu_sigmoid(%g: tensor<2x8x128xf32>, %u: tensor<2x8x128xf32>) -> tensor<2x8x128xf32> {
  %0 = ds.sigmoid %g : tensor<2x8x128xf32>
  %1 = arith.mulf %g, %0 : tensor<2x8x128xf32>
  %2 = arith.mulf %1, %u : tensor<2x8x128xf32>
  return %2 : tensor<2x8x128xf32>
}

// -----

// SiLU with the sigmoid expanded: x * (1 / (1 + exp(-x))).
// CHECK-LABEL: func @silu_expanded
// CHECK: ds.silu %{{.*}} : tensor<4x8xf32>
// CHECK-NOT: math.exp
func.func @silu_expanded(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %one = arith.constant dense<1.0> : tensor<4x8xf32>
  %0 = arith.negf %x : tensor<4x8xf32>
  %1 = math.exp %0 : tensor<4x8xf32>
  %2 = arith.addf %one, %1 : tensor<4x8xf32>
  %3 = arith.divf %one, %2 : tensor<4x8xf32>
  %4 = arith.mulf %3, %x : tensor<4x8xf32>
  return %4 : tensor<4x8xf32>
}

// -----

// SwiGLU over the two halves of a merged gate/up tensor.
// CHECK-LABEL: func @swiglu_merged
// CHECK-SAME: (%[[GU:.*]]: tensor<2x8x256xf32>)
// CHECK: %[[R:.*]] = ds.swiglu %[[GU]] : (tensor<2x8x256xf32>) -> tensor<2x8x128xf32>
// CHECK-NOT: ds.silu
// CHECK: return %[[R]]
func.func @swiglu_merged(%gu: tensor<2x8x256xf32>) -> tensor<2x8x128xf32> {
  %g = tensor.extract_slice %gu[0, 0, 0] [2, 8, 128] [1, 1, 1] : tensor<2x8x256xf32> to tensor<2x8x128xf32>
  %u = tensor.extract_slice %gu[0, 0, 128] [2, 8, 128] [1, 1, 1] : tensor<2x8x256xf32> to tensor<2x8x128xf32>
  %0 = ds.sigmoid %g : tensor<2x8x128xf32>
  %1 = arith.mulf %g, %0 : tensor<2x8x128xf32>
  %2 = arith.mulf %1, %u : tensor<2x8x128xf32>
  return %2 : tensor<2x8x128xf32>
}
