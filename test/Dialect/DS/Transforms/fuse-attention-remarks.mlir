// Remarks of ds-fuse-attention with emit-remarks: every attention-looking
// softmax that does not fuse says why, and a fused mask that is not provably
// causal says so.
// RUN: ds-opt %s -split-input-file -verify-diagnostics -pass-pipeline='builtin.module(func.func(ds-fuse-attention{emit-remarks=true}))' | FileCheck %s

// CHECK-LABEL: func @wrong_axis
func.func @wrong_axis(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  // expected-remark @+1 {{ds-fuse-attention: not fused: softmax axis is not the key axis}}
  %p = ds.softmax %s {axis = 2 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// CHECK-LABEL: func @not_transposed
func.func @not_transposed(%q: tensor<1x2x8x16xf32>, %kt: tensor<1x2x16x8xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  // expected-remark @+1 {{ds-fuse-attention: not fused: scores do not come from a matmul of Q and K^T}}
  %p = ds.softmax %s {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// CHECK-LABEL: func @probs_escape
func.func @probs_escape(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>) {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  // expected-remark @+1 {{ds-fuse-attention: not fused: the probabilities have users other than P @ V}}
  %p = ds.softmax %s {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o, %p : tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>
}

// -----

// CHECK-LABEL: func @scale_after_mask
func.func @scale_after_mask(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x2x8x8xf32>) -> tensor<1x2x8x16xf32> {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %s, %m : tensor<1x2x8x8xf32>
  %c = arith.constant dense<0.25> : tensor<1x2x8x8xf32>
  %d = arith.mulf %a, %c : tensor<1x2x8x8xf32>
  // expected-remark @+1 {{ds-fuse-attention: not fused: the scale is applied after the mask}}
  %p = ds.softmax %d {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// A softmax not fed by a matmul is no candidate: no remark.
// CHECK-LABEL: func @no_candidate
func.func @no_candidate(%x: tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32> {
  %p = ds.softmax %x {axis = 3 : i64} : tensor<1x2x8x8xf32>
  return %p : tensor<1x2x8x8xf32>
}

// -----

// Fused, but the mask compares positions with data: a remark, and the
// mask stays.
// CHECK-LABEL: func @data_mask
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%{{.+}}) {scale = 1.000000e+00 : f32} :
func.func @data_mask(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %d: tensor<8x8xi64>) -> tensor<1x2x8x16xf32> {
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %m = arith.cmpi sle, %kp, %d : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  // expected-remark @+1 {{ds-fuse-attention: mask not proven causal, kept as an operand: the mask depends on data}}
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Fused, but the positions compare off by one (key <= query + 1).
// CHECK-LABEL: func @off_by_one
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%{{.+}}) {scale = 1.000000e+00 : f32} :
func.func @off_by_one(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %iota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %iota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %iota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %one = arith.constant dense<1> : tensor<8x8xi64>
  %qp1 = arith.addi %qp, %one : tensor<8x8xi64>
  %m = arith.cmpi sle, %kp, %qp1 : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  // expected-remark @+1 {{ds-fuse-attention: mask not proven causal, kept as an operand: its position comparisons are not key <= query + (T - S)}}
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Fused with a padding mask from an input: a remark that it is data.
// CHECK-LABEL: func @input_mask
// CHECK: ds.attention
func.func @input_mask(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x1x1x8xi1>) -> tensor<1x2x8x16xf32> {
  %z = arith.constant dense<0.0> : tensor<1x1x1x8xf32>
  %n = arith.constant dense<-3.40282347E+38> : tensor<1x1x1x8xf32>
  %add = arith.select %m, %z, %n : tensor<1x1x1x8xi1>, tensor<1x1x1x8xf32>
  %addb = ds.broadcast %add[] : (tensor<1x1x1x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  // expected-remark @+1 {{ds-fuse-attention: mask not proven causal, kept as an operand: the mask depends on data}}
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}
