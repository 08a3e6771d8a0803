// RUN: ds-opt %s --split-input-file --ds-split-reductions | FileCheck %s

// A long product of two activations: the 2048-long reduction becomes 32
// parallel partial reductions of 64 elements, then a reduction of the
// partials.
// CHECK-LABEL: func.func @gemv
// CHECK: tensor.expand_shape %{{.+}} {{\[\[}}0], [1, 2]] output_shape [1, 32, 64] : tensor<1x2048xf32> into tensor<1x32x64xf32>
// CHECK: tensor.expand_shape %{{.+}} {{\[\[}}0, 1], [2]] output_shape [32, 64, 64] : tensor<2048x64xf32> into tensor<32x64x64xf32>
// CHECK: %[[PARTIAL:.+]] = linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel", "reduction"]{{.*}} outs(%{{.+}} : tensor<32x1x64xf32>)
// The combining reduction is innermost, so its loops are parallel over the
// outputs with a short sequential loop inside.
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]{{.*}} ins(%[[PARTIAL]] : tensor<32x1x64xf32>) outs(%{{.+}} : tensor<1x64xf32>)
func.func @gemv(%x: tensor<1x2048xf32>, %h: tensor<2048x64xf32>) -> tensor<1x64xf32> {
  %w = arith.addf %h, %h : tensor<2048x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64xf32>
  %o = linalg.fill ins(%zero : f32) outs(%e : tensor<1x64xf32>) -> tensor<1x64xf32>
  %r = linalg.matmul ins(%x, %w : tensor<1x2048xf32>, tensor<2048x64xf32>)
                     outs(%o : tensor<1x64xf32>) -> tensor<1x64xf32>
  return %r : tensor<1x64xf32>
}

// -----

// Short reductions and reductions with a dynamic extent stay as they are.
// CHECK-LABEL: func.func @short
// CHECK-NOT: tensor.expand_shape
// CHECK: linalg.matmul
// CHECK: linalg.matmul
func.func @short(%x: tensor<1x256xf32>, %w: tensor<256x64xf32>,
                 %a: tensor<1x?xf32>, %b: tensor<?x64xf32>)
    -> (tensor<1x64xf32>, tensor<1x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x64xf32>
  %o = linalg.fill ins(%zero : f32) outs(%e : tensor<1x64xf32>) -> tensor<1x64xf32>
  %r = linalg.matmul ins(%x, %w : tensor<1x256xf32>, tensor<256x64xf32>)
                     outs(%o : tensor<1x64xf32>) -> tensor<1x64xf32>
  %s = linalg.matmul ins(%a, %b : tensor<1x?xf32>, tensor<?x64xf32>)
                     outs(%o : tensor<1x64xf32>) -> tensor<1x64xf32>
  return %r, %s : tensor<1x64xf32>, tensor<1x64xf32>
}

// -----

// In @decode a dynamic row count is the batch: split, the partials taking
// their dynamic size from the output. Elsewhere (prefill: batch x
// sequence rows) it is not split.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: %[[OUT:[a-z0-9]+]]: tensor<?x64xf32>)
// CHECK: %[[M:.+]] = tensor.dim %[[OUT]], %{{.+}} : tensor<?x64xf32>
// CHECK: tensor.empty(%[[M]]) : tensor<32x?x64xf32>
// CHECK: linalg.generic {{.*}}outs(%{{.+}} : tensor<32x?x64xf32>)
// CHECK: linalg.generic {{.*}}outs(%[[OUT]] : tensor<?x64xf32>)
func.func @decode(%m: tensor<?x2048xf32>, %h: tensor<2048x64xf32>,
                  %mo: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %v = arith.addf %h, %h : tensor<2048x64xf32>
  %t = linalg.matmul ins(%m, %v : tensor<?x2048xf32>, tensor<2048x64xf32>)
                     outs(%mo : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %t : tensor<?x64xf32>
}

// -----

// CHECK-LABEL: func.func @prefill
// CHECK-NOT: tensor.expand_shape
// CHECK: linalg.matmul
func.func @prefill(%m: tensor<?x2048xf32>, %h: tensor<2048x64xf32>,
                   %mo: tensor<?x64xf32>) -> tensor<?x64xf32> {
  %v = arith.addf %h, %h : tensor<2048x64xf32>
  %t = linalg.matmul ins(%m, %v : tensor<?x2048xf32>, tensor<2048x64xf32>)
                     outs(%mo : tensor<?x64xf32>) -> tensor<?x64xf32>
  return %t : tensor<?x64xf32>
}

// -----

// A linear layer's matmul (the right operand a weight argument) is left to
// the GEMV kernels, which split K across the lanes of a warp.
// CHECK-LABEL: func.func @linear
// CHECK-NOT: tensor.expand_shape
// CHECK: linalg.matmul
func.func @linear(%x: tensor<1x2048xf32>, %w: tensor<2048x64xf32>,
                  %o: tensor<1x64xf32>) -> tensor<1x64xf32> {
  %r = linalg.matmul ins(%x, %w : tensor<1x2048xf32>, tensor<2048x64xf32>)
                     outs(%o : tensor<1x64xf32>) -> tensor<1x64xf32>
  return %r : tensor<1x64xf32>
}
