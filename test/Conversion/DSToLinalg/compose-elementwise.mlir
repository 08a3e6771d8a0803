// The lowering composes with the upstream elementwise path: arith/math the
// importer leaves on tensors become generics through
// convert-elementwise-to-linalg, and linalg-fuse-elementwise-ops fuses them
// with the ds.broadcast and ds.gelu generics.
// RUN: ds-opt %s --ds-lower-to-linalg --convert-elementwise-to-linalg \
// RUN:   --canonicalize --linalg-fuse-elementwise-ops --canonicalize \
// RUN:   --linalg-fuse-elementwise-ops | FileCheck %s

// Bias add through ds.broadcast, GELU, then an importer-level math.tanh and
// a residual add: one generic, with the bias read through a broadcast map.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$BIAS:.+]] = affine_map<(d0, d1) -> (d1)>
// CHECK-LABEL: func @bias_gelu_tanh
// CHECK-SAME: (%[[X:.+]]: tensor<?x768xf32>, %[[B:.+]]: tensor<768xf32>)
// CHECK: %[[R:.+]] = linalg.generic {indexing_maps = [#[[$ID]], #[[$BIAS]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]], %[[B]] : tensor<?x768xf32>, tensor<768xf32>)
// CHECK-NEXT: ^bb0(%[[XI:.+]]: f32, %[[BI:.+]]: f32, %{{.+}}: f32):
// CHECK: arith.addf %[[XI]], %[[BI]] : f32
// CHECK: math.erf
// CHECK: %[[T:.+]] = math.tanh %{{.+}} : f32
// CHECK: %[[O:.+]] = arith.addf %[[T]], %[[XI]] : f32
// CHECK: linalg.yield %[[O]] : f32
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]
func.func @bias_gelu_tanh(%x: tensor<?x768xf32>, %b: tensor<768xf32>) -> tensor<?x768xf32> {
  %c0 = arith.constant 0 : index
  %n = tensor.dim %x, %c0 : tensor<?x768xf32>
  %bb = ds.broadcast %b [%n] : (tensor<768xf32>) -> tensor<?x768xf32>
  %s = arith.addf %x, %bb : tensor<?x768xf32>
  %g = ds.gelu %s : tensor<?x768xf32>
  %t = math.tanh %g : tensor<?x768xf32>
  %r = arith.addf %t, %x : tensor<?x768xf32>
  return %r : tensor<?x768xf32>
}
