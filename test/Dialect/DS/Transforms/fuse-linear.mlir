// RUN: ds-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(ds-fuse-linear))' | FileCheck %s

// GPT-2 (dynamo): the GEMM runs on [B*S, K] between a collapse and an
// expand; the linear keeps that shape, the bias folds through the expand
// and the residual is collapsed to the GEMM's shape.
// CHECK-LABEL: func.func @gpt2_collapsed
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<64x192xf32> {ds.weight = "w"}
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<192xf32> {ds.weight = "b"}
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: %[[R:[a-z0-9]+]]: tensor<?x?x192xf32>
// CHECK: %[[XC:.+]] = tensor.collapse_shape %[[X]] {{\[}}[0, 1], [2]]
// CHECK: %[[RC:.+]] = tensor.collapse_shape %[[R]] {{\[}}[0, 1], [2]] : tensor<?x?x192xf32> into tensor<?x192xf32>
// CHECK: %[[Y:.+]] = ds.linear %[[XC]], %[[W]] bias(%[[B]]) residual(%[[RC]]) {activation = #ds<activation gelu_tanh>} : (tensor<?x64xf32>, tensor<64x192xf32>, tensor<192xf32>, tensor<?x192xf32>) -> tensor<?x192xf32>
// CHECK: %[[E:.+]] = tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]] output_shape [%{{.+}}, %{{.+}}, 192]
// CHECK-NOT: ds.matmul
// CHECK-NOT: arith.addf
// CHECK: return %[[E]]
func.func @gpt2_collapsed(%w: tensor<64x192xf32> {ds.weight = "w"},
                          %b: tensor<192xf32> {ds.weight = "b"},
                          %x: tensor<?x?x64xf32>, %r: tensor<?x?x192xf32>)
    -> tensor<?x?x192xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %d1 = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %xc = tensor.collapse_shape %x [[0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
  %m = ds.matmul %xc, %w : (tensor<?x64xf32>, tensor<64x192xf32>) -> tensor<?x192xf32>
  %e = tensor.expand_shape %m [[0, 1], [2]] output_shape [%d0, %d1, 192] : tensor<?x192xf32> into tensor<?x?x192xf32>
  %bb = ds.broadcast %b[%d0, %d1] : (tensor<192xf32>) -> tensor<?x?x192xf32>
  %a = arith.addf %e, %bb : tensor<?x?x192xf32>
  %g = ds.gelu %a approximation = tanh : tensor<?x?x192xf32>
  %s = arith.addf %r, %g : tensor<?x?x192xf32>
  return %s : tensor<?x?x192xf32>
}

// -----

// BERT (torchscript): the GEMM on [B, S, K] directly, a constant weight,
// the bias broadcast first in the add and shared with another add.
// CHECK-LABEL: func.func @bert_direct
// CHECK: %[[W:.+]] = arith.constant dense<1.000000e+00> : tensor<64x128xf32>
// CHECK: %[[B:.+]] = arith.constant dense<5.000000e-01> : tensor<128xf32>
// CHECK: %[[Y:.+]] = ds.linear %arg0, %[[W]] bias(%[[B]]) {activation = #ds<activation gelu>}
// CHECK: %[[Z:.+]] = ds.linear %arg0, %[[W]] bias(%[[B]]) :
// CHECK: return %[[Y]], %[[Z]]
func.func @bert_direct(%x: tensor<?x?x64xf32>) -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>) {
  %w = arith.constant dense<1.0> : tensor<64x128xf32>
  %b = arith.constant dense<0.5> : tensor<128xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %d1 = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %bb = ds.broadcast %b[%d0, %d1] : (tensor<128xf32>) -> tensor<?x?x128xf32>
  %m = ds.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x128xf32>) -> tensor<?x?x128xf32>
  %a = arith.addf %bb, %m : tensor<?x?x128xf32>
  %g = ds.gelu %a : tensor<?x?x128xf32>
  %m2 = ds.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x128xf32>) -> tensor<?x?x128xf32>
  %a2 = arith.addf %bb, %m2 : tensor<?x?x128xf32>
  return %g, %a2 : tensor<?x?x128xf32>, tensor<?x?x128xf32>
}

// -----

