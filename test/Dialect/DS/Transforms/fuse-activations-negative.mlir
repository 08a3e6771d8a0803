// RUN: ds-opt %s -split-input-file -ds-fuse-activations="emit-remarks" -verify-diagnostics | FileCheck %s

// The tanh scale is not sqrt(2/pi).
// CHECK-LABEL: func @gelu_tanh_wrong_scale
// CHECK-NOT: ds.gelu
func.func @gelu_tanh_wrong_scale(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %half = arith.constant dense<0.5> : tensor<4x16xf32>
  %k = arith.constant dense<0.044715> : tensor<4x16xf32>
  %c = arith.constant dense<0.7> : tensor<4x16xf32>
  %one = arith.constant dense<1.0> : tensor<4x16xf32>
  %0 = arith.mulf %x, %x : tensor<4x16xf32>
  %1 = arith.mulf %0, %x : tensor<4x16xf32>
  %2 = arith.mulf %k, %1 : tensor<4x16xf32>
  %3 = arith.addf %2, %x : tensor<4x16xf32>
  %4 = arith.mulf %c, %3 : tensor<4x16xf32>
  // expected-remark @below {{ds-fuse-activations: not fused: GELU (tanh) candidate: tanh's argument is not sqrt(2/pi) times a polynomial}}
  %5 = math.tanh %4 : tensor<4x16xf32>
  %6 = arith.addf %one, %5 : tensor<4x16xf32>
  %7 = arith.mulf %x, %6 : tensor<4x16xf32>
  %8 = arith.mulf %7, %half : tensor<4x16xf32>
  return %8 : tensor<4x16xf32>
}

// -----

// The cubic coefficient is wrong.
// CHECK-LABEL: func @gelu_tanh_wrong_cubic
// CHECK-NOT: ds.gelu
func.func @gelu_tanh_wrong_cubic(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %half = arith.constant dense<0.5> : tensor<4x16xf32>
  %k = arith.constant dense<0.05> : tensor<4x16xf32>
  %c = arith.constant dense<0.797884583> : tensor<4x16xf32>
  %one = arith.constant dense<1.0> : tensor<4x16xf32>
  %0 = arith.mulf %x, %x : tensor<4x16xf32>
  %1 = arith.mulf %0, %x : tensor<4x16xf32>
  %2 = arith.mulf %k, %1 : tensor<4x16xf32>
  %3 = arith.addf %2, %x : tensor<4x16xf32>
  %4 = arith.mulf %c, %3 : tensor<4x16xf32>
  // expected-remark @below {{GELU (tanh) candidate: the cubic coefficient is 0.050000, not 0.044715}}
  %5 = math.tanh %4 : tensor<4x16xf32>
  %6 = arith.addf %one, %5 : tensor<4x16xf32>
  %7 = arith.mulf %x, %6 : tensor<4x16xf32>
  %8 = arith.mulf %7, %half : tensor<4x16xf32>
  return %8 : tensor<4x16xf32>
}

// -----

// erf of x / 2 is not the Gaussian CDF.
// CHECK-LABEL: func @gelu_erf_wrong_constant
// CHECK-NOT: ds.gelu
func.func @gelu_erf_wrong_constant(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = arith.constant dense<2.0> : tensor<8xf32>
  %one = arith.constant dense<1.0> : tensor<8xf32>
  %half = arith.constant dense<0.5> : tensor<8xf32>
  %0 = arith.divf %x, %s : tensor<8xf32>
  // expected-remark @below {{GELU (erf) candidate: erf's argument is not x / sqrt(2)}}
  %1 = math.erf %0 : tensor<8xf32>
  %2 = arith.addf %one, %1 : tensor<8xf32>
  %3 = arith.mulf %x, %2 : tensor<8xf32>
  %4 = arith.mulf %3, %half : tensor<8xf32>
  return %4 : tensor<8xf32>
}

// -----

