// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// GELU, erf form: 0.5 * x * (1 + erf(x / sqrt(2))) with math.erf, in one
// elementwise generic over the dynamic shape.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-LABEL: func @gelu_erf
// CHECK-SAME: (%[[X:.+]]: tensor<?x64xf32>)
// CHECK: %[[D0:.+]] = tensor.dim %[[X]], %{{.+}}
// CHECK: %[[E:.+]] = tensor.empty(%[[D0]]) : tensor<?x64xf32>
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[X]] : tensor<?x64xf32>) outs(%[[E]] : tensor<?x64xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.+]]: f32, %{{.+}}: f32):
// CHECK-DAG: %[[HALF:.+]] = arith.constant 5.000000e-01 : f32
// CHECK-DAG: %[[ONE:.+]] = arith.constant 1.000000e+00 : f32
// CHECK-DAG: %[[RSQRT2:.+]] = arith.constant 0.707106769 : f32
// CHECK: %[[S:.+]] = arith.mulf %[[IN]], %[[RSQRT2]] : f32
// CHECK: %[[ERF:.+]] = math.erf %[[S]] : f32
// CHECK: %[[P:.+]] = arith.addf %[[ONE]], %[[ERF]] : f32
// CHECK: %[[HX:.+]] = arith.mulf %[[HALF]], %[[IN]] : f32
// CHECK: %[[R:.+]] = arith.mulf %[[HX]], %[[P]] : f32
// CHECK: linalg.yield %[[R]] : f32
func.func @gelu_erf(%x: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %0 = ds.gelu %x : tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// GELU, tanh form on f16, computed in f32:
// 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3))).
// CHECK-LABEL: func @gelu_tanh_f16
// CHECK: linalg.generic
// CHECK: %[[X:.+]] = arith.extf %{{.+}} : f16 to f32
// CHECK-DAG: %[[C:.+]] = arith.constant 4.471500e-02 : f32
// CHECK-DAG: %[[K:.+]] = arith.constant 0.797884583 : f32
// CHECK: %[[X2:.+]] = arith.mulf %[[X]], %[[X]] : f32
// CHECK: %[[X3:.+]] = arith.mulf %[[X2]], %[[X]] : f32
// CHECK: %[[CX3:.+]] = arith.mulf %[[C]], %[[X3]] : f32
// CHECK: %[[IN:.+]] = arith.addf %[[X]], %[[CX3]] : f32
// CHECK: %[[KIN:.+]] = arith.mulf %[[K]], %[[IN]] : f32
// CHECK: %[[T:.+]] = math.tanh %[[KIN]] : f32
// CHECK: arith.truncf %{{.+}} : f32 to f16
// CHECK-NOT: math.erf
func.func @gelu_tanh_f16(%x: tensor<2x?xf16>) -> tensor<2x?xf16> {
  %0 = ds.gelu %x approximation = tanh : tensor<2x?xf16>
  return %0 : tensor<2x?xf16>
}

// -----

// SiLU: x * sigmoid(x).
// CHECK-LABEL: func @silu
// CHECK: linalg.generic
// CHECK-NEXT: ^bb0(%[[IN:.+]]: f32, %{{.+}}: f32):
// CHECK: %[[N:.+]] = arith.negf %[[IN]] : f32
// CHECK: %[[E:.+]] = math.exp %[[N]] : f32
// CHECK: %[[D:.+]] = arith.addf %{{.+}}, %[[E]] : f32
// CHECK: %[[S:.+]] = arith.divf %{{.+}}, %[[D]] : f32
// CHECK: %[[R:.+]] = arith.mulf %[[IN]], %[[S]] : f32
// CHECK: linalg.yield %[[R]] : f32
func.func @silu(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ds.silu %x : tensor<?xf32>
  return %0 : tensor<?xf32>
}

// -----

// SwiGLU with a dynamic last dimension: the halves are two extract_slices
// at offsets 0 and F = dim / 2, combined by one generic silu(gate) * up.
// CHECK-LABEL: func @swiglu_dynamic
// CHECK-SAME: (%[[X:.+]]: tensor<?x?xbf16>)
// CHECK-DAG: %[[C1:.+]] = arith.constant 1 : index
// CHECK-DAG: %[[D1:.+]] = tensor.dim %[[X]], %[[C1]]
// CHECK: %[[F:.+]] = arith.divui %[[D1]], %{{.+}} : index
// CHECK: %[[GATE:.+]] = tensor.extract_slice %[[X]][0, 0] [%{{.+}}, %[[F]]] [1, 1]
// CHECK: %[[UP:.+]] = tensor.extract_slice %[[X]][0, %[[F]]] [%{{.+}}, %[[F]]] [1, 1]
// CHECK: linalg.generic
// CHECK-SAME: ins(%[[GATE]], %[[UP]] : tensor<?x?xbf16>, tensor<?x?xbf16>)
// CHECK: %[[G:.+]] = arith.extf %{{.+}} : bf16 to f32
// CHECK: %[[U:.+]] = arith.extf %{{.+}} : bf16 to f32
// CHECK: math.exp
// CHECK: %[[SG:.+]] = arith.mulf %[[G]], %{{.+}} : f32
// CHECK: %[[R:.+]] = arith.mulf %[[SG]], %[[U]] : f32
// CHECK: arith.truncf %[[R]] : f32 to bf16
func.func @swiglu_dynamic(%x: tensor<?x?xbf16>) -> tensor<?x?xbf16> {
  %0 = ds.swiglu %x : (tensor<?x?xbf16>) -> tensor<?x?xbf16>
  return %0 : tensor<?x?xbf16>
}

// -----

// SwiGLU with a static last dimension slices at the constant half.
// CHECK-LABEL: func @swiglu_static
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 0] [1, %{{.+}}, 4] [1, 1, 1] : tensor<1x?x8xf32> to tensor<1x?x4xf32>
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 4] [1, %{{.+}}, 4] [1, 1, 1] : tensor<1x?x8xf32> to tensor<1x?x4xf32>
func.func @swiglu_static(%x: tensor<1x?x8xf32>) -> tensor<1x?x4xf32> {
  %0 = ds.swiglu %x : (tensor<1x?x8xf32>) -> tensor<1x?x4xf32>
  return %0 : tensor<1x?x4xf32>
}
