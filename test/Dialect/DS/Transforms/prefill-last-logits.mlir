// RUN: ds-opt %s --split-input-file --ds-prefill-last-logits --verify-diagnostics | FileCheck %s

// @prefill's LM head runs on each row's last prompt position only: a new
// input `last_positions` picks the rows (clamped to the prompt), the
// logits become [B, 1, V]. @decode is not touched.
// CHECK-LABEL: func.func @prefill
// CHECK-SAME: tensor<?x?xi64> {ds.input = "input_ids"}, %[[LAST:[a-z0-9]+]]: tensor<?xi64> {ds.dim_names = ["batch"], ds.input = "last_positions"}) -> (tensor<?x1x16xf32>, tensor<?x?x8xf32>)
// CHECK: %[[S:.+]] = tensor.dim %[[H:.+]], %c1
// CHECK: %[[END:.+]] = arith.subi %[[S]], %c1
// CHECK: %[[ROWS:.+]] = linalg.generic {{.*}} ins(%[[LAST]] : tensor<?xi64>) outs(%{{.+}} : tensor<?x1x8xf32>)
// CHECK: arith.index_cast
// CHECK: arith.maxsi %{{.+}}, %c0
// CHECK: arith.minsi %{{.+}}, %[[END]]
// CHECK: tensor.extract %[[H]]
// CHECK: %[[LOGITS:.+]] = ds.linear %[[ROWS]], %{{.+}} bias(%{{.+}}) {transpose_weight} : (tensor<?x1x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<?x1x16xf32>
// CHECK: return %[[LOGITS]], %{{.+}} : tensor<?x1x16xf32>
// CHECK-LABEL: func.func @decode
// CHECK-NOT: last_positions
// CHECK-SAME: -> tensor<?x1x16xf32>
func.func @prefill(%h: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>, %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> (tensor<?x?x16xf32>, tensor<?x?x8xf32>) {
  %0 = ds.linear %h, %w bias(%b) {transpose_weight} : (tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  return %0, %h : tensor<?x?x16xf32>, tensor<?x?x8xf32>
}
func.func @decode(%h: tensor<?x1x8xf32>, %w: tensor<16x8xf32>) -> (tensor<?x1x16xf32>) {
  %0 = ds.linear %h, %w {transpose_weight} : (tensor<?x1x8xf32>, tensor<16x8xf32>) -> tensor<?x1x16xf32>
  return %0 : tensor<?x1x16xf32>
}

// -----

// A residual is per position too: left as it is.
// CHECK-LABEL: func.func @prefill
// CHECK-NOT: last_positions
// CHECK: -> tensor<?x?x16xf32>
func.func @prefill(%h: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %r: tensor<?x?x16xf32>) -> tensor<?x?x16xf32> {
  %0 = ds.linear %h, %w residual(%r) {transpose_weight} : (tensor<?x?x8xf32>, tensor<16x8xf32>, tensor<?x?x16xf32>) -> tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}

// -----

// expected-error @+1 {{a model input is already named 'last_positions'}}
func.func @prefill(%h: tensor<?x?x8xf32>, %w: tensor<16x8xf32>, %l: tensor<?xi64> {ds.input = "last_positions"}) -> tensor<?x?x16xf32> {
  %0 = ds.linear %h, %w {transpose_weight} : (tensor<?x?x8xf32>, tensor<16x8xf32>) -> tensor<?x?x16xf32>
  return %0 : tensor<?x?x16xf32>
}
