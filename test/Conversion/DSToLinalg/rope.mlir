// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// rotate_half over the whole head: one generic writes a fresh tensor. The
// input is read twice, the second time at the pair partner (d3 + 32) mod 64;
// cos/sin are broadcast over the heads and read at d3 mod 32. The first
// half subtracts, the second adds, with the products in the same order as
// x1 * c - x2 * s and x2 * c + x1 * s. No slices, no pass-through.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$PART:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, (d3 + 32) mod 64)>
// CHECK-DAG: #[[$CS:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, 0, d2, d3 mod 32)>
// CHECK-LABEL: func @rotate_half
// CHECK-SAME: (%[[X:.+]]: tensor<1x32x?x64xf16>, %[[C:.+]]: tensor<1x1x?x32xf16>, %[[S:.+]]: tensor<1x1x?x32xf16>)
// CHECK-NOT: tensor.extract_slice
// CHECK: %[[SEQ:.+]] = tensor.dim %[[X]]
// CHECK: %[[E:.+]] = tensor.empty(%[[SEQ]]) : tensor<1x32x?x64xf16>
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$PART]], #[[$CS]], #[[$CS]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[X]], %[[C]], %[[S]] :
// CHECK-SAME: outs(%[[E]] :
// CHECK-NEXT: ^bb0(%[[A:[^:]+]]: f16, %[[P:[^:]+]]: f16, %[[CO:[^:]+]]: f16, %[[SI:[^:]+]]: f16, %{{.+}}: f16):
// CHECK: %[[D:.+]] = linalg.index 3 : index
// CHECK: %[[H:.+]] = arith.constant 32 : index
// CHECK: %[[FIRST:.+]] = arith.cmpi ult, %[[D]], %[[H]] : index
// CHECK: %[[AF:.+]] = arith.extf %[[A]] : f16 to f32
// CHECK: %[[PF:.+]] = arith.extf %[[P]] : f16 to f32
// CHECK: %[[CF:.+]] = arith.extf %[[CO]] : f16 to f32
// CHECK: %[[SF:.+]] = arith.extf %[[SI]] : f16 to f32
// CHECK: %[[AC:.+]] = arith.mulf %[[AF]], %[[CF]] : f32
// CHECK: %[[PS:.+]] = arith.mulf %[[PF]], %[[SF]] : f32
// CHECK: %[[DIFF:.+]] = arith.subf %[[AC]], %[[PS]] : f32
// CHECK: %[[SUM:.+]] = arith.addf %[[AC]], %[[PS]] : f32
// CHECK: %[[ROT:.+]] = arith.select %[[FIRST]], %[[DIFF]], %[[SUM]] : f32
// CHECK: %[[T:.+]] = arith.truncf %[[ROT]] : f32 to f16
// CHECK-NEXT: linalg.yield %[[T]] : f16
// CHECK-NOT: tensor.insert_slice
// CHECK: return %[[R]]
func.func @rotate_half(%x: tensor<1x32x?x64xf16>, %c: tensor<1x1x?x32xf16>, %s: tensor<1x1x?x32xf16>) -> tensor<1x32x?x64xf16> {
  %0 = ds.rope %x, %c, %s : (tensor<1x32x?x64xf16>, tensor<1x1x?x32xf16>, tensor<1x1x?x32xf16>) -> tensor<1x32x?x64xf16>
  return %0 : tensor<1x32x?x64xf16>
}

// -----