// A transposed weight (GPT-2's tied lm_head) reads the weight transposed;
// SiLU and ReLU fold; a residual after the activation.
// CHECK-LABEL: func.func @transposed
// CHECK: %[[Y:.+]] = ds.linear %arg1, %arg0 {activation = #ds<activation silu>, transpose_weight} : (tensor<?x?x64xf32>, tensor<256x64xf32>) -> tensor<?x?x256xf32>
// CHECK: %[[Z:.+]] = ds.linear %arg1, %arg0 residual(%arg2) {activation = #ds<activation relu>, transpose_weight}
// CHECK-NOT: linalg.transpose
// CHECK: return %[[Y]], %[[Z]]
func.func @transposed(%w: tensor<256x64xf32> {ds.weight = "lm_head"},
                      %x: tensor<?x?x64xf32>, %r: tensor<?x?x256xf32>)
    -> (tensor<?x?x256xf32>, tensor<?x?x256xf32>) {
  %init = tensor.empty() : tensor<64x256xf32>
  %wt = linalg.transpose ins(%w : tensor<256x64xf32>) outs(%init : tensor<64x256xf32>) permutation = [1, 0]
  %m = ds.matmul %x, %wt : (tensor<?x?x64xf32>, tensor<64x256xf32>) -> tensor<?x?x256xf32>
  %s = ds.silu %m : tensor<?x?x256xf32>
  %m2 = ds.matmul %x, %wt : (tensor<?x?x64xf32>, tensor<64x256xf32>) -> tensor<?x?x256xf32>
  %zero = arith.constant dense<0.0> : tensor<f32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %d1 = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %zb = ds.broadcast %zero[%d0, %d1] : (tensor<f32>) -> tensor<?x?x256xf32>
  %relu = arith.maximumf %m2, %zb : tensor<?x?x256xf32>
  %res = arith.addf %relu, %r : tensor<?x?x256xf32>
  return %s, %res : tensor<?x?x256xf32>, tensor<?x?x256xf32>
}

// -----

