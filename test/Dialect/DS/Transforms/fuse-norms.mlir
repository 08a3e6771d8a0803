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

// -----

// RMSNorm without a weight, eps added first (add(eps, mean)), x * x and
// rsqrt: the scale is a constant of ones.
// CHECK-LABEL: func @rms_eps_first_no_gamma
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x64xf32>)
// CHECK: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : tensor<64xf32>
// CHECK: %[[R:.*]] = ds.rms_norm %[[X]], %[[ONES]] {axis = 2 : i64, epsilon = 9.99999997E-7 : f32}
// CHECK-NOT: math.rsqrt
// CHECK: return %[[R]]
func.func @rms_eps_first_no_gamma(%x: tensor<2x8x64xf32>) -> tensor<2x8x64xf32> {
  %eps = arith.constant dense<1.0e-6> : tensor<f32>
  %0 = arith.mulf %x, %x : tensor<2x8x64xf32>
  %1 = ds.reduce mean %0 {axes = array<i64: 2>, keep_dims} : (tensor<2x8x64xf32>) -> tensor<2x8x1xf32>
  %2 = ds.broadcast %eps[] : (tensor<f32>) -> tensor<2x8x1xf32>
  %3 = arith.addf %2, %1 : tensor<2x8x1xf32>
  %4 = math.rsqrt %3 : tensor<2x8x1xf32>
  %5 = ds.broadcast %4[] : (tensor<2x8x1xf32>) -> tensor<2x8x64xf32>
  %6 = arith.mulf %x, %5 : tensor<2x8x64xf32>
  return %6 : tensor<2x8x64xf32>
}

// -----

// eps first with a weight: Pow(x, 2), 1 / sqrt, rsqrt-side on the left
// of the product, then gamma.
// CHECK-LABEL: func @rms_eps_first_gamma
// CHECK-SAME: (%[[X:.*]]: tensor<4x32xf16>, %[[W:.*]]: tensor<32xf16>)
// CHECK: %[[R:.*]] = ds.rms_norm %[[X]], %[[W]] {axis = 1 : i64, epsilon = 1.00135803E-5 : f32}
// CHECK: return %[[R]]
func.func @rms_eps_first_gamma(%x: tensor<4x32xf16>, %w: tensor<32xf16>) -> tensor<4x32xf16> {
  %two = arith.constant dense<2.0> : tensor<4x32xf16>
  %eps = arith.constant dense<1.0e-5> : tensor<4x1xf16>
  %one = arith.constant dense<1.0> : tensor<4x1xf16>
  %0 = math.powf %x, %two : tensor<4x32xf16>
  %1 = ds.reduce mean %0 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf16>) -> tensor<4x1xf16>
  %2 = arith.addf %eps, %1 : tensor<4x1xf16>
  %3 = math.sqrt %2 : tensor<4x1xf16>
  %4 = arith.divf %one, %3 : tensor<4x1xf16>
  %5 = ds.broadcast %4[] : (tensor<4x1xf16>) -> tensor<4x32xf16>
  %6 = arith.mulf %5, %x : tensor<4x32xf16>
  %7 = ds.broadcast %w[] : (tensor<32xf16>) -> tensor<4x32xf16>
  %8 = arith.mulf %6, %7 : tensor<4x32xf16>
  return %8 : tensor<4x32xf16>
}

// -----

// x / sqrt(eps + mean(x * x)) without a weight over a dynamic last
// dimension: the scale of ones is broadcast to its runtime size.
// CHECK-LABEL: func @rms_eps_first_div_dynamic
// CHECK-SAME: (%[[X:.*]]: tensor<?x?xf32>, %{{.*}}: index)
// CHECK-DAG: %[[ONE:.*]] = arith.constant dense<1.000000e+00> : tensor<f32>
// CHECK-DAG: %[[C1:.*]] = arith.constant 1 : index
// CHECK: %[[D:.*]] = tensor.dim %[[X]], %[[C1]] : tensor<?x?xf32>
// CHECK: %[[ONES:.*]] = ds.broadcast %[[ONE]][%[[D]]] : (tensor<f32>) -> tensor<?xf32>
// CHECK: %[[R:.*]] = ds.rms_norm %[[X]], %[[ONES]] {axis = 1 : i64} : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
// CHECK: return %[[R]]
func.func @rms_eps_first_div_dynamic(%x: tensor<?x?xf32>, %n: index) -> tensor<?x?xf32> {
  %eps = arith.constant dense<1.0e-5> : tensor<f32>
  %0 = arith.mulf %x, %x : tensor<?x?xf32>
  %1 = ds.reduce mean %0 {axes = array<i64: 1>, keep_dims} : (tensor<?x?xf32>) -> tensor<?x1xf32>
  %2 = ds.broadcast %eps[%n] : (tensor<f32>) -> tensor<?x1xf32>
  %3 = arith.addf %2, %1 : tensor<?x1xf32>
  %4 = math.sqrt %3 : tensor<?x1xf32>
  %5 = ds.broadcast %4[%n, %n] : (tensor<?x1xf32>) -> tensor<?x?xf32>
  %6 = arith.divf %x, %5 : tensor<?x?xf32>
  return %6 : tensor<?x?xf32>
}

