// RUN: ds-opt %s -split-input-file -ds-fuse-rope | FileCheck %s

// HF Llama (dynamo export): cos/sin = cos/sin(concat(t, t)), t = inv_freq @
// positions transposed; q * cos + rotate_half(q) * sin.
// CHECK-LABEL: func @rope_llama
// CHECK-SAME: (%[[Q:.*]]: tensor<2x4x?x16xf32>, %[[S:.*]]: index)
// CHECK: %[[GEN:.*]] = tensor.generate
// CHECK: %[[POS:.*]] = tensor.expand_shape %[[GEN]] {{\[\[}}0, 1]] output_shape [1, %{{.*}}] : tensor<?xi64> into tensor<1x?xi64>
// CHECK: %[[INV:.*]] = arith.constant dense<[1.000000e+00, 1.000000e-01, {{.*}}]> : tensor<8xf32>
// CHECK: %[[COS:.*]], %[[SIN:.*]] = ds.rope_table %[[POS]], %[[INV]] : (tensor<1x?xi64>, tensor<8xf32>) -> (tensor<1x?x8xf32>, tensor<1x?x8xf32>)
// CHECK: %[[C4:.*]] = tensor.expand_shape %[[COS]] {{\[\[}}0], [1, 2], [3]] output_shape [1, 1, %{{.*}}, 8] : tensor<1x?x8xf32> into tensor<1x1x?x8xf32>
// CHECK: %[[S4:.*]] = tensor.expand_shape %[[SIN]]
// CHECK: %[[R:.*]] = ds.rope %[[Q]], %[[C4]], %[[S4]] : (tensor<2x4x?x16xf32>, tensor<1x1x?x8xf32>, tensor<1x1x?x8xf32>) -> tensor<2x4x?x16xf32>
// CHECK-NOT: math.cos
// CHECK-NOT: tensor.concat
// CHECK: return %[[R]]
func.func @rope_llama(%q: tensor<2x4x?x16xf32>, %s: index) -> tensor<2x4x?x16xf32> {
  %inv = arith.constant dense<[[[1.0], [0.1], [0.01], [0.001], [1.0e-4], [1.0e-5], [1.0e-6], [1.0e-7]]]> : tensor<1x8x1xf32>
  %gen = tensor.generate %s {
  ^bb0(%i: index):
    %v = arith.index_cast %i : index to i64
    tensor.yield %v : i64
  } : tensor<?xi64>
  %e = tensor.expand_shape %gen [[0, 1, 2]] output_shape [1, 1, %s] : tensor<?xi64> into tensor<1x1x?xi64>
  %f = arith.sitofp %e : tensor<1x1x?xi64> to tensor<1x1x?xf32>
  %m = ds.matmul %inv, %f : (tensor<1x8x1xf32>, tensor<1x1x?xf32>) -> tensor<1x8x?xf32>
  %init = tensor.empty(%s) : tensor<1x?x8xf32>
  %t = linalg.transpose ins(%m : tensor<1x8x?xf32>) outs(%init : tensor<1x?x8xf32>) permutation = [0, 2, 1]
  %c = tensor.concat dim(2) %t, %t : (tensor<1x?x8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x16xf32>
  %cos = math.cos %c : tensor<1x?x16xf32>
  %sin = math.sin %c : tensor<1x?x16xf32>
  %ce = tensor.expand_shape %cos [[0], [1, 2], [3]] output_shape [1, 1, %s, 16] : tensor<1x?x16xf32> into tensor<1x1x?x16xf32>
  %se = tensor.expand_shape %sin [[0], [1, 2], [3]] output_shape [1, 1, %s, 16] : tensor<1x?x16xf32> into tensor<1x1x?x16xf32>
  %cb = ds.broadcast %ce[%s] : (tensor<1x1x?x16xf32>) -> tensor<2x4x?x16xf32>
  %0 = arith.mulf %q, %cb : tensor<2x4x?x16xf32>
  %x1 = tensor.extract_slice %q[0, 0, 0, 0] [2, 4, %s, 8] [1, 1, 1, 1] : tensor<2x4x?x16xf32> to tensor<2x4x?x8xf32>
  %x2 = tensor.extract_slice %q[0, 0, 0, 8] [2, 4, %s, 8] [1, 1, 1, 1] : tensor<2x4x?x16xf32> to tensor<2x4x?x8xf32>
  %n = arith.negf %x2 : tensor<2x4x?x8xf32>
  %r = tensor.concat dim(3) %n, %x1 : (tensor<2x4x?x8xf32>, tensor<2x4x?x8xf32>) -> tensor<2x4x?x16xf32>
  %sb = ds.broadcast %se[%s] : (tensor<1x1x?x16xf32>) -> tensor<2x4x?x16xf32>
  %1 = arith.mulf %r, %sb : tensor<2x4x?x16xf32>
  %2 = arith.addf %0, %1 : tensor<2x4x?x16xf32>
  return %2 : tensor<2x4x?x16xf32>
}

// -----

// TorchScript export: tables scaled by attention_scaling, position ids
// [P, S] from an input.
// CHECK-LABEL: func @rope_scaled_position_input
// CHECK-SAME: (%[[Q:.*]]: tensor<1x2x4x8xf32>, %[[P:.*]]: tensor<1x4xi64>)
// CHECK: ds.rope_table %[[P]], %{{.*}} {attention_scaling = 5.000000e-01 : f32} : (tensor<1x4xi64>, tensor<4xf32>) -> (tensor<1x4x4xf32>, tensor<1x4x4xf32>)
// CHECK: ds.rope %[[Q]]
func.func @rope_scaled_position_input(%q: tensor<1x2x4x8xf32>, %p: tensor<1x4xi64>) -> tensor<1x2x4x8xf32> {
  %inv = arith.constant dense<[[[1.0], [0.1], [0.01], [0.001]]]> : tensor<1x4x1xf32>
  %k = arith.constant dense<0.5> : tensor<1x4x8xf32>
  %e = tensor.expand_shape %p [[0], [1, 2]] output_shape [1, 1, 4] : tensor<1x4xi64> into tensor<1x1x4xi64>
  %f = arith.sitofp %e : tensor<1x1x4xi64> to tensor<1x1x4xf32>
  %m = ds.matmul %inv, %f : (tensor<1x4x1xf32>, tensor<1x1x4xf32>) -> tensor<1x4x4xf32>
  %init = tensor.empty() : tensor<1x4x4xf32>
  %t = linalg.transpose ins(%m : tensor<1x4x4xf32>) outs(%init : tensor<1x4x4xf32>) permutation = [0, 2, 1]
  %c = tensor.concat dim(2) %t, %t : (tensor<1x4x4xf32>, tensor<1x4x4xf32>) -> tensor<1x4x8xf32>
  %cos0 = math.cos %c : tensor<1x4x8xf32>
  %cos = arith.mulf %cos0, %k : tensor<1x4x8xf32>
  %sin0 = math.sin %c : tensor<1x4x8xf32>
  %sin = arith.mulf %sin0, %k : tensor<1x4x8xf32>
  %ce = tensor.expand_shape %cos [[0], [1, 2], [3]] output_shape [1, 1, 4, 8] : tensor<1x4x8xf32> into tensor<1x1x4x8xf32>
  %se = tensor.expand_shape %sin [[0], [1, 2], [3]] output_shape [1, 1, 4, 8] : tensor<1x4x8xf32> into tensor<1x1x4x8xf32>
  %cb = ds.broadcast %ce[] : (tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %sb = ds.broadcast %se[] : (tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %x1 = tensor.extract_slice %q[0, 0, 0, 0] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %x2 = tensor.extract_slice %q[0, 0, 0, 4] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %n = arith.negf %x2 : tensor<1x2x4x4xf32>
  %r = tensor.concat dim(3) %n, %x1 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  %0 = arith.mulf %cb, %q : tensor<1x2x4x8xf32>
  %1 = arith.mulf %sb, %r : tensor<1x2x4x8xf32>
  %2 = arith.addf %1, %0 : tensor<1x2x4x8xf32>
  return %2 : tensor<1x2x4x8xf32>
}

// -----

// Tables gathered from constant caches with equal halves (ONNX
// RotaryEmbedding style): the gathers stay, rope reads their first half.
// CHECK-LABEL: func @rope_gathered
// CHECK: %[[C:.*]] = ds.gather
// CHECK: %[[S:.*]] = ds.gather
// CHECK: %[[CE:.*]] = tensor.expand_shape %[[C]]
// CHECK: %[[SE:.*]] = tensor.expand_shape %[[S]]
// CHECK: %[[CH:.*]] = tensor.extract_slice %[[CE]][0, 0, 0, 0] [1, 1, 2, 2] [1, 1, 1, 1] : tensor<1x1x2x4xf32> to tensor<1x1x2x2xf32>
// CHECK: %[[SH:.*]] = tensor.extract_slice %[[SE]][0, 0, 0, 0] [1, 1, 2, 2]
// CHECK: ds.rope %{{.*}}, %[[CH]], %[[SH]] : (tensor<1x3x2x4xf32>, tensor<1x1x2x2xf32>, tensor<1x1x2x2xf32>) -> tensor<1x3x2x4xf32>
func.func @rope_gathered(%q: tensor<1x3x2x4xf32>, %p: tensor<1x2xi64>) -> tensor<1x3x2x4xf32> {
  %cc = arith.constant dense<[[1.0, 0.5, 1.0, 0.5], [0.25, 0.75, 0.25, 0.75], [0.1, 0.2, 0.1, 0.2]]> : tensor<3x4xf32>
  %sc = arith.constant dense<[[0.0, 0.5, 0.0, 0.5], [0.3, 0.6, 0.3, 0.6], [0.9, 0.8, 0.9, 0.8]]> : tensor<3x4xf32>
  %cg = ds.gather %cc, %p {axis = 0 : i64} : (tensor<3x4xf32>, tensor<1x2xi64>) -> tensor<1x2x4xf32>
  %sg = ds.gather %sc, %p {axis = 0 : i64} : (tensor<3x4xf32>, tensor<1x2xi64>) -> tensor<1x2x4xf32>
  %ce = tensor.expand_shape %cg [[0], [1, 2], [3]] output_shape [1, 1, 2, 4] : tensor<1x2x4xf32> into tensor<1x1x2x4xf32>
  %se = tensor.expand_shape %sg [[0], [1, 2], [3]] output_shape [1, 1, 2, 4] : tensor<1x2x4xf32> into tensor<1x1x2x4xf32>
  %cb = ds.broadcast %ce[] : (tensor<1x1x2x4xf32>) -> tensor<1x3x2x4xf32>
  %sb = ds.broadcast %se[] : (tensor<1x1x2x4xf32>) -> tensor<1x3x2x4xf32>
  %x1 = tensor.extract_slice %q[0, 0, 0, 0] [1, 3, 2, 2] [1, 1, 1, 1] : tensor<1x3x2x4xf32> to tensor<1x3x2x2xf32>
  %x2 = tensor.extract_slice %q[0, 0, 0, 2] [1, 3, 2, 2] [1, 1, 1, 1] : tensor<1x3x2x4xf32> to tensor<1x3x2x2xf32>
  %n = arith.negf %x2 : tensor<1x3x2x2xf32>
  %r = tensor.concat dim(3) %n, %x1 : (tensor<1x3x2x2xf32>, tensor<1x3x2x2xf32>) -> tensor<1x3x2x4xf32>
  %0 = arith.mulf %q, %cb : tensor<1x3x2x4xf32>
  %1 = arith.mulf %r, %sb : tensor<1x3x2x4xf32>
  %2 = arith.addf %0, %1 : tensor<1x3x2x4xf32>
  return %2 : tensor<1x3x2x4xf32>
}
