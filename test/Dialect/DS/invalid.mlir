// One case per numbered constraint of docs/DSDialect.md, each with its
// message checked.
// RUN: ds-opt %s -split-input-file -verify-diagnostics

// attention_c1: operands are rank 4.
func.func @attention_c1(%q: tensor<8x4x64xf32>, %k: tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected query of rank 4 [batch, heads, seq, head_dim], got rank 3}}
  %0 = ds.attention %q, %k, %k : (tensor<8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c2: one element type.
func.func @attention_c2(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x4x64xf16>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected query, key, value and result to share element type 'f32'}}
  %0 = ds.attention %q, %k, %k : (tensor<1x8x4x64xf32>, tensor<1x8x4x64xf16>, tensor<1x8x4x64xf16>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c3: batch sizes agree.
func.func @attention_c3(%q: tensor<2x8x4x64xf32>, %k: tensor<3x8x4x64xf32>) -> tensor<2x8x4x64xf32> {
  // expected-error @+1 {{expected batch size 2 on every operand and the result, got 3}}
  %0 = ds.attention %q, %k, %k : (tensor<2x8x4x64xf32>, tensor<3x8x4x64xf32>, tensor<3x8x4x64xf32>) -> tensor<2x8x4x64xf32>
  return %0 : tensor<2x8x4x64xf32>
}

// -----

// attention_c4: query and key head_dim agree.
func.func @attention_c4(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x4x32xf32>, %v: tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected query head_dim (64) to equal key head_dim (32)}}
  %0 = ds.attention %q, %k, %v : (tensor<1x8x4x64xf32>, tensor<1x8x4x32xf32>, tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c5: key and value agree on heads and length.
func.func @attention_c5(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x4x64xf32>, %v: tensor<1x8x5x64xf32>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected key and value to agree on heads and sequence length, got key [1, 8, 4, 64] and value [1, 8, 5, 64]}}
  %0 = ds.attention %q, %k, %v : (tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x5x64xf32>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c6: key/value heads divide query heads.
func.func @attention_c6(%q: tensor<1x6x4x64xf32>, %k: tensor<1x4x4x64xf32>) -> tensor<1x6x4x64xf32> {
  // expected-error @+1 {{expected key/value heads (4) to divide query heads (6)}}
  %0 = ds.attention %q, %k, %k : (tensor<1x6x4x64xf32>, tensor<1x4x4x64xf32>, tensor<1x4x4x64xf32>) -> tensor<1x6x4x64xf32>
  return %0 : tensor<1x6x4x64xf32>
}

// -----

// attention_c7: result shape.
func.func @attention_c7(%q: tensor<1x8x4x64xf32>, %k: tensor<1x8x4x64xf32>, %v: tensor<1x8x4x32xf32>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected result shape [1, 8, 4, 32], got [1, 8, 4, 64]}}
  %0 = ds.attention %q, %k, %v : (tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x32xf32>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c8: mask broadcasts to the scores.
func.func @attention_c8(%q: tensor<1x8x4x64xf32>, %m: tensor<4x5xi1>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected mask shape [4, 5] to broadcast to the scores [1, 8, 4, 4]}}
  %0 = ds.attention %q, %q, %q mask(%m) : (tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<4x5xi1>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c8: mask rank.
func.func @attention_c8_rank(%q: tensor<1x8x4x64xf32>, %m: tensor<4xi1>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected mask of rank 2 to 4, got rank 1}}
  %0 = ds.attention %q, %q, %q mask(%m) : (tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<4xi1>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c9: an additive mask has the query's element type.
func.func @attention_c9(%q: tensor<1x8x4x64xf32>, %m: tensor<4x4xf16>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected an i1 mask or an additive mask of element type 'f32', got 'f16'}}
  %0 = ds.attention %q, %q, %q mask(%m) : (tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<4x4xf16>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// attention_c10: the scale is finite and positive.
func.func @attention_c10(%q: tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32> {
  // expected-error @+1 {{expected a finite positive scale, got -1}}
  %0 = ds.attention %q, %q, %q {scale = -1.0 : f32} : (tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>, tensor<1x8x4x64xf32>) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}

// -----

// layer_norm_c1: axis in range.
func.func @layer_norm_c1(%x: tensor<2x16xf32>, %g: tensor<16xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected axis in [-2, 2), got 2}}
  %0 = ds.layer_norm %x, %g {axis = 2 : i64} : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// layer_norm_c2: scale shaped like the normalized dimensions.
func.func @layer_norm_c2(%x: tensor<2x16xf32>, %g: tensor<8xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected scale shape [16] (the normalized dimensions), got [8]}}
  %0 = ds.layer_norm %x, %g : (tensor<2x16xf32>, tensor<8xf32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// layer_norm_c3: scale element type.
func.func @layer_norm_c3(%x: tensor<2x16xf32>, %g: tensor<16xf16>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected scale element type 'f32', got 'f16'}}
  %0 = ds.layer_norm %x, %g : (tensor<2x16xf32>, tensor<16xf16>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// layer_norm_c4: result type equals input type.
func.func @layer_norm_c4(%x: tensor<2x16xf32>, %g: tensor<16xf32>) -> tensor<2x?xf32> {
  // expected-error @+1 {{expected result type 'tensor<2x16xf32>', got 'tensor<2x?xf32>'}}
  %0 = ds.layer_norm %x, %g : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x?xf32>
  return %0 : tensor<2x?xf32>
}

// -----

// layer_norm_c5: epsilon finite and non-negative.
func.func @layer_norm_c5(%x: tensor<2x16xf32>, %g: tensor<16xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected a finite non-negative epsilon, got -1}}
  %0 = ds.layer_norm %x, %g {epsilon = -1.0 : f32} : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// layer_norm_c6: bias has the scale's type.