// 1 + erf(x / sqrt 2) scaled by 0.25 rather than 0.5.
// CHECK-LABEL: func @gelu_erf_wrong_half
// CHECK-NOT: ds.gelu
func.func @gelu_erf_wrong_half(%x: tensor<8xf32>) -> tensor<8xf32> {
  %s = arith.constant dense<1.41421354> : tensor<8xf32>
  %one = arith.constant dense<1.0> : tensor<8xf32>
  %q = arith.constant dense<0.25> : tensor<8xf32>
  %0 = arith.divf %x, %s : tensor<8xf32>
  // expected-remark @below {{GELU (erf) candidate: 1 + erf is not multiplied by exactly 0.5 * x}}
  %1 = math.erf %0 : tensor<8xf32>
  %2 = arith.addf %one, %1 : tensor<8xf32>
  %3 = arith.mulf %x, %2 : tensor<8xf32>
  %4 = arith.mulf %3, %q : tensor<8xf32>
  return %4 : tensor<8xf32>
}

// -----

// The sigmoid multiplies a different tensor: not SiLU.
// CHECK-LABEL: func @sigmoid_gate
// CHECK-NOT: ds.silu
func.func @sigmoid_gate(%x: tensor<8xf32>, %y: tensor<8xf32>) -> tensor<8xf32> {
  %0 = ds.sigmoid %x : tensor<8xf32>
  %1 = arith.mulf %y, %0 : tensor<8xf32>
  return %1 : tensor<8xf32>
}

// -----

// Gate and up are separate tensors: SiLU fuses, and SwiGLU is left to
// ds-merge-projections without a remark (no miss here).
// CHECK-LABEL: func @swiglu_separate
// CHECK: ds.silu
// CHECK-NOT: ds.swiglu
func.func @swiglu_separate(%g: tensor<8xf32>, %u: tensor<8xf32>) -> tensor<8xf32> {
  %0 = ds.sigmoid %g : tensor<8xf32>
  %1 = arith.mulf %g, %0 : tensor<8xf32>
  %2 = arith.mulf %1, %u : tensor<8xf32>
  return %2 : tensor<8xf32>
}

// -----

// Halves of two different tensors.
// CHECK-LABEL: func @swiglu_two_sources
// CHECK-NOT: ds.swiglu
func.func @swiglu_two_sources(%a: tensor<4x16xf32>, %b: tensor<4x16xf32>) -> tensor<4x8xf32> {
  %g = tensor.extract_slice %a[0, 0] [4, 8] [1, 1] : tensor<4x16xf32> to tensor<4x8xf32>
  %u = tensor.extract_slice %b[0, 8] [4, 8] [1, 1] : tensor<4x16xf32> to tensor<4x8xf32>
  %0 = ds.sigmoid %g : tensor<4x8xf32>
  %1 = arith.mulf %g, %0 : tensor<4x8xf32>
  // expected-remark @below {{SwiGLU candidate: gate and up are slices of different tensors}}
  %2 = arith.mulf %1, %u : tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}

// -----

// The halves are swapped: silu(up half) * gate half is not ds.swiglu.
// CHECK-LABEL: func @swiglu_swapped
// CHECK-NOT: ds.swiglu
func.func @swiglu_swapped(%gu: tensor<4x16xf32>) -> tensor<4x8xf32> {
  %g = tensor.extract_slice %gu[0, 8] [4, 8] [1, 1] : tensor<4x16xf32> to tensor<4x8xf32>
  %u = tensor.extract_slice %gu[0, 0] [4, 8] [1, 1] : tensor<4x16xf32> to tensor<4x8xf32>
  %0 = ds.sigmoid %g : tensor<4x8xf32>
  %1 = arith.mulf %g, %0 : tensor<4x8xf32>
  // expected-remark @below {{SwiGLU candidate: the slices are not the two halves of the last dimension}}
  %2 = arith.mulf %1, %u : tensor<4x8xf32>
  return %2 : tensor<4x8xf32>
}
