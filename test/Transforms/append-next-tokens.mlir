// RUN: ds-opt %s -split-input-file -ds-append-next-tokens -verify-diagnostics | FileCheck %s

// A vocabulary of 50257 = 29 x 1733 is reduced in two stages: chunks of
// 1733 logits, then the 29 chunk winners. next_tokens is result 1, named
// after the logits; the cache result keeps its attribute.

// CHECK-LABEL: func.func @decode
// CHECK-SAME: -> (tensor<?x1x50257xbf16>, tensor<?x1xi64>, tensor<?x2x?x4xf32> {ds.cache_result = "k"})
// CHECK-SAME: ds.output_names = ["logits", "next_tokens"]
// CHECK: %[[X:.*]] = tensor.expand_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] output_shape [%{{.*}}, 1, 29, 1733] : tensor<?x1x50257xbf16> into tensor<?x1x29x1733xbf16>
// CHECK-DAG: %[[NAN:.*]] = arith.constant 0x7FC00000 : f32
// CHECK-DAG: %[[ZERO:.*]] = arith.constant 0 : i64
// CHECK: %[[V1:.*]] = linalg.fill ins(%[[NAN]] : f32) outs(%{{.*}} : tensor<?x1x29xf32>)
// CHECK: %[[I1:.*]] = linalg.fill ins(%[[ZERO]] : i64) outs(%{{.*}} : tensor<?x1x29xi64>)
// CHECK: %[[S1:.*]]:2 = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%[[X]] : tensor<?x1x29x1733xbf16>) outs(%[[V1]], %[[I1]] : tensor<?x1x29xf32>, tensor<?x1x29xi64>)
// CHECK: ^bb0(%[[IN:.*]]: bf16, %[[CV:.*]]: f32, %[[CI:.*]]: i64):
// CHECK:   %[[C:.*]] = linalg.index 2 : index
// CHECK:   %[[L:.*]] = linalg.index 3 : index
// CHECK:   %[[MUL:.*]] = arith.muli %[[C]], %{{.*}} : index
// CHECK:   %[[FLAT:.*]] = arith.addi %[[MUL]], %[[L]] : index
// CHECK:   %[[IDX:.*]] = arith.index_cast %[[FLAT]] : index to i64
// CHECK:   %[[V:.*]] = arith.extf %[[IN]] : bf16 to f32
// CHECK:   %[[CURNAN:.*]] = arith.cmpf uno, %[[CV]], %[[CV]] : f32
// CHECK:   %[[ORD:.*]] = arith.cmpf ord, %[[V]], %[[V]] : f32
// CHECK:   %[[REPL:.*]] = arith.andi %[[CURNAN]], %[[ORD]] : i1
// CHECK:   %[[GT:.*]] = arith.cmpf ogt, %[[V]], %[[CV]] : f32
// CHECK:   %[[EQ:.*]] = arith.cmpf oeq, %[[V]], %[[CV]] : f32
// CHECK:   %[[LT:.*]] = arith.cmpi slt, %[[IDX]], %[[CI]] : i64
// CHECK:   %[[TIE:.*]] = arith.andi %[[EQ]], %[[LT]] : i1
// CHECK:   %[[OR:.*]] = arith.ori %[[REPL]], %[[GT]] : i1
// CHECK:   %[[BETTER:.*]] = arith.ori %[[OR]], %[[TIE]] : i1
// CHECK:   %[[SV:.*]] = arith.select %[[BETTER]], %[[V]], %[[CV]] : f32
// CHECK:   %[[SI:.*]] = arith.select %[[BETTER]], %[[IDX]], %[[CI]] : i64
// CHECK:   linalg.yield %[[SV]], %[[SI]] : f32, i64
// CHECK: %[[V2:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%{{.*}} : tensor<?x1xf32>)
// CHECK: %[[I2:.*]] = linalg.fill ins(%{{.*}} : i64) outs(%{{.*}} : tensor<?x1xi64>)
// CHECK: %[[S2:.*]]:2 = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "reduction"]
// CHECK-SAME: ins(%[[S1]]#0, %[[S1]]#1 : tensor<?x1x29xf32>, tensor<?x1x29xi64>) outs(%[[V2]], %[[I2]] : tensor<?x1xf32>, tensor<?x1xi64>)
// CHECK: return %{{.*}}, %[[S2]]#1, %{{.*}} : tensor<?x1x50257xbf16>, tensor<?x1xi64>, tensor<?x2x?x4xf32>
func.func @decode(%logits: tensor<?x1x50257xbf16>, %k: tensor<?x2x?x4xf32>)
    -> (tensor<?x1x50257xbf16>, tensor<?x2x?x4xf32> {ds.cache_result = "k"})
    attributes {ds.output_names = ["logits"]} {
  return %logits, %k : tensor<?x1x50257xbf16>, tensor<?x2x?x4xf32>
}

// A vocabulary of at most 8192 is one stage, collapsed to [batch, seq];
// f32 logits need no extension. Other functions are left alone.

// CHECK-LABEL: func.func @prefill
// CHECK-SAME: -> (tensor<?x?x256xf32>, tensor<?x?xi64>)
// CHECK-SAME: ds.output_names = ["output0", "next_tokens"]
// CHECK: %[[S:.*]]:2 = linalg.generic
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK-SAME: outs(%{{.*}}, %{{.*}} : tensor<?x?x1xf32>, tensor<?x?x1xi64>)
// CHECK-NOT: arith.extf
// CHECK: linalg.yield
// CHECK: %[[C:.*]] = tensor.collapse_shape %[[S]]#1 {{\[\[}}0], [1, 2]] : tensor<?x?x1xi64> into tensor<?x?xi64>
// CHECK: return %{{.*}}, %[[C]]
// CHECK-LABEL: func.func @forward
// CHECK-SAME: -> tensor<?x?x256xf32>
// CHECK-NOT: linalg.generic

// -----

func.func @prefill(%logits: tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
  return %logits : tensor<?x?x256xf32>
}
func.func @forward(%logits: tensor<?x?x256xf32>) -> tensor<?x?x256xf32> {
  return %logits : tensor<?x?x256xf32>
}

// -----

// expected-error @below {{expected logits [batch, seq, vocab] of f16, bf16 or f32 with a static vocab as result 0, got 'tensor<?x256xf32>'}}
func.func @decode(%logits: tensor<?x256xf32>) -> tensor<?x256xf32> {
  return %logits : tensor<?x256xf32>
}

// -----

// expected-error @below {{a model output is already named 'next_tokens'}}
func.func @prefill(%logits: tensor<?x?x256xf32>) -> (tensor<?x?x256xf32>, tensor<2xf32>)
    attributes {ds.output_names = ["logits", "next_tokens"]} {
  %c = arith.constant dense<0.0> : tensor<2xf32>
  return %logits, %c : tensor<?x?x256xf32>, tensor<2xf32>
}

// -----

// expected-error @below {{expected logits [batch, seq, vocab] of f16, bf16 or f32 with a static vocab as result 0, got 'tensor<?x?x?xf32>'}}
func.func @prefill(%logits: tensor<?x?x?xf32>) -> tensor<?x?x?xf32> {
  return %logits : tensor<?x?x?xf32>
}

// -----

// expected-error @below {{expected a single return}}
func.func @decode(%logits: tensor<?x1x256xf32>, %c: i1) -> tensor<?x1x256xf32> {
  cf.cond_br %c, ^a, ^b
^a:
  return %logits : tensor<?x1x256xf32>
^b:
  return %logits : tensor<?x1x256xf32>
}
