// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// Softmax over the last axis of f16: max and sum reductions in f32 into
// linalg.fill-initialised row tensors, then exp(x - max) / sum truncated.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ROW:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func @softmax_f16
// CHECK-SAME: (%[[X:.+]]: tensor<2x?xf16>)
// CHECK: %[[C1:.+]] = arith.constant 1 : index
// CHECK: %[[D1:.+]] = tensor.dim %[[X]], %[[C1]]
// CHECK: %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[MI:.+]] = linalg.fill ins(%[[NINF]] : f32) outs(%{{.+}} : tensor<2xf32>)
// CHECK: %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]] : tensor<2x?xf16>) outs(%[[MI]] : tensor<2xf32>)
// CHECK: arith.extf
// CHECK: arith.maximumf
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]], #[[$ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]], %[[MAX]] : tensor<2x?xf16>, tensor<2xf32>)
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: %[[E:.+]] = tensor.empty(%[[D1]]) : tensor<2x?xf16>
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]], #[[$ROW]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[MAX]], %[[SUM]] : tensor<2x?xf16>, tensor<2xf32>, tensor<2xf32>) outs(%[[E]] : tensor<2x?xf16>)
// CHECK: %[[SH:.+]] = arith.subf
// CHECK: %[[EX:.+]] = math.exp %[[SH]]
// CHECK: %[[DV:.+]] = arith.divf %[[EX]], %{{.+}} : f32
// CHECK: arith.truncf %[[DV]] : f32 to f16
// CHECK: return %[[R]]
func.func @softmax_f16(%x: tensor<2x?xf16>) -> tensor<2x?xf16> {
  %0 = ds.softmax %x {axis = -1 : i64} : tensor<2x?xf16>
  return %0 : tensor<2x?xf16>
}

// -----

// Log-softmax along a middle axis: x - max - log(sum(exp(x - max))), all f32.
// CHECK-DAG: #[[$ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func @log_softmax_axis1
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$ROW]]], iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$ROW]], #[[$ROW]]], iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel"]
// CHECK: %[[SH:.+]] = arith.subf %{{.+}}, %{{.+}} : f32
// CHECK: %[[L:.+]] = math.log %{{.+}} : f32
// CHECK: arith.subf %[[SH]], %[[L]] : f32
// CHECK-NOT: arith.truncf
func.func @log_softmax_axis1(%x: tensor<?x?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ds.softmax %x {axis = 1 : i64, log} : tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// -----

// Mean over dynamic axes with keep_dims: a sum into the kept dimension, a
// division by the runtime element count, and an expand_shape back to 1x4x1.
// CHECK-DAG: #[[$KEPT:.+]] = affine_map<(d0, d1, d2) -> (d1)>
// CHECK-LABEL: func @reduce_mean_keep_dims
// CHECK-SAME: (%[[X:.+]]: tensor<?x4x?xf32>)
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[D0:.+]] = tensor.dim %[[X]], %[[C0]]
// CHECK-DAG: %[[D2:.+]] = tensor.dim %[[X]], %[[C2]]
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#{{.+}}, #[[$KEPT]]], iterator_types = ["reduction", "parallel", "reduction"]}
// CHECK: arith.addf
// CHECK: %[[N:.+]] = arith.muli %[[D0]], %[[D2]] : index
// CHECK: %[[NI:.+]] = arith.index_cast %[[N]] : index to i64
// CHECK: %[[NF:.+]] = arith.sitofp %[[NI]] : i64 to f32
// CHECK: %[[MEAN:.+]] = linalg.generic
// CHECK-SAME: ins(%[[SUM]] : tensor<4xf32>)
// CHECK: arith.divf %{{.+}}, %[[NF]] : f32
// CHECK: %[[R:.+]] = tensor.expand_shape %[[MEAN]] {{\[\[}}0, 1, 2]] output_shape [1, 4, 1] : tensor<4xf32> into tensor<1x4x1xf32>
// CHECK: return %[[R]]
func.func @reduce_mean_keep_dims(%x: tensor<?x4x?xf32>) -> tensor<1x4x1xf32> {
  %0 = ds.reduce mean %x {axes = array<i64: 0, 2>, keep_dims} : (tensor<?x4x?xf32>) -> tensor<1x4x1xf32>
  return %0 : tensor<1x4x1xf32>
}

// -----

// Max of bf16 starts from -inf in f32 and is truncated once.
// CHECK-LABEL: func @reduce_max_bf16
// CHECK: %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: linalg.fill ins(%[[NINF]] : f32) outs(%{{.+}} : tensor<?xf32>)
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
// CHECK: arith.maximumf
// CHECK: linalg.generic
// CHECK: arith.truncf %{{.+}} : f32 to bf16
func.func @reduce_max_bf16(%x: tensor<?x?xbf16>) -> tensor<?xbf16> {
  %0 = ds.reduce max %x {axes = array<i64: 1>} : (tensor<?x?xbf16>) -> tensor<?xbf16>
  return %0 : tensor<?xbf16>
}

// -----

// Integer min starts from the largest value; prod from one.
// CHECK-LABEL: func @reduce_int
// CHECK: %[[MAXI:.+]] = arith.constant 2147483647 : i32
// CHECK: linalg.fill ins(%[[MAXI]] : i32)
// CHECK: arith.minsi
// CHECK: %[[ONE:.+]] = arith.constant 1 : i32
// CHECK: linalg.fill ins(%[[ONE]] : i32)
// CHECK: arith.muli
func.func @reduce_int(%x: tensor<3x4xi32>) -> (tensor<4xi32>, tensor<3xi32>) {
  %0 = ds.reduce min %x {axes = array<i64: 0>} : (tensor<3x4xi32>) -> tensor<4xi32>
  %1 = ds.reduce prod %x {axes = array<i64: 1>} : (tensor<3x4xi32>) -> tensor<3xi32>
  return %0, %1 : tensor<4xi32>, tensor<3xi32>
}

// -----

// Reducing every axis with keep_dims expands a rank-0 result.
// CHECK-LABEL: func @reduce_sum_all
// CHECK: %[[S:.+]] = linalg.generic
// CHECK-SAME: iterator_types = ["reduction", "reduction"]
// CHECK-SAME: outs(%{{.+}} : tensor<f32>)
// CHECK: tensor.expand_shape %[[S]] [] output_shape [1, 1] : tensor<f32> into tensor<1x1xf32>
func.func @reduce_sum_all(%x: tensor<?x?xf32>) -> tensor<1x1xf32> {
  %0 = ds.reduce sum %x {axes = array<i64: 0, 1>, keep_dims} : (tensor<?x?xf32>) -> tensor<1x1xf32>
  return %0 : tensor<1x1xf32>
}
