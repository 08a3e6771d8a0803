// ds-fold-norm-scale keeps linear(rms_norm(x, g), W): the same numbers
// with the scale in the weight (both layouts) as without the pass.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s
// RUN: ds-opt %s --ds-fold-norm-scale --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s
// RUN: ds-opt %s --ds-fold-norm-scale | FileCheck %s --check-prefix=IR

// Expected values: numpy float64, (x / sqrt(mean(x**2) + 1e-6) * g) @ W,
// x = round(sin(0.73*arange(10) + 0.3), 2) as 2x5, g = round(sin(0.73*
// arange(5) + 1.1) + 0.5, 2), W = round(sin(0.73*arange(20) + 2.0), 2) as
// 5x4 (its transpose for transpose_weight).

// IR-LABEL: func.func @kn
// IR: linalg.generic
// IR: ds.linear
func.func @kn(%x: tensor<?x5xf32>, %g: tensor<5xf32> {ds.weight = "g"},
              %w: tensor<5x4xf32> {ds.weight = "w"}) -> tensor<?x4xf32> {
  %n = ds.rms_norm %x, %g {epsilon = 1.0e-6 : f32} : (tensor<?x5xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %y = ds.linear %n, %w : (tensor<?x5xf32>, tensor<5x4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// IR-LABEL: func.func @nk
// IR: linalg.generic
// IR: ds.linear
func.func @nk(%x: tensor<?x5xf32>, %g: tensor<5xf32> {ds.weight = "g"},
              %w: tensor<4x5xf32> {ds.weight = "w"}) -> tensor<?x4xf32> {
  %e = tensor.empty() : tensor<4x5xf32>
  %c = linalg.copy ins(%w : tensor<4x5xf32>) outs(%e : tensor<4x5xf32>) -> tensor<4x5xf32>
  %n = ds.rms_norm %x, %g {epsilon = 1.0e-6 : f32} : (tensor<?x5xf32>, tensor<5xf32>) -> tensor<?x5xf32>
  %y = ds.linear %n, %c {transpose_weight} : (tensor<?x5xf32>, tensor<4x5xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @main() {
  %x = arith.constant dense<[[0.3, 0.86, 0.98, 0.61, -0.08], [-0.72, -1.0, -0.77, -0.14, 0.55]]> : tensor<2x5xf32>
  %g = arith.constant dense<[1.39, 1.47, 1.05, 0.35, -0.27]> : tensor<5xf32>
  %w = arith.constant dense<[[0.91, 0.4, -0.31, -0.87], [-0.98, -0.59, 0.1, 0.74], [1.0, 0.75, 0.12, -0.57], [-0.97, -0.88, -0.34, 0.37], [0.9, 0.96, 0.54, -0.16]]> : tensor<5x4xf32>
  %wt = arith.constant dense<[[0.91, -0.98, 1.0, -0.97, 0.9], [0.4, -0.59, 0.75, -0.88, 0.96], [-0.31, 0.1, 0.12, -0.34, 0.54], [-0.87, 0.74, -0.57, 0.37, -0.16]]> : tensor<4x5xf32>
  %xd = tensor.cast %x : tensor<2x5xf32> to tensor<?x5xf32>

  // CHECK-LABEL: sizes = [2, 4]
  // CHECK-NEXT: {{\[\[}}-0.0274{{[89][0-9]*}}, 0.03876{{[0-9]*}}, 0.09065{{[0-9]*}}, 0.09373{{[0-9]*}}],
  // CHECK-NEXT: {{\[}}-0.52284{{[0-9]*}}, -0.34235{{[0-9]*}}, 0.00386{{[0-9]*}}, 0.35745{{[0-9]*}}]]
  %a = call @kn(%xd, %g, %w) : (tensor<?x5xf32>, tensor<5xf32>, tensor<5x4xf32>) -> tensor<?x4xf32>
  %au = tensor.cast %a : tensor<?x4xf32> to tensor<*xf32>
  call @printMemrefF32(%au) : (tensor<*xf32>) -> ()

  // CHECK-LABEL: sizes = [2, 4]
  // CHECK-NEXT: {{\[\[}}-0.0274{{[89][0-9]*}}, 0.03876{{[0-9]*}}, 0.09065{{[0-9]*}}, 0.09373{{[0-9]*}}],
  // CHECK-NEXT: {{\[}}-0.52284{{[0-9]*}}, -0.34235{{[0-9]*}}, 0.00386{{[0-9]*}}, 0.35745{{[0-9]*}}]]
  %b = call @nk(%xd, %g, %wt) : (tensor<?x5xf32>, tensor<5xf32>, tensor<4x5xf32>) -> tensor<?x4xf32>
  %bu = tensor.cast %b : tensor<?x4xf32> to tensor<*xf32>
  call @printMemrefF32(%bu) : (tensor<*xf32>) -> ()
  return
}
