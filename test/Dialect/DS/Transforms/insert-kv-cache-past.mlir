// RUN: ds-opt %s --split-input-file --ds-insert-kv-cache | FileCheck %s

// Decoders exported with past keys/values: `past_key_i`/`past_value_i`
// [B, Hkv, P, D] are concatenated with the new keys/values before attention
// and returned as `present_*`; positions and the attention mask cover the
// past. @prefill and @decode are the same as for a graph without past: the
// past inputs become the caches, the concatenations a cache append and read,
// positions `P + s` become `start[b] + s`, the presents are dropped.

// GPT-2 style: positions are `iota(S) + P` (P read from the past keys'
// shape), a padding mask from attention_mask [B, P + S].

// CHECK: module attributes {ds.kv_cache = "ok", ds.max_positions = 32 : i64}
// @forward is kept as exported (full recompute with past inputs).
// CHECK-LABEL: func.func @forward(
// CHECK-SAME: ds.input = "past_key_0"
// CHECK: tensor.concat dim(2)
// CHECK: ds.attention {{.*}} mask(
// CHECK: return {{.*}} : tensor<?x?x16xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>

// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[IDS:[^:]+]]: tensor<?x?xi64> {ds.dim_names = ["batch", "seq"], ds.input = "input_ids"}
// CHECK-NOT: attention_mask
// CHECK-SAME: %[[KC:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "key", layer = 0 : i64}, ds.dim_names = ["batch", "", "max_seq_len", ""], ds.input = "cache.key.0"}
// CHECK-SAME: %[[VC:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "value", layer = 0 : i64}, ds.dim_names = ["batch", "", "max_seq_len", ""], ds.input = "cache.value.0"}
// CHECK-SAME: %[[START:[^:]+]]: tensor<?xi64> {ds.dim_names = ["batch"], ds.input = "start"}
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<?x2x?x4xf32> {ds.cache_result = "cache.key.0"}, tensor<?x2x?x4xf32> {ds.cache_result = "cache.value.0"})
// CHECK-SAME: attributes {ds.output_names = ["logits"]}
// CHECK-NOT: tensor.concat
// CHECK: %[[POS:.+]] = tensor.generate
// CHECK:   tensor.extract %[[START]]
// CHECK: %[[KVLEN:.+]] = arith.addi %[[START]], %{{.+}} : tensor<?xi64>
// CHECK-NOT: tensor.concat
// CHECK: ds.gather %{{.+}}, %[[POS]] {axis = 0 : i64} : (tensor<32x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
// CHECK-NOT: tensor.concat
// CHECK: %[[K1:.+]] = ds.kv_cache.append %[[KC]], %[[NEW:[^,]+]], %[[START]]
// CHECK: %[[KR:.+]] = ds.kv_cache.read %[[K1]], %{{.+}}
// CHECK: %[[V1:.+]] = ds.kv_cache.append %[[VC]], %[[NEW]], %[[START]]
// CHECK: %[[VR:.+]] = ds.kv_cache.read %[[V1]], %{{.+}}
// The padding mask of an all-ones attention_mask is gone.
// CHECK: ds.attention %{{.+}}, %[[KR]], %[[VR]] kv_length(%[[KVLEN]]) {causal} :
// CHECK-NOT: tensor.concat
// CHECK: return %{{.+}}, %[[K1]], %[[V1]] :

// CHECK-LABEL: func.func @decode(
// CHECK-SAME: tensor<?x1xi64> {ds.dim_names = ["batch", "seq"], ds.input = "input_ids"}
// CHECK-NOT: tensor.concat
// CHECK: ds.kv_cache.append
// CHECK: ds.attention

