// Every ds op and attribute round-trips through the printer: custom text,
// generic text and bytecode. One module, so bytecode needs no splitting.
// RUN: ds-opt %s | ds-opt | FileCheck %s
// RUN: ds-opt %s -emit-bytecode | ds-opt | FileCheck %s
// RUN: ds-opt %s -mlir-print-op-generic | ds-opt | FileCheck %s

// Causal grouped-query attention with dynamic sequence lengths.
// CHECK-LABEL: func @attention_gqa_causal
func.func @attention_gqa_causal(%q: tensor<2x8x?x64xf16>, %k: tensor<2x2x?x64xf16>, %v: tensor<2x2x?x64xf16>) -> tensor<2x8x?x64xf16> {
  // CHECK: ds.attention %{{.*}}, %{{.*}}, %{{.*}} {causal} : (tensor<2x8x?x64xf16>, tensor<2x2x?x64xf16>, tensor<2x2x?x64xf16>) -> tensor<2x8x?x64xf16>
  %0 = ds.attention %q, %k, %v {causal} : (tensor<2x8x?x64xf16>, tensor<2x2x?x64xf16>, tensor<2x2x?x64xf16>) -> tensor<2x8x?x64xf16>
  return %0 : tensor<2x8x?x64xf16>
}

// Attention with a boolean padding mask, an explicit scale and a tile.
// CHECK-LABEL: func @attention_mask
func.func @attention_mask(%q: tensor<1x4x8x32xf32>, %k: tensor<1x4x8x32xf32>, %m: tensor<1x1x1x8xi1>) -> tensor<1x4x8x32xf32> {
  // CHECK: ds.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) {scale = 2.500000e-01 : f32, tile = #ds.tile<sizes = [64, 64], warps = 4, stages = 2>}
  %0 = ds.attention %q, %k, %k mask(%m) {scale = 0.25 : f32, tile = #ds.tile<sizes = [64, 64], warps = 4, stages = 2>} : (tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x4x8x32xf32>, tensor<1x1x1x8xi1>) -> tensor<1x4x8x32xf32>
  return %0 : tensor<1x4x8x32xf32>
}

// Decode attention over a preallocated cache: an additive 2-D mask and the
// number of valid key positions.
// CHECK-LABEL: func @attention_kv_length
func.func @attention_kv_length(%q: tensor<1x8x1x64xbf16>, %k: tensor<1x8x1024x64xbf16>, %m: tensor<1x1024xbf16>, %n: tensor<1xi64>) -> tensor<1x8x1x64xbf16> {
  // CHECK: ds.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}}) kv_length(%{{.*}}) {causal}
  %0 = ds.attention %q, %k, %k mask(%m) kv_length(%n) {causal} : (tensor<1x8x1x64xbf16>, tensor<1x8x1024x64xbf16>, tensor<1x8x1024x64xbf16>, tensor<1x1024xbf16>, tensor<1xi64>) -> tensor<1x8x1x64xbf16>
  return %0 : tensor<1x8x1x64xbf16>
}

// Fused attention in destination style, on tensors and on buffers.
// CHECK-LABEL: func @fused_attention
func.func @fused_attention(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %n: tensor<?xi64>, %init: tensor<?x8x?x64xbf16>, %qb: memref<1x4x3x16xf32>, %kb: memref<1x4x9x16xf32>, %ob: memref<1x4x3x16xf32>) -> tensor<?x8x?x64xbf16> {
  // CHECK: ds.fused_attention %{{.*}}, %{{.*}}, %{{.*}} kv_length(%{{.*}}) outs(%{{.*}}) {causal, scale = 1.250000e-01 : f32} : (tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?xi64>, tensor<?x8x?x64xbf16>) -> tensor<?x8x?x64xbf16>
  %0 = ds.fused_attention %q, %k, %k kv_length(%n) outs(%init) {causal, scale = 0.125 : f32} : (tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?xi64>, tensor<?x8x?x64xbf16>) -> tensor<?x8x?x64xbf16>
  // CHECK: ds.fused_attention %{{.*}}, %{{.*}}, %{{.*}} outs(%{{.*}}) {scale = 2.500000e-01 : f32} : (memref<1x4x3x16xf32>, memref<1x4x9x16xf32>, memref<1x4x9x16xf32>, memref<1x4x3x16xf32>) -> ()
  ds.fused_attention %qb, %kb, %kb outs(%ob) {scale = 0.25 : f32} : (memref<1x4x3x16xf32>, memref<1x4x9x16xf32>, memref<1x4x9x16xf32>, memref<1x4x3x16xf32>) -> ()
  return %0 : tensor<?x8x?x64xbf16>
}

// LayerNorm with and without bias, RMSNorm over the last two dimensions.
// CHECK-LABEL: func @norms
func.func @norms(%x: tensor<?x?x768xf32>, %g: tensor<768xf32>, %b: tensor<768xf32>, %g2: tensor<?x768xf32>) -> (tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>) {
  // CHECK: ds.layer_norm %{{.*}}, %{{.*}}, %{{.*}} {epsilon = 9.99999997E-7 : f32} : (tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  %0 = ds.layer_norm %x, %g, %b {epsilon = 1.0e-06 : f32} : (tensor<?x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  // CHECK: ds.layer_norm %{{.*}}, %{{.*}} : (tensor<?x?x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  %1 = ds.layer_norm %x, %g : (tensor<?x?x768xf32>, tensor<768xf32>) -> tensor<?x?x768xf32>
  // CHECK: ds.rms_norm %{{.*}}, %{{.*}} {axis = -2 : i64, epsilon = 9.99999997E-7 : f32}
  %2 = ds.rms_norm %x, %g2 {axis = -2 : i64, epsilon = 1.0e-06 : f32} : (tensor<?x?x768xf32>, tensor<?x768xf32>) -> tensor<?x?x768xf32>
  return %0, %1, %2 : tensor<?x?x768xf32>, tensor<?x?x768xf32>, tensor<?x?x768xf32>
}

// Activations: both GELU forms, SiLU and SwiGLU.
// CHECK-LABEL: func @activations
func.func @activations(%x: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x8xf32>) {
  // CHECK: ds.gelu %{{.*}} : tensor<4x16xf32>
  %0 = ds.gelu %x : tensor<4x16xf32>
  // CHECK: ds.gelu %{{.*}} approximation = tanh : tensor<4x16xf32>
  %1 = ds.gelu %x approximation = tanh : tensor<4x16xf32>
  // CHECK: ds.silu %{{.*}} : tensor<4x16xf32>
  %2 = ds.silu %x : tensor<4x16xf32>
  // CHECK: ds.swiglu %{{.*}} : (tensor<4x16xf32>) -> tensor<4x8xf32>
  %3 = ds.swiglu %x : (tensor<4x16xf32>) -> tensor<4x8xf32>
  return %0, %1, %2, %3 : tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x16xf32>, tensor<4x8xf32>
}

// RoPE: rotate-half over the whole head, interleaved over part of it.
// CHECK-LABEL: func @rope
func.func @rope(%x: tensor<1x32x?x64xf16>, %c: tensor<1x1x?x32xf16>, %s: tensor<?x16xf16>) -> (tensor<1x32x?x64xf16>, tensor<1x32x?x64xf16>) {
  // CHECK: ds.rope %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x32x?x64xf16>, tensor<1x1x?x32xf16>, tensor<1x1x?x32xf16>)
  %0 = ds.rope %x, %c, %c : (tensor<1x32x?x64xf16>, tensor<1x1x?x32xf16>, tensor<1x1x?x32xf16>) -> tensor<1x32x?x64xf16>
  // CHECK: ds.rope %{{.*}}, %{{.*}}, %{{.*}} mode = interleaved {rotary_dim = 32 : i64}
  %1 = ds.rope %x, %s, %s mode = interleaved {rotary_dim = 32 : i64} : (tensor<1x32x?x64xf16>, tensor<?x16xf16>, tensor<?x16xf16>) -> tensor<1x32x?x64xf16>
  return %0, %1 : tensor<1x32x?x64xf16>, tensor<1x32x?x64xf16>
}

// Linear layers: plain, and with every epilogue and a tile.
// CHECK-LABEL: func @linear
func.func @linear(%x: tensor<?x768xf32>, %w: tensor<768x3072xf32>, %wt: tensor<3072x768xf32>, %b: tensor<3072xf32>, %r: tensor<?x3072xf32>) -> (tensor<?x3072xf32>, tensor<?x3072xf32>) {
  // CHECK: ds.linear %{{.*}}, %{{.*}} : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  %0 = ds.linear %x, %w : (tensor<?x768xf32>, tensor<768x3072xf32>) -> tensor<?x3072xf32>
  // CHECK: ds.linear %{{.*}}, %{{.*}} bias(%{{.*}}) residual(%{{.*}}) {activation = #ds<activation gelu_tanh>, tile = #ds.tile<sizes = [128, 128, 32], warps = 4, stages = 3>, transpose_weight}
  %1 = ds.linear %x, %wt bias(%b) residual(%r) {activation = #ds<activation gelu_tanh>, transpose_weight, tile = #ds.tile<sizes = [128, 128, 32], warps = 4, stages = 3>} : (tensor<?x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>, tensor<?x3072xf32>) -> tensor<?x3072xf32>
  return %0, %1 : tensor<?x3072xf32>, tensor<?x3072xf32>
}

// Embedding lookup with 2-D token ids.
// CHECK-LABEL: func @embedding
func.func @embedding(%t: tensor<50257x768xf32>, %ids: tensor<1x?xi64>) -> tensor<1x?x768xf32> {
  // CHECK: ds.embedding %{{.*}}, %{{.*}} : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  %0 = ds.embedding %t, %ids : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  return %0 : tensor<1x?x768xf32>
}

// Appending to and reading from a KV cache.
// CHECK-LABEL: func @kv_cache
func.func @kv_cache(%c: tensor<1x8x1024x64xf16>, %k: tensor<1x8x?x64xf16>, %pos: tensor<1xi64>, %len: index) -> tensor<1x8x?x64xf16> {
  // CHECK: %[[C:.+]] = ds.kv_cache.append %{{.*}}, %{{.*}}, %{{.*}} : (tensor<1x8x1024x64xf16>, tensor<1x8x?x64xf16>, tensor<1xi64>) -> tensor<1x8x1024x64xf16>
  %0 = ds.kv_cache.append %c, %k, %pos : (tensor<1x8x1024x64xf16>, tensor<1x8x?x64xf16>, tensor<1xi64>) -> tensor<1x8x1024x64xf16>
  // CHECK: ds.kv_cache.read %[[C]], %{{.*}} : (tensor<1x8x1024x64xf16>, index) -> tensor<1x8x?x64xf16>
  %1 = ds.kv_cache.read %0, %len : (tensor<1x8x1024x64xf16>, index) -> tensor<1x8x?x64xf16>
  return %1 : tensor<1x8x?x64xf16>
}

// Symmetric per-group int4 and asymmetric per-tensor int8.
// CHECK-LABEL: func @quant
func.func @quant(%w: tensor<64x256xf16>, %s: tensor<64x2xf16>, %st: tensor<f32>, %zp: tensor<i8>, %x: tensor<4x8xf32>) -> (tensor<64x256xf16>, tensor<4x8xi8>) {
  // CHECK: %[[Q:.+]] = ds.quantize %{{.*}}, %{{.*}} {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 128, scale_type = f16>} : (tensor<64x256xf16>, tensor<64x2xf16>) -> tensor<64x256xi4>
  %q = ds.quantize %w, %s {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 128, scale_type = f16>} : (tensor<64x256xf16>, tensor<64x2xf16>) -> tensor<64x256xi4>
  // CHECK: ds.dequantize %[[Q]], %{{.*}} {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 128, scale_type = f16>}
  %d = ds.dequantize %q, %s {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 128, scale_type = f16>} : (tensor<64x256xi4>, tensor<64x2xf16>) -> tensor<64x256xf16>
  // CHECK: ds.quantize %{{.*}}, %{{.*}}, %{{.*}} {quant = #ds.quant<bits = 8, scheme = asymmetric, granularity = per_tensor, group_size = 0, scale_type = f32>}
  %a = ds.quantize %x, %st, %zp {quant = #ds.quant<bits = 8, scheme = asymmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<4x8xf32>, tensor<f32>, tensor<i8>) -> tensor<4x8xi8>
  return %d, %a : tensor<64x256xf16>, tensor<4x8xi8>
}

// Graph-level ops with ONNX semantics.
// CHECK-LABEL: func @graph_ops
func.func @graph_ops(%x: tensor<1x?x768xf32>, %b: tensor<768xf32>, %n: index, %kt: tensor<1x12x64x?xf32>, %q: tensor<1x12x?x64xf32>, %t: tensor<50257x768xf32>, %ids: tensor<1x?xi64>, %m: tensor<?x?xf32>) -> (tensor<1x?x768xf32>, tensor<1x12x?x?xf32>, tensor<1x?x1xf32>, tensor<1x?x768xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<1x?x768xf32>) {
  // CHECK: ds.broadcast %{{.*}}[%{{.*}}] : (tensor<768xf32>) -> tensor<1x?x768xf32>
  %0 = ds.broadcast %b [%n] : (tensor<768xf32>) -> tensor<1x?x768xf32>
  // CHECK: ds.matmul %{{.*}}, %{{.*}} : (tensor<1x12x?x64xf32>, tensor<1x12x64x?xf32>) -> tensor<1x12x?x?xf32>
  %1 = ds.matmul %q, %kt : (tensor<1x12x?x64xf32>, tensor<1x12x64x?xf32>) -> tensor<1x12x?x?xf32>
  // CHECK: ds.softmax %{{.*}} {axis = -1 : i64, log} : tensor<1x12x?x?xf32>
  %2 = ds.softmax %1 {axis = -1 : i64, log} : tensor<1x12x?x?xf32>
  // CHECK: ds.reduce mean %{{.*}} {axes = array<i64: 2>, keep_dims} : (tensor<1x?x768xf32>) -> tensor<1x?x1xf32>
  %3 = ds.reduce mean %x {axes = array<i64: 2>, keep_dims} : (tensor<1x?x768xf32>) -> tensor<1x?x1xf32>
  // CHECK: ds.gather %{{.*}}, %{{.*}} {axis = 0 : i64} : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  %4 = ds.gather %t, %ids {axis = 0 : i64} : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
  // CHECK: ds.trilu %{{.*}} {diagonal = 1 : i64, upper} : tensor<?x?xf32>
  %5 = ds.trilu %m {diagonal = 1 : i64, upper} : tensor<?x?xf32>
  // CHECK: ds.cumsum %{{.*}} {axis = 1 : i64, exclusive, reverse} : tensor<?x?xf32>
  %6 = ds.cumsum %m {axis = 1 : i64, exclusive, reverse} : tensor<?x?xf32>
  // CHECK: ds.sigmoid %{{.*}} : tensor<1x?x768xf32>
  %7 = ds.sigmoid %x : tensor<1x?x768xf32>
  return %0, %2, %3, %4, %5, %6, %7 : tensor<1x?x768xf32>, tensor<1x12x?x?xf32>, tensor<1x?x1xf32>, tensor<1x?x768xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<1x?x768xf32>
}

// CHECK-LABEL: func @gathers
func.func @gathers(%d: tensor<3x4xf32>, %i: tensor<3x2xi64>, %nd: tensor<5x2xi64>) -> (tensor<3x2xf32>, tensor<5xf32>) {
  // CHECK: ds.gather_elements %{{.*}}, %{{.*}} {axis = 1 : i64}
  %0 = ds.gather_elements %d, %i {axis = 1 : i64} : (tensor<3x4xf32>, tensor<3x2xi64>) -> tensor<3x2xf32>
  // CHECK: ds.gather_nd %{{.*}}, %{{.*}} : (tensor<3x4xf32>, tensor<5x2xi64>) -> tensor<5xf32>
  %1 = ds.gather_nd %d, %nd : (tensor<3x4xf32>, tensor<5x2xi64>) -> tensor<5xf32>
  return %0, %1 : tensor<3x2xf32>, tensor<5xf32>
}

// Rotary tables from positions, with and without attention_scaling.
// CHECK-LABEL: func @rope_table
func.func @rope_table(%p: tensor<1x?xi64>, %b: tensor<2x8xi32>, %f: tensor<32xf32>) -> (tensor<1x?x32xf16>, tensor<2x8x32xf32>) {
  // CHECK: ds.rope_table %{{.*}}, %{{.*}} : (tensor<1x?xi64>, tensor<32xf32>) -> (tensor<1x?x32xf16>, tensor<1x?x32xf16>)
  %c, %s = ds.rope_table %p, %f : (tensor<1x?xi64>, tensor<32xf32>) -> (tensor<1x?x32xf16>, tensor<1x?x32xf16>)
  // CHECK: ds.rope_table %{{.*}}, %{{.*}} {attention_scaling = 1.250000e+00 : f32} : (tensor<2x8xi32>, tensor<32xf32>) -> (tensor<2x8x32xf32>, tensor<2x8x32xf32>)
  %c2, %s2 = ds.rope_table %b, %f {attention_scaling = 1.25 : f32} : (tensor<2x8xi32>, tensor<32xf32>) -> (tensor<2x8x32xf32>, tensor<2x8x32xf32>)
  return %c, %c2 : tensor<1x?x32xf16>, tensor<2x8x32xf32>
}
