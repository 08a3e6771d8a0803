// RUN: ds-opt %s --split-input-file --ds-insert-kv-cache -verify-diagnostics

// Each case is a model the KV-cache rewrite must refuse, with the op and
// the reason. (--ds-insert-kv-cache fails by default: required=true.)

// Attention that is not causal (an encoder): later tokens would change the
// outputs of earlier ones, so nothing can be cached.
func.func @forward(%w: tensor<16x8xf32> {ds.weight = "w"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %w, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %q = tensor.expand_shape %x [[0], [1, 2], [3]] output_shape [%b, 1, %s, 8] : tensor<?x?x8xf32> into tensor<?x1x?x8xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.attention' attention that is not causal: later tokens would change earlier outputs}}
  %a = ds.attention %q, %q, %q : (tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x1x?x8xf32>
  %r = tensor.collapse_shape %a [[0], [1, 2], [3]] : tensor<?x1x?x8xf32> into tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

// -----

// Mean-pooling over the sequence mixes positions outside attention.
func.func @forward(%w: tensor<16x8xf32> {ds.weight = "w"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> tensor<?x1x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %w, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %q = tensor.expand_shape %x [[0], [1, 2], [3]] output_shape [%b, 1, %s, 8] : tensor<?x?x8xf32> into tensor<?x1x?x8xf32>
  %a = ds.attention %q, %q, %q {causal} : (tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x1x?x8xf32>
  %r = tensor.collapse_shape %a [[0], [1, 2], [3]] : tensor<?x1x?x8xf32> into tensor<?x?x8xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.reduce' reduces over the sequence axis}}
  %m = ds.reduce mean %r {axes = array<i64: 1>, keep_dims} : (tensor<?x?x8xf32>) -> tensor<?x1x8xf32>
  return %m : tensor<?x1x8xf32>
}

// -----

// A shift along the sequence (token i reads token i-1) outside attention.
func.func @forward(%w: tensor<16x8xf32> {ds.weight = "w"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %w, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %z = tensor.empty(%b) : tensor<?x1x8xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'tensor.concat' concatenates along the sequence axis}}
  %sh = tensor.concat dim(1) %z, %x : (tensor<?x1x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
  %q = tensor.expand_shape %sh [[0], [1, 2], [3]] output_shape [%b, 1, %s, 8] : tensor<?x?x8xf32> into tensor<?x1x?x8xf32>
  %a = ds.attention %q, %q, %q {causal} : (tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x1x?x8xf32>
  %r = tensor.collapse_shape %a [[0], [1, 2], [3]] : tensor<?x1x?x8xf32> into tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

// -----

// Positions used as data (added to the hidden state), not through a
// position-embedding gather or a RoPE table: the rewrite cannot offset them.
func.func @forward(%w: tensor<16x8xf32> {ds.weight = "w"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %w, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %iota = tensor.generate %s {
  ^bb0(%i: index):
    %v = arith.index_cast %i : index to i64
    tensor.yield %v : i64
  } : tensor<?xi64>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'tensor.expand_shape' positions are used by 'tensor.expand_shape'; the KV-cache rewrite offsets positions only in position-embedding gathers and RoPE tables}}
  %pos = tensor.expand_shape %iota [[0, 1, 2]] output_shape [1, %s, 1] : tensor<?xi64> into tensor<1x?x1xi64>
  %pf = arith.sitofp %pos : tensor<1x?x1xi64> to tensor<1x?x1xf32>
  %pb = ds.broadcast %pf[%b, %s] : (tensor<1x?x1xf32>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %pb : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1, 2], [3]] output_shape [%b, 1, %s, 8] : tensor<?x?x8xf32> into tensor<?x1x?x8xf32>
  %a = ds.attention %q, %q, %q {causal} : (tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x1x?x8xf32>
  %r = tensor.collapse_shape %a [[0], [1, 2], [3]] : tensor<?x1x?x8xf32> into tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}

// -----

// An input that is neither token ids nor an attention mask.
// expected-error @+1 {{cannot derive a KV-cached decoder: input 'pixel_values' is not token ids or an attention mask; only models fed by token ids can be cached}}
func.func @forward(%ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %px: tensor<?x3xf32> {ds.input = "pixel_values"}) -> tensor<?x3xf32> {
  return %px : tensor<?x3xf32>
}

// -----

// Nothing to cache.
// expected-error @+1 {{cannot derive a KV-cached decoder: no causal ds.attention: nothing to cache}}
func.func @forward(%w: tensor<16x8xf32> {ds.weight = "w"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> tensor<?x?x8xf32> {
  %x = ds.gather %w, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  return %x : tensor<?x?x8xf32>
}

// -----

// An explicit mask on attention: the cache has no room for it.
func.func @forward(%w: tensor<16x8xf32> {ds.weight = "w"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"}) -> tensor<?x?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %m = arith.constant dense<[[0.0, -1.0], [0.0, 0.0]]> : tensor<2x2xf32>
  %x = ds.gather %w, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %q = tensor.expand_shape %x [[0], [1, 2], [3]] output_shape [%b, 1, %s, 8] : tensor<?x?x8xf32> into tensor<?x1x?x8xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.attention' attention with an explicit mask: only causal attention can read a cache}}
  %a = ds.attention %q, %q, %q mask(%m) {causal} : (tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>, tensor<?x1x?x8xf32>, tensor<2x2xf32>) -> tensor<?x1x?x8xf32>
  %r = tensor.collapse_shape %a [[0], [1, 2], [3]] : tensor<?x1x?x8xf32> into tensor<?x?x8xf32>
  return %r : tensor<?x?x8xf32>
}
