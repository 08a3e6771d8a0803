// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// A static size-1 dimension broadcast to a larger one reads index 0; a
// missing leading dimension is not indexed; dynamic sizes come from the op.
// CHECK-DAG: #[[$BMAP:.+]] = affine_map<(d0, d1, d2) -> (d1, 0)>
// CHECK-DAG: #[[$ID3:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func @broadcast_unit_dim
// CHECK-SAME: (%[[X:.+]]: tensor<4x1xf32>, %[[N:.+]]: index, %[[K:.+]]: index)
// CHECK: %[[E:.+]] = tensor.empty(%[[N]], %[[K]]) : tensor<?x4x?xf32>
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$BMAP]], #[[$ID3]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]] : tensor<4x1xf32>) outs(%[[E]] : tensor<?x4x?xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.+]]: f32, %{{.+}}: f32):
// CHECK-NEXT: linalg.yield %[[IN]] : f32
// CHECK: return %[[R]]
func.func @broadcast_unit_dim(%x: tensor<4x1xf32>, %n: index, %k: index) -> tensor<?x4x?xf32> {
  %0 = ds.broadcast %x [%n, %k] : (tensor<4x1xf32>) -> tensor<?x4x?xf32>
  return %0 : tensor<?x4x?xf32>
}

// -----

// A dynamic input dimension is taken to equal the result's: it is indexed
// by its loop, never broadcast at run time.
// CHECK-DAG: #[[$DMAP:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @broadcast_dynamic_dim
// CHECK: linalg.generic {indexing_maps = [#[[$DMAP]], #{{.+}}]
// CHECK-SAME: ins(%{{.+}} : tensor<?xi1>) outs(%{{.+}} : tensor<3x?xi1>)
func.func @broadcast_dynamic_dim(%x: tensor<?xi1>, %n: index) -> tensor<3x?xi1> {
  %0 = ds.broadcast %x [%n] : (tensor<?xi1>) -> tensor<3x?xi1>
  return %0 : tensor<3x?xi1>
}

// -----

// Batch broadcasting: lhs batch [2, 1] against rhs batch [5]. The size-1
// batch dimension reads index 0 and the missing one is not indexed. f16
// accumulates in f32 and is truncated once.
// CHECK-DAG: #[[$LHS:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, 0, d2, d4)>
// CHECK-DAG: #[[$RHS:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d4, d3)>
// CHECK-DAG: #[[$OUT:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func @matmul_batch_broadcast_f16
// CHECK-SAME: (%[[A:.+]]: tensor<2x1x3x4xf16>, %[[B:.+]]: tensor<5x4x6xf16>)
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[INIT:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%{{.+}} : tensor<2x5x3x6xf32>)
// CHECK: %[[ACC:.+]] = linalg.generic {indexing_maps = [#[[$LHS]], #[[$RHS]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[A]], %[[B]] : tensor<2x1x3x4xf16>, tensor<5x4x6xf16>) outs(%[[INIT]] : tensor<2x5x3x6xf32>)
// CHECK: %[[EA:.+]] = arith.extf %{{.+}} : f16 to f32
// CHECK: %[[EB:.+]] = arith.extf %{{.+}} : f16 to f32
// CHECK: %[[M:.+]] = arith.mulf %[[EA]], %[[EB]] : f32
// CHECK: arith.addf %{{.+}}, %[[M]] : f32
// CHECK: %[[R:.+]] = linalg.generic
// CHECK-SAME: ins(%[[ACC]] : tensor<2x5x3x6xf32>) outs(%{{.+}} : tensor<2x5x3x6xf16>)
// CHECK: arith.truncf %{{.+}} : f32 to f16
// CHECK: return %[[R]]
func.func @matmul_batch_broadcast_f16(%a: tensor<2x1x3x4xf16>, %b: tensor<5x4x6xf16>) -> tensor<2x5x3x6xf16> {
  %0 = ds.matmul %a, %b : (tensor<2x1x3x4xf16>, tensor<5x4x6xf16>) -> tensor<2x5x3x6xf16>
  return %0 : tensor<2x5x3x6xf16>
}

// -----

// A rank-1 rhs is a vector: no N loop. Integers accumulate in their type,
// with no cast afterwards.
// CHECK-DAG: #[[$L:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$R:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[$O:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func @matmul_vector_i32
// CHECK-SAME: (%[[A:.+]]: tensor<?x4xi32>, %[[B:.+]]: tensor<4xi32>)
// CHECK: %[[C0:.+]] = arith.constant 0 : index
// CHECK: %[[M:.+]] = tensor.dim %[[A]], %[[C0]]
// CHECK: %[[E:.+]] = tensor.empty(%[[M]]) : tensor<?xi32>
// CHECK: %[[F:.+]] = linalg.fill ins(%{{.+}} : i32) outs(%[[E]] : tensor<?xi32>)
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$L]], #[[$R]], #[[$O]]], iterator_types = ["parallel", "reduction"]}
// CHECK: arith.muli
// CHECK: arith.addi
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]] : tensor<?xi32>
func.func @matmul_vector_i32(%a: tensor<?x4xi32>, %b: tensor<4xi32>) -> tensor<?xi32> {
  %0 = ds.matmul %a, %b : (tensor<?x4xi32>, tensor<4xi32>) -> tensor<?xi32>
  return %0 : tensor<?xi32>
}

// -----

