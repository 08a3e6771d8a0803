// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// Causal grouped-query attention on f16 with static heads (8 query heads
// over 2 KV heads): the query is viewed as [B, Hkv, G, S, D] and the key and
// value are read through their own head loop (no repeated K/V). Scores,
// softmax and P V are f32; the result is truncated once and collapsed back.
// CHECK-DAG: #[[$Q:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d5)>
// CHECK-DAG: #[[$K:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d4, d5)>
// CHECK-DAG: #[[$S:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[$V:.+]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d5, d4)>
// CHECK-DAG: #[[$ID5:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-DAG: #[[$ROW:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-LABEL: func @causal_gqa_f16
// CHECK-SAME: (%[[Q:.+]]: tensor<1x8x?x64xf16>, %[[K:.+]]: tensor<1x2x?x64xf16>, %[[V:.+]]: tensor<1x2x?x64xf16>)
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[SQ:.+]] = tensor.dim %[[Q]], %[[C2]]
// CHECK-DAG: %[[SK:.+]] = tensor.dim %[[K]], %[[C2]]
// CHECK-DAG: %[[SCALE:.+]] = arith.constant 1.250000e-01 : f32
// CHECK: %[[QG:.+]] = tensor.expand_shape %[[Q]] {{\[\[}}0], [1, 2], [3], [4]] output_shape [1, 2, 4, %[[SQ]], 64] : tensor<1x8x?x64xf16> into tensor<1x2x4x?x64xf16>
// CHECK: %[[SINIT:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<1x2x4x?x?xf32>)
// CHECK: %[[SCORES:.+]] = linalg.generic {indexing_maps = [#[[$Q]], #[[$K]], #[[$S]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[QG]], %[[K]] : tensor<1x2x4x?x64xf16>, tensor<1x2x?x64xf16>) outs(%[[SINIT]] : tensor<1x2x4x?x?xf32>)
// CHECK: arith.extf
// CHECK: arith.extf
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: %[[OFF:.+]] = arith.subi %[[SK]], %[[SQ]] : index
// CHECK: %[[NINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[MASKED:.+]] = linalg.generic {indexing_maps = [#[[$ID5]], #[[$ID5]]]
// CHECK-SAME: ins(%[[SCORES]] : tensor<1x2x4x?x?xf32>)
// CHECK: %[[X:.+]] = arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK: %[[T:.+]] = linalg.index 4 : index
// CHECK: %[[I:.+]] = linalg.index 3 : index
// CHECK: %[[LAST:.+]] = arith.addi %[[I]], %[[OFF]] : index
// CHECK: %[[VIS:.+]] = arith.cmpi sle, %[[T]], %[[LAST]] : index
// CHECK: arith.select %[[VIS]], %[[X]], %[[NINF]] : f32
// CHECK: %[[MAX:.+]] = linalg.generic {indexing_maps = [#[[$ID5]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[MASKED]] : tensor<1x2x4x?x?xf32>)
// CHECK: arith.maximumf
// CHECK: %[[EXPS:.+]] = linalg.generic {indexing_maps = [#[[$ID5]], #[[$ROW]], #[[$ID5]]]
// CHECK-SAME: ins(%[[MASKED]], %[[MAX]] :
// CHECK: %[[NOKEY:.+]] = arith.cmpf oeq, %{{.+}}, %[[NINF]] : f32
// CHECK: %[[SHIFT:.+]] = arith.select %[[NOKEY]], %{{.+}}, %{{.+}} : f32
// CHECK: %[[SH:.+]] = arith.subf %{{.+}}, %[[SHIFT]] : f32
// CHECK: math.exp %[[SH]] : f32
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[$ID5]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[EXPS]] : tensor<1x2x4x?x?xf32>)
// CHECK: %[[PV:.+]] = linalg.generic {indexing_maps = [#[[$Q]], #[[$V]], #[[$S]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[EXPS]], %[[V]] : tensor<1x2x4x?x?xf32>, tensor<1x2x?x64xf16>) outs(%{{.+}} : tensor<1x2x4x?x64xf32>)
// CHECK: %[[OUT:.+]] = linalg.generic {indexing_maps = [#[[$ID5]], #[[$ROW]], #[[$ID5]]]
// CHECK-SAME: ins(%[[PV]], %[[SUM]] : tensor<1x2x4x?x64xf32>, tensor<1x2x4x?xf32>) outs(%{{.+}} : tensor<1x2x4x?x64xf16>)
// CHECK: %[[EMPTY:.+]] = arith.cmpf oeq, %{{.+}}, %{{.+}} : f32
// CHECK: %[[DIV:.+]] = arith.divf
// CHECK: %[[SAFE:.+]] = arith.select %[[EMPTY]], %{{.+}}, %[[DIV]] : f32
// CHECK: arith.truncf %[[SAFE]] : f32 to f16
// CHECK: %[[R:.+]] = tensor.collapse_shape %[[OUT]] {{\[\[}}0], [1, 2], [3], [4]] : tensor<1x2x4x?x64xf16> into tensor<1x8x?x64xf16>
// CHECK: return %[[R]]
func.func @causal_gqa_f16(%q: tensor<1x8x?x64xf16>, %k: tensor<1x2x?x64xf16>, %v: tensor<1x2x?x64xf16>) -> tensor<1x8x?x64xf16> {
  %0 = ds.attention %q, %k, %v {causal} : (tensor<1x8x?x64xf16>, tensor<1x2x?x64xf16>, tensor<1x2x?x64xf16>) -> tensor<1x8x?x64xf16>
  return %0 : tensor<1x8x?x64xf16>
}

