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

// Llama's MLP after ds-fuse-linear: silu(gate) * up with gate and up
// projections of one input becomes one GEMM over [Wgate | Wup] and
// ds.swiglu; the SiLU, the product and both projections disappear.
// CHECK-LABEL: func.func @gate_up_swiglu
// CHECK: %[[W:.+]] = tensor.concat dim(1) %arg0, %arg1 : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x256xf32>
// CHECK: %[[Y:.+]] = ds.linear %arg2, %[[W]] : (tensor<?x?x64xf32>, tensor<64x256xf32>) -> tensor<?x?x256xf32>
// CHECK: %[[S:.+]] = ds.swiglu %[[Y]] : (tensor<?x?x256xf32>) -> tensor<?x?x128xf32>
// CHECK-NOT: ds.linear
// CHECK-NOT: ds.silu
// CHECK-NOT: arith.mulf
// CHECK: return %[[S]]
func.func @gate_up_swiglu(%gate: tensor<64x128xf32> {ds.weight = "gate"}, %upw: tensor<64x128xf32> {ds.weight = "up"},
                          %x: tensor<?x?x64xf32>) -> tensor<?x?x128xf32> {
  %g = ds.linear %x, %gate : (tensor<?x?x64xf32>, tensor<64x128xf32>) -> tensor<?x?x128xf32>
  %u = ds.linear %x, %upw : (tensor<?x?x64xf32>, tensor<64x128xf32>) -> tensor<?x?x128xf32>
  %s = ds.silu %g : tensor<?x?x128xf32>
  %m = arith.mulf %s, %u : tensor<?x?x128xf32>
  return %m : tensor<?x?x128xf32>
}

// -----

// The SiLU'd projection goes first in the concatenation whichever side of
// the product it is on and whichever projection comes first; the merged
// GEMM takes the place of the first one.
// CHECK-LABEL: func.func @silu_on_second
// CHECK: %[[W:.+]] = tensor.concat dim(1) %arg1, %arg0 : (tensor<32x64xf32>, tensor<32x64xf32>) -> tensor<32x128xf32>
// CHECK: %[[Y:.+]] = ds.linear %arg2, %[[W]]
// CHECK: %[[N:.+]] = arith.negf %arg2
// CHECK: %[[S:.+]] = ds.swiglu %[[Y]] : (tensor<4x128xf32>) -> tensor<4x64xf32>
// CHECK: return %[[S]], %[[N]]
func.func @silu_on_second(%a: tensor<32x64xf32> {ds.weight = "a"}, %b: tensor<32x64xf32> {ds.weight = "b"},
                          %x: tensor<4x32xf32>) -> (tensor<4x64xf32>, tensor<4x32xf32>) {
  %u = ds.linear %x, %a : (tensor<4x32xf32>, tensor<32x64xf32>) -> tensor<4x64xf32>
  %n = arith.negf %x : tensor<4x32xf32>
  %g = ds.linear %x, %b : (tensor<4x32xf32>, tensor<32x64xf32>) -> tensor<4x64xf32>
  %s = ds.silu %g : tensor<4x64xf32>
  %m = arith.mulf %u, %s : tensor<4x64xf32>
  return %m, %n : tensor<4x64xf32>, tensor<4x32xf32>
}

// -----

// nn.Linear layout with biases: weights and biases concatenated along N.
// CHECK-LABEL: func.func @transposed_bias
// CHECK-DAG: %[[W:.+]] = tensor.concat dim(0) %arg0, %arg1 : (tensor<16x8xf16>, tensor<16x8xf16>) -> tensor<32x8xf16>
// CHECK-DAG: %[[B:.+]] = tensor.concat dim(0) %arg2, %arg3 : (tensor<16xf16>, tensor<16xf16>) -> tensor<32xf16>
// CHECK: %[[Y:.+]] = ds.linear %arg4, %[[W]] bias(%[[B]]) {transpose_weight} : (tensor<?x8xf16>, tensor<32x8xf16>, tensor<32xf16>) -> tensor<?x32xf16>
// CHECK: ds.swiglu %[[Y]] : (tensor<?x32xf16>) -> tensor<?x16xf16>
func.func @transposed_bias(%wg: tensor<16x8xf16> {ds.weight = "g"}, %wu: tensor<16x8xf16> {ds.weight = "u"},
                           %bg: tensor<16xf16> {ds.weight = "gb"}, %bu: tensor<16xf16> {ds.weight = "ub"},
                           %x: tensor<?x8xf16>) -> tensor<?x16xf16> {
  %g = ds.linear %x, %wg bias(%bg) {transpose_weight} : (tensor<?x8xf16>, tensor<16x8xf16>, tensor<16xf16>) -> tensor<?x16xf16>
  %u = ds.linear %x, %wu bias(%bu) {transpose_weight} : (tensor<?x8xf16>, tensor<16x8xf16>, tensor<16xf16>) -> tensor<?x16xf16>
  %s = ds.silu %g : tensor<?x16xf16>
  %m = arith.mulf %s, %u : tensor<?x16xf16>
  return %m : tensor<?x16xf16>
}

