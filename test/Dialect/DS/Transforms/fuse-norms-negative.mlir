// RUN: ds-opt %s -split-input-file -ds-fuse-norms="emit-remarks" -verify-diagnostics | FileCheck %s

// The mean is over a non-last axis.
// CHECK-LABEL: func @rms_wrong_axis
// CHECK-NOT: ds.rms_norm
func.func @rms_wrong_axis(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %eps = arith.constant dense<1.0e-5> : tensor<1x32xf32>
  %0 = arith.mulf %x, %x : tensor<4x32xf32>
  // expected-remark @below {{ds-fuse-norms: not fused: RMSNorm candidate: the mean is not over the last axis alone}}
  %1 = ds.reduce mean %0 {axes = array<i64: 0>, keep_dims} : (tensor<4x32xf32>) -> tensor<1x32xf32>
  %2 = arith.addf %1, %eps : tensor<1x32xf32>
  %3 = math.rsqrt %2 : tensor<1x32xf32>
  %4 = ds.broadcast %3[] : (tensor<1x32xf32>) -> tensor<4x32xf32>
  %5 = arith.mulf %x, %4 : tensor<4x32xf32>
  return %5 : tensor<4x32xf32>
}

// -----

// eps is added after the square root: sqrt(mean) + eps is not RMSNorm.
// CHECK-LABEL: func @rms_eps_after_sqrt
// CHECK-NOT: ds.rms_norm
func.func @rms_eps_after_sqrt(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %eps = arith.constant dense<1.0e-5> : tensor<4x1xf32>
  %0 = arith.mulf %x, %x : tensor<4x32xf32>
  // expected-remark @below {{ds-fuse-norms: not fused: RMSNorm candidate: no epsilon is added to the mean}}
  %1 = ds.reduce mean %0 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %2 = math.sqrt %1 : tensor<4x1xf32>
  %3 = arith.addf %2, %eps : tensor<4x1xf32>
  %4 = ds.broadcast %3[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %5 = arith.divf %x, %4 : tensor<4x32xf32>
  return %5 : tensor<4x32xf32>
}

// -----

// The divided value is not the squared one.
// CHECK-LABEL: func @rms_other_numerator
// CHECK-NOT: ds.rms_norm
func.func @rms_other_numerator(%x: tensor<4x32xf32>, %y: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %eps = arith.constant dense<1.0e-5> : tensor<4x1xf32>
  %0 = arith.mulf %x, %x : tensor<4x32xf32>
  // expected-remark @below {{RMSNorm candidate: the numerator is not divided by sqrt(mean + eps)}}
  %1 = ds.reduce mean %0 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %2 = arith.addf %1, %eps : tensor<4x1xf32>
  %3 = math.sqrt %2 : tensor<4x1xf32>
  %4 = ds.broadcast %3[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %5 = arith.divf %y, %4 : tensor<4x32xf32>
  return %5 : tensor<4x32xf32>
}

// -----

// The variance uses a different epsilon placement: eps is not a constant.
// CHECK-LABEL: func @layer_norm_eps_not_constant
// CHECK-NOT: ds.layer_norm
func.func @layer_norm_eps_not_constant(%x: tensor<4x32xf32>, %e: tensor<4x1xf32>) -> tensor<4x32xf32> {
  // expected-remark @below {{LayerNorm candidate: the value added to the mean is not a non-negative constant epsilon}}
  %0 = ds.reduce mean %x {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %1 = ds.broadcast %0[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %2 = arith.subf %x, %1 : tensor<4x32xf32>
  %3 = arith.mulf %2, %2 : tensor<4x32xf32>
  %4 = ds.reduce mean %3 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %6 = arith.addf %4, %e : tensor<4x1xf32>
  %7 = math.rsqrt %6 : tensor<4x1xf32>
  %9 = ds.broadcast %7[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %10 = arith.mulf %2, %9 : tensor<4x32xf32>
  return %10 : tensor<4x32xf32>
}

// -----

// Mean without keep_dims.
// CHECK-LABEL: func @layer_norm_no_keep_dims
// CHECK-NOT: ds.layer_norm
func.func @layer_norm_no_keep_dims(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  // expected-remark @below {{LayerNorm candidate: the mean does not keep the reduced dimension}}
  %0 = ds.reduce mean %x {axes = array<i64: 1>} : (tensor<4x4xf32>) -> tensor<4xf32>
  %1 = ds.broadcast %0[] : (tensor<4xf32>) -> tensor<4x4xf32>
  %2 = arith.subf %x, %1 : tensor<4x4xf32>
  return %2 : tensor<4x4xf32>
}

// -----

// eps first, but a negative constant.
// CHECK-LABEL: func @rms_eps_first_negative_eps
// CHECK-NOT: ds.rms_norm
func.func @rms_eps_first_negative_eps(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %eps = arith.constant dense<-1.0e-5> : tensor<4x1xf32>
  %0 = arith.mulf %x, %x : tensor<4x32xf32>
  // expected-remark @below {{RMSNorm candidate: the value added to the mean is not a non-negative constant epsilon}}
  %1 = ds.reduce mean %0 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %2 = arith.addf %eps, %1 : tensor<4x1xf32>
  %3 = math.rsqrt %2 : tensor<4x1xf32>
  %4 = ds.broadcast %3[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %5 = arith.mulf %x, %4 : tensor<4x32xf32>
  return %5 : tensor<4x32xf32>
}

// -----

// eps first, but 2 / sqrt(...) is no reciprocal.
// CHECK-LABEL: func @rms_eps_first_two_over_sqrt
// CHECK-NOT: ds.rms_norm
func.func @rms_eps_first_two_over_sqrt(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %eps = arith.constant dense<1.0e-5> : tensor<4x1xf32>
  %two = arith.constant dense<2.0> : tensor<4x1xf32>
  %0 = arith.mulf %x, %x : tensor<4x32xf32>
  // expected-remark @below {{RMSNorm candidate: the numerator is not divided by sqrt(mean + eps)}}
  %1 = ds.reduce mean %0 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %2 = arith.addf %eps, %1 : tensor<4x1xf32>
  %3 = math.sqrt %2 : tensor<4x1xf32>
  %4 = arith.divf %two, %3 : tensor<4x1xf32>
  %5 = ds.broadcast %4[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %6 = arith.mulf %x, %5 : tensor<4x32xf32>
  return %6 : tensor<4x32xf32>
}