// -----

// A per-head boolean mask is split like the query and broadcast over the
// batch; kv_length (one per sequence, read through a map on the batch
// loop) hides keys past it. There is no causal bound.
// CHECK-DAG: #[[$M:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (0, d1, d2, d3, d4)>
// CHECK-DAG: #[[$B:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d0)>
// CHECK-LABEL: func @bool_mask_kv_length
// CHECK-SAME: (%[[Q:.+]]: tensor<2x4x3x16xf32>, %[[K:.+]]: tensor<2x2x5x16xf32>, %[[M:.+]]: tensor<1x4x3x5xi1>, %[[N:.+]]: tensor<2xi64>)
// CHECK: %[[MG:.+]] = tensor.expand_shape %[[M]] {{\[\[}}0], [1, 2], [3], [4]] output_shape [1, 2, 2, 3, 5] : tensor<1x4x3x5xi1> into tensor<1x2x2x3x5xi1>
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$M]], #[[$B]], #{{.+}}]
// CHECK-SAME: ins(%{{.+}}, %[[MG]], %[[N]] : tensor<2x2x2x3x5xf32>, tensor<1x2x2x3x5xi1>, tensor<2xi64>)
// CHECK-NEXT: ^bb0(%{{.+}}: f32, %[[KEEP:.+]]: i1, %[[LEN:.+]]: i64, %{{.+}}: f32):
// CHECK-NOT: arith.cmpi sle
// CHECK: %[[T:.+]] = linalg.index 4 : index
// CHECK: %[[LENI:.+]] = arith.index_cast %[[LEN]] : i64 to index
// CHECK: %[[BELOW:.+]] = arith.cmpi slt, %[[T]], %[[LENI]] : index
// CHECK: %[[VIS:.+]] = arith.andi %[[KEEP]], %[[BELOW]] : i1
// CHECK: arith.select %[[VIS]]
func.func @bool_mask_kv_length(%q: tensor<2x4x3x16xf32>, %k: tensor<2x2x5x16xf32>, %m: tensor<1x4x3x5xi1>, %n: tensor<2xi64>) -> tensor<2x4x3x16xf32> {
  %0 = ds.attention %q, %k, %k mask(%m) kv_length(%n) : (tensor<2x4x3x16xf32>, tensor<2x2x5x16xf32>, tensor<2x2x5x16xf32>, tensor<1x4x3x5xi1>, tensor<2xi64>) -> tensor<2x4x3x16xf32>
  return %0 : tensor<2x4x3x16xf32>
}

// -----

