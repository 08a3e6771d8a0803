// RUN: ds-opt %s --ds-insert-kv-cache | FileCheck %s

// A minimal decoder: token and position embeddings (positions are an iota
// over the sequence), one causal attention, an output projection. The
// rewrite keeps @forward and adds @prefill and @decode: a `start` input,
// one key and one value cache per layer, positions offset by `start`,
// keys/values appended to the caches and attention over the filled prefix
// with per-sequence lengths.

// CHECK: module attributes {ds.kv_cache = "ok", ds.max_positions = 32 : i64}
// CHECK-LABEL: func.func @forward(
// CHECK-NOT: kv_cache
// CHECK: ds.attention %{{.*}}, %{{.*}}, %{{.*}} {causal}
// CHECK: return

// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[IDS:[^:]+]]: tensor<?x?xi64> {ds.dim_names = ["batch", "seq"], ds.input = "input_ids"}
// CHECK-SAME: %[[START:[^:]+]]: tensor<?xi64> {ds.dim_names = ["batch"], ds.input = "start"}
// CHECK-SAME: %[[KC:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "key", layer = 0 : i64}, ds.dim_names = ["batch", "", "max_seq_len", ""], ds.input = "cache.key.0"}
// CHECK-SAME: %[[VC:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "value", layer = 0 : i64}, ds.dim_names = ["batch", "", "max_seq_len", ""], ds.input = "cache.value.0"}
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x2x?x4xf32> {ds.cache_result = "cache.key.0"}, tensor<?x2x?x4xf32> {ds.cache_result = "cache.value.0"})
// Positions start[b] + s feed the position-embedding gather directly.
// CHECK: %[[POS:.+]] = tensor.generate
// CHECK:   tensor.extract %[[START]]
// CHECK: %[[KVLEN:.+]] = arith.addi %[[START]], %{{.+}} : tensor<?xi64>
// CHECK: %[[MAX:.+]] = ds.reduce max %[[START]]
// CHECK: ds.gather %{{.+}}, %[[POS]] {axis = 0 : i64} : (tensor<32x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
// CHECK: %[[K1:.+]] = ds.kv_cache.append %[[KC]], %{{.+}}, %[[START]]
// CHECK: %[[KR:.+]] = ds.kv_cache.read %[[K1]], %{{.+}}
// CHECK: %[[V1:.+]] = ds.kv_cache.append %[[VC]], %{{.+}}, %[[START]]
// CHECK: %[[VR:.+]] = ds.kv_cache.read %[[V1]], %{{.+}}
// CHECK: ds.attention %{{.+}}, %[[KR]], %[[VR]] kv_length(%[[KVLEN]]) {causal}
// CHECK: return %{{.+}}, %[[K1]], %[[V1]]

// @decode is @prefill with one token per sequence.
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: tensor<?x1xi64> {ds.dim_names = ["batch", "seq"], ds.input = "input_ids"}
// CHECK: ds.kv_cache.append
// CHECK: ds.attention

func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %wpe: tensor<32x8xf32> {ds.weight = "wpe"},
                   %wout: tensor<8x16xf32> {ds.weight = "wout"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids", ds.dim_names = ["batch", "seq"]})
    -> tensor<?x?x16xf32> attributes {ds.output_names = ["logits"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %iota = tensor.generate %s {
  ^bb0(%i: index):
    %v = arith.index_cast %i : index to i64
    tensor.yield %v : i64
  } : tensor<?xi64>
  %pos = tensor.expand_shape %iota [[0, 1]] output_shape [1, %s] : tensor<?xi64> into tensor<1x?xi64>
  %p = ds.gather %wpe, %pos {axis = 0 : i64} : (tensor<32x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %pb = ds.broadcast %p[%b, %s] : (tensor<1x?x8xf32>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %pb : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %a = ds.attention %qt, %qt, %qt {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %c = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  %logits = ds.matmul %c, %wout : (tensor<?x?x8xf32>, tensor<8x16xf32>) -> tensor<?x?x16xf32>
  return %logits : tensor<?x?x16xf32>
}
