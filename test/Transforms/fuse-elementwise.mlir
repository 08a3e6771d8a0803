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
