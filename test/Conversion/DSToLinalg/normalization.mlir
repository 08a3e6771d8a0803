// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// LayerNorm on f16 over the last dimension: sum, mean, sum of squared
// deviations (two passes) in f32, then one normalising generic that reads
// scale and bias through the normalized dimension and truncates once.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-DAG: #[[$ROW:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$PARAM:.+]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-LABEL: func @layer_norm_f16
// CHECK-SAME: (%[[X:.+]]: tensor<?x?x768xf16>, %[[G:.+]]: tensor<768xf16>, %[[B:.+]]: tensor<768xf16>)
// CHECK: %[[N:.+]] = arith.constant 7.680000e+02 : f32
// CHECK: %[[SUM:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]] : tensor<?x?x768xf16>) outs(%{{.+}} : tensor<?x?xf32>)
// CHECK: %[[MEAN:.+]] = linalg.generic
// CHECK-SAME: ins(%[[SUM]] : tensor<?x?xf32>)
// CHECK: arith.divf %{{.+}}, %[[N]] : f32
// CHECK: %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]], #[[$ROW]]], iterator_types = ["parallel", "parallel", "reduction"]}
// CHECK-SAME: ins(%[[X]], %[[MEAN]] : tensor<?x?x768xf16>, tensor<?x?xf32>)
// CHECK: %[[DEV:.+]] = arith.subf
// CHECK: arith.mulf %[[DEV]], %[[DEV]] : f32
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]], #[[$ROW]], #[[$PARAM]], #[[$PARAM]], #[[$ID]]], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[MEAN]], %[[SQ]], %[[G]], %[[B]] :
// CHECK: %[[VAR:.+]] = arith.divf %{{.+}}, %[[N]] : f32
// CHECK: %[[EPS:.+]] = arith.constant 9.99999997E-7 : f32
// CHECK: %[[VE:.+]] = arith.addf %[[VAR]], %[[EPS]] : f32
// CHECK: %[[RSTD:.+]] = math.rsqrt %[[VE]] : f32
// CHECK: arith.truncf %{{.+}} : f32 to f16
// CHECK: return %[[R]]
func.func @layer_norm_f16(%x: tensor<?x?x768xf16>, %g: tensor<768xf16>, %b: tensor<768xf16>) -> tensor<?x?x768xf16> {
  %0 = ds.layer_norm %x, %g, %b {epsilon = 1.0e-06 : f32} : (tensor<?x?x768xf16>, tensor<768xf16>, tensor<768xf16>) -> tensor<?x?x768xf16>
  return %0 : tensor<?x?x768xf16>
}

// -----

// LayerNorm without bias over the last two dimensions of f32: the element
// count is the product of the dynamic sizes, and nothing is cast.
// CHECK-DAG: #[[$ROW:.+]] = affine_map<(d0, d1, d2) -> (d0)>
// CHECK-DAG: #[[$PARAM:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-LABEL: func @layer_norm_two_dims
// CHECK-SAME: (%[[X:.+]]: tensor<?x?x?xf32>, %[[G:.+]]: tensor<?x?xf32>)
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[C2:.+]] = arith.constant 2 : index
// CHECK-DAG: %[[D1:.+]] = tensor.dim %[[X]], %[[C1]]
// CHECK-DAG: %[[D2:.+]] = tensor.dim %[[X]], %[[C2]]
// CHECK: %[[P:.+]] = arith.muli %[[D1]], %[[D2]] : index
// CHECK: %[[PI:.+]] = arith.index_cast %[[P]] : index to i64
// CHECK: arith.sitofp %[[PI]] : i64 to f32
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$ROW]]], iterator_types = ["parallel", "reduction", "reduction"]}
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$ROW]], #[[$ROW]], #[[$PARAM]], #{{.+}}], iterator_types = ["parallel", "parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %{{.+}}, %{{.+}}, %[[G]] :
// CHECK-NOT: arith.truncf
func.func @layer_norm_two_dims(%x: tensor<?x?x?xf32>, %g: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ds.layer_norm %x, %g {axis = 1 : i64} : (tensor<?x?x?xf32>, tensor<?x?xf32>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

// -----

// RMSNorm on bf16: one reduction of x^2 in f32, then
// x * rsqrt(sum / n + eps) * scale, truncated once.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ROW:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[$PARAM:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @rms_norm_bf16
// CHECK-SAME: (%[[X:.+]]: tensor<?x2048xbf16>, %[[G:.+]]: tensor<2048xbf16>)
// CHECK: %[[N:.+]] = arith.constant 2.048000e+03 : f32
// CHECK: %[[SQ:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]]], iterator_types = ["parallel", "reduction"]}
// CHECK: %[[XF:.+]] = arith.extf %{{.+}} : bf16 to f32
// CHECK: %[[X2:.+]] = arith.mulf %[[XF]], %[[XF]] : f32
// CHECK: arith.addf %{{.+}}, %[[X2]] : f32
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ROW]], #[[$PARAM]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[SQ]], %[[G]] : tensor<?x2048xbf16>, tensor<?xf32>, tensor<2048xbf16>)
// CHECK: %[[MS:.+]] = arith.divf %{{.+}}, %[[N]] : f32
// CHECK: %[[EPS:.+]] = arith.constant 9.99999997E-7 : f32
// CHECK: %[[MSE:.+]] = arith.addf %[[MS]], %[[EPS]] : f32
// CHECK: %[[R:.+]] = math.rsqrt %[[MSE]] : f32
// CHECK: arith.mulf %{{.+}}, %[[R]] : f32
// CHECK: arith.truncf %{{.+}} : f32 to bf16
func.func @rms_norm_bf16(%x: tensor<?x2048xbf16>, %g: tensor<2048xbf16>) -> tensor<?x2048xbf16> {
  %0 = ds.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : (tensor<?x2048xbf16>, tensor<2048xbf16>) -> tensor<?x2048xbf16>
  return %0 : tensor<?x2048xbf16>
}
