// RUN: ds-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(ds-merge-projections))' | FileCheck %s

// Q/K/V with biases (BERT): one GEMM over the weights concatenated along
// N, then one slice per projection. GQA widths (64, 32, 32).
// CHECK-LABEL: func.func @qkv
// CHECK: %[[W:.+]] = tensor.concat dim(1) %arg0, %arg1, %arg2 : (tensor<64x64xf32>, tensor<64x32xf32>, tensor<64x32xf32>) -> tensor<64x128xf32>
// CHECK: %[[B:.+]] = tensor.concat dim(0) %arg3, %arg4, %arg5 : (tensor<64xf32>, tensor<32xf32>, tensor<32xf32>) -> tensor<128xf32>
// CHECK: %[[Y:.+]] = ds.linear %arg6, %[[W]] bias(%[[B]]) : (tensor<?x?x64xf32>, tensor<64x128xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
// CHECK: %[[Q:.+]] = tensor.extract_slice %[[Y]][0, 0, 0] [%{{.+}}, %{{.+}}, 64] [1, 1, 1] : tensor<?x?x128xf32> to tensor<?x?x64xf32>
// CHECK: %[[K:.+]] = tensor.extract_slice %[[Y]][0, 0, 64] [%{{.+}}, %{{.+}}, 32] [1, 1, 1] : tensor<?x?x128xf32> to tensor<?x?x32xf32>
// CHECK: %[[V:.+]] = tensor.extract_slice %[[Y]][0, 0, 96] [%{{.+}}, %{{.+}}, 32] [1, 1, 1] : tensor<?x?x128xf32> to tensor<?x?x32xf32>
// CHECK-NOT: ds.linear
// CHECK: return %[[Q]], %[[K]], %[[V]]
func.func @qkv(%wq: tensor<64x64xf32> {ds.weight = "q.w"}, %wk: tensor<64x32xf32> {ds.weight = "k.w"},
               %wv: tensor<64x32xf32> {ds.weight = "v.w"}, %bq: tensor<64xf32> {ds.weight = "q.b"},
               %bk: tensor<32xf32> {ds.weight = "k.b"}, %bv: tensor<32xf32> {ds.weight = "v.b"},
               %x: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) {
  %q = ds.linear %x, %wq bias(%bq) : (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %k = ds.linear %x, %wk bias(%bk) : (tensor<?x?x64xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  %v = ds.linear %x, %wv bias(%bv) : (tensor<?x?x64xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
  return %q, %k, %v : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>
}

// -----

// nn.Linear layout ([N, K], transpose_weight): concatenation along dim 0.
// CHECK-LABEL: func.func @transposed
// CHECK: %[[W:.+]] = tensor.concat dim(0) %arg0, %arg1 : (tensor<16x8xf16>, tensor<16x8xf16>) -> tensor<32x8xf16>
// CHECK: %[[Y:.+]] = ds.linear %arg2, %[[W]] {transpose_weight} : (tensor<4x8xf16>, tensor<32x8xf16>) -> tensor<4x32xf16>
// CHECK: tensor.extract_slice %[[Y]][0, 0] [4, 16] [1, 1]
// CHECK: tensor.extract_slice %[[Y]][0, 16] [4, 16] [1, 1]
func.func @transposed(%a: tensor<16x8xf16> {ds.weight = "a"}, %b: tensor<16x8xf16> {ds.weight = "b"},
                      %x: tensor<4x8xf16>) -> (tensor<4x16xf16>, tensor<4x16xf16>) {
  %y = ds.linear %x, %a {transpose_weight} : (tensor<4x8xf16>, tensor<16x8xf16>) -> tensor<4x16xf16>
  %z = ds.linear %x, %b {transpose_weight} : (tensor<4x8xf16>, tensor<16x8xf16>) -> tensor<4x16xf16>
  return %y, %z : tensor<4x16xf16>, tensor<4x16xf16>
}

// -----

// Gate/up concatenated for ds.swiglu: merged in the concat's order (up
// is computed first here) and the concat disappears.
// CHECK-LABEL: func.func @gate_up
// CHECK: %[[W:.+]] = tensor.concat dim(1) %arg0, %arg1 : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x256xf32>
// CHECK: %[[Y:.+]] = ds.linear %arg2, %[[W]] : (tensor<?x64xf32>, tensor<64x256xf32>) -> tensor<?x256xf32>
// CHECK: %[[S:.+]] = ds.swiglu %[[Y]]
// CHECK: return %[[S]]
func.func @gate_up(%gate: tensor<64x128xf32> {ds.weight = "gate"}, %upw: tensor<64x128xf32> {ds.weight = "up"},
                   %x: tensor<?x64xf32>) -> tensor<?x128xf32> {
  %u = ds.linear %x, %upw : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %g = ds.linear %x, %gate : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %c = tensor.concat dim(1) %g, %u : (tensor<?x128xf32>, tensor<?x128xf32>) -> tensor<?x256xf32>
  %s = ds.swiglu %c : (tensor<?x256xf32>) -> tensor<?x128xf32>
  return %s : tensor<?x128xf32>
}

// -----

// Gate/up still as two uses (no concat): merged, sliced.
// CHECK-LABEL: func.func @gate_up_sliced
// CHECK: ds.linear %arg2, %{{.+}} : (tensor<?x64xf32>, tensor<64x256xf32>) -> tensor<?x256xf32>
// CHECK-COUNT-2: tensor.extract_slice
// CHECK: ds.silu
func.func @gate_up_sliced(%gate: tensor<64x128xf32> {ds.weight = "gate"}, %upw: tensor<64x128xf32> {ds.weight = "up"},
                          %x: tensor<?x64xf32>) -> tensor<?x128xf32> {
  %g = ds.linear %x, %gate : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %u = ds.linear %x, %upw : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %s = ds.silu %g : tensor<?x128xf32>
  %m = arith.mulf %s, %u : tensor<?x128xf32>
  return %m : tensor<?x128xf32>
}

// -----

// Not merged: residual, activation, bias on one only, different inputs,
// a single projection.
// CHECK-LABEL: func.func @negative
// CHECK-NOT: tensor.concat
// CHECK-COUNT-5: ds.linear
// CHECK-NOT: tensor.concat
func.func @negative(%a: tensor<8x16xf32> {ds.weight = "a"}, %b: tensor<8x16xf32> {ds.weight = "b"},
                    %bias: tensor<16xf32> {ds.weight = "bias"},
                    %x: tensor<4x8xf32>, %x2: tensor<4x8xf32>, %r: tensor<4x16xf32>)
    -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %0 = ds.linear %x, %a residual(%r) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %1 = ds.linear %x, %b {activation = #ds<activation gelu>} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %2 = ds.linear %x, %a bias(%bias) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %3 = ds.linear %x, %b : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %4 = ds.linear %x2, %a : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  return %0, %1, %2, %3, %4 : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}