// rotate_half over a partial rotary_dim of 32 of an 80-wide bf16 head: the
// partner wraps inside [0, 32) and the table index inside [0, 16), so the
// pass-through entries [32, 80) read in bounds too, and keep the stored
// value itself.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$PART:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, (d2 + 16) mod 32)>
// CHECK-DAG: #[[$CS:.+]] = affine_map<(d0, d1, d2) -> (d1, d2 mod 16)>
// CHECK-LABEL: func @rotate_half_partial_bf16
// CHECK-SAME: (%[[X:.+]]: tensor<2x?x80xbf16>, %[[C:.+]]: tensor<?x16xbf16>, %[[S:.+]]: tensor<?x16xbf16>)
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$PART]], #[[$CS]], #[[$CS]], #[[$ID]]]
// CHECK-SAME: ins(%[[X]], %[[X]], %[[C]], %[[S]] :
// CHECK-NEXT: ^bb0(%[[A:[^:]+]]: bf16,
// CHECK: %[[D:.+]] = linalg.index 2 : index
// CHECK: %[[H:.+]] = arith.constant 16 : index
// CHECK: %[[FIRST:.+]] = arith.cmpi ult, %[[D]], %[[H]] : index
// CHECK: %[[ROT:.+]] = arith.select %[[FIRST]], %{{.+}}, %{{.+}} : f32
// CHECK: %[[T:.+]] = arith.truncf %[[ROT]] : f32 to bf16
// CHECK: %[[RD:.+]] = arith.constant 32 : index
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[D]], %[[RD]] : index
// CHECK: %[[OUT:.+]] = arith.select %[[IN]], %[[T]], %[[A]] : bf16
// CHECK-NEXT: linalg.yield %[[OUT]] : bf16
// CHECK-NOT: tensor.insert_slice
// CHECK: return %[[R]]
func.func @rotate_half_partial_bf16(%x: tensor<2x?x80xbf16>, %c: tensor<?x16xbf16>, %s: tensor<?x16xbf16>) -> tensor<2x?x80xbf16> {
  %0 = ds.rope %x, %c, %s {rotary_dim = 32 : i64} : (tensor<2x?x80xbf16>, tensor<?x16xbf16>, tensor<?x16xbf16>) -> tensor<2x?x80xbf16>
  return %0 : tensor<2x?x80xbf16>
}

// -----

// Interleaved over the whole head: the partner of d3 is its pair's other
// entry d3 + 1 - 2 (d3 mod 2), the table index d3 floordiv 2; even entries
// subtract, odd ones add.
// CHECK-DAG: #[[$PART:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3 - (d3 mod 2) * 2 + 1)>
// CHECK-DAG: #[[$CS:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, 0, d2, d3 floordiv 2)>
// CHECK-LABEL: func @interleaved
// CHECK-SAME: (%[[X:.+]]: tensor<1x8x?x64xf16>, %[[C:.+]]: tensor<1x1x?x32xf16>, %[[S:.+]]: tensor<1x1x?x32xf16>)
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$PART]], #[[$CS]], #[[$CS]], #{{.+}}]
// CHECK-SAME: ins(%[[X]], %[[X]], %[[C]], %[[S]] :
// CHECK: %[[D:.+]] = linalg.index 3 : index
// CHECK: %[[TWO:.+]] = arith.constant 2 : index
// CHECK: %[[ZERO:.+]] = arith.constant 0 : index
// CHECK: %[[PAR:.+]] = arith.remui %[[D]], %[[TWO]] : index
// CHECK: %[[EVEN:.+]] = arith.cmpi eq, %[[PAR]], %[[ZERO]] : index
// CHECK: %[[DIFF:.+]] = arith.subf
// CHECK: %[[SUM:.+]] = arith.addf
// CHECK: %[[ROT:.+]] = arith.select %[[EVEN]], %[[DIFF]], %[[SUM]] : f32
// CHECK: %[[T:.+]] = arith.truncf %[[ROT]] : f32 to f16
// CHECK-NEXT: linalg.yield %[[T]] : f16
// CHECK-NOT: tensor.insert_slice
func.func @interleaved(%x: tensor<1x8x?x64xf16>, %c: tensor<1x1x?x32xf16>, %s: tensor<1x1x?x32xf16>) -> tensor<1x8x?x64xf16> {
  %0 = ds.rope %x, %c, %s mode = interleaved : (tensor<1x8x?x64xf16>, tensor<1x1x?x32xf16>, tensor<1x1x?x32xf16>) -> tensor<1x8x?x64xf16>
  return %0 : tensor<1x8x?x64xf16>
}

// -----

