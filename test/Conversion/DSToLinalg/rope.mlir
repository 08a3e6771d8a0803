// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// rotate_half over the whole head: the halves [0, 32) and [32, 64) are
// extract_slices, rotated by one generic with two results (cos/sin
// broadcast over the leading dimensions by their indexing map), and
// inserted back into the input.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$CS:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, 0, d2, d3)>
// CHECK-LABEL: func @rotate_half
// CHECK-SAME: (%[[X:.+]]: tensor<1x32x?x64xf16>, %[[C:.+]]: tensor<1x1x?x32xf16>, %[[S:.+]]: tensor<1x1x?x32xf16>)
// CHECK: %[[SEQ:.+]] = tensor.dim %[[X]]
// CHECK: %[[X1:.+]] = tensor.extract_slice %[[X]][0, 0, 0, 0] [1, 32, %[[SEQ]], 32] [1, 1, 1, 1]
// CHECK: %[[X2:.+]] = tensor.extract_slice %[[X]][0, 0, 0, 32] [1, 32, %[[SEQ]], 32] [1, 1, 1, 1]
// CHECK: %[[R:.+]]:2 = linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]], #[[$CS]], #[[$CS]], #[[$ID]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X1]], %[[X2]], %[[C]], %[[S]] :
// CHECK-NEXT: ^bb0(%[[A:.+]]: f16, %[[B:.+]]: f16, %[[CO:.+]]: f16, %[[SI:.+]]: f16, %{{.+}}: f16, %{{.+}}: f16):
// CHECK: %[[AF:.+]] = arith.extf %[[A]] : f16 to f32
// CHECK: %[[BF:.+]] = arith.extf %[[B]] : f16 to f32
// CHECK: %[[CF:.+]] = arith.extf %[[CO]] : f16 to f32
// CHECK: %[[SF:.+]] = arith.extf %[[SI]] : f16 to f32
// CHECK: %[[AC:.+]] = arith.mulf %[[AF]], %[[CF]] : f32
// CHECK: %[[BS:.+]] = arith.mulf %[[BF]], %[[SF]] : f32
// CHECK: %[[R1:.+]] = arith.subf %[[AC]], %[[BS]] : f32
// CHECK: %[[BC:.+]] = arith.mulf %[[BF]], %[[CF]] : f32
// CHECK: %[[AS:.+]] = arith.mulf %[[AF]], %[[SF]] : f32
// CHECK: %[[R2:.+]] = arith.addf %[[BC]], %[[AS]] : f32
// CHECK: %[[T1:.+]] = arith.truncf %[[R1]] : f32 to f16
// CHECK: %[[T2:.+]] = arith.truncf %[[R2]] : f32 to f16
// CHECK: linalg.yield %[[T1]], %[[T2]] : f16, f16
// CHECK: %[[I1:.+]] = tensor.insert_slice %[[R]]#0 into %[[X]][0, 0, 0, 0] [1, 32, %[[SEQ]], 32] [1, 1, 1, 1]
// CHECK: %[[I2:.+]] = tensor.insert_slice %[[R]]#1 into %[[I1]][0, 0, 0, 32] [1, 32, %[[SEQ]], 32] [1, 1, 1, 1]
// CHECK: return %[[I2]]
func.func @rotate_half(%x: tensor<1x32x?x64xf16>, %c: tensor<1x1x?x32xf16>, %s: tensor<1x1x?x32xf16>) -> tensor<1x32x?x64xf16> {
  %0 = ds.rope %x, %c, %s : (tensor<1x32x?x64xf16>, tensor<1x1x?x32xf16>, tensor<1x1x?x32xf16>) -> tensor<1x32x?x64xf16>
  return %0 : tensor<1x32x?x64xf16>
}

// -----

// Interleaved over a partial rotary_dim of 32: the even and odd entries of
// [0, 32) are stride-2 slices; entries [32, 64) are never touched.
// CHECK-DAG: #[[$CS:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, d3)>
// CHECK-LABEL: func @interleaved_partial
// CHECK-SAME: (%[[X:.+]]: tensor<1x32x?x64xf32>, %[[C:.+]]: tensor<?x16xf32>, %[[S:.+]]: tensor<?x16xf32>)
// CHECK: %[[EVEN:.+]] = tensor.extract_slice %[[X]][0, 0, 0, 0] [1, 32, %{{.+}}, 16] [1, 1, 1, 2]
// CHECK: %[[ODD:.+]] = tensor.extract_slice %[[X]][0, 0, 0, 1] [1, 32, %{{.+}}, 16] [1, 1, 1, 2]
// CHECK: %[[R:.+]]:2 = linalg.generic {indexing_maps = [#{{.+}}, #{{.+}}, #[[$CS]], #[[$CS]], #{{.+}}, #{{.+}}]
// CHECK-SAME: ins(%[[EVEN]], %[[ODD]], %[[C]], %[[S]] :
// CHECK: %[[I1:.+]] = tensor.insert_slice %[[R]]#0 into %[[X]][0, 0, 0, 0] [1, 32, %{{.+}}, 16] [1, 1, 1, 2]
// CHECK: tensor.insert_slice %[[R]]#1 into %[[I1]][0, 0, 0, 1] [1, 32, %{{.+}}, 16] [1, 1, 1, 2]
func.func @interleaved_partial(%x: tensor<1x32x?x64xf32>, %c: tensor<?x16xf32>, %s: tensor<?x16xf32>) -> tensor<1x32x?x64xf32> {
  %0 = ds.rope %x, %c, %s mode = interleaved {rotary_dim = 32 : i64} : (tensor<1x32x?x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

// A dynamic head_dim without rotary_dim rotates halves of size D / 2,
// computed at run time.
// CHECK-LABEL: func @dynamic_head_dim
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x?xf32>,
// CHECK: %[[D:.+]] = tensor.dim %[[X]], %c1
// CHECK: %[[H:.+]] = arith.divui %[[D]], %{{.+}} : index
// CHECK: tensor.extract_slice %[[X]][0, 0] [%{{.+}}, %[[H]]] [1, 1]
// CHECK: tensor.extract_slice %[[X]][0, %[[H]]] [%{{.+}}, %[[H]]] [1, 1]
func.func @dynamic_head_dim(%x: tensor<?x?xf32>, %c: tensor<?x?xf32>, %s: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ds.rope %x, %c, %s : (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