// -----

// LayerNorm without a weight or bias, eps first: a scale of ones.
// CHECK-LABEL: func @layer_norm_eps_first_no_gamma
// CHECK: %[[ONES:.*]] = arith.constant dense<1.000000e+00> : tensor<16xf32>
// CHECK: ds.layer_norm %{{.*}}, %[[ONES]] {axis = 1 : i64} : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
func.func @layer_norm_eps_first_no_gamma(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %eps = arith.constant dense<1.0e-5> : tensor<4x1xf32>
  %0 = ds.reduce mean %x {axes = array<i64: 1>, keep_dims} : (tensor<4x16xf32>) -> tensor<4x1xf32>
  %1 = ds.broadcast %0[] : (tensor<4x1xf32>) -> tensor<4x16xf32>
  %2 = arith.subf %x, %1 : tensor<4x16xf32>
  %3 = arith.mulf %2, %2 : tensor<4x16xf32>
  %4 = ds.reduce mean %3 {axes = array<i64: 1>, keep_dims} : (tensor<4x16xf32>) -> tensor<4x1xf32>
  %5 = arith.addf %eps, %4 : tensor<4x1xf32>
  %6 = math.rsqrt %5 : tensor<4x1xf32>
  %7 = ds.broadcast %6[] : (tensor<4x1xf32>) -> tensor<4x16xf32>
  %8 = arith.mulf %2, %7 : tensor<4x16xf32>
  return %8 : tensor<4x16xf32>
}

// -----

// Not RMSNorm: eps first but not a constant; the mean of x * y; a
// numerator of 2 instead of 1 before the multiplication.
// CHECK-LABEL: func @rms_eps_first_negative
// CHECK-NOT: ds.rms_norm
// CHECK: math.rsqrt
// CHECK: math.rsqrt
// CHECK: math.sqrt
// CHECK-NOT: ds.rms_norm
func.func @rms_eps_first_negative(%x: tensor<4x32xf32>, %y: tensor<4x32xf32>, %e: tensor<4x1xf32>)
    -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>) {
  %eps = arith.constant dense<1.0e-5> : tensor<4x1xf32>
  %two = arith.constant dense<2.0> : tensor<4x1xf32>
  %0 = arith.mulf %x, %x : tensor<4x32xf32>
  %1 = ds.reduce mean %0 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %2 = arith.addf %e, %1 : tensor<4x1xf32>
  %3 = math.rsqrt %2 : tensor<4x1xf32>
  %4 = ds.broadcast %3[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %5 = arith.mulf %x, %4 : tensor<4x32xf32>
  %10 = arith.mulf %x, %y : tensor<4x32xf32>
  %11 = ds.reduce mean %10 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %12 = arith.addf %eps, %11 : tensor<4x1xf32>
  %13 = math.rsqrt %12 : tensor<4x1xf32>
  %14 = ds.broadcast %13[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %15 = arith.mulf %x, %14 : tensor<4x32xf32>
  %20 = arith.mulf %y, %y : tensor<4x32xf32>
  %21 = ds.reduce mean %20 {axes = array<i64: 1>, keep_dims} : (tensor<4x32xf32>) -> tensor<4x1xf32>
  %22 = arith.addf %eps, %21 : tensor<4x1xf32>
  %23 = math.sqrt %22 : tensor<4x1xf32>
  %24 = arith.divf %two, %23 : tensor<4x1xf32>
  %25 = ds.broadcast %24[] : (tensor<4x1xf32>) -> tensor<4x32xf32>
  %26 = arith.mulf %y, %25 : tensor<4x32xf32>
  return %5, %15, %26 : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>
}