// Interleaved over a partial rotary_dim of 32: the partner and table index
// are taken of d3 mod 32, in bounds for the pass-through entries [32, 64)
// (d3 mod 2 is the parity of d3 mod 32), which keep the input.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$PART:.+]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3 mod 32 - (d3 mod 2) * 2 + 1)>
// CHECK-DAG: #[[$CS:.+]] = affine_map<(d0, d1, d2, d3) -> (d2, (d3 mod 32) floordiv 2)>
// CHECK-LABEL: func @interleaved_partial
// CHECK-SAME: (%[[X:.+]]: tensor<1x32x?x64xf32>, %[[C:.+]]: tensor<?x16xf32>, %[[S:.+]]: tensor<?x16xf32>)
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$PART]], #[[$CS]], #[[$CS]], #[[$ID]]]
// CHECK-SAME: ins(%[[X]], %[[X]], %[[C]], %[[S]] :
// CHECK-NEXT: ^bb0(%[[A:[^:]+]]: f32, %[[P:[^:]+]]: f32, %[[CO:[^:]+]]: f32, %[[SI:[^:]+]]: f32, %{{.+}}: f32):
// CHECK: %[[D:.+]] = linalg.index 3 : index
// CHECK: %[[EVEN:.+]] = arith.cmpi eq
// CHECK: %[[AC:.+]] = arith.mulf %[[A]], %[[CO]] : f32
// CHECK: %[[PS:.+]] = arith.mulf %[[P]], %[[SI]] : f32
// CHECK: %[[DIFF:.+]] = arith.subf %[[AC]], %[[PS]] : f32
// CHECK: %[[SUM:.+]] = arith.addf %[[AC]], %[[PS]] : f32
// CHECK: %[[ROT:.+]] = arith.select %[[EVEN]], %[[DIFF]], %[[SUM]] : f32
// CHECK: %[[RD:.+]] = arith.constant 32 : index
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[D]], %[[RD]] : index
// CHECK: %[[OUT:.+]] = arith.select %[[IN]], %[[ROT]], %[[A]] : f32
// CHECK-NEXT: linalg.yield %[[OUT]] : f32
// CHECK-NOT: tensor.insert_slice
// CHECK: return %[[R]]
func.func @interleaved_partial(%x: tensor<1x32x?x64xf32>, %c: tensor<?x16xf32>, %s: tensor<?x16xf32>) -> tensor<1x32x?x64xf32> {
  %0 = ds.rope %x, %c, %s mode = interleaved {rotary_dim = 32 : i64} : (tensor<1x32x?x64xf32>, tensor<?x16xf32>, tensor<?x16xf32>) -> tensor<1x32x?x64xf32>
  return %0 : tensor<1x32x?x64xf32>
}

// -----

// With rotary_dim, a dynamic head_dim still gets the single generic: the
// maps only need R = 8, and every entry past it passes through.
// CHECK-DAG: #[[$PART:.+]] = affine_map<(d0, d1) -> (d0, (d1 + 4) mod 8)>
// CHECK-DAG: #[[$CS:.+]] = affine_map<(d0, d1) -> (d0, d1 mod 4)>
// CHECK-LABEL: func @dynamic_head_dim_rotary
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$PART]], #[[$CS]], #[[$CS]], #{{.+}}]
// CHECK: %[[D:.+]] = linalg.index 1 : index
// CHECK: %[[RD:.+]] = arith.constant 8 : index
// CHECK: arith.cmpi ult, %[[D]], %[[RD]] : index
// CHECK-NOT: tensor.insert_slice
func.func @dynamic_head_dim_rotary(%x: tensor<?x?xf32>, %c: tensor<?x4xf32>, %s: tensor<?x4xf32>) -> tensor<?x?xf32> {
  %0 = ds.rope %x, %c, %s {rotary_dim = 8 : i64} : (tensor<?x?xf32>, tensor<?x4xf32>, tensor<?x4xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

// -----

// A dynamic head_dim without rotary_dim leaves R unknown to the affine
// maps: the halves of size D / 2, computed at run time, are extract_slices
// rotated by a generic with two results and inserted back into the input.
// CHECK-LABEL: func @dynamic_head_dim
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x?xf32>,
// CHECK: %[[D:.+]] = tensor.dim %[[X]], %c1
// CHECK: %[[H:.+]] = arith.divui %[[D]], %{{.+}} : index
// CHECK: %[[X1:.+]] = tensor.extract_slice %[[X]][0, 0] [%{{.+}}, %[[H]]] [1, 1]
// CHECK: %[[X2:.+]] = tensor.extract_slice %[[X]][0, %[[H]]] [%{{.+}}, %[[H]]] [1, 1]
// CHECK: %[[R:.+]]:2 = linalg.generic
// CHECK-SAME: ins(%[[X1]], %[[X2]], %{{.+}}, %{{.+}} :
// CHECK: %[[I1:.+]] = tensor.insert_slice %[[R]]#0 into %[[X]][0, 0] [%{{.+}}, %[[H]]] [1, 1]
// CHECK: tensor.insert_slice %[[R]]#1 into %[[I1]][0, %[[H]]] [%{{.+}}, %[[H]]] [1, 1]
func.func @dynamic_head_dim(%x: tensor<?x?xf32>, %c: tensor<?x?xf32>, %s: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ds.rope %x, %c, %s : (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}
