// RUN: ds-opt %s --split-input-file --ds-fold-norm-scale | FileCheck %s
// RUN: ds-opt %s --split-input-file --ds-fold-norm-scale=copy-weights=true \
// RUN:   | FileCheck %s --check-prefix=COPY

// Merged Q/K/V: the norm's scale multiplies the concatenated [K, N]
// weight along K (dimension 0), in f32 rounded once to bf16; the norm
// keeps a unit scale.
// CHECK: #[[ID:map[0-9]*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK: #[[ROW:map[0-9]*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @merged_qkv
// CHECK-SAME: (%[[X:[^:]+]]: tensor<?x64xbf16>, %[[G:[^:]+]]: tensor<64xbf16>
// CHECK: %[[CAT:.+]] = tensor.concat dim(1)
// CHECK: %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<64xbf16>
// CHECK: %[[N:.+]] = ds.rms_norm %[[X]], %[[ONE]] {epsilon = 9.99999997E-7 : f32}
// CHECK: %[[S:.+]] = linalg.generic
// CHECK-SAME: indexing_maps = [#[[ID:map[0-9]*]], #[[ROW:map[0-9]*]], #[[ID]]]
// CHECK-SAME: ins(%[[CAT]], %[[G]] : tensor<64x96xbf16>, tensor<64xbf16>)
// CHECK: ^bb0(%[[W:[^:]+]]: bf16, %[[Y:[^:]+]]: bf16, %{{[^:]+}}: bf16):
// CHECK-DAG: %[[WF:.+]] = arith.extf %[[W]] : bf16 to f32
// CHECK-DAG: %[[YF:.+]] = arith.extf %[[Y]] : bf16 to f32
// CHECK: %[[P:.+]] = arith.mulf %[[WF]], %[[YF]] : f32
// CHECK: %[[T:.+]] = arith.truncf %[[P]] : f32 to bf16
// CHECK: linalg.yield %[[T]]
// CHECK: ds.linear %[[N]], %[[S]] :
func.func @merged_qkv(%x: tensor<?x64xbf16>,
                      %g: tensor<64xbf16> {ds.weight = "norm.weight"},
                      %q: tensor<64x64xbf16> {ds.weight = "q.weight"},
                      %k: tensor<64x32xbf16> {ds.weight = "k.weight"})
    -> tensor<?x96xbf16> {
  %w = tensor.concat dim(1) %q, %k : (tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<64x96xbf16>
  %n = ds.rms_norm %x, %g {epsilon = 1.0e-6 : f32} : (tensor<?x64xbf16>, tensor<64xbf16>) -> tensor<?x64xbf16>
  %y = ds.linear %n, %w : (tensor<?x64xbf16>, tensor<64x96xbf16>) -> tensor<?x96xbf16>
  return %y : tensor<?x96xbf16>
}

// -----

// Two linears read the norm (an unmerged pair), one of them [N, K] and
// computed (K is dimension 1 there), one a plain [K, N] weight, which
// ds-pretranspose-weights copies anyway: both fold, f32 needs no casts.
// CHECK: #[[ID2:map[0-9]*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK: #[[COL:map[0-9]*]] = affine_map<(d0, d1) -> (d1)>
// CHECK: #[[ROW2:map[0-9]*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @two_users
// CHECK: %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<64xf32>
// CHECK: ds.rms_norm %{{.+}}, %[[ONE]] : (tensor<2x3x64xf32>, tensor<64xf32>)
// CHECK: %[[A:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[COL]], #[[ID2]]]
// CHECK-NOT: arith.extf
// CHECK: ds.linear %{{.+}}, %[[A]] {transpose_weight}
// CHECK: %[[B:.+]] = linalg.generic {indexing_maps = [#[[ID2]], #[[ROW2]], #[[ID2]]]
// CHECK: ds.linear %{{.+}}, %[[B]] residual
func.func @two_users(%x: tensor<2x3x64xf32>,
                     %g: tensor<64xf32> {ds.weight = "norm.weight"},
                     %a: tensor<64x32xf32> {ds.weight = "a.weight"},
                     %b: tensor<64x16xf32> {ds.weight = "b.weight"},
                     %r: tensor<2x3x16xf32>)
    -> (tensor<2x3x32xf32>, tensor<2x3x16xf32>) {
  %e = tensor.empty() : tensor<32x64xf32>
  %at = linalg.transpose ins(%a : tensor<64x32xf32>) outs(%e : tensor<32x64xf32>) permutation = [1, 0]
  %n = ds.rms_norm %x, %g : (tensor<2x3x64xf32>, tensor<64xf32>) -> tensor<2x3x64xf32>
  %y = ds.linear %n, %at {transpose_weight} : (tensor<2x3x64xf32>, tensor<32x64xf32>) -> tensor<2x3x32xf32>
  %z = ds.linear %n, %b residual(%r) : (tensor<2x3x64xf32>, tensor<64x16xf32>, tensor<2x3x16xf32>) -> tensor<2x3x16xf32>
  return %y, %z : tensor<2x3x32xf32>, tensor<2x3x16xf32>
}

// -----

// A plain [N, K] weight argument (a tied embedding as the LM head) would
// need a scaled copy beside the original: left alone unless copy-weights.
// CHECK-LABEL: func.func @tied_head
// CHECK-NOT: linalg.generic
// CHECK: ds.linear %{{.+}}, %{{.+}} {transpose_weight}
// COPY-LABEL: func.func @tied_head
// COPY: %[[S:.+]] = linalg.generic
// COPY: ds.linear %{{.+}}, %[[S]] {transpose_weight}
func.func @tied_head(%x: tensor<?x64xf32>,
                     %g: tensor<64xf32> {ds.weight = "norm.weight"},
                     %e: tensor<128x64xf32> {ds.weight = "embed.weight"})
    -> tensor<?x128xf32> {
  %n = ds.rms_norm %x, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %y = ds.linear %n, %e {transpose_weight} : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// The norm is also returned: its output must keep the scale.
// CHECK-LABEL: func.func @norm_escapes
// CHECK-NOT: linalg.generic
// CHECK: ds.rms_norm %{{.+}}, %arg1
func.func @norm_escapes(%x: tensor<?x64xf32>,
                        %g: tensor<64xf32> {ds.weight = "norm.weight"},
                        %w: tensor<64x32xf32> {ds.weight = "w"})
    -> (tensor<?x32xf32>, tensor<?x64xf32>) {
  %n = ds.rms_norm %x, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %y = ds.linear %n, %w : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  return %y, %n : tensor<?x32xf32>, tensor<?x64xf32>
}

// -----

// The norm feeds a linear as its residual, not its input.
// CHECK-LABEL: func.func @residual_use
// CHECK-NOT: linalg.generic
func.func @residual_use(%x: tensor<?x64xf32>, %h: tensor<?x32xf32>,
                        %g: tensor<64xf32> {ds.weight = "norm.weight"},
                        %w: tensor<32x64xf32> {ds.weight = "w"})
    -> tensor<?x64xf32> {
  %n = ds.rms_norm %x, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %y = ds.linear %h, %w residual(%n) : (tensor<?x32xf32>, tensor<32x64xf32>, tensor<?x64xf32>) -> tensor<?x64xf32>
  return %y : tensor<?x64xf32>
}

// -----

// The scale is an activation, not a weight; the weight is an activation;
// the norm runs over two dimensions: none folds.
// CHECK-LABEL: func.func @not_weights
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @not_weights(%x: tensor<?x64xf32>, %g: tensor<64xf32>,
                       %gw: tensor<64xf32> {ds.weight = "norm.weight"},
                       %h: tensor<64x32xf32>,
                       %x3: tensor<?x4x16xf32>,
                       %g2: tensor<4x16xf32> {ds.weight = "norm2.weight"},
                       %w: tensor<64x32xf32> {ds.weight = "w"})
    -> (tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x4x16xf32>) {
  %n = ds.rms_norm %x, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %y = ds.linear %n, %w : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %m = ds.rms_norm %x, %gw : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %z = ds.linear %m, %h : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %o = ds.rms_norm %x3, %g2 {axis = 1 : i64} : (tensor<?x4x16xf32>, tensor<4x16xf32>) -> tensor<?x4x16xf32>
  return %y, %z, %o : tensor<?x32xf32>, tensor<?x32xf32>, tensor<?x4x16xf32>
}

// -----

// Llama's form: the norm in f32 with a unit scale, rounded to bf16, then
// multiplied by the broadcast scale in bf16. The linear reads the rounded
// norm, the weight takes the scale, and the multiplication goes.
// CHECK-LABEL: func.func @llama_form
// CHECK-SAME: %[[G:[^:]+]]: tensor<64xbf16> {ds.weight = "norm.weight"}
// CHECK: %[[T:.+]] = arith.truncf
// CHECK-NOT: arith.mulf {{.*}} : tensor
// CHECK: %[[S:.+]] = linalg.generic
// CHECK-SAME: ins(%{{.+}}, %[[G]] : tensor<64x96xbf16>, tensor<64xbf16>)
// CHECK: ds.linear %[[T]], %[[S]] :
func.func @llama_form(%x: tensor<?x?x64xf32>,
                      %g: tensor<64xbf16> {ds.weight = "norm.weight"},
                      %q: tensor<64x64xbf16> {ds.weight = "q.weight"},
                      %k: tensor<64x32xbf16> {ds.weight = "k.weight"},
                      %d0: index, %d1: index) -> tensor<?x?x96xbf16> {
  %one = arith.constant dense<1.0> : tensor<64xf32>
  %n = ds.rms_norm %x, %one {axis = 2 : i64} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %t = arith.truncf %n : tensor<?x?x64xf32> to tensor<?x?x64xbf16>
  %b = ds.broadcast %g[%d0, %d1] : (tensor<64xbf16>) -> tensor<?x?x64xbf16>
  %m = arith.mulf %b, %t : tensor<?x?x64xbf16>
  %w = tensor.concat dim(1) %q, %k : (tensor<64x64xbf16>, tensor<64x32xbf16>) -> tensor<64x96xbf16>
  %y = ds.linear %m, %w : (tensor<?x?x64xbf16>, tensor<64x96xbf16>) -> tensor<?x?x96xbf16>
  return %y : tensor<?x?x96xbf16>
}

// -----

// The product is also returned, or the broadcast vector is an activation:
// the multiplications stay.
// CHECK-LABEL: func.func @mul_not_folded
// CHECK-NOT: linalg.generic
// CHECK: arith.mulf {{.*}} : tensor<?x64xf32>
// CHECK: arith.mulf {{.*}} : tensor<?x64xf32>
func.func @mul_not_folded(%x: tensor<?x64xf32>, %a: tensor<64xf32>,
                          %g: tensor<64xf32> {ds.weight = "norm.weight"},
                          %w: tensor<64x32xf32> {ds.weight = "w"},
                          %d0: index)
    -> (tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>) {
  %b = ds.broadcast %g[%d0] : (tensor<64xf32>) -> tensor<?x64xf32>
  %m = arith.mulf %x, %b : tensor<?x64xf32>
  %y = ds.linear %m, %w : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  %ba = ds.broadcast %a[%d0] : (tensor<64xf32>) -> tensor<?x64xf32>
  %ma = arith.mulf %x, %ba : tensor<?x64xf32>
  %z = ds.linear %ma, %w : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
  return %y, %m, %z : tensor<?x32xf32>, tensor<?x64xf32>, tensor<?x32xf32>
}