// A rank-1 lhs has no M loop; a dynamic batch size is read from the
// operand that has it. f32 accumulates in f32 with no cast.
// CHECK-DAG: #[[$L:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[$R:.+]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-LABEL: func @matmul_vector_lhs_dynamic_batch
// CHECK-SAME: (%[[A:.+]]: tensor<4xf32>, %[[B:.+]]: tensor<?x4x?xf32>)
// CHECK-DAG: %[[C0:.+]] = arith.constant 0 : index
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[B0:.+]] = tensor.dim %[[B]], %[[C0]] : tensor<?x4x?xf32>
// CHECK-DAG: %[[N:.+]] = tensor.dim %[[B]], %[[C2]] : tensor<?x4x?xf32>
// CHECK: tensor.empty(%[[B0]], %[[N]]) : tensor<?x?xf32>
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$L]], #[[$R]], #{{.+}}]
// CHECK-NOT: arith.truncf
// CHECK: return %[[R]]
func.func @matmul_vector_lhs_dynamic_batch(%a: tensor<4xf32>, %b: tensor<?x4x?xf32>) -> tensor<?x?xf32> {
  %0 = ds.matmul %a, %b : (tensor<4xf32>, tensor<?x4x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// Exclusive reverse cumsum: a reduction loop j over the axis takes
// in[.., j] for j > i, accumulating f16 in f32.
// CHECK-DAG: #[[$IN:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$OUT:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-LABEL: func @cumsum_exclusive_reverse
// CHECK: linalg.generic {indexing_maps = [#[[$IN]], #[[$OUT]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: %[[I:.+]] = linalg.index 1 : index
// CHECK: %[[J:.+]] = linalg.index 2 : index
// CHECK: %[[TAKE:.+]] = arith.cmpi sgt, %[[J]], %[[I]] : index
// CHECK: %[[X:.+]] = arith.extf %{{.+}} : f16 to f32
// CHECK: %[[T:.+]] = arith.select %[[TAKE]], %[[X]], %{{.+}} : f32
// CHECK: arith.addf %{{.+}}, %[[T]] : f32
// CHECK: arith.truncf %{{.+}} : f32 to f16
func.func @cumsum_exclusive_reverse(%x: tensor<?x?xf16>) -> tensor<?x?xf16> {
  %0 = ds.cumsum %x {axis = 1 : i64, exclusive, reverse} : tensor<?x?xf16>
  return %0 : tensor<?x?xf16>
}

// -----

// Inclusive forward cumsum over the leading axis of integers.
// CHECK-DAG: #[[$IN:.+]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-LABEL: func @cumsum_inclusive_i64
// CHECK: linalg.generic {indexing_maps = [#[[$IN]], #{{.+}}], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK: %[[I:.+]] = linalg.index 0 : index
// CHECK: %[[J:.+]] = linalg.index 2 : index
// CHECK: arith.cmpi sle, %[[J]], %[[I]] : index
// CHECK: arith.addi
func.func @cumsum_inclusive_i64(%x: tensor<?x3xi64>) -> tensor<?x3xi64> {
  %0 = ds.cumsum %x {axis = 0 : i64} : tensor<?x3xi64>
  return %0 : tensor<?x3xi64>
}

// -----

// Upper triangle from diagonal 1: keep where j - i >= 1, else zero.
// CHECK-LABEL: func @trilu_upper
// CHECK-DAG: %[[DIAG:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel"]
// CHECK-NEXT: ^bb0(%[[IN:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[I:.+]] = linalg.index 1 : index
// CHECK: %[[J:.+]] = linalg.index 2 : index
// CHECK: %[[D:.+]] = arith.subi %[[J]], %[[I]] : index
// CHECK: %[[K:.+]] = arith.cmpi sge, %[[D]], %[[DIAG]] : index
// CHECK: arith.select %[[K]], %[[IN]], %[[ZERO]] : f32
func.func @trilu_upper(%x: tensor<2x?x?xf32>) -> tensor<2x?x?xf32> {
  %0 = ds.trilu %x {diagonal = 1 : i64, upper} : tensor<2x?x?xf32>
  return %0 : tensor<2x?x?xf32>
}

// -----

// Lower triangle below the diagonal: keep where j - i <= -1.
// CHECK-LABEL: func @trilu_lower
// CHECK-DAG: %[[DIAG:.+]] = arith.constant -1 : index
// CHECK: arith.cmpi sle, %{{.+}}, %[[DIAG]] : index
func.func @trilu_lower(%x: tensor<4x4xi32>) -> tensor<4x4xi32> {
  %0 = ds.trilu %x {diagonal = -1 : i64} : tensor<4x4xi32>
  return %0 : tensor<4x4xi32>
}

// -----

// Sigmoid in f32 for bf16: 1 / (1 + exp(-x)).
// CHECK-LABEL: func @sigmoid_bf16
// CHECK: linalg.generic
// CHECK: %[[X:.+]] = arith.extf %{{.+}} : bf16 to f32
// CHECK: %[[N:.+]] = arith.negf %[[X]] : f32
// CHECK: %[[E:.+]] = math.exp %[[N]] : f32
// CHECK: %[[D:.+]] = arith.addf %{{.+}}, %[[E]] : f32
// CHECK: %[[S:.+]] = arith.divf %{{.+}}, %[[D]] : f32
// CHECK: arith.truncf %[[S]] : f32 to bf16
func.func @sigmoid_bf16(%x: tensor<?x8xbf16>) -> tensor<?x8xbf16> {
  %0 = ds.sigmoid %x : tensor<?x8xbf16>
  return %0 : tensor<?x8xbf16>
}
