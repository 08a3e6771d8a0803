// The CUDA target's fusion phase moves an RMSNorm's scale into the weights
// of the linears it feeds (ds-fold-norm-scale); the CPU target keeps it in
// the norm.
// RUN: ds-opt %s --ds-compile-pipeline="from=fusion to=fusion target=cuda" | FileCheck %s --check-prefix=CUDA
// RUN: ds-opt %s --ds-compile-pipeline="from=fusion to=fusion" | FileCheck %s --check-prefix=CPU
// CUDA-LABEL: func.func @forward
// CUDA: %[[ONE:.+]] = arith.constant dense<1.000000e+00> : tensor<64xf32>
// CUDA: ds.rms_norm %{{.+}}, %[[ONE]]
// CUDA: %[[S:.+]] = linalg.generic
// CUDA: ds.linear %{{.+}}, %[[S]]
// CPU-LABEL: func.func @forward
// CPU-NOT: linalg.generic
// CPU: ds.rms_norm %{{.+}}, %arg0
func.func @forward(%g: tensor<64xf32> {ds.weight = "norm.weight"},
                   %w: tensor<64x128xf32> {ds.weight = "w"},
                   %x: tensor<?x64xf32> {ds.input = "x"}) -> tensor<?x128xf32>
    attributes {ds.output_names = ["y"]} {
  %n = ds.rms_norm %x, %g : (tensor<?x64xf32>, tensor<64xf32>) -> tensor<?x64xf32>
  %y = ds.linear %n, %w : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
