// RUN: ds-opt %s --split-input-file --ds-fuse-elementwise | FileCheck %s

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#bc = affine_map<(d0, d1, d2) -> (d2)>

// An RMSNorm weight broadcast that the next op also used as its (unread)
// init: the init becomes a tensor.empty and the broadcast fuses, so it is
// not materialised per token.
// CHECK-LABEL: func.func @broadcast_into_unread_init
// CHECK-COUNT-1: linalg.generic
// CHECK-NOT: linalg.generic
func.func @broadcast_into_unread_init(%w: tensor<2048xbf16>, %x: tensor<?x1x2048xbf16>,
                                      %n: index) -> tensor<?x1x2048xbf16> {
  %e = tensor.empty(%n) : tensor<?x1x2048xbf16>
  %b = linalg.generic {indexing_maps = [#bc, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%w : tensor<2048xbf16>) outs(%e : tensor<?x1x2048xbf16>) {
  ^bb0(%in: bf16, %out: bf16):
    linalg.yield %in : bf16
  } -> tensor<?x1x2048xbf16>
  %r = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%b, %x : tensor<?x1x2048xbf16>, tensor<?x1x2048xbf16>) outs(%b : tensor<?x1x2048xbf16>) {
  ^bb0(%in: bf16, %in2: bf16, %out: bf16):
    %m = arith.mulf %in, %in2 : bf16
    linalg.yield %m : bf16
  } -> tensor<?x1x2048xbf16>
  return %r : tensor<?x1x2048xbf16>
}

// -----

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// A linear layer's matmul keeps its [M, K] operand: the elementwise
// producer's reshape is not folded into the contraction (upstream would
// turn the matmul into a generic over [B, S, N, K]).
// CHECK-LABEL: func.func @matmul_stays
// CHECK: tensor.collapse_shape
// CHECK: linalg.matmul
func.func @matmul_stays(%x: tensor<?x?x64xf32>, %w: tensor<64x128xf32>,
                        %acc: tensor<?x128xf32>) -> tensor<?x128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %b = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %s = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %e = tensor.empty(%b, %s) : tensor<?x?x64xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x : tensor<?x?x64xf32>) outs(%e : tensor<?x?x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.mulf %in, %in : f32
    linalg.yield %m : f32
  } -> tensor<?x?x64xf32>
  %c = tensor.collapse_shape %r [[0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
  %y = linalg.matmul ins(%c, %w : tensor<?x64xf32>, tensor<64x128xf32>)
                     outs(%acc : tensor<?x128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}

// -----

// RMSNorm's input cast, read by the sum and by the normalisation: an exact
// widening cast fuses into both users (no f32 copy of the row, no kernel).
// Other producers with two users stay (here a narrowing cast): only an
// extf is known to be cheap and exact to recompute.
#id2 = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @widening_cast_two_users
// CHECK-SAME: (%[[X:.+]]: tensor<4x2048xbf16>
// CHECK-NOT: linalg.generic {{.*}} ins(%[[X]] : tensor<4x2048xbf16>) outs(%{{.+}} : tensor<4x2048xf32>)
// CHECK: %[[SUM:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "reduction"]{{.*}} ins(%[[X]] : tensor<4x2048xbf16>)
// CHECK: arith.extf
// CHECK: linalg.generic {{.*}} ins(%[[X]], %[[SUM]] : tensor<4x2048xbf16>, tensor<4xf32>)
// CHECK: arith.extf
// The narrowing cast keeps its own op.
// CHECK: arith.truncf
// CHECK: return
func.func @widening_cast_two_users(%x: tensor<4x2048xbf16>, %y: tensor<4x8xf32>) -> (tensor<4x2048xf32>, tensor<4x8xf32>, tensor<4x8xf32>) {
  %e = tensor.empty() : tensor<4x2048xf32>
  %wide = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<4x2048xbf16>) outs(%e : tensor<4x2048xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %w = arith.extf %a : bf16 to f32
    linalg.yield %w : f32
  } -> tensor<4x2048xf32>
  %zero = arith.constant 0.0 : f32
  %s0 = tensor.empty() : tensor<4xf32>
  %s1 = linalg.fill ins(%zero : f32) outs(%s0 : tensor<4xf32>) -> tensor<4xf32>
  %sum = linalg.generic {indexing_maps = [#id2, #row], iterator_types = ["parallel", "reduction"]} ins(%wide : tensor<4x2048xf32>) outs(%s1 : tensor<4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %m = arith.mulf %a, %a : f32
    %r = arith.addf %m, %acc : f32
    linalg.yield %r : f32
  } -> tensor<4xf32>
  %n = linalg.generic {indexing_maps = [#id2, #row, #id2], iterator_types = ["parallel", "parallel"]} ins(%wide, %sum : tensor<4x2048xf32>, tensor<4xf32>) outs(%e : tensor<4x2048xf32>) {
  ^bb0(%a: f32, %s: f32, %o: f32):
    %r = arith.mulf %a, %s : f32
    linalg.yield %r : f32
  } -> tensor<4x2048xf32>
  %e2 = tensor.empty() : tensor<4x8xbf16>
  %narrow = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<4x8xf32>) outs(%e2 : tensor<4x8xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  } -> tensor<4x8xbf16>
  %e3 = tensor.empty() : tensor<4x8xf32>
  %u1 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%narrow : tensor<4x8xbf16>) outs(%e3 : tensor<4x8xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %w = arith.extf %a : bf16 to f32
    %r = arith.addf %w, %w : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  %u2 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%narrow : tensor<4x8xbf16>) outs(%e3 : tensor<4x8xf32>) {
  ^bb0(%a: bf16, %o: f32):
    %w = arith.extf %a : bf16 to f32
    %r = arith.mulf %w, %w : f32
    linalg.yield %r : f32
  } -> tensor<4x8xf32>
  return %n, %u1, %u2 : tensor<4x2048xf32>, tensor<4x8xf32>, tensor<4x8xf32>
}
