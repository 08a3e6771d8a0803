// RUN: ds-opt %s --ds-insert-kv-cache="required=false" | FileCheck %s

// With required=false (ds-compile --kv-cache=auto) a model that cannot be
// cached is left alone and the reason is recorded for the artifact's stats
// and ds-run's error message.

// CHECK: module attributes {ds.kv_cache = "cannot derive a KV-cached decoder: 'ds.attention' attention that is not causal: later tokens would change earlier outputs"}
// CHECK-NOT: func.func @prefill
// CHECK-NOT: func.func @decode
func.func @forward(%w: tensor<16x8xf32> {ds.weight = "w"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %w, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %q = tensor.expand_shape %x [[0], [1, 2], [3]] output_shape [%b, 1, %s, 8] : tensor<?x?x8xf32> into tensor<?x1x?x8xf32>
  %a = ds.attention %q, %q, %q : (tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x1x?x8xf32>
  %r = tensor.collapse_shape %a [[0], [1, 2], [3]] : tensor<?x1x?x8xf32> into tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}