// -----

// GEMMs on [B*S, K] whose results are expanded back to [B, S, N] (the
// dynamo form ds-fuse-linear keeps): ds.swiglu on the GEMM's shape, then
// the same expand.
// CHECK-LABEL: func.func @expanded
// CHECK: %[[Y:.+]] = ds.linear %arg2, %{{.+}} : (tensor<?x64xf32>, tensor<64x256xf32>) -> tensor<?x256xf32>
// CHECK: %[[S:.+]] = ds.swiglu %[[Y]] : (tensor<?x256xf32>) -> tensor<?x128xf32>
// CHECK: %[[E:.+]] = tensor.expand_shape %[[S]] {{\[}}[0, 1], [2]] output_shape [%arg3, %arg4, 128] : tensor<?x128xf32> into tensor<?x?x128xf32>
// CHECK-NOT: ds.silu
// CHECK: return %[[E]]
func.func @expanded(%gate: tensor<64x128xf32> {ds.weight = "gate"}, %upw: tensor<64x128xf32> {ds.weight = "up"},
                    %x: tensor<?x64xf32>, %b: index, %t: index) -> tensor<?x?x128xf32> {
  %g = ds.linear %x, %gate : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %ge = tensor.expand_shape %g [[0, 1], [2]] output_shape [%b, %t, 128] : tensor<?x128xf32> into tensor<?x?x128xf32>
  %u = ds.linear %x, %upw : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %ue = tensor.expand_shape %u [[0, 1], [2]] output_shape [%b, %t, 128] : tensor<?x128xf32> into tensor<?x?x128xf32>
  %s = ds.silu %ge : tensor<?x?x128xf32>
  %m = arith.mulf %s, %ue : tensor<?x?x128xf32>
  return %m : tensor<?x?x128xf32>
}

// -----

