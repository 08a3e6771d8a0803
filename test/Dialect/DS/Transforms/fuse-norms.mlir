// RUN: ds-opt %s -split-input-file -ds-fuse-norms | FileCheck %s

// Llama RMSNorm as the dynamo exporter writes it: pow 2, mean, + eps, sqrt,
// 1 / s, x * r, weight * (x * r).
// CHECK-LABEL: func @rms_llama
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK: %[[R:.*]] = ds.rms_norm %[[X]], %[[W]] {axis = 2 : i64, epsilon = 9.99999997E-7 : f32}
// CHECK-NOT: math.sqrt
// CHECK: return %[[R]]
func.func @rms_llama(%x: tensor<2x8x64xf32>, %w: tensor<64xf32>) -> tensor<2x8x64xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %one = arith.constant 1.0 : f32
  %0 = ds.broadcast %two[] : (tensor<f32>) -> tensor<2x8x64xf32>
  %1 = math.powf %x, %0 : tensor<2x8x64xf32>
  %2 = ds.reduce mean %1 {axes = array<i64: 2>, keep_dims} : (tensor<2x8x64xf32>) -> tensor<2x8x1xf32>
  %3 = ds.broadcast %eps[] : (tensor<f32>) -> tensor<2x8x1xf32>
  %4 = arith.addf %2, %3 : tensor<2x8x1xf32>
  %5 = math.sqrt %4 : tensor<2x8x1xf32>
  %6 = tensor.splat %one : tensor<2x8x1xf32>
  %7 = arith.divf %6, %5 : tensor<2x8x1xf32>
  %8 = ds.broadcast %7[] : (tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %9 = arith.mulf %x, %8 : tensor<2x8x64xf32>
  %10 = ds.broadcast %w[] : (tensor<64xf32>) -> tensor<2x8x64xf32>
  %11 = arith.mulf %10, %9 : tensor<2x8x64xf32>
  return %11 : tensor<2x8x64xf32>
}

// -----

// x / sqrt(mean(x^2) + eps) * g with a dynamic row count and g as [1, 1, D].
// CHECK-LABEL: func @rms_div
// CHECK: %[[G:.*]] = tensor.collapse_shape %{{.*}} {{\[\[}}0, 1, 2]] : tensor<1x1x16xf32> into tensor<16xf32>
// CHECK: ds.rms_norm %{{.*}}, %[[G]] {axis = 2 : i64} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
func.func @rms_div(%x: tensor<?x?x16xf32>, %g: tensor<1x1x16xf32>, %a: index, %b: index) -> tensor<?x?x16xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %0 = ds.broadcast %two[%a, %b] : (tensor<f32>) -> tensor<?x?x16xf32>
  %1 = math.powf %x, %0 : tensor<?x?x16xf32>
  %2 = ds.reduce mean %1 {axes = array<i64: 2>, keep_dims} : (tensor<?x?x16xf32>) -> tensor<?x?x1xf32>
  %3 = ds.broadcast %eps[%a, %b] : (tensor<f32>) -> tensor<?x?x1xf32>
  %4 = arith.addf %2, %3 : tensor<?x?x1xf32>
  %5 = math.sqrt %4 : tensor<?x?x1xf32>
  %6 = ds.broadcast %5[%a, %b] : (tensor<?x?x1xf32>) -> tensor<?x?x16xf32>
  %7 = arith.divf %x, %6 : tensor<?x?x16xf32>
  %8 = ds.broadcast %g[%a, %b] : (tensor<1x1x16xf32>) -> tensor<?x?x16xf32>
  %9 = arith.mulf %7, %8 : tensor<?x?x16xf32>
  return %9 : tensor<?x?x16xf32>
}

// -----

// Decomposed LayerNorm (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div,
// Mul gamma, Add beta).
// CHECK-LABEL: func @layer_norm_div
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x64xf32>, %[[G:.*]]: tensor<64xf32>, %[[B:.*]]: tensor<64xf32>)
// CHECK: %[[R:.*]] = ds.layer_norm %[[X]], %[[G]], %[[B]] {axis = 2 : i64}
// CHECK-NOT: ds.reduce
// CHECK: return %[[R]]
func.func @layer_norm_div(%x: tensor<2x8x64xf32>, %g: tensor<64xf32>, %b: tensor<64xf32>) -> tensor<2x8x64xf32> {
  %two = arith.constant dense<2.0> : tensor<f32>
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %0 = ds.reduce mean %x {axes = array<i64: 2>, keep_dims} : (tensor<2x8x64xf32>) -> tensor<2x8x1xf32>
  %1 = ds.broadcast %0[] : (tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %2 = arith.subf %x, %1 : tensor<2x8x64xf32>
  %3 = ds.broadcast %two[] : (tensor<f32>) -> tensor<2x8x64xf32>
  %4 = math.powf %2, %3 : tensor<2x8x64xf32>
  %5 = ds.reduce mean %4 {axes = array<i64: 2>, keep_dims} : (tensor<2x8x64xf32>) -> tensor<2x8x1xf32>
  %6 = ds.broadcast %eps[] : (tensor<f32>) -> tensor<2x8x1xf32>
  %7 = arith.addf %5, %6 : tensor<2x8x1xf32>
  %8 = math.sqrt %7 : tensor<2x8x1xf32>
  %9 = ds.broadcast %8[] : (tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %10 = arith.divf %2, %9 : tensor<2x8x64xf32>
  %11 = ds.broadcast %g[] : (tensor<64xf32>) -> tensor<2x8x64xf32>
  %12 = arith.mulf %10, %11 : tensor<2x8x64xf32>
  %13 = ds.broadcast %b[] : (tensor<64xf32>) -> tensor<2x8x64xf32>
  %14 = arith.addf %12, %13 : tensor<2x8x64xf32>
  return %14 : tensor<2x8x64xf32>
}

// -----

// LayerNorm with d * d, 1 / sqrt and a multiply, gamma but no beta.
// CHECK-LABEL: func @layer_norm_recip_no_beta
// CHECK: ds.layer_norm %{{.*}}, %{{.*}} {axis = 1 : i64, epsilon = 9.99999996E-13 : f32} : (tensor<4x32xf32>, tensor<32xf32>) -> tensor<4x32xf32>
// CHECK-NOT: math.sqrt
func.func @layer_norm_recip_no_beta(%x: tensor<4x32xf32>, %g: tensor<32xf32>) -> tensor<4x32xf32> {
  %eps = arith.constant dense<1.0e-12> : tensor<f32>
  %one = arith.constant dense<1.0> : tensor<4x1xf32>
  %0 = ds.reduce mean %x {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %1 = ds.broadcast %0[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %2 = arith.subf %x, %1 : tensor<4x32xf32>
  %3 = arith.mulf %2, %2 : tensor<4x32xf32>
  %4 = ds.reduce mean %3 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %5 = ds.broadcast %eps[] : (tensor<f32>) -> tensor<4x1xf32>
  %6 = arith.addf %4, %5 : tensor<4x1xf32>
  %7 = math.sqrt %6 : tensor<4x1xf32>
  %8 = arith.divf %one, %7 : tensor<4x1xf32>
  %9 = ds.broadcast %8[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %10 = arith.mulf %2, %9 : tensor<4x32xf32>
  %11 = ds.broadcast %g[] : (tensor<32xf32>) -> tensor<4x32xf32>
  %12 = arith.mulf %11, %10 : tensor<4x32xf32>
  return %12 : tensor<4x32xf32>
}