// Folding order: an activation after a residual add does not fold, nor a
// second residual; a bias after the activation is a residual.
// CHECK-LABEL: func.func @order
// CHECK: %[[Y:.+]] = ds.linear %arg1, %arg0 residual(%arg2) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
// CHECK: %[[G:.+]] = ds.gelu %[[Y]]
// CHECK: %[[Z:.+]] = ds.linear %arg1, %arg0 residual(%{{.+}}) {activation = #ds<activation gelu>}
// CHECK: return %[[G]], %[[Z]]
func.func @order(%w: tensor<8x16xf32> {ds.weight = "w"}, %x: tensor<4x8xf32>,
                 %r: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %m = ds.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %a = arith.addf %m, %r : tensor<4x16xf32>
  %g = ds.gelu %a : tensor<4x16xf32>
  %m2 = ds.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %g2 = ds.gelu %m2 : tensor<4x16xf32>
  %b = arith.constant dense<1.0> : tensor<16xf32>
  %bb = ds.broadcast %b[] : (tensor<16xf32>) -> tensor<4x16xf32>
  %a2 = arith.addf %g2, %bb : tensor<4x16xf32>
  return %g, %a2 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Not fused: activation right operands (attention scores), a weight of
// rank 3, a result used twice keeps its epilogue outside.
// CHECK-LABEL: func.func @negative
// CHECK: ds.matmul %arg0, %arg1
// CHECK: ds.matmul %arg0, %arg2
// CHECK: %[[Y:.+]] = ds.linear %arg3, %arg4 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK: arith.addf %[[Y]], %[[Y]]
func.func @negative(%q: tensor<2x4x8xf32>, %k: tensor<2x8x4xf32>,
                    %w3: tensor<2x8x4xf32> {ds.weight = "w3"},
                    %x: tensor<4x8xf32>, %w: tensor<8x16xf32> {ds.weight = "w"})
    -> (tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<4x16xf32>) {
  %s = ds.matmul %q, %k : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
  %t = ds.matmul %q, %w3 : (tensor<2x4x8xf32>, tensor<2x8x4xf32>) -> tensor<2x4x4xf32>
  %m = ds.matmul %x, %w : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %a = arith.addf %m, %m : tensor<4x16xf32>
  return %s, %t, %a : tensor<2x4x4xf32>, tensor<2x4x4xf32>, tensor<4x16xf32>
}

// -----

// Gated MLP: a SiLU multiplied by a sibling projection of the same input
// (plain, with a bias, or already a ds.linear) stays out of the gate's
// epilogue for ds-merge-projections; the bias still folds.
// CHECK-LABEL: func.func @gated_sibling
// CHECK: %[[G:.+]] = ds.linear %arg4, %arg0 bias(%arg2) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
// CHECK: %[[S:.+]] = ds.silu %[[G]]
// CHECK: %[[U:.+]] = ds.linear %arg4, %arg1 bias(%arg3) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
// CHECK: arith.mulf %[[S]], %[[U]]
// CHECK: %[[U2:.+]] = ds.linear %arg4, %arg1 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK: %[[G2:.+]] = ds.linear %arg4, %arg0 : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
// CHECK: %[[S2:.+]] = ds.silu %[[G2]]
// CHECK: arith.mulf %[[U2]], %[[S2]]
func.func @gated_sibling(%wg: tensor<8x16xf32> {ds.weight = "gate"}, %wu: tensor<8x16xf32> {ds.weight = "up"},
                         %bg: tensor<16xf32> {ds.weight = "gate.b"}, %bu: tensor<16xf32> {ds.weight = "up.b"},
                         %x: tensor<4x8xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %g = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %bgb = ds.broadcast %bg[] : (tensor<16xf32>) -> tensor<4x16xf32>
  %ga = arith.addf %g, %bgb : tensor<4x16xf32>
  %s = ds.silu %ga : tensor<4x16xf32>
  %u = ds.matmul %x, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %bub = ds.broadcast %bu[] : (tensor<16xf32>) -> tensor<4x16xf32>
  %ua = arith.addf %bub, %u : tensor<4x16xf32>
  %m = arith.mulf %s, %ua : tensor<4x16xf32>
  // Up first: it is a ds.linear when the gate's chain is looked at.
  %u2 = ds.matmul %x, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %g2 = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s2 = ds.silu %g2 : tensor<4x16xf32>
  %m2 = arith.mulf %u2, %s2 : tensor<4x16xf32>
  return %m, %m2 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// The SiLU folds when its product is not with a sibling projection: a
// projection of another input, an activation times activation product,
// a product of the SiLU with itself, or a SiLU with another use.
// CHECK-LABEL: func.func @gated_not_sibling
// CHECK: %[[A:.+]] = ds.linear %arg2, %arg0 {activation = #ds<activation silu>}
// CHECK: %[[B:.+]] = ds.linear %arg3, %arg1 :
// CHECK: arith.mulf %[[A]], %[[B]]
// CHECK: %[[C:.+]] = ds.linear %arg2, %arg0 {activation = #ds<activation silu>}
// CHECK: %[[P:.+]] = ds.matmul %arg2, %arg4
// CHECK: arith.mulf %[[C]], %[[P]]
// CHECK: %[[D:.+]] = ds.linear %arg2, %arg0 {activation = #ds<activation silu>}
// CHECK: arith.mulf %[[D]], %[[D]]
// CHECK: %[[E:.+]] = ds.linear %arg2, %arg0 {activation = #ds<activation silu>}
// CHECK: %[[F:.+]] = ds.linear %arg2, %arg1 :
// CHECK: arith.mulf %[[E]], %[[F]]
// CHECK-NOT: ds.silu
// CHECK: return {{.+}}, %[[E]] :
func.func @gated_not_sibling(%wg: tensor<8x16xf32> {ds.weight = "gate"}, %wu: tensor<8x16xf32> {ds.weight = "up"},
                             %x: tensor<4x8xf32>, %y: tensor<4x8xf32>, %act: tensor<8x16xf32>)
    -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>) {
  %g = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s = ds.silu %g : tensor<4x16xf32>
  %u = ds.matmul %y, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  %g2 = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s2 = ds.silu %g2 : tensor<4x16xf32>
  %p = ds.matmul %x, %act : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %m2 = arith.mulf %s2, %p : tensor<4x16xf32>
  %g3 = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s3 = ds.silu %g3 : tensor<4x16xf32>
  %m3 = arith.mulf %s3, %s3 : tensor<4x16xf32>
  %g4 = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %s4 = ds.silu %g4 : tensor<4x16xf32>
  %u4 = ds.matmul %x, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %m4 = arith.mulf %s4, %u4 : tensor<4x16xf32>
  return %m, %m2, %m3, %m4, %s4 : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>
}