// Two layers: each pair merges on its own.
// CHECK-LABEL: func.func @two_layers
// CHECK-COUNT-2: ds.swiglu
// CHECK-NOT: ds.silu
func.func @two_layers(%g1: tensor<8x16xf32> {ds.weight = "g1"}, %u1: tensor<8x16xf32> {ds.weight = "u1"},
                      %d1: tensor<16x8xf32> {ds.weight = "d1"},
                      %g2: tensor<8x16xf32> {ds.weight = "g2"}, %u2: tensor<8x16xf32> {ds.weight = "u2"},
                      %x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  %a = ds.linear %x, %g1 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %b = ds.linear %x, %u1 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %a : tensor<4x16xf32>
  %m = arith.mulf %s, %b : tensor<4x16xf32>
  %y = ds.linear %m, %d1 : (tensor<4x16xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  %c = ds.linear %y, %g2 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %d = ds.linear %y, %u2 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %t = ds.silu %c : tensor<4x16xf32>
  %n = arith.mulf %t, %d : tensor<4x16xf32>
  return %n : tensor<4x16xf32>
}

// -----

// No ds.swiglu: the projections read different inputs.
// CHECK-LABEL: func.func @gate_up_different_inputs
// CHECK-NOT: tensor.concat
// CHECK: ds.silu
// CHECK: arith.mulf
// CHECK-NOT: ds.swiglu
func.func @gate_up_different_inputs(%gate: tensor<8x16xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                                    %x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x16xf32> {
  %g = ds.linear %x, %gate : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %u = ds.linear %y, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  return %m : tensor<4x16xf32>
}

// -----

// No ds.swiglu: the SiLU is used elsewhere too. The two projections still
// merge into one GEMM, sliced.
// CHECK-LABEL: func.func @silu_used_elsewhere
// CHECK: %[[Y:.+]] = ds.linear %arg2, %{{.+}} : (tensor<4x8xf32>, tensor<8x32xf32>) -> tensor<4x32xf32>
// CHECK: %[[G:.+]] = tensor.extract_slice %[[Y]][0, 0] [4, 16] [1, 1]
// CHECK: %[[U:.+]] = tensor.extract_slice %[[Y]][0, 16] [4, 16] [1, 1]
// CHECK: %[[S:.+]] = ds.silu %[[G]]
// CHECK: %[[M:.+]] = arith.mulf %[[S]], %[[U]]
// CHECK-NOT: ds.swiglu
// CHECK: return %[[M]], %[[S]]
func.func @silu_used_elsewhere(%gate: tensor<8x16xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                               %x: tensor<4x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %g = ds.linear %x, %gate : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %u = ds.linear %x, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  return %m, %s : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// No ds.swiglu: the gate's result is used elsewhere (merged and sliced),
// and a SiLU multiplied by itself is no gate/up pair.
// CHECK-LABEL: func.func @gate_used_elsewhere
// CHECK: ds.linear %arg2, %{{.+}} : (tensor<4x8xf32>, tensor<8x32xf32>) -> tensor<4x32xf32>
// CHECK-COUNT-2: tensor.extract_slice
// CHECK: ds.silu
// CHECK: arith.mulf
// CHECK: %[[Q:.+]] = ds.silu %arg3
// CHECK: arith.mulf %[[Q]], %[[Q]]
// CHECK-NOT: ds.swiglu
func.func @gate_used_elsewhere(%gate: tensor<8x16xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                               %x: tensor<4x8xf32>, %z: tensor<4x16xf32>)
    -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %g = ds.linear %x, %gate : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %u = ds.linear %x, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  %q = ds.silu %z : tensor<4x16xf32>
  %qq = arith.mulf %q, %q : tensor<4x16xf32>
  return %m, %g, %qq : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// No ds.swiglu: only the gate has a bias. The SiLU folds back into the
// gate's epilogue (ds-fuse-linear left it for this pass).
// CHECK-LABEL: func.func @gate_up_bias_on_one
// CHECK: %[[G:.+]] = ds.linear %arg3, %arg0 bias(%arg2) {activation = #ds<activation silu>}
// CHECK: %[[U:.+]] = ds.linear %arg3, %arg1 :
// CHECK: %[[M:.+]] = arith.mulf %[[G]], %[[U]]
// CHECK-NOT: ds.silu
// CHECK: return %[[M]]
func.func @gate_up_bias_on_one(%gate: tensor<8x16xf32> {ds.weight = "gate"}, %upw: tensor<8x16xf32> {ds.weight = "up"},
                               %bias: tensor<16xf32> {ds.weight = "bias"}, %x: tensor<4x8xf32>) -> tensor<4x16xf32> {
  %g = ds.linear %x, %gate bias(%bias) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  %u = ds.linear %x, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  return %m : tensor<4x16xf32>
}

// -----

// No ds.swiglu: the gate's weight is computed after the up projection, so
// the merged GEMM cannot take the up projection's place. The SiLU folds
// into the gate, expanded form included.
// CHECK-LABEL: func.func @weight_after_first
// CHECK: %[[U:.+]] = ds.linear %arg1, %arg0
// CHECK: %[[G:.+]] = ds.linear %arg1, %{{.+}} {activation = #ds<activation silu>}
// CHECK: %[[E:.+]] = tensor.expand_shape %[[G]]
// CHECK: arith.mulf %[[E]], %{{.+}}
// CHECK-NOT: ds.swiglu
func.func @weight_after_first(%upw: tensor<8x16xf32> {ds.weight = "up"}, %x: tensor<4x8xf32>) -> tensor<2x2x16xf32> {
  %u = ds.linear %x, %upw : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %ue = tensor.expand_shape %u [[0, 1], [2]] output_shape [2, 2, 16] : tensor<4x16xf32> into tensor<2x2x16xf32>
  %gate = arith.constant dense<0.5> : tensor<8x16xf32>
  %g = ds.linear %x, %gate : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %ge = tensor.expand_shape %g [[0, 1], [2]] output_shape [2, 2, 16] : tensor<4x16xf32> into tensor<2x2x16xf32>
  %s = ds.silu %ge : tensor<2x2x16xf32>
  %m = arith.mulf %s, %ue : tensor<2x2x16xf32>
  return %m : tensor<2x2x16xf32>
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
