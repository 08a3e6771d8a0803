// ds-opt's pipeline takes the CUDA target: its lower phase stores a
// [K, N] linear weight as [N, K] (a transpose hoisted into @prepare) and
// keeps the matmul whole; the CPU target does neither. An unknown target
// is reported.
// RUN: ds-opt %s --ds-compile-pipeline="from=lower to=lower target=cuda cuda-arch=sm_90a" | FileCheck %s --check-prefix=CUDA
// RUN: ds-opt %s --ds-compile-pipeline="from=lower to=lower" | FileCheck %s --check-prefix=CPU
// RUN: ds-opt %s --ds-compile-pipeline="from=lower to=lower target=gpu" 2>&1 | FileCheck %s --check-prefix=BAD
// CUDA-LABEL: func.func @forward
// CUDA: linalg.matmul indexing_maps = [#{{.+}}, #{{.+}}, #{{.+}}] ins(%{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<128x64xf32>)
// CUDA-LABEL: func.func @prepare
// CUDA: linalg.transpose {{.*}} permutation = [1, 0]
// CPU-NOT: linalg.transpose
// CPU: linalg.matmul ins(%{{.+}}, %{{.+}} : tensor<?x64xf32>, tensor<64x128xf32>)
// BAD: error: ds-compile-pipeline: invalid target 'gpu' (cpu or cuda)
func.func @forward(%w: tensor<64x128xf32> {ds.weight = "w"},
                   %x: tensor<?x64xf32> {ds.input = "x"}) -> tensor<?x128xf32>
    attributes {ds.output_names = ["y"]} {
  %y = ds.linear %x, %w : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  return %y : tensor<?x128xf32>
}
