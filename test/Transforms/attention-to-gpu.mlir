// RUN: ds-opt %s --split-input-file --ds-attention-to-gpu --ds-record-alternative-launches --cse --verify-diagnostics | FileCheck %s

// Causal GQA over a cache (8 query heads on 2 KV heads, G = 4), query
// length known only at run time: both variants, the host picking by the
// row count S * G.
// CHECK-LABEL: func.func @gqa_dynamic
// CHECK-SAME: (%[[Q:.+]]: memref<?x8x?x64xbf16>, %[[K:.+]]: memref<?x2x?x64xbf16>, %[[V:.+]]: memref<?x2x?x64xbf16>, %[[N:.+]]: memref<?xi64>, %[[O:.+]]: memref<?x8x?x64xbf16>)
// One of the two launches runs per call (for ds-compile's statistics):
// CHECK-SAME: ds.alternative_launches = 1 : i64
// CHECK-NOT: ds.fused_attention
// CHECK-DAG: %[[B:.+]] = memref.dim %[[Q]], %c0
// CHECK-DAG: %[[S:.+]] = memref.dim %[[Q]], %c2
// CHECK-DAG: %[[T:.+]] = memref.dim %[[K]], %c2
// CHECK: %[[ROWS:.+]] = arith.muli %[[S]], %c4
// Nothing to do for an empty batch or query (no empty grid is launched).
// CHECK: scf.if
// One position's 4 rows (decode) fit one warp of 8 lanes a row.
// CHECK: %[[FEW:.+]] = arith.cmpi sle, %[[ROWS]], %c4
// CHECK: scf.if %[[FEW]] {
// Decode: one block per (sequence, KV head); 16 warps split the keys and
// meet in shared memory: 16 warps x 4 rows x (64 accumulators, m, l).
// CHECK: %[[BH:.+]] = arith.muli %[[B]], %c2
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %{{.+}}, {{.*}} = %[[BH]], {{.*}}) threads({{.*}}) in ({{.*}} = %c512, {{.*}}) function(@flash_decode_h8_d64) workgroup(%[[P:.+]] : memref<4224xf32, #gpu.address_space<workgroup>>)
// The sequence's valid keys, clamped to the cache.
// CHECK: memref.load %[[N]]
// CHECK: arith.index_cast
// The lane's 8 query elements: one aligned 16-byte load.
// CHECK: vector.load %[[Q]]{{.*}} {alignment = 16 : i64} : memref<?x8x?x64xbf16>, vector<8xbf16>
// Key steps of 4, warp w taking steps w, w + 16, ...; the step's 4 K rows
// and 4 V rows are loaded before any is used (decode is latency-bound).
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c16 iter_args
// CHECK-COUNT-4: vector.load %[[K]]{{.*}} {alignment = 16 : i64} : memref<?x2x?x64xbf16>, vector<8xbf16>
// CHECK-COUNT-4: vector.load %[[V]]{{.*}} {alignment = 16 : i64} : memref<?x2x?x64xbf16>, vector<8xbf16>
// A row's 8 lanes sum their partial dot products.
// CHECK: gpu.shuffle xor %{{.+}}, %c1_i32, %c32_i32
// CHECK: gpu.shuffle xor %{{.+}}, %c2_i32, %c32_i32
// CHECK: gpu.shuffle xor %{{.+}}, %c4_i32, %c32_i32
// CHECK-NOT: gpu.shuffle xor %{{.+}}, %c8_i32
// Keys past the row's limit score -inf; one rescale per 4 keys.
// CHECK: arith.select %{{.+}}, %{{.+}}, %cst
// CHECK: arith.maximumf
// CHECK: math.exp
// CHECK: math.fma
// CHECK: scf.yield
// CHECK: memref.store {{.*}}, %[[P]]
// CHECK: gpu.barrier
// CHECK: memref.load %[[P]]
// CHECK: scf.if
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: memref.store {{.*}}, %[[O]]
// CHECK: ds.tile = #ds.tile<sizes = [4, 4], warps = 16, stages = 1>
// CHECK: } else {
// Prefill: 8 rows a warp (4 lanes of 16 elements each), 4 warps on
// different rows, ceil(S * G / 32) x B * 2 blocks; no shared memory.
// CHECK: %[[TILES:.+]] = arith.ceildivsi %[[ROWS]], %c32
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[TILES]], {{.*}} = %[[BH]], {{.*}}) threads({{.*}}) in ({{.*}} = %c128, {{.*}}) function(@flash_attention_h8_d64) {
// CHECK-NOT: gpu.barrier
// CHECK: scf.for %{{.+}} = %{{.+}} to %{{.+}} step %c1 iter_args
// A lane's 16 elements of each of the step's 4 K rows and 4 V rows: two
// 16-byte loads each, all issued before the dot products.
// CHECK-COUNT-8: vector.load %[[K]]{{.*}} {alignment = 16 : i64} : memref<?x2x?x64xbf16>, vector<8xbf16>
// CHECK-COUNT-8: vector.load %[[V]]{{.*}} {alignment = 16 : i64} : memref<?x2x?x64xbf16>, vector<8xbf16>
// CHECK: gpu.shuffle xor %{{.+}}, %c1_i32, %c32_i32
// CHECK: gpu.shuffle xor %{{.+}}, %c2_i32, %c32_i32
// CHECK-NOT: gpu.shuffle xor %{{.+}}, %c4_i32
// CHECK: math.exp
// CHECK: ds.tile = #ds.tile<sizes = [32, 4], warps = 4, stages = 1>
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @gqa_dynamic(%q: memref<?x8x?x64xbf16>, %k: memref<?x2x?x64xbf16>, %v: memref<?x2x?x64xbf16>, %n: memref<?xi64>, %o: memref<?x8x?x64xbf16>) {
  ds.fused_attention %q, %k, %v kv_length(%n) outs(%o) {causal, scale = 0.125 : f32} : (memref<?x8x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?x2x?x64xbf16>, memref<?xi64>, memref<?x8x?x64xbf16>) -> ()
  return
}

// -----

// A static single position with one head a KV head (GPT-2 decode): only
// the decode variant, a whole warp on the one row (2 elements a lane, 5
// shuffle steps), no kv_length (all 16 keys) and no causality.
// CHECK-LABEL: func.func @mha_decode
// CHECK-NOT: ds.alternative_launches
// CHECK: function(@flash_decode_h12_d64)
// CHECK-NOT: memref.load %{{.+}}[%{{.+}}] : memref<?xi64>
// CHECK: vector.load {{.*}} : memref<2x12x16x64xf32>, vector<2xf32>
// CHECK: gpu.shuffle xor %{{.+}}, %c16_i32, %c32_i32
// CHECK-NOT: function(@flash_attention
// CHECK: return
func.func @mha_decode(%q: memref<2x12x1x64xf32>, %k: memref<2x12x16x64xf32>, %o: memref<2x12x1x64xf32>) {
  ds.fused_attention %q, %k, %k outs(%o) {scale = 0.125 : f32} : (memref<2x12x1x64xf32>, memref<2x12x16x64xf32>, memref<2x12x16x64xf32>, memref<2x12x1x64xf32>) -> ()
  return
}

// -----

// A query that is a transposed view (unit stride not in its last
// dimension) is read element by element; a static length over one warp's
// rows takes only the prefill variant.
// CHECK-LABEL: func.func @strided_query
// CHECK: function(@flash_attention_h4_d16)
// CHECK: memref.load %{{.+}} : memref<1x4x16x16xf32, strided<[1024, 1, 64, 4]>>
// CHECK-NOT: vector.load %{{.+}} : memref<1x4x16x16xf32, strided
// CHECK-NOT: function(@flash_decode
func.func @strided_query(%q: memref<1x4x16x16xf32, strided<[1024, 1, 64, 4]>>, %k: memref<1x4x16x16xf32>, %o: memref<1x4x16x16xf32>) {
  ds.fused_attention %q, %k, %k outs(%o) {causal, scale = 0.25 : f32} : (memref<1x4x16x16xf32, strided<[1024, 1, 64, 4]>>, memref<1x4x16x16xf32>, memref<1x4x16x16xf32>, memref<1x4x16x16xf32>) -> ()
  return
}

// -----

func.func @tensor_form(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x5x16xf32>, %o: tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{expected the buffer form (run after bufferization)}}
  %0 = ds.fused_attention %q, %k, %k outs(%o) {scale = 0.25 : f32} : (tensor<1x4x3x16xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32>
  return %0 : tensor<1x4x3x16xf32>
}

// -----

// The kernel's lane split needs the head counts and sizes at compile time
// (ds-form-fused-attention only forms the op then).
func.func @dynamic_heads(%q: memref<1x?x3x16xf32>, %k: memref<1x?x5x16xf32>, %o: memref<1x?x3x16xf32>) {
  // expected-error @+1 {{expected static head counts and head sizes}}
  ds.fused_attention %q, %k, %k outs(%o) {scale = 0.25 : f32} : (memref<1x?x3x16xf32>, memref<1x?x5x16xf32>, memref<1x?x5x16xf32>, memref<1x?x3x16xf32>) -> ()
  return
}