func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %wpe: tensor<32x8xf32> {ds.weight = "wpe"},
                   %wout: tensor<8x16xf32> {ds.weight = "wout"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids", ds.dim_names = ["batch", "seq"]},
                   %am: tensor<?x?xi64> {ds.input = "attention_mask", ds.dim_names = ["batch", "total"]},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0", ds.dim_names = ["batch", "", "past", ""]},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0", ds.dim_names = ["batch", "", "past", ""]})
    -> (tensor<?x?x16xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
    attributes {ds.output_names = ["logits", "present_key_0", "present_value_0"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0 : i64
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %p = tensor.dim %pk, %c2 : tensor<?x2x?x4xf32>
  %t = tensor.dim %am, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %iota = tensor.generate %s {
  ^bb0(%i: index):
    %iv = arith.index_cast %i : index to i64
    tensor.yield %iv : i64
  } : tensor<?xi64>
  %pi = arith.index_cast %p : index to i64
  %pt = tensor.from_elements %pi : tensor<i64>
  %pb = ds.broadcast %pt[%s] : (tensor<i64>) -> tensor<?xi64>
  %posv = arith.addi %iota, %pb : tensor<?xi64>
  %pos = tensor.expand_shape %posv [[0, 1]] output_shape [1, %s] : tensor<?xi64> into tensor<1x?xi64>
  %pe = ds.gather %wpe, %pos {axis = 0 : i64} : (tensor<32x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %peb = ds.broadcast %pe[%b, %s] : (tensor<1x?x8xf32>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %peb : tensor<?x?x8xf32>
  %zs = tensor.splat %zero[%b, %t] : tensor<?x?xi64>
  %keep = arith.cmpi ne, %am, %zs : tensor<?x?xi64>
  %m = tensor.expand_shape %keep [[0, 1, 2], [3]] output_shape [%b, 1, 1, %t] : tensor<?x?xi1> into tensor<?x1x1x?xi1>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k = tensor.concat dim(2) %pk, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qt, %k, %v mask(%m) {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x1x1x?xi1>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %c = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  %logits = ds.matmul %c, %wout : (tensor<?x?x8xf32>, tensor<8x16xf32>) -> tensor<?x?x16xf32>
  return %logits, %k, %v : tensor<?x?x16xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// Llama style, positions from attention_mask: `cumsum(mask) - 1`, the last
// S columns (offset `T - S`, T = the mask's length = P + S), one row per
// sequence ([B, S]), into a RoPE table; grouped-query attention (4 query
// heads, 2 key/value heads). The past length appears only through the
// mask's length.

// CHECK: module attributes {ds.kv_cache = "ok"}
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[KC:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "key", layer = 0 : i64}
// CHECK-SAME: %[[VC:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "value", layer = 0 : i64}
// CHECK-SAME: %[[START:[^:]+]]: tensor<?xi64> {ds.dim_names = ["batch"], ds.input = "start"}
// CHECK-NOT: ds.cumsum
// CHECK: %[[POS:.+]] = tensor.generate
// CHECK:   tensor.extract %[[START]]
// CHECK-NOT: ds.cumsum
// CHECK: %[[COS:.+]], %[[SIN:.+]] = ds.rope_table %[[POS]], %{{.+}} : (tensor<?x?xi64>, tensor<2xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x2xf32>)
// CHECK: %[[COS4:.+]] = tensor.expand_shape %[[COS]]
// CHECK: %[[SIN4:.+]] = tensor.expand_shape %[[SIN]]
// CHECK: %[[KROT:.+]] = ds.rope %{{.+}}, %[[COS4]], %[[SIN4]] : (tensor<?x2x?x4xf32>
// CHECK: ds.kv_cache.append %[[KC]], %[[KROT]], %[[START]]
// CHECK: ds.kv_cache.append %[[VC]], %{{.+}}, %[[START]]
// CHECK: ds.attention {{.*}} kv_length(
// CHECK-LABEL: func.func @decode(

func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %wq: tensor<8x16xf32> {ds.weight = "wq"},
                   %wout: tensor<16x16xf32> {ds.weight = "wout"},
                   %invf: tensor<2xf32> {ds.weight = "inv_freq"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids", ds.dim_names = ["batch", "seq"]},
                   %am: tensor<?x?xi64> {ds.input = "attention_mask", ds.dim_names = ["batch", "total"]},
                   %pk: tensor<?x2x?x4xf32> {ds.input = "past_key_0", ds.dim_names = ["batch", "", "past", ""]},
                   %pv: tensor<?x2x?x4xf32> {ds.input = "past_value_0", ds.dim_names = ["batch", "", "past", ""]})
    -> (tensor<?x?x16xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
    attributes {ds.output_names = ["logits", "present_key_0", "present_value_0"]} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %one = arith.constant 1 : i64
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %t = tensor.dim %am, %c1 : tensor<?x?xi64>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %cs = ds.cumsum %am {axis = 1 : i64} : tensor<?x?xi64>
  %ones = tensor.splat %one[%b, %t] : tensor<?x?xi64>
  %pall = arith.subi %cs, %ones : tensor<?x?xi64>
  %off = arith.subi %t, %s : index
  %pos = tensor.extract_slice %pall[0, %off] [%b, %s] [1, 1] : tensor<?x?xi64> to tensor<?x?xi64>
  %cos, %sin = ds.rope_table %pos, %invf : (tensor<?x?xi64>, tensor<2xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x2xf32>)
  %cos4 = tensor.expand_shape %cos [[0], [1, 2], [3]] output_shape [%b, 1, %s, 2] : tensor<?x?x2xf32> into tensor<?x1x?x2xf32>
  %sin4 = tensor.expand_shape %sin [[0], [1, 2], [3]] output_shape [%b, 1, %s, 2] : tensor<?x?x2xf32> into tensor<?x1x?x2xf32>
  %y = ds.matmul %x, %wq : (tensor<?x?x8xf32>, tensor<8x16xf32>) -> tensor<?x?x16xf32>
  %q = tensor.expand_shape %y [[0], [1], [2, 3]] output_shape [%b, %s, 4, 4] : tensor<?x?x16xf32> into tensor<?x?x4x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x4x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x4x4xf32>) outs(%e : tensor<?x4x?x4xf32>) permutation = [0, 2, 1, 3]
  %kv = tensor.extract_slice %qt[0, 0, 0, 0] [%b, 2, %s, 4] [1, 1, 1, 1] : tensor<?x4x?x4xf32> to tensor<?x2x?x4xf32>
  %qr = ds.rope %qt, %cos4, %sin4 : (tensor<?x4x?x4xf32>, tensor<?x1x?x2xf32>, tensor<?x1x?x2xf32>) -> tensor<?x4x?x4xf32>
  %kr = ds.rope %kv, %cos4, %sin4 : (tensor<?x2x?x4xf32>, tensor<?x1x?x2xf32>, tensor<?x1x?x2xf32>) -> tensor<?x2x?x4xf32>
  %k = tensor.concat dim(2) %pk, %kr : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v = tensor.concat dim(2) %pv, %kv : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a = ds.attention %qr, %k, %v {causal} : (tensor<?x4x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x4x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x4x4xf32>
  %at = linalg.transpose ins(%a : tensor<?x4x?x4xf32>) outs(%e2 : tensor<?x?x4x4xf32>) permutation = [0, 2, 1, 3]
  %c = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x4x4xf32> into tensor<?x?x16xf32>
  %logits = ds.matmul %c, %wout : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
  return %logits, %k, %v : tensor<?x?x16xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}

// -----

// Two layers, past inputs in an unusual order: layer and kind come from
// which attention reads the concatenation and as which operand, not from
// the input names or positions. No attention_mask input: the past length
// is read from the past values' shape.

// CHECK: module attributes {ds.kv_cache = "ok", ds.max_positions = 32 : i64}
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[V1:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "value", layer = 1 : i64}, {{.*}}ds.input = "cache.value.1"}
// CHECK-SAME: %[[K1:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "key", layer = 1 : i64}, {{.*}}ds.input = "cache.key.1"}
// CHECK-SAME: %[[V0:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "value", layer = 0 : i64}, {{.*}}ds.input = "cache.value.0"}
// CHECK-SAME: %[[K0:[^:]+]]: tensor<?x2x?x4xf32> {ds.cache = {kind = "key", layer = 0 : i64}, {{.*}}ds.input = "cache.key.0"}
// CHECK-SAME: %[[START:[^:]+]]: tensor<?xi64> {ds.dim_names = ["batch"], ds.input = "start"}
// CHECK-SAME: -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32> {ds.cache_result = "cache.key.0"}, tensor<?x2x?x4xf32> {ds.cache_result = "cache.value.0"}, tensor<?x2x?x4xf32> {ds.cache_result = "cache.key.1"}, tensor<?x2x?x4xf32> {ds.cache_result = "cache.value.1"})
// CHECK: ds.kv_cache.append %[[K0]], {{.*}}, %[[START]]
// CHECK: ds.kv_cache.append %[[V0]], {{.*}}, %[[START]]
// CHECK: ds.attention
// CHECK: ds.kv_cache.append %[[K1]], {{.*}}, %[[START]]
// CHECK: ds.kv_cache.append %[[V1]], {{.*}}, %[[START]]
// CHECK: ds.attention

func.func @forward(%wte: tensor<16x8xf32> {ds.weight = "wte"},
                   %wpe: tensor<32x8xf32> {ds.weight = "wpe"},
                   %ids: tensor<?x?xi64> {ds.input = "input_ids"},
                   %pv1: tensor<?x2x?x4xf32> {ds.input = "past_value_1"},
                   %pk1: tensor<?x2x?x4xf32> {ds.input = "past_key_1"},
                   %pv0: tensor<?x2x?x4xf32> {ds.input = "past_value_0"},
                   %pk0: tensor<?x2x?x4xf32> {ds.input = "past_key_0"})
    -> (tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %b = tensor.dim %ids, %c0 : tensor<?x?xi64>
  %s = tensor.dim %ids, %c1 : tensor<?x?xi64>
  %p = tensor.dim %pv1, %c2 : tensor<?x2x?x4xf32>
  %x = ds.gather %wte, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %tot = arith.addi %p, %s : index
  %all = tensor.generate %tot {
  ^bb0(%i: index):
    %iv = arith.index_cast %i : index to i64
    tensor.yield %iv : i64
  } : tensor<?xi64>
  %posv = tensor.extract_slice %all[%p] [%s] [1] : tensor<?xi64> to tensor<?xi64>
  %pos = tensor.expand_shape %posv [[0, 1]] output_shape [1, %s] : tensor<?xi64> into tensor<1x?xi64>
  %pe = ds.gather %wpe, %pos {axis = 0 : i64} : (tensor<32x8xf32>, tensor<1x?xi64>) -> tensor<1x?x8xf32>
  %peb = ds.broadcast %pe[%b, %s] : (tensor<1x?x8xf32>) -> tensor<?x?x8xf32>
  %h = arith.addf %x, %peb : tensor<?x?x8xf32>
  %q = tensor.expand_shape %h [[0], [1], [2, 3]] output_shape [%b, %s, 2, 4] : tensor<?x?x8xf32> into tensor<?x?x2x4xf32>
  %e = tensor.empty(%b, %s) : tensor<?x2x?x4xf32>
  %qt = linalg.transpose ins(%q : tensor<?x?x2x4xf32>) outs(%e : tensor<?x2x?x4xf32>) permutation = [0, 2, 1, 3]
  %k0 = tensor.concat dim(2) %pk0, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v0 = tensor.concat dim(2) %pv0, %qt : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a0 = ds.attention %qt, %k0, %v0 {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %k1 = tensor.concat dim(2) %pk1, %a0 : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %v1 = tensor.concat dim(2) %pv1, %a0 : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %a1 = ds.attention %a0, %k1, %v1 {causal} : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  %e2 = tensor.empty(%b, %s) : tensor<?x?x2x4xf32>
  %at = linalg.transpose ins(%a1 : tensor<?x2x?x4xf32>) outs(%e2 : tensor<?x?x2x4xf32>) permutation = [0, 2, 1, 3]
  %r = tensor.collapse_shape %at [[0], [1], [2, 3]] : tensor<?x?x2x4xf32> into tensor<?x?x8xf32>
  return %r, %k0, %v0, %k1, %v1 : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>
}
