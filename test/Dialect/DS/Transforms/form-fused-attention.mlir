// RUN: ds-opt %s --ds-form-fused-attention | FileCheck %s
// RUN: ds-opt %s --ds-form-fused-attention="remarks=true" -verify-diagnostics -o /dev/null
// RUN: ds-opt %s --ds-form-fused-attention --ds-lower-to-linalg \
// RUN:   --one-shot-bufferize="bufferize-function-boundaries" | FileCheck %s --check-prefix=BUF

// Causal grouped-query attention over a cache: kept whole, its result
// allocated by a tensor.empty sized like the query (Dv from the value).
// CHECK-LABEL: func @gqa_cache
// CHECK-SAME: (%[[Q:.*]]: tensor<?x8x?x64xbf16>, %[[K:.*]]: tensor<?x2x?x64xbf16>, %[[V:.*]]: tensor<?x2x?x32xbf16>, %[[N:.*]]: tensor<?xi64>)
// CHECK-DAG: %[[B:.*]] = tensor.dim %[[Q]], %c0
// CHECK-DAG: %[[S:.*]] = tensor.dim %[[Q]], %c2
// CHECK: %[[INIT:.*]] = tensor.empty(%[[B]], %[[S]]) : tensor<?x8x?x32xbf16>
// CHECK: %[[O:.*]] = ds.fused_attention %[[Q]], %[[K]], %[[V]] kv_length(%[[N]]) outs(%[[INIT]]) {causal, scale = 1.250000e-01 : f32}
// CHECK-NOT: ds.attention
// CHECK: return %[[O]]
// BUF-LABEL: func @gqa_cache
// BUF-SAME: (%[[Q:.*]]: memref<?x8x?x64xbf16{{.*}}>, %[[K:.*]]: memref<?x2x?x64xbf16{{.*}}>, %[[V:.*]]: memref<?x2x?x32xbf16{{.*}}>, %[[N:.*]]: memref<?xi64{{.*}}>)
// BUF: %[[ALLOC:.*]] = memref.alloc(%{{.*}}, %{{.*}}) {{.*}} : memref<?x8x?x32xbf16>
// BUF: ds.fused_attention %[[Q]], %[[K]], %[[V]] kv_length(%[[N]]) outs(%[[ALLOC]]) {causal, scale = 1.250000e-01 : f32} : ({{.*}}) -> ()
// BUF: return %[[ALLOC]]
func.func @gqa_cache(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %v: tensor<?x2x?x32xbf16>, %n: tensor<?xi64>) -> tensor<?x8x?x32xbf16> {
  %0 = ds.attention %q, %k, %v kv_length(%n) {causal} : (tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x32xbf16>, tensor<?xi64>) -> tensor<?x8x?x32xbf16>
  return %0 : tensor<?x8x?x32xbf16>
}

// An explicit scale is kept; f32 is fused too.
// CHECK-LABEL: func @scaled
// CHECK: ds.fused_attention {{.*}} {scale = 5.000000e-01 : f32} : (tensor<1x4x3x16xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32>
func.func @scaled(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x5x16xf32>) -> tensor<1x4x3x16xf32> {
  %0 = ds.attention %q, %k, %k {scale = 0.5 : f32} : (tensor<1x4x3x16xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>) -> tensor<1x4x3x16xf32>
  return %0 : tensor<1x4x3x16xf32>
}

// Left to the decomposition: a mask, dynamic heads, a dynamic head size.
// CHECK-LABEL: func @refused
// CHECK-COUNT-3: ds.attention
// CHECK-NOT: ds.fused_attention
// BUF-LABEL: func @refused
// BUF-NOT: ds.fused_attention
// BUF: return
func.func @refused(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x5x16xf32>, %m: tensor<3x5xi1>, %qd: tensor<1x?x3x16xf32>, %kd: tensor<1x?x5x16xf32>, %qs: tensor<1x4x3x?xf32>, %ks: tensor<1x4x5x?xf32>) -> (tensor<1x4x3x16xf32>, tensor<1x?x3x16xf32>, tensor<1x4x3x?xf32>) {
  // expected-remark @+1 {{attention not fused into one kernel: an explicit mask}}
  %0 = ds.attention %q, %k, %k mask(%m) : (tensor<1x4x3x16xf32>, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>, tensor<3x5xi1>) -> tensor<1x4x3x16xf32>
  // expected-remark @+1 {{attention not fused into one kernel: a dynamic number of heads}}
  %1 = ds.attention %qd, %kd, %kd : (tensor<1x?x3x16xf32>, tensor<1x?x5x16xf32>, tensor<1x?x5x16xf32>) -> tensor<1x?x3x16xf32>
  // expected-remark @+1 {{attention not fused into one kernel: a dynamic head size}}
  %2 = ds.attention %qs, %ks, %ks {scale = 0.25 : f32} : (tensor<1x4x3x?xf32>, tensor<1x4x5x?xf32>, tensor<1x4x5x?xf32>) -> tensor<1x4x3x?xf32>
  return %0, %1, %2 : tensor<1x4x3x16xf32>, tensor<1x?x3x16xf32>, tensor<1x4x3x?xf32>
}