// An additive [S, T] mask broadcasts over batch and heads and is added to
// the scaled scores in f32; an explicit scale is used as is.
// CHECK-DAG: #[[$M:.+]] = affine_map<(d0, d1, d2, d3, d4) -> (d3, d4)>
// CHECK-LABEL: func @additive_mask_bf16
// CHECK-SAME: %[[M:[^:]+]]: tensor<?x?xbf16>
// CHECK: %[[SCALE:.+]] = arith.constant 5.000000e-01 : f32
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$M]], #{{.+}}]
// CHECK-SAME: ins(%{{.+}}, %[[M]] : tensor<1x4x1x?x?xf32>, tensor<?x?xbf16>)
// CHECK-NEXT: ^bb0(%[[S:.+]]: f32, %[[ADD:.+]]: bf16, %{{.+}}: f32):
// CHECK: %[[X:.+]] = arith.mulf %[[S]], %[[SCALE]] : f32
// CHECK: %[[A:.+]] = arith.extf %[[ADD]] : bf16 to f32
// CHECK: %[[Y:.+]] = arith.addf %[[X]], %[[A]] : f32
// CHECK-NEXT: linalg.yield %[[Y]] : f32
func.func @additive_mask_bf16(%q: tensor<1x4x?x8xbf16>, %k: tensor<1x4x?x8xbf16>, %m: tensor<?x?xbf16>) -> tensor<1x4x?x8xbf16> {
  %0 = ds.attention %q, %k, %k mask(%m) {scale = 0.5 : f32} : (tensor<1x4x?x8xbf16>, tensor<1x4x?x8xbf16>, tensor<1x4x?x8xbf16>, tensor<?x?xbf16>) -> tensor<1x4x?x8xbf16>
  return %0 : tensor<1x4x?x8xbf16>
}

// -----

// Dynamic head counts and head_dim: the scale is 1/sqrt(D) at run time and,
// with no static KV head count to split the query by, K and V are read with
// tensor.extract at head h / (Hq / Hkv).
// CHECK-LABEL: func @dynamic_heads
// CHECK-SAME: (%[[Q:.+]]: tensor<?x?x?x?xf32>, %[[K:.+]]: tensor<?x?x?x?xf32>, %[[V:.+]]: tensor<?x?x?x?xf32>)
// CHECK-DAG: %[[HQ:.+]] = tensor.dim %[[Q]], %c1{{(_[0-9]+)?}} : tensor<?x?x?x?xf32>
// CHECK-DAG: %[[HKV:.+]] = tensor.dim %[[K]], %c1{{(_[0-9]+)?}} : tensor<?x?x?x?xf32>
// CHECK-DAG: %[[D:.+]] = tensor.dim %[[Q]], %c3{{(_[0-9]+)?}} : tensor<?x?x?x?xf32>
// CHECK: %[[G:.+]] = arith.divui %[[HQ]], %[[HKV]] : index
// CHECK: %[[DI:.+]] = arith.index_cast %[[D]] : index to i64
// CHECK: %[[DF:.+]] = arith.sitofp %[[DI]] : i64 to f32
// CHECK: %[[SQRT:.+]] = math.sqrt %[[DF]] : f32
// CHECK: %[[SCALE:.+]] = arith.divf %{{.+}}, %[[SQRT]] : f32
// CHECK-NOT: tensor.expand_shape
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[Q]] : tensor<?x?x?x?xf32>)
// CHECK: %[[B:.+]] = linalg.index 0 : index
// CHECK: %[[H:.+]] = linalg.index 1 : index
// CHECK: %[[T:.+]] = linalg.index 3 : index
// CHECK: %[[E:.+]] = linalg.index 4 : index
// CHECK: %[[KH:.+]] = arith.divui %[[H]], %[[G]] : index
// CHECK: tensor.extract %[[K]][%[[B]], %[[KH]], %[[T]], %[[E]]] : tensor<?x?x?x?xf32>
// CHECK: arith.mulf %{{.+}}, %[[SCALE]] : f32
// CHECK: tensor.extract %[[V]]
// CHECK-NOT: tensor.collapse_shape
func.func @dynamic_heads(%q: tensor<?x?x?x?xf32>, %k: tensor<?x?x?x?xf32>, %v: tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> {
  %0 = ds.attention %q, %k, %v : (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  return %0 : tensor<?x?x?x?xf32>
}
