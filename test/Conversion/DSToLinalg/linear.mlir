// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// A plain f32 linear on a matrix is one linalg.matmul into a zero-filled
// accumulator, with no epilogue and no reshape.
// CHECK-LABEL: func @plain
// CHECK-SAME: (%[[X:.+]]: tensor<?x768xf32>, %[[W:.+]]: tensor<768x3072xf32>)
// CHECK: %[[M:.+]] = tensor.dim %[[X]]
// CHECK: %[[ZERO:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[E:.+]] = tensor.empty(%[[M]]) : tensor<?x3072xf32>
// CHECK: %[[ACC:.+]] = linalg.fill ins(%[[ZERO]] : f32) outs(%[[E]] : tensor<?x3072xf32>)
// CHECK: %[[R:.+]] = linalg.matmul ins(%[[X]], %[[W]] : tensor<?x768xf32>, tensor<768x3072xf32>) outs(%[[ACC]] : tensor<?x3072xf32>)
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]
func.func @plain(%x: tensor<?x768xf32>, %w: tensor<768x3072xf32>) -> tensor<?x3072xf32> {
  %0 = ds.linear %x, %w : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  return %0 : tensor<?x3072xf32>
}

// -----

// Rank-3 f16 input, transposed weight, bias, gelu_tanh and residual: the
// leading dimensions collapse into M, the transpose is the matmul's rhs
// map (n, k), the GEMM accumulates in f32, and one epilogue generic adds
// the bias (indexed by n), applies the activation, adds the residual and
// truncates before the result is expanded back.
// CHECK-DAG: #[[$A:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$BT:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$C:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$BIAS:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @all_epilogues_f16
// CHECK-SAME: (%[[X:.+]]: tensor<2x?x768xf16>, %[[W:.+]]: tensor<3072x768xf16>, %[[B:.+]]: tensor<3072xf16>, %[[RES:.+]]: tensor<2x?x3072xf16>)
// CHECK: %[[X2:.+]] = tensor.collapse_shape %[[X]] {{\[\[}}0, 1], [2]] : tensor<2x?x768xf16> into tensor<?x768xf16>
// CHECK: %[[ACC:.+]] = linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : tensor<?x3072xf32>)
// CHECK: %[[MM:.+]] = linalg.matmul indexing_maps = [#[[$A]], #[[$BT]], #[[$C]]] ins(%[[X2]], %[[W]] : tensor<?x768xf16>, tensor<3072x768xf16>) outs(%[[ACC]] : tensor<?x3072xf32>)
// CHECK: %[[R2:.+]] = tensor.collapse_shape %[[RES]] {{\[\[}}0, 1], [2]] : tensor<2x?x3072xf16> into tensor<?x3072xf16>
// CHECK: %[[EPI:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$BIAS]], #[[$ID]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[MM]], %[[B]], %[[R2]] : tensor<?x3072xf32>, tensor<3072xf16>, tensor<?x3072xf16>) outs(%{{.+}} : tensor<?x3072xf16>)
// CHECK-NEXT: ^bb0(%[[ACCV:.+]]: f32, %[[BV:.+]]: f16, %[[RV:.+]]: f16, %{{.+}}: f16):
// CHECK: %[[BF:.+]] = arith.extf %[[BV]] : f16 to f32
// CHECK: %[[Y:.+]] = arith.addf %[[ACCV]], %[[BF]] : f32
// CHECK: %[[TANH:.+]] = math.tanh
// CHECK: %[[PHI:.+]] = arith.addf %{{.+}}, %[[TANH]] : f32
// CHECK: %[[HALFY:.+]] = arith.mulf %{{.+}}, %[[Y]] : f32
// CHECK: %[[ACT:.+]] = arith.mulf %[[HALFY]], %[[PHI]] : f32
// CHECK: %[[RF:.+]] = arith.extf %[[RV]] : f16 to f32
// CHECK: %[[SUM:.+]] = arith.addf %[[ACT]], %[[RF]] : f32
// CHECK: arith.truncf %[[SUM]] : f32 to f16
// CHECK: %[[OUT:.+]] = tensor.expand_shape %[[EPI]] {{\[\[}}0, 1], [2]] output_shape [2, %{{.+}}, 3072] : tensor<?x3072xf16> into tensor<2x?x3072xf16>
// CHECK: return %[[OUT]]
func.func @all_epilogues_f16(%x: tensor<2x?x768xf16>, %w: tensor<3072x768xf16>, %b: tensor<3072xf16>, %r: tensor<2x?x3072xf16>) -> tensor<2x?x3072xf16> {
  %0 = ds.linear %x, %w bias(%b) residual(%r) {activation = #ds<activation gelu_tanh>, transpose_weight} : (tensor<2x?x768xf16>, tensor<3072x768xf16>, tensor<3072xf16>, tensor<2x?x3072xf16>) -> tensor<2x?x3072xf16>
  return %0 : tensor<2x?x3072xf16>
}

// -----

// Bias and relu on f32: max(acc + bias, 0) in the epilogue.
// CHECK-LABEL: func @bias_relu
// CHECK: %[[MM:.+]] = linalg.matmul ins
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[MM]], %{{.+}} : tensor<4x16xf32>, tensor<16xf32>)
// CHECK: %[[Y:.+]] = arith.addf
// CHECK: %[[Z:.+]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[R:.+]] = arith.maximumf %[[Y]], %[[Z]] : f32
// CHECK: linalg.yield %[[R]] : f32
func.func @bias_relu(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %b: tensor<16xf32>) -> tensor<4x16xf32> {
  %0 = ds.linear %x, %w bias(%b) {activation = #ds<activation relu>} : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// A rank-1 input is a 1xK matrix; silu and erf-gelu epilogues.
// CHECK-LABEL: func @vector_silu_gelu
// CHECK-SAME: (%[[X:.+]]: tensor<8xf32>,
// CHECK: %[[XM:.+]] = tensor.expand_shape %[[X]] {{\[\[}}0, 1]] output_shape [1, 8] : tensor<8xf32> into tensor<1x8xf32>
// CHECK: %[[MM:.+]] = linalg.matmul ins(%[[XM]], %{{.+}} : tensor<1x8xf32>, tensor<8x16xf32>)
// CHECK: %[[SILU:.+]] = linalg.generic
// CHECK: math.exp
// CHECK: tensor.collapse_shape %[[SILU]] {{\[\[}}0, 1]] : tensor<1x16xf32> into tensor<16xf32>
// CHECK: %[[GELU:.+]] = linalg.generic
// CHECK: math.erf
// CHECK: tensor.collapse_shape %[[GELU]] {{\[\[}}0, 1]] : tensor<1x16xf32> into tensor<16xf32>
func.func @vector_silu_gelu(%x: tensor<8xf32>, %w: tensor<8x16xf32>) -> (tensor<16xf32>, tensor<16xf32>) {
  %0 = ds.linear %x, %w {activation = #ds<activation silu>} : (tensor<8xf32>, tensor<8x16xf32>) -> tensor<16xf32>
  %1 = ds.linear %x, %w {activation = #ds<activation gelu>} : (tensor<8xf32>, tensor<8x16xf32>) -> tensor<16xf32>
  return %0, %1 : tensor<16xf32>, tensor<16xf32>
}

// -----

// The layer's tile travels to the matmul for the GPU kernels.
// CHECK-LABEL: func @tiled
// CHECK: linalg.matmul indexing_maps = [{{.+}}] {ds.tile = #ds.tile<sizes = [16, 8, 1024], warps = 8, stages = 4>}
func.func @tiled(%x: tensor<?x2048xbf16>, %w: tensor<512x2048xbf16>) -> tensor<?x512xbf16> {
  %0 = ds.linear %x, %w {transpose_weight, tile = #ds.tile<sizes = [16, 8, 1024], warps = 8, stages = 4>} : (tensor<?x2048xbf16>, tensor<512x2048xbf16>) -> tensor<?x512xbf16>
  return %0 : tensor<?x512xbf16>
}
