// RUN: ds-opt %s --split-input-file --ds-insert-kv-cache -verify-diagnostics

// Graphs exported with past keys/values that the KV-cache rewrite must
// refuse: the past (and its length) may only be concatenated in front of
// the new keys/values of one attention and offset positions; anything else
// names the op. Case 0 is the accepted shape every other case departs from
// in one place (checked by insert-kv-cache-past.mlir's FileCheck lines for
// the full rewrite).

// The accepted shape: no diagnostic.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// The past read outside its concatenation: a reduction over the past keys.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.reduce' reads input 'past_key_0', which is not token ids or an attention mask, and past keys/values may only be concatenated in front of the new keys or values of one attention (along dimension 2)}}
  %sum = ds.reduce sum %pk {axes = array<i64: 2>, keep_dims} : (tensor<?x2x?x4xf32>) -> tensor<?x2x1x4xf32>
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// New keys before the past ones: the cache appends after the past.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'tensor.concat' reads input 'past_key_0', which is not token ids or an attention mask, and past keys/values may only be concatenated in front of the new keys or values of one attention (along dimension 2)}}
  %k = tensor.concat dim(2) %qt, %pk : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// The past concatenated along the heads, not the sequence.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'tensor.concat' reads input 'past_key_0', which is not token ids or an attention mask, and past keys/values may only be concatenated in front of the new keys or values of one attention (along dimension 2)}}
  %k = tensor.concat dim(1) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x4x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %qt, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// The concatenated keys (the present) read by something else than
// attention and the outputs.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x1x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.reduce' reads the concatenation of past input 'past_key_0' with new keys/values: only attention and the present outputs may}}
  %m = ds.reduce max %k {axes = array<i64: 2>, keep_dims} : (tensor<?x2x?x4xf32>) -> tensor<?x2x1x4xf32>
  return %r, %m : tensor<?x?x8xf32>, tensor<?x2x1x4xf32>
}

// -----

// One concatenation as both the keys and the values of attention.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.attention' the concatenation of past input 'past_key_0' is not the keys or values of one attention}}
  %a = ds.attention %qt, %k, %k {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// A second layer whose attention does not read past keys and values.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.attention' attention that does not concatenate past keys and values with its own: with past inputs every layer must}}
  %a2 = ds.attention %a, %a, %a {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a2 : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// Positions that ignore the past (an iota over the new tokens alone into
// the position embeddings): the cache would shift them by the cached
// length.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %wpe: tensor<32x8xf32> {ds.weight = "wpe"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %iota = tensor.generate %s {
  ^bb0(%i: index):
    %iv = arith.index_cast %i : index to i64
    tensor.yield %iv : i64
  } : tensor<?xi64>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'tensor.expand_shape' reads positions over the new tokens that do not add the past length, while the KV cache offsets every position by the cached length}}
  %pos = tensor.expand_shape %iota [[0, 1]] output_shape [1, %s] : tensor<?xi64> into tensor<1x?xi64>
  %pe = ds.gather %wpe, %pos {axis = 0 : i64} : (tensor<32x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %peb = ds.broadcast %pe[%b, %s] : (tensor<1x?x8xf32>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %peb : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// The past length used as data (added to the hidden state), not as an
// offset of positions.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %p = tensor.dim %pk, %c2 : tensor<?x2x?x4xf32>
  %pi = arith.index_cast %p : index to i64
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'arith.sitofp' reads the past length (dimension 2 of the past keys/values) other than as positions (past length + s) or in a mask proven to keep every key}}
  %pf = arith.sitofp %pi : i64 to f32
  %ps = tensor.splat %pf[%b, %s] : tensor<?x?x8xf32>
  %h = arith.addf %x, %ps : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// Positions from the attention mask's running sum that take its first S
// columns instead of its last S: they ignore the past, and read the mask's
// length (past + S) through the cumsum.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %invf: tensor<2xf32> {ds.weight = "inv_freq"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"},
                   %am: tensor<?x?xi64> {ds.input = "attention_mask"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %one = arith.constant 1 : i64
  %t = tensor.dim %am, %c1 : tensor<?x?xi64>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'ds.cumsum' reads the past length (dimension 2 of the past keys/values) other than as positions (past length + s) or in a mask proven to keep every key}}
  %cs = ds.cumsum %am {axis = 1 : i64} : tensor<?x?xi64>
  %ones = tensor.splat %one[%b, %t] : tensor<?x?xi64>
  %pall = arith.subi %cs, %ones : tensor<?x?xi64>
  %pos = tensor.extract_slice %pall[0, 0] [%b, %s] [1, 1] : tensor<?x?xi64> to tensor<?x?xi64>
  %cos, %sin = ds.rope_table %pos, %invf : (tensor<?x?xi64>, tensor<2xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x2xf32>)
  %cos4 = tensor.expand_shape %cos [[0], [1, 2], [3]] output_shape [%b, 1, %s, 2] : tensor<?x?x2xf32> into tensor<?x1x?x2xf32>
  %sin4 = tensor.expand_shape %sin [[0], [1, 2], [3]] output_shape [%b, 1, %s, 2] : tensor<?x?x2xf32> into tensor<?x1x?x2xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %qr = ds.rope %qt, %cos4, %sin4 : (tensor<?x2x?x4xf32>, tensor<?x1x?x2xf32>, tensor<?x1x?x2xf32>) -> tensor<?x2x?x4xf32>
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qr, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// An output that is neither the logits nor a present key/value.
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x?x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  // expected-error @+1 {{cannot derive a KV-cached decoder: 'func.return' expected one result (the logits)}}
  return %r, %k, %v, %h : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x?x8xf32>
}

// -----

// Past keys whose head count is not static.
// expected-error @+1 {{cannot derive a KV-cached decoder: past input 'past_key_0' has dynamic heads or head size}}
func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pk: tensor<?x?x?x4xf32> {ds.input = "past_key_0"},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0"})
    -> (tensor<?x?x8xf32>, tensor<?x?x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %x : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x?x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x?x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v {causal} : (tensor<?x2x?x4xf32>, tensor<?x?x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k, %v : tensor<?x?x8xf32>, tensor<?x?x?x4xf32>, tensor<?x2x?x4xf32>
}