func.func @layer_norm_c6(%x: tensor<2x16xf32>, %g: tensor<16xf32>, %b: tensor<1x16xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected bias type 'tensor<16xf32>' (the scale's), got 'tensor<1x16xf32>'}}
  %0 = ds.layer_norm %x, %g, %b : (tensor<2x16xf32>, tensor<16xf32>, tensor<1x16xf32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// rms_norm_c1: axis in range.
func.func @rms_norm_c1(%x: tensor<2x16xf32>, %g: tensor<16xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected axis in [-2, 2), got -3}}
  %0 = ds.rms_norm %x, %g {axis = -3 : i64} : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// rms_norm_c2: scale shaped like the normalized dimensions.
func.func @rms_norm_c2(%x: tensor<2x16xf32>, %g: tensor<2x16xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected scale shape [16] (the normalized dimensions), got [2, 16]}}
  %0 = ds.rms_norm %x, %g : (tensor<2x16xf32>, tensor<2x16xf32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// rms_norm_c3: scale element type.
func.func @rms_norm_c3(%x: tensor<2x16xbf16>, %g: tensor<16xf32>) -> tensor<2x16xbf16> {
  // expected-error @+1 {{expected scale element type 'bf16', got 'f32'}}
  %0 = ds.rms_norm %x, %g : (tensor<2x16xbf16>, tensor<16xf32>) -> tensor<2x16xbf16>
  return %0 : tensor<2x16xbf16>
}

// -----

// rms_norm_c4: result type equals input type.
func.func @rms_norm_c4(%x: tensor<2x16xf32>, %g: tensor<16xf32>) -> tensor<2x16xf16> {
  // expected-error @+1 {{expected result type 'tensor<2x16xf32>', got 'tensor<2x16xf16>'}}
  %0 = ds.rms_norm %x, %g : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf16>
  return %0 : tensor<2x16xf16>
}

// -----

// rms_norm_c5: epsilon finite and non-negative.
func.func @rms_norm_c5(%x: tensor<2x16xf32>, %g: tensor<16xf32>) -> tensor<2x16xf32> {
  // expected-error @+1 {{expected a finite non-negative epsilon, got INF}}
  %0 = ds.rms_norm %x, %g {epsilon = 0x7F800000 : f32} : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
  return %0 : tensor<2x16xf32>
}

// -----

// gelu_c1: float operand and result of one type.
func.func @gelu_c1(%x: tensor<4xi32>) -> tensor<4xi32> {
  // expected-error @+1 {{operand #0 must be ranked tensor of floating-point values}}
  %0 = ds.gelu %x : tensor<4xi32>
  return %0 : tensor<4xi32>
}

// -----

// silu_c1: float operand and result of one type.
func.func @silu_c1(%x: tensor<4xf32>) -> tensor<4xf16> {
  // expected-error @+1 {{requires the same type for all operands and results}}
  %0 = "ds.silu"(%x) : (tensor<4xf32>) -> tensor<4xf16>
  return %0 : tensor<4xf16>
}

// -----

// swiglu_c1: an even last dimension.
func.func @swiglu_c1(%x: tensor<4x15xf32>) -> tensor<4x7xf32> {
  // expected-error @+1 {{expected an even last dimension (gate and up halves), got 15}}
  %0 = ds.swiglu %x : (tensor<4x15xf32>) -> tensor<4x7xf32>
  return %0 : tensor<4x7xf32>
}

// -----

// swiglu_c2: the result halves the last dimension.
func.func @swiglu_c2(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{expected result [4, 8] of 'f32', got 'tensor<4x16xf32>'}}
  %0 = ds.swiglu %x : (tensor<4x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// rope_c1: input rank at least 2.
func.func @rope_c1(%x: tensor<64xf32>, %c: tensor<1x32xf32>) -> tensor<64xf32> {
  // expected-error @+1 {{expected an input of rank >= 2 [..., seq, head_dim], got rank 1}}
  %0 = ds.rope %x, %c, %c : (tensor<64xf32>, tensor<1x32xf32>, tensor<1x32xf32>) -> tensor<64xf32>
  return %0 : tensor<64xf32>
}

// -----

// rope_c2: rotary_dim even and within head_dim.
func.func @rope_c2(%x: tensor<4x64xf32>, %c: tensor<4x48xf32>) -> tensor<4x64xf32> {
  // expected-error @+1 {{expected rotary_dim to be even and in (0, 64], got 96}}
  %0 = ds.rope %x, %c, %c {rotary_dim = 96 : i64} : (tensor<4x64xf32>, tensor<4x48xf32>, tensor<4x48xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// rope_c2: an odd head_dim cannot be rotated whole.
func.func @rope_c2_odd(%x: tensor<4x63xf32>, %c: tensor<4x31xf32>) -> tensor<4x63xf32> {
  // expected-error @+1 {{expected an even head_dim to rotate, got 63}}
  %0 = ds.rope %x, %c, %c : (tensor<4x63xf32>, tensor<4x31xf32>, tensor<4x31xf32>) -> tensor<4x63xf32>
  return %0 : tensor<4x63xf32>
}

// -----

// rope_c3: cos and sin of one type, the input's element type.
func.func @rope_c3(%x: tensor<4x64xf32>, %c: tensor<4x32xf32>, %s: tensor<1x32xf32>) -> tensor<4x64xf32> {
  // expected-error @+1 {{expected cos and sin of one type, got 'tensor<4x32xf32>' and 'tensor<1x32xf32>'}}
  %0 = ds.rope %x, %c, %s : (tensor<4x64xf32>, tensor<4x32xf32>, tensor<1x32xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// rope_c3: element type.
func.func @rope_c3_elt(%x: tensor<4x64xf32>, %c: tensor<4x32xf16>) -> tensor<4x64xf32> {
  // expected-error @+1 {{expected cos/sin element type 'f32', got 'f16'}}
  %0 = ds.rope %x, %c, %c : (tensor<4x64xf32>, tensor<4x32xf16>, tensor<4x32xf16>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// rope_c4: cos/sin broadcast to [..., seq, rotary_dim / 2].
func.func @rope_c4(%x: tensor<2x4x64xf32>, %c: tensor<4x64xf32>) -> tensor<2x4x64xf32> {
  // expected-error @+1 {{expected cos/sin shape [4, 64] to broadcast to [2, 4, 32] (rotary_dim / 2 = 32)}}
  %0 = ds.rope %x, %c, %c : (tensor<2x4x64xf32>, tensor<4x64xf32>, tensor<4x64xf32>) -> tensor<2x4x64xf32>
  return %0 : tensor<2x4x64xf32>
}

// -----

// rope_c4: cos/sin rank.
func.func @rope_c4_rank(%x: tensor<4x64xf32>, %c: tensor<1x1x4x32xf32>) -> tensor<4x64xf32> {
  // expected-error @+1 {{expected cos/sin of rank 2 to 2, got rank 4}}
  %0 = ds.rope %x, %c, %c : (tensor<4x64xf32>, tensor<1x1x4x32xf32>, tensor<1x1x4x32xf32>) -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// rope_c5: result type equals input type.
func.func @rope_c5(%x: tensor<4x64xf32>, %c: tensor<4x32xf32>) -> tensor<?x64xf32> {
  // expected-error @+1 {{expected result type 'tensor<4x64xf32>', got 'tensor<?x64xf32>'}}
  %0 = ds.rope %x, %c, %c : (tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>) -> tensor<?x64xf32>
  return %0 : tensor<?x64xf32>
}

// -----

// linear_c1: weight of rank 2.
func.func @linear_c1(%x: tensor<4x8xf32>, %w: tensor<2x8x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{expected an input of rank >= 1 and a weight of rank 2, got ranks 2 and 3}}
  %0 = ds.linear %x, %w : (tensor<4x8xf32>, tensor<2x8x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// linear_c2: contracted features agree.
func.func @linear_c2(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected input features (8) to equal weight input features (16)}}
  %0 = ds.linear %x, %w : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// linear_c3: bias of shape [N].
func.func @linear_c3(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %b: tensor<8xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{expected bias of shape [16], got [8]}}
  %0 = ds.linear %x, %w bias(%b) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<8xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// linear_c4: result shape.
func.func @linear_c4(%x: tensor<4x8xf32>, %w: tensor<16x8xf32>) -> tensor<4x8xf32> {
  // expected-error @+1 {{expected result shape [4, 16], got [4, 8]}}
  %0 = ds.linear %x, %w {transpose_weight} : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// -----

// linear_c5: residual has the result's type.
func.func @linear_c5(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>, %r: tensor<1x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{expected residual type 'tensor<4x16xf32>', got 'tensor<1x16xf32>'}}
  %0 = ds.linear %x, %w residual(%r) : (tensor<4x8xf32>, tensor<8x16xf32>, tensor<1x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// linear_c6: one element type.
func.func @linear_c6(%x: tensor<4x8xf16>, %w: tensor<8x16xf32>) -> tensor<4x16xf16> {
  // expected-error @+1 {{expected input, weight, bias and result to share element type 'f16'}}
  %0 = ds.linear %x, %w : (tensor<4x8xf16>, tensor<8x16xf32>) -> tensor<4x16xf16>
  return %0 : tensor<4x16xf16>
}

// -----

// linear_c7: a GEMM tile has three sizes.
func.func @linear_c7(%x: tensor<4x8xf32>, %w: tensor<8x16xf32>) -> tensor<4x16xf32> {
  // expected-error @+1 {{expected a tile with 3 sizes (M, N, K), got 2}}
  %0 = ds.linear %x, %w {tile = #ds.tile<sizes = [64, 64], warps = 4, stages = 2>} : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  return %0 : tensor<4x16xf32>
}

// -----

// embedding_c1: a rank-2 table.
func.func @embedding_c1(%t: tensor<10x4x8xf32>, %i: tensor<3xi64>) -> tensor<3x8xf32> {
  // expected-error @+1 {{expected a table of rank 2 [vocab, dim], got rank 3}}
  %0 = ds.embedding %t, %i : (tensor<10x4x8xf32>, tensor<3xi64>) -> tensor<3x8xf32>
  return %0 : tensor<3x8xf32>
}

// -----

// embedding_c2: result is indices shape + [dim].
func.func @embedding_c2(%t: tensor<10x8xf32>, %i: tensor<3xi64>) -> tensor<3x10xf32> {
  // expected-error @+1 {{expected result [3, 8] of 'f32', got 'tensor<3x10xf32>'}}
  %0 = ds.embedding %t, %i : (tensor<10x8xf32>, tensor<3xi64>) -> tensor<3x10xf32>
  return %0 : tensor<3x10xf32>
}

// -----

// kv_cache_append_c1: rank-4 cache and update of one element type.
func.func @kv_cache_append_c1(%c: tensor<1x8x16x64xf16>, %u: tensor<1x8x1x64xf32>, %p: tensor<1xi64>) -> tensor<1x8x16x64xf16> {
  // expected-error @+1 {{expected update element type 'f16', got 'f32'}}
  %0 = ds.kv_cache.append %c, %u, %p : (tensor<1x8x16x64xf16>, tensor<1x8x1x64xf32>, tensor<1xi64>) -> tensor<1x8x16x64xf16>
  return %0 : tensor<1x8x16x64xf16>
}

// -----

// kv_cache_append_c1: rank.
func.func @kv_cache_append_c1_rank(%c: tensor<8x16x64xf16>, %u: tensor<8x1x64xf16>, %p: tensor<8xi64>) -> tensor<8x16x64xf16> {
  // expected-error @+1 {{expected cache and update of rank 4 [batch, heads, seq, head_dim]}}
  %0 = ds.kv_cache.append %c, %u, %p : (tensor<8x16x64xf16>, tensor<8x1x64xf16>, tensor<8xi64>) -> tensor<8x16x64xf16>
  return %0 : tensor<8x16x64xf16>
}

// -----

// kv_cache_append_c2: batch, heads and head_dim agree.
func.func @kv_cache_append_c2(%c: tensor<1x8x16x64xf16>, %u: tensor<1x4x1x64xf16>, %p: tensor<1xi64>) -> tensor<1x8x16x64xf16> {
  // expected-error @+1 {{expected update [1, 4, 1, 64] to match cache [1, 8, 16, 64] in batch, heads and head_dim}}
  %0 = ds.kv_cache.append %c, %u, %p : (tensor<1x8x16x64xf16>, tensor<1x4x1x64xf16>, tensor<1xi64>) -> tensor<1x8x16x64xf16>
  return %0 : tensor<1x8x16x64xf16>
}

// -----

// kv_cache_append_c3: the update fits the capacity.
func.func @kv_cache_append_c3(%c: tensor<1x8x16x64xf16>, %u: tensor<1x8x17x64xf16>, %p: tensor<1xi64>) -> tensor<1x8x16x64xf16> {
  // expected-error @+1 {{expected update length (17) within the cache capacity (16)}}
  %0 = ds.kv_cache.append %c, %u, %p : (tensor<1x8x16x64xf16>, tensor<1x8x17x64xf16>, tensor<1xi64>) -> tensor<1x8x16x64xf16>
  return %0 : tensor<1x8x16x64xf16>
}

// -----

// kv_cache_append_c4: the result is the cache's type.
func.func @kv_cache_append_c4(%c: tensor<1x8x16x64xf16>, %u: tensor<1x8x1x64xf16>, %p: tensor<1xi64>) -> tensor<1x8x?x64xf16> {
  // expected-error @+1 {{expected result type 'tensor<1x8x16x64xf16>', got 'tensor<1x8x?x64xf16>'}}
  %0 = ds.kv_cache.append %c, %u, %p : (tensor<1x8x16x64xf16>, tensor<1x8x1x64xf16>, tensor<1xi64>) -> tensor<1x8x?x64xf16>
  return %0 : tensor<1x8x?x64xf16>
}

// -----

// kv_cache_read_c1: rank 4, one element type.
func.func @kv_cache_read_c1(%c: tensor<1x8x16x64xf16>, %n: index) -> tensor<1x8x?x64xf32> {
  // expected-error @+1 {{expected cache and result of rank 4 with one element type}}
  %0 = ds.kv_cache.read %c, %n : (tensor<1x8x16x64xf16>, index) -> tensor<1x8x?x64xf32>
  return %0 : tensor<1x8x?x64xf32>
}

// -----

// kv_cache_read_c2: the result matches the cache and fits its capacity.
func.func @kv_cache_read_c2(%c: tensor<1x8x16x64xf16>, %n: index) -> tensor<1x8x32x64xf16> {
  // expected-error @+1 {{expected result length (32) within the cache capacity (16)}}
  %0 = ds.kv_cache.read %c, %n : (tensor<1x8x16x64xf16>, index) -> tensor<1x8x32x64xf16>
  return %0 : tensor<1x8x32x64xf16>
}

// -----

// kv_cache_read_c2: batch, heads and head_dim.
func.func @kv_cache_read_c2_dims(%c: tensor<1x8x16x64xf16>, %n: index) -> tensor<1x8x?x32xf16> {
  // expected-error @+1 {{expected result [1, 8, ?, 32] to match cache [1, 8, 16, 64] in batch, heads and head_dim}}
  %0 = ds.kv_cache.read %c, %n : (tensor<1x8x16x64xf16>, index) -> tensor<1x8x?x32xf16>
  return %0 : tensor<1x8x?x32xf16>
}

// -----

// quantize_c1: shapes agree.
func.func @quantize_c1(%x: tensor<4x8xf32>, %s: tensor<f32>) -> tensor<4x4xi8> {
  // expected-error @+1 {{expected float and integer shapes to agree, got [4, 8] and [4, 4]}}
  %0 = ds.quantize %x, %s {quant = #ds.quant<bits = 8, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x4xi8>
  return %0 : tensor<4x4xi8>
}

// -----

// quantize_c2: integer width is bits.
func.func @quantize_c2(%x: tensor<4x8xf32>, %s: tensor<f32>) -> tensor<4x8xi4> {
  // expected-error @+1 {{expected 8-bit integers, got 'i4'}}
  %0 = ds.quantize %x, %s {quant = #ds.quant<bits = 8, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xi4>
  return %0 : tensor<4x8xi4>
}

// -----

// quantize_c3: scale element type.
func.func @quantize_c3(%x: tensor<4x8xf32>, %s: tensor<f16>) -> tensor<4x8xi8> {
  // expected-error @+1 {{expected scale element type 'f32', got 'f16'}}
  %0 = ds.quantize %x, %s {quant = #ds.quant<bits = 8, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<f16>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}

// -----

// quantize_c4: per_channel scales are [..., 1].
func.func @quantize_c4(%x: tensor<4x8xf32>, %s: tensor<4xf32>) -> tensor<4x8xi8> {
  // expected-error @+1 {{expected scale shape [4, 1] for per_channel quantization, got [4]}}
  %0 = ds.quantize %x, %s {quant = #ds.quant<bits = 8, scheme = symmetric, granularity = per_channel, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<4xf32>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}

// -----

// quantize_c4: per_tensor scales are rank 0 or all ones.
func.func @quantize_c4_tensor(%x: tensor<4x8xf32>, %s: tensor<4x1xf32>) -> tensor<4x8xi8> {
  // expected-error @+1 {{expected a rank-0 or all-ones scale for per_tensor quantization, got [4, 1]}}
  %0 = ds.quantize %x, %s {quant = #ds.quant<bits = 8, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<4x1xf32>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}

// -----

// quantize_c5: asymmetric needs a zero point.
func.func @quantize_c5(%x: tensor<4x8xf32>, %s: tensor<f32>) -> tensor<4x8xi8> {
  // expected-error @+1 {{expected a zero point for asymmetric quantization}}
  %0 = ds.quantize %x, %s {quant = #ds.quant<bits = 8, scheme = asymmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<f32>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}

// -----

// quantize_c5: symmetric takes none.
func.func @quantize_c5_sym(%x: tensor<4x8xf32>, %s: tensor<f32>, %z: tensor<i8>) -> tensor<4x8xi8> {
  // expected-error @+1 {{expected no zero point for symmetric quantization}}
  %0 = ds.quantize %x, %s, %z {quant = #ds.quant<bits = 8, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<f32>, tensor<i8>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}

// -----

// quantize_c5: zero point shaped like the scale.
func.func @quantize_c5_shape(%x: tensor<4x8xf32>, %s: tensor<f32>, %z: tensor<1xi8>) -> tensor<4x8xi8> {
  // expected-error @+1 {{expected zero point of shape [] and type 'i8', got 'tensor<1xi8>'}}
  %0 = ds.quantize %x, %s, %z {quant = #ds.quant<bits = 8, scheme = asymmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<f32>, tensor<1xi8>) -> tensor<4x8xi8>
  return %0 : tensor<4x8xi8>
}

// -----

// quantize_c6: group_size divides the last dimension.
func.func @quantize_c6(%x: tensor<4x96xf32>, %s: tensor<4x1xf32>) -> tensor<4x96xi4> {
  // expected-error @+1 {{expected group_size (64) to divide the last dimension (96)}}
  %0 = ds.quantize %x, %s {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 64, scale_type = f32>} : (tensor<4x96xf32>, tensor<4x1xf32>) -> tensor<4x96xi4>
  return %0 : tensor<4x96xi4>
}

// -----

// dequantize_c1..c6 share the quantize checks, with the sides swapped.
func.func @dequantize_c4(%q: tensor<4x128xi4>, %s: tensor<4x1xf16>) -> tensor<4x128xf16> {
  // expected-error @+1 {{expected scale shape [4, 2] for per_group quantization, got [4, 1]}}
  %0 = ds.dequantize %q, %s {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 64, scale_type = f16>} : (tensor<4x128xi4>, tensor<4x1xf16>) -> tensor<4x128xf16>
  return %0 : tensor<4x128xf16>
}

// -----

// dequantize_c2: integer width is bits.
func.func @dequantize_c2(%q: tensor<4x128xi8>, %s: tensor<4x2xf16>) -> tensor<4x128xf16> {
  // expected-error @+1 {{expected 4-bit integers, got 'i8'}}
  %0 = ds.dequantize %q, %s {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 64, scale_type = f16>} : (tensor<4x128xi8>, tensor<4x2xf16>) -> tensor<4x128xf16>
  return %0 : tensor<4x128xf16>
}

// -----

// tile_c1: positive sizes.
func.func @tile_c1() attributes {t = #ds.tile<sizes = [64, 0], warps = 4, stages = 2>} {
  // expected-error @-1 {{expected positive tile sizes, got 0}}
  return
}

// -----

// tile_c2: warps a power of two in [1, 32].
func.func @tile_c2() attributes {t = #ds.tile<sizes = [64], warps = 6, stages = 2>} {
  // expected-error @-1 {{expected warps to be a power of two in [1, 32], got 6}}
  return
}

// -----

// tile_c3: stages in [1, 8].
func.func @tile_c3() attributes {t = #ds.tile<sizes = [64], warps = 4, stages = 9>} {
  // expected-error @-1 {{expected stages in [1, 8], got 9}}
  return
}

// -----

// quant_c1: 4 or 8 bits.
func.func @quant_c1() attributes {q = #ds.quant<bits = 2, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f16>} {
  // expected-error @-1 {{expected bits to be 4 or 8, got 2}}
  return
}

// -----

// quant_c2: group_size only with per_group.
func.func @quant_c2() attributes {q = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 0, scale_type = f16>} {
  // expected-error @-1 {{expected a positive group_size for per_group quantization, got 0}}
  return
}

// -----

// quant_c3: scale_type f16, bf16 or f32.
func.func @quant_c3() attributes {q = #ds.quant<bits = 4, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f64>} {
  // expected-error @-1 {{expected scale_type f16, bf16 or f32, got 'f64'}}
  return
}

// -----

// broadcast_c1: rank and element type.
func.func @broadcast_c1(%x: tensor<2x3xf32>) -> tensor<3xf32> {
  // expected-error @+1 {{expected a result of rank >= 2 with element type 'f32', got 'tensor<3xf32>'}}
  %0 = ds.broadcast %x [] : (tensor<2x3xf32>) -> tensor<3xf32>
  return %0 : tensor<3xf32>
}

// -----

// broadcast_c2: each input dimension is 1 or the result's.
func.func @broadcast_c2(%x: tensor<2x3xf32>) -> tensor<4x3xf32> {
  // expected-error @+1 {{expected input shape [2, 3] to broadcast to [4, 3]}}
  %0 = ds.broadcast %x [] : (tensor<2x3xf32>) -> tensor<4x3xf32>
  return %0 : tensor<4x3xf32>
}

// -----

// broadcast_c3: one size per dynamic result dimension.
func.func @broadcast_c3(%x: tensor<3xf32>) -> tensor<?x3xf32> {
  // expected-error @+1 {{expected 1 dynamic sizes, got 0}}
  %0 = ds.broadcast %x [] : (tensor<3xf32>) -> tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}

// -----

// matmul_c1: element types agree.
func.func @matmul_c1(%a: tensor<2x3xf32>, %b: tensor<3x4xf16>) -> tensor<2x4xf32> {
  // expected-error @+1 {{expected operands and result to share element type 'f32'}}
  %0 = ds.matmul %a, %b : (tensor<2x3xf32>, tensor<3x4xf16>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// matmul_c2: contracted dimensions agree.
func.func @matmul_c2(%a: tensor<2x3xf32>, %b: tensor<4x4xf32>) -> tensor<2x4xf32> {
  // expected-error @+1 {{expected contracted dimensions to agree, got 3 and 4}}
  %0 = ds.matmul %a, %b : (tensor<2x3xf32>, tensor<4x4xf32>) -> tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}

// -----

// matmul_c3: batch dimensions broadcast.
func.func @matmul_c3(%a: tensor<2x2x3xf32>, %b: tensor<3x3x4xf32>) -> tensor<2x2x4xf32> {
  // expected-error @+1 {{expected batch dimensions [2] and [3] to broadcast}}
  %0 = ds.matmul %a, %b : (tensor<2x2x3xf32>, tensor<3x3x4xf32>) -> tensor<2x2x4xf32>
  return %0 : tensor<2x2x4xf32>
}

// -----

// matmul_c4: result shape, rank-1 operands promoted and dropped.
func.func @matmul_c4(%a: tensor<3xf32>, %b: tensor<5x3x4xf32>) -> tensor<5x1x4xf32> {
  // expected-error @+1 {{expected result shape [5, 4], got [5, 1, 4]}}
  %0 = ds.matmul %a, %b : (tensor<3xf32>, tensor<5x3x4xf32>) -> tensor<5x1x4xf32>
  return %0 : tensor<5x1x4xf32>
}

// -----

// softmax_c1: axis in range.
func.func @softmax_c1(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  // expected-error @+1 {{expected axis in [-2, 2), got -3}}
  %0 = ds.softmax %x {axis = -3 : i64} : tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// reduce_c1: sorted unique axes in range.
func.func @reduce_c1(%x: tensor<2x3xf32>) -> tensor<f32> {
  // expected-error @+1 {{expected sorted unique axes in [0, 2), got [1, 0]}}
  %0 = ds.reduce sum %x {axes = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<f32>
  return %0 : tensor<f32>
}

// -----

// reduce_c2: result shape.
func.func @reduce_c2(%x: tensor<2x3xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{expected result [2, 1] of 'f32', got 'tensor<2xf32>'}}
  %0 = ds.reduce max %x {axes = array<i64: 1>, keep_dims} : (tensor<2x3xf32>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// gather_c1: axis in range.
func.func @gather_c1(%d: tensor<3x4xf32>, %i: tensor<2xi64>) -> tensor<3x2xf32> {
  // expected-error @+1 {{expected axis in [-2, 2), got 2}}
  %0 = ds.gather %d, %i {axis = 2 : i64} : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<3x2xf32>
  return %0 : tensor<3x2xf32>
}

// -----

// gather_c2: result shape.
func.func @gather_c2(%d: tensor<3x4xf32>, %i: tensor<2xi64>) -> tensor<2x3xf32> {
  // expected-error @+1 {{expected result [3, 2] of 'f32', got 'tensor<2x3xf32>'}}
  %0 = ds.gather %d, %i {axis = -1 : i64} : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// gather_elements_c1: one rank.
func.func @gather_elements_c1(%d: tensor<3x4xf32>, %i: tensor<2xi64>) -> tensor<2xf32> {
  // expected-error @+1 {{expected data and indices of one rank >= 1, got 2 and 1}}
  %0 = ds.gather_elements %d, %i {axis = 0 : i64} : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

// gather_elements_c2: the result has the indices' shape.
func.func @gather_elements_c2(%d: tensor<3x4xf32>, %i: tensor<3x2xi64>) -> tensor<3x4xf32> {
  // expected-error @+1 {{expected result [3, 2] of 'f32', got 'tensor<3x4xf32>'}}
  %0 = ds.gather_elements %d, %i {axis = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xi64>) -> tensor<3x4xf32>
  return %0 : tensor<3x4xf32>
}

// -----

// gather_nd_c1: a static index depth within the data rank.
func.func @gather_nd_c1(%d: tensor<3x4xf32>, %i: tensor<5x3xi64>) -> tensor<5xf32> {
  // expected-error @+1 {{expected a static index depth in [1, 2], got [3]}}
  %0 = ds.gather_nd %d, %i : (tensor<3x4xf32>, tensor<5x3xi64>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

// gather_nd_c2: result shape.
func.func @gather_nd_c2(%d: tensor<3x4xf32>, %i: tensor<5x1xi64>) -> tensor<5xf32> {
  // expected-error @+1 {{expected result [5, 4] of 'f32', got 'tensor<5xf32>'}}
  %0 = ds.gather_nd %d, %i : (tensor<3x4xf32>, tensor<5x1xi64>) -> tensor<5xf32>
  return %0 : tensor<5xf32>
}

// -----

// cumsum_c1: axis in range.
func.func @cumsum_c1(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expected axis in [-1, 1), got 1}}
  %0 = ds.cumsum %x {axis = 1 : i64} : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// trilu_c1: rank at least 2.
func.func @trilu_c1(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{expected an input of rank >= 2, got rank 1}}
  %0 = ds.trilu %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}

// -----

// kv_cache_append_c5: one offset per sequence.
func.func @kv_cache_append_c5(%c: tensor<2x8x16x64xf16>, %u: tensor<2x8x1x64xf16>, %p: tensor<3xi64>) -> tensor<2x8x16x64xf16> {
  // expected-error @+1 {{expected one offset per sequence (2), got 3}}
  %0 = ds.kv_cache.append %c, %u, %p : (tensor<2x8x16x64xf16>, tensor<2x8x1x64xf16>, tensor<3xi64>) -> tensor<2x8x16x64xf16>
  return %0 : tensor<2x8x16x64xf16>
}

// -----

// attention_c11: one kv_length per sequence.
func.func @attention_c11(%q: tensor<2x4x1x8xf32>, %k: tensor<2x4x16x8xf32>, %n: tensor<1xi64>) -> tensor<2x4x1x8xf32> {
  // expected-error @+1 {{expected one kv_length per sequence (2), got 1}}
  %0 = ds.attention %q, %k, %k kv_length(%n) {causal} : (tensor<2x4x1x8xf32>, tensor<2x4x16x8xf32>, tensor<2x4x16x8xf32>, tensor<1xi64>) -> tensor<2x4x1x8xf32>
  return %0 : tensor<2x4x1x8xf32>
}

// -----

// fused_attention_c1: tensors or buffers, not both.
func.func @fused_attention_c1(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x9x16xf32>, %o: memref<1x4x3x16xf32>) {
  // expected-error @+1 {{expected all operands to be tensors or all to be buffers}}
  ds.fused_attention %q, %k, %k outs(%o) {scale = 0.25 : f32} : (tensor<1x4x3x16xf32>, tensor<1x4x9x16xf32>, tensor<1x4x9x16xf32>, memref<1x4x3x16xf32>) -> ()
  return
}

// -----

// fused_attention: the shape checks of ds.attention (attention_c6).
func.func @fused_attention_heads(%q: memref<1x6x3x16xf32>, %k: memref<1x4x9x16xf32>, %o: memref<1x6x3x16xf32>) {
  // expected-error @+1 {{expected key/value heads (4) to divide query heads (6)}}
  ds.fused_attention %q, %k, %k outs(%o) {scale = 0.25 : f32} : (memref<1x6x3x16xf32>, memref<1x4x9x16xf32>, memref<1x4x9x16xf32>, memref<1x6x3x16xf32>) -> ()
  return
}

// -----

// fused_attention: attention_c11 and attention_c10.
func.func @fused_attention_kv_length(%q: memref<2x4x1x8xf32>, %k: memref<2x4x16x8xf32>, %n: memref<1xi64>, %o: memref<2x4x1x8xf32>) {
  // expected-error @+1 {{expected kv_length of shape [2], got [1]}}
  ds.fused_attention %q, %k, %k kv_length(%n) outs(%o) {causal, scale = 0.25 : f32} : (memref<2x4x1x8xf32>, memref<2x4x16x8xf32>, memref<2x4x16x8xf32>, memref<1xi64>, memref<2x4x1x8xf32>) -> ()
  return
}

// -----

func.func @fused_attention_scale(%q: memref<2x4x1x8xf32>, %k: memref<2x4x16x8xf32>, %o: memref<2x4x1x8xf32>) {
  // expected-error @+1 {{expected a finite positive scale, got -1}}
  ds.fused_attention %q, %k, %k outs(%o) {scale = -1.0 : f32} : (memref<2x4x1x8xf32>, memref<2x4x16x8xf32>, memref<2x4x16x8xf32>, memref<2x4x1x8xf32>) -> ()
  return
}

// -----

// rope_table_c1: positions are [P, S].
func.func @rope_table_c1(%p: tensor<8xi64>, %f: tensor<4xf32>) {
  // expected-error @+1 {{expected positions of rank 2 [P, S], got rank 1}}
  %c, %s = ds.rope_table %p, %f : (tensor<8xi64>, tensor<4xf32>) -> (tensor<1x8x4xf32>, tensor<1x8x4xf32>)
  return
}

// -----

// rope_table_c1: positions are integers (ODS).
func.func @rope_table_c1_int(%p: tensor<1x8xf32>, %f: tensor<4xf32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of signless integer values}}
  %c, %s = ds.rope_table %p, %f : (tensor<1x8xf32>, tensor<4xf32>) -> (tensor<1x8x4xf32>, tensor<1x8x4xf32>)
  return
}

// -----

// rope_table_c2: inv_freq is 1-D.
func.func @rope_table_c2(%p: tensor<1x8xi64>, %f: tensor<1x4xf32>) {
  // expected-error @+1 {{expected inv_freq of rank 1 [H], got rank 2}}
  %c, %s = ds.rope_table %p, %f : (tensor<1x8xi64>, tensor<1x4xf32>) -> (tensor<1x8x4xf32>, tensor<1x8x4xf32>)
  return
}

// -----

// rope_table_c3: results are [P, S, H].
func.func @rope_table_c3(%p: tensor<1x8xi64>, %f: tensor<4xf32>) {
  // expected-error @+1 {{expected results of shape [1, 8, 4], got [1, 8, 8]}}
  %c, %s = ds.rope_table %p, %f : (tensor<1x8xi64>, tensor<4xf32>) -> (tensor<1x8x8xf32>, tensor<1x8x8xf32>)
  return
}

// -----

// rope_table_c3: cos and sin of one type.
func.func @rope_table_c3_types(%p: tensor<1x8xi64>, %f: tensor<4xf32>) {
  // expected-error @+1 {{expected cos and sin of one type}}
  %c, %s = ds.rope_table %p, %f : (tensor<1x8xi64>, tensor<4xf32>) -> (tensor<1x8x4xf32>, tensor<1x8x4xf16>)
  return
}
