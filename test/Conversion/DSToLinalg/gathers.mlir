// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// Gather along axis 0: the indices are an input of the generic; each index
// wraps once when negative, is clamped to [0, n - 1] and feeds a
// tensor.extract of the data.
// CHECK-DAG: #[[$IDX:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func @gather_axis0
// CHECK-SAME: (%[[D:.+]]: tensor<?x8xf32>, %[[I:.+]]: tensor<2x?xi64>)
// CHECK: %[[N:.+]] = tensor.dim %[[D]], %{{.+}} : tensor<?x8xf32>
// CHECK: %[[E:.+]] = tensor.empty(%{{.+}}) : tensor<2x?x8xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$IDX]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[I]] : tensor<2x?xi64>) outs(%[[E]] : tensor<2x?x8xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.+]]: i64, %{{.+}}: f32):
// CHECK: %[[IX:.+]] = arith.index_cast %[[IN]] : i64 to index
// CHECK: %[[NEG:.+]] = arith.cmpi slt, %[[IX]], %[[ZERO:.+]] : index
// CHECK: %[[ADD:.+]] = arith.addi %[[IX]], %[[N]] : index
// CHECK: %[[W:.+]] = arith.select %[[NEG]], %[[ADD]], %[[IX]] : index
// CHECK: %[[LAST:.+]] = arith.subi %[[N]], %{{.+}} : index
// CHECK: %[[LO:.+]] = arith.maxsi %[[W]], %[[ZERO]] : index
// CHECK: %[[C:.+]] = arith.minsi %[[LO]], %[[LAST]] : index
// CHECK: %[[K:.+]] = linalg.index 2 : index
// CHECK: %[[V:.+]] = tensor.extract %[[D]][%[[C]], %[[K]]] : tensor<?x8xf32>
// CHECK: linalg.yield %[[V]] : f32
func.func @gather_axis0(%d: tensor<?x8xf32>, %i: tensor<2x?xi64>) -> tensor<2x?x8xf32> {
  %0 = ds.gather %d, %i {axis = 0 : i64} : (tensor<?x8xf32>, tensor<2x?xi64>) -> tensor<2x?x8xf32>
  return %0 : tensor<2x?x8xf32>
}

// -----

// Gather along the last axis (axis = -1) with i32 indices: the data
// coordinates are the outer loops, then the index.
// CHECK-DAG: #[[$IDX:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func @gather_last_axis
// CHECK-SAME: (%[[D:.+]]: tensor<3x5xf16>, %[[I:.+]]: tensor<?x2xi32>)
// CHECK: %[[N:.+]] = arith.constant 5 : index
// CHECK: linalg.generic {indexing_maps = [#[[$IDX]], #{{.+}}]
// CHECK: %[[ROW:.+]] = linalg.index 0 : index
// CHECK: arith.index_cast %{{.+}} : i32 to index
// CHECK: arith.addi %{{.+}}, %[[N]] : index
// CHECK: tensor.extract %[[D]][%[[ROW]], %{{.+}}] : tensor<3x5xf16>
func.func @gather_last_axis(%d: tensor<3x5xf16>, %i: tensor<?x2xi32>) -> tensor<3x?x2xf16> {
  %0 = ds.gather %d, %i {axis = -1 : i64} : (tensor<3x5xf16>, tensor<?x2xi32>) -> tensor<3x?x2xf16>
  return %0 : tensor<3x?x2xf16>
}

// -----

// GatherElements: the result has the indices' shape; only the axis
// coordinate comes from the index.
// CHECK-LABEL: func @gather_elements
// CHECK-SAME: (%[[D:.+]]: tensor<?x?xf32>, %[[I:.+]]: tensor<?x?xi64>)
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[I]] : tensor<?x?xi64>)
// CHECK: %[[ROW:.+]] = linalg.index 0 : index
// CHECK: %[[COL:.+]] = arith.minsi
// CHECK: tensor.extract %[[D]][%[[ROW]], %[[COL]]] : tensor<?x?xf32>
func.func @gather_elements(%d: tensor<?x?xf32>, %i: tensor<?x?xi64>) -> tensor<?x?xf32> {
  %0 = ds.gather_elements %d, %i {axis = 1 : i64} : (tensor<?x?xf32>, tensor<?x?xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// GatherND with one batch dimension and depth 1: the index tuple is read
// from the indices with tensor.extract, the batch coordinate is a loop.
// CHECK-LABEL: func @gather_nd_batch
// CHECK-SAME: (%[[D:.+]]: tensor<4x6x2xf32>, %[[I:.+]]: tensor<4x1xi64>)
// CHECK: %[[E:.+]] = tensor.empty() : tensor<4x2xf32>
// CHECK: linalg.generic
// CHECK-SAME: outs(%[[E]] : tensor<4x2xf32>)
// CHECK: %[[B:.+]] = linalg.index 0 : index
// CHECK: %[[IDX:.+]] = tensor.extract %[[I]][%[[B]], %{{.+}}] : tensor<4x1xi64>
// CHECK: %[[SAFE:.+]] = arith.minsi
// CHECK: %[[K:.+]] = linalg.index 1 : index
// CHECK: tensor.extract %[[D]][%[[B]], %[[SAFE]], %[[K]]] : tensor<4x6x2xf32>
func.func @gather_nd_batch(%d: tensor<4x6x2xf32>, %i: tensor<4x1xi64>) -> tensor<4x2xf32> {
  %0 = ds.gather_nd %d, %i {batch_dims = 1 : i64} : (tensor<4x6x2xf32>, tensor<4x1xi64>) -> tensor<4x2xf32>
  return %0 : tensor<4x2xf32>
}

// -----

// An embedding is a row gather of the table.
// CHECK-DAG: #[[$IDS:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func @embedding
// CHECK-SAME: (%[[T:.+]]: tensor<50257x768xf32>, %[[IDS:.+]]: tensor<1x?xi64>)
// CHECK: %[[V:.+]] = arith.constant 50257 : index
// CHECK: linalg.generic {indexing_maps = [#[[$IDS]], #{{.+}}]
// CHECK-SAME: ins(%[[IDS]] : tensor<1x?xi64>) outs(%{{.+}} : tensor<1x?x768xf32>)
// CHECK: arith.subi %[[V]], %{{.+}} : index
// CHECK: %[[ROW:.+]] = arith.minsi
// CHECK: %[[COL:.+]] = linalg.index 2 : index
// CHECK: tensor.extract %[[T]][%[[ROW]], %[[COL]]] : tensor<50257x768xf32>
func.func @embedding(%t: tensor<50257x768xf32>, %ids: tensor<1x?xi64>) -> tensor<1x?x768xf32> {
  %0 = ds.embedding %t, %ids : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}
