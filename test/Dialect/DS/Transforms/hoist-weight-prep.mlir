// RUN: ds-opt %s -split-input-file -ds-hoist-weight-prep | FileCheck %s

// The same concatenation of the same weights in @forward, @prefill and
// @decode is one result of @prepare; a transpose of a weight is another.
// Weight arguments left unused are dropped; the derived tensors are new
// arguments after the weights.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<128xf32> {ds.weight = "qkv.b"}
// CHECK-SAME: %[[D0:[a-z0-9]+]]: tensor<64x128xf32> {ds.derived = 0 : i64}
// CHECK-SAME: %[[D1:[a-z0-9]+]]: tensor<64x32xf32> {ds.derived = 1 : i64}
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x64xf32> {ds.input = "x"}
// CHECK-NOT: tensor.concat
// CHECK-NOT: linalg.transpose
// CHECK: ds.linear %[[X]], %[[D0]] bias(%[[B]])
// CHECK: ds.matmul %{{.+}}, %[[D1]]
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %{{[a-z0-9]+}}: tensor<64x128xf32> {ds.derived = 0 : i64}
// CHECK-SAME: ds.input = "x"
// CHECK-NOT: tensor.concat
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %{{[a-z0-9]+}}: tensor<64x128xf32> {ds.derived = 0 : i64}
// CHECK-NOT: tensor.concat
// CHECK-LABEL: func.func @prepare(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<64x64xf32> {ds.weight = "q"}
// CHECK-SAME: %[[K:[a-z0-9]+]]: tensor<64x32xf32> {ds.weight = "k"}
// CHECK-SAME: %[[V:[a-z0-9]+]]: tensor<64x32xf32> {ds.weight = "v"}
// CHECK-SAME: %[[T:[a-z0-9]+]]: tensor<32x64xf32> {ds.weight = "t"}
// CHECK-SAME: -> (tensor<64x128xf32>, tensor<64x32xf32>)
// CHECK: %[[C:.+]] = tensor.concat dim(1) %[[Q]], %[[K]], %[[V]]
// CHECK: %[[TR:.+]] = linalg.transpose ins(%[[T]]
// CHECK: return %[[C]], %[[TR]]
// CHECK-NOT: tensor.concat
module {
  func.func @forward(%q: tensor<64x64xf32> {ds.weight = "q"}, %k: tensor<64x32xf32> {ds.weight = "k"},
                     %v: tensor<64x32xf32> {ds.weight = "v"}, %b: tensor<128xf32> {ds.weight = "qkv.b"},
                     %t: tensor<32x64xf32> {ds.weight = "t"},
                     %x: tensor<?x64xf32> {ds.input = "x"}) -> (tensor<?x128xf32>, tensor<?x32xf32>) {
    %w = tensor.concat dim(1) %q, %k, %v : (tensor<64x64xf32>, tensor<64x32xf32>, tensor<64x32xf32>) -> tensor<64x128xf32>
    %y = ds.linear %x, %w bias(%b) : (tensor<?x64xf32>, tensor<64x128xf32>, tensor<128xf32>) -> tensor<?x128xf32>
    %init = tensor.empty() : tensor<64x32xf32>
    %tt = linalg.transpose ins(%t : tensor<32x64xf32>) outs(%init : tensor<64x32xf32>) permutation = [1, 0]
    %z = ds.matmul %x, %tt : (tensor<?x64xf32>, tensor<64x32xf32>) -> tensor<?x32xf32>
    return %y, %z : tensor<?x128xf32>, tensor<?x32xf32>
  }
  func.func @prefill(%q: tensor<64x64xf32> {ds.weight = "q"}, %k: tensor<64x32xf32> {ds.weight = "k"},
                     %v: tensor<64x32xf32> {ds.weight = "v"},
                     %x: tensor<?x64xf32> {ds.input = "x"}) -> tensor<?x128xf32> {
    %w = tensor.concat dim(1) %q, %k, %v : (tensor<64x64xf32>, tensor<64x32xf32>, tensor<64x32xf32>) -> tensor<64x128xf32>
    %y = ds.linear %x, %w : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
    return %y : tensor<?x128xf32>
  }
  func.func @decode(%x: tensor<?x64xf32> {ds.input = "x"},
                    %v: tensor<64x32xf32> {ds.weight = "v"}, %k: tensor<64x32xf32> {ds.weight = "k"},
                    %q: tensor<64x64xf32> {ds.weight = "q"}) -> tensor<?x128xf32> {
    %w = tensor.concat dim(1) %q, %k, %v : (tensor<64x64xf32>, tensor<64x32xf32>, tensor<64x32xf32>) -> tensor<64x128xf32>
    %y = ds.linear %x, %w : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
    return %y : tensor<?x128xf32>
  }
}

// -----

// Constants count as weights: a concatenation of inlined constants moves
// too (with its constants). A weight still used in the function stays.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<8x4xf32> {ds.weight = "a"}
// CHECK-SAME: %[[D:[a-z0-9]+]]: tensor<8x12xf32> {ds.derived = 0 : i64}
// CHECK: ds.linear %{{.+}}, %[[W]]
// CHECK: ds.linear %{{.+}}, %[[D]]
// CHECK-LABEL: func.func @prepare(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<8x4xf32> {ds.weight = "a"}) -> tensor<8x12xf32>
// CHECK: %[[C:.+]] = arith.constant dense<1.000000e+00> : tensor<8x8xf32>
// CHECK: tensor.concat dim(1) %[[A]], %[[C]]
module {
  func.func @forward(%a: tensor<8x4xf32> {ds.weight = "a"}, %x: tensor<2x8xf32> {ds.input = "x"})
      -> (tensor<2x4xf32>, tensor<2x12xf32>) {
    %c = arith.constant dense<1.0> : tensor<8x8xf32>
    %y = ds.linear %x, %a : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
    %w = tensor.concat dim(1) %a, %c : (tensor<8x4xf32>, tensor<8x8xf32>) -> tensor<8x12xf32>
    %z = ds.linear %x, %w : (tensor<2x8xf32>, tensor<8x12xf32>) -> tensor<2x12xf32>
    return %y, %z : tensor<2x4xf32>, tensor<2x12xf32>
  }
}

// -----

// Nothing to hoist: weights used directly, reshapes of weights, broadcasts
// of splats, and computations that read an input stay; no @prepare.
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: {ds.weight = "a"}
// CHECK: tensor.expand_shape %arg0
// CHECK: ds.broadcast
// CHECK: arith.addf
// CHECK-NOT: func.func @prepare
module {
  func.func @forward(%a: tensor<8xf32> {ds.weight = "a"}, %x: tensor<2x8xf32> {ds.input = "x"})
      -> (tensor<1x8xf32>, tensor<2x8xf32>) {
    %e = tensor.expand_shape %a [[0, 1]] output_shape [1, 8] : tensor<8xf32> into tensor<1x8xf32>
    %s = arith.constant dense<2.0> : tensor<f32>
    %b = ds.broadcast %s[] : (tensor<f32>) -> tensor<2x8xf32>
    %y = arith.addf %x, %b : tensor<2x8xf32>
    return %e, %y : tensor<1x8xf32>, tensor<2x8xf32>
  }
}

// -----

// Private functions are left alone.
// CHECK-LABEL: func.func private @helper
// CHECK: tensor.concat
// CHECK-NOT: func.func @prepare
module {
  func.func private @helper(%a: tensor<8x4xf32> {ds.weight = "a"}) -> tensor<8x8xf32> {
    %w = tensor.concat dim(1) %a, %a : (tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x8xf32>
    return %w : tensor<8x8xf32>
  }
}
