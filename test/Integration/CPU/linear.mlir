// ds.linear on the CPU with every epilogue: none, bias + relu, transposed
// weight + bias + gelu + residual, gelu_tanh on a rank-3 input, silu on a
// rank-1 input, and f16 (f32 accumulation) with transposed weight, bias,
// silu and residual.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy float64, activation(x @ W + bias) + residual with
//   relu max(v, 0); gelu 0.5*v*(1+erf(v/sqrt(2))); gelu_tanh
//   0.5*v*(1+tanh(sqrt(2/pi)*(v+0.044715*v**3))); silu v/(1+exp(-v)).
// Inputs are round(sin(0.73*arange(n) + seed), 2); W is 5x4 (its transpose
// for transpose_weight). The f16 case rounds inputs and result to float16.

func.func @plain(%x: tensor<?x5xf32>, %w: tensor<5x4xf32>) -> tensor<?x4xf32> {
  %0 = ds.linear %x, %w : (tensor<?x5xf32>, tensor<5x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

func.func @bias_relu(%x: tensor<?x?xf32>, %w: tensor<?x?xf32>, %b: tensor<?xf32>) -> tensor<?x?xf32> {
  %0 = ds.linear %x, %w bias(%b) {activation = #ds<activation relu>} : (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

func.func @transposed_gelu_residual(%x: tensor<?x5xf32>, %w: tensor<4x5xf32>, %b: tensor<4xf32>, %r: tensor<?x4xf32>) -> tensor<?x4xf32> {
  %0 = ds.linear %x, %w bias(%b) residual(%r) {activation = #ds<activation gelu>, transpose_weight} : (tensor<?x5xf32>, tensor<4x5xf32>, tensor<4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  return %0 : tensor<?x4xf32>
}

func.func @rank3_gelu_tanh(%x: tensor<2x?x5xf32>, %w: tensor<5x4xf32>) -> tensor<2x?x4xf32> {
  %0 = ds.linear %x, %w {activation = #ds<activation gelu_tanh>} : (tensor<2x?x5xf32>, tensor<5x4xf32>) -> tensor<2x?x4xf32>
  return %0 : tensor<2x?x4xf32>
}

func.func @rank1_silu(%x: tensor<5xf32>, %w: tensor<5x4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %0 = ds.linear %x, %w bias(%b) {activation = #ds<activation silu>} : (tensor<5xf32>, tensor<5x4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %0 : tensor<4xf32>
}

func.func @f16_all(%x: tensor<2x?x5xf16>, %w: tensor<4x5xf16>, %b: tensor<4xf16>, %r: tensor<2x?x4xf16>) -> tensor<2x?x4xf16> {
  %0 = ds.linear %x, %w bias(%b) residual(%r) {activation = #ds<activation silu>, transpose_weight} : (tensor<2x?x5xf16>, tensor<4x5xf16>, tensor<4xf16>, tensor<2x?x4xf16>) -> tensor<2x?x4xf16>
  return %0 : tensor<2x?x4xf16>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print1(%t: tensor<?xf32>) {
  %u = tensor.cast %t : tensor<?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @print2(%t: tensor<?x?xf32>) {
  %u = tensor.cast %t : tensor<?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @print3(%t: tensor<2x?x4xf32>) {
  %m = tensor.collapse_shape %t [[0, 1], [2]] : tensor<2x?x4xf32> into tensor<?x4xf32>
  %u = tensor.cast %m : tensor<?x4xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %x = arith.constant dense<[[[0.56, 0.97, 0.88, 0.34, -0.37], [-0.89, -0.96, -0.54, 0.16, 0.78], [1.0, 0.71, 0.06, -0.62, -0.98]], [[-0.85, -0.28, 0.43, 0.92, 0.95], [0.49, -0.22, -0.81, -0.99, -0.67], [0.0, 0.67, 0.99, 0.81, 0.22]]]> : tensor<2x3x5xf32>
  %w = arith.constant dense<[[0.99, 0.65, -0.02, -0.68], [-1.0, -0.8, -0.2, 0.5], [0.95, 0.91, 0.41, -0.3], [-0.86, -0.98, -0.6, 0.08], [0.73, 1.0, 0.76, 0.14]]> : tensor<5x4xf32>
  %wt = arith.constant dense<[[0.99, -1.0, 0.95, -0.86, 0.73], [0.65, -0.8, 0.91, -0.98, 1.0], [-0.02, -0.2, 0.41, -0.6, 0.76], [-0.68, 0.5, -0.3, 0.08, 0.14]]> : tensor<4x5xf32>
  %b = arith.constant dense<[0.24, -0.47, -0.94, -0.93]> : tensor<4xf32>
  %r = arith.constant dense<[[[-0.16, -0.78, -1.0, -0.71], [-0.06, 0.62, 0.98, 0.85], [0.28, -0.43, -0.92, -0.94]], [[-0.49, 0.22, 0.82, 0.99], [0.67, -0.0, -0.67, -0.99], [-0.81, -0.22, 0.49, 0.95]]]> : tensor<2x3x4xf32>
  %x2 = tensor.collapse_shape %x [[0, 1], [2]] : tensor<2x3x5xf32> into tensor<6x5xf32>
  %r2 = tensor.collapse_shape %r [[0, 1], [2]] : tensor<2x3x4xf32> into tensor<6x4xf32>
  %x2d = tensor.cast %x2 : tensor<6x5xf32> to tensor<?x5xf32>
  %r2d = tensor.cast %r2 : tensor<6x4xf32> to tensor<?x4xf32>
  %x3d = tensor.cast %x : tensor<2x3x5xf32> to tensor<2x?x5xf32>

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{(-0.142[0-9]*|-0.1421[0-9]*)}}, {{-0.314[34][0-9]*}}, {{-0.329[56][0-9]*}}, {{-0.184[34][0-9]*}}],
  // CHECK-NEXT: [{{(-0.002299[0-9]*|-0.0023[0-9]*|-0.002301[0-9]*)}}, {{0.321[23][0-9]*}}, {{0.485[12][0-9]*}}, {{0.409[12][0-9]*}}],
  // CHECK-NEXT: [{{0.154[78][0-9]*}}, {{-0.235[78][0-9]*}}, {{-0.510[12][0-9]*}}, {{-0.529[78][0-9]*}}],
  // CHECK-NEXT: [{{-0.250[67][0-9]*}}, {{0.111[12][0-9]*}}, {{0.419[23][0-9]*}}, {{0.515[56][0-9]*}}],
  // CHECK-NEXT: [{{0.297[89][0-9]*}}, {{(0.05759[0-9]*|0.0576[0-9]*)}}, {{(-0.213[0-9]*|-0.2131[0-9]*)}}, {{-0.373[12][0-9]*}}],
  // CHECK-NEXT: [{{-0.265[45][0-9]*}}, {{-0.208[89][0-9]*}}, {{(-0.04689[0-9]*|-0.0469[0-9]*)}}, {{0.133[56][0-9]*}}]]
  %0 = call @plain(%x2d, %w) : (tensor<?x5xf32>, tensor<5x4xf32>) -> tensor<?x4xf32>
  %p0 = tensor.cast %0 : tensor<?x4xf32> to tensor<?x?xf32>
  call @print2(%p0) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{(0.09789[0-9]*|0.0979[0-9]*)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{0.237[67][0-9]*}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{0.394[78][0-9]*}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{0.537[89][0-9]*}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}]]
  %xa = tensor.cast %x2 : tensor<6x5xf32> to tensor<?x?xf32>
  %wa = tensor.cast %w : tensor<5x4xf32> to tensor<?x?xf32>
  %ba = tensor.cast %b : tensor<4xf32> to tensor<?xf32>
  %1 = call @bias_relu(%xa, %wa, %ba) : (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?xf32>) -> tensor<?x?xf32>
  call @print2(%1) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{-0.1072[0-9]*}}, {{-0.949[67][0-9]*}}, {{-1.129[0-9]*}}, {{-0.857[67][0-9]*}}],
  // CHECK-NEXT: [{{0.0811[78][0-9]*}}, {{0.5544[0-9]*}}, {{0.832[34][0-9]*}}, {{(0.693[0-9]*|0.6931[0-9]*)}}],
  // CHECK-NEXT: [{{(0.5379[0-9]*|0.538[0-9]*)}}, {{-0.599[45][0-9]*}}, {{-1.026[0-9]*}}, {{-1.045[0-9]*}}],
  // CHECK-NEXT: [{{-0.495[23][0-9]*}}, {{0.0908[78][0-9]*}}, {{(0.663[0-9]*|0.6631[0-9]*)}}, {{0.849[34][0-9]*}}],
  // CHECK-NEXT: [{{1.04[89][0-9]*}}, {{-0.1402[0-9]*}}, {{-0.813[45][0-9]*}}, {{-1.115[0-9]*}}],
  // CHECK-NEXT: [{{-0.822[45][0-9]*}}, {{-0.3887[0-9]*}}, {{0.3302[0-9]*}}, {{0.7804[0-9]*}}]]
  %2 = call @transposed_gelu_residual(%x2d, %wt, %b, %r2d) : (tensor<?x5xf32>, tensor<4x5xf32>, tensor<4xf32>, tensor<?x4xf32>) -> tensor<?x4xf32>
  %p2 = tensor.cast %2 : tensor<?x4xf32> to tensor<?x?xf32>
  call @print2(%p2) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{-0.0630[12][0-9]*}}, {{-0.1184[0-9]*}}, {{-0.1222[0-9]*}}, {{(-0.0787[0-9]*|-0.07871[0-9]*)}}],
  // CHECK-NEXT: [{{-0.00114[678][0-9]*}}, {{0.2011[0-9]*}}, {{0.3329[0-9]*}}, {{0.2695[0-9]*}}],
  // CHECK-NEXT: [{{0.0869[12][0-9]*}}, {{-0.0959[12][0-9]*}}, {{-0.155[56][0-9]*}}, {{-0.1579[0-9]*}}],
  // CHECK-NEXT: [{{-0.1005[0-9]*}}, {{0.0605[12][0-9]*}}, {{0.2777[0-9]*}}, {{0.3593[0-9]*}}],
  // CHECK-NEXT: [{{0.1838[0-9]*}}, {{0.03012[0-9]*}}, {{-0.0885[67][0-9]*}}, {{-0.132[23][0-9]*}}],
  // CHECK-NEXT: [{{-0.1049[0-9]*}}, {{-0.0871[67][0-9]*}}, {{-0.02257[0-9]*}}, {{(0.07389[0-9]*|0.0739[0-9]*)}}]]
  %3 = call @rank3_gelu_tanh(%x3d, %w) : (tensor<2x?x5xf32>, tensor<5x4xf32>) -> tensor<2x?x4xf32>
  call @print3(%3) : (tensor<2x?x4xf32>) -> ()

  // CHECK-LABEL: sizes = [4]
  // CHECK-NEXT: [{{0.05134[0-9]*}}, {{-0.245[78][0-9]*}}, {{-0.2784[0-9]*}}, {{-0.2753[0-9]*}}]
  %x1 = tensor.extract_slice %x[0, 0, 0] [1, 1, 5] [1, 1, 1] : tensor<2x3x5xf32> to tensor<5xf32>
  %4 = call @rank1_silu(%x1, %w, %b) : (tensor<5xf32>, tensor<5x4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %p4 = tensor.cast %4 : tensor<4xf32> to tensor<?xf32>
  call @print1(%p4) : (tensor<?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{-0.108[0-9]*}}, {{-1.02[0-9]*}}, {{-1.27[0-9]*}}, {{-0.98[45][0-9]*}}],
  // CHECK-NEXT: [{{0.0724[0-9]*}}, {{(0.55[0-9]*|0.551[0-9]*)}}, {{0.80[23][0-9]*}}, {{0.65[56][0-9]*}}],
  // CHECK-NEXT: [{{0.51[56][0-9]*}}, {{-0.66[23][0-9]*}}, {{-1.19[0-9]*}}, {{-1.21[0-9]*}}],
  // CHECK-NEXT: [{{-0.495[0-9]*}}, {{0.072[45][0-9]*}}, {{0.62[56][0-9]*}}, {{0.82[45][0-9]*}}],
  // CHECK-NEXT: [{{(1(.[0-9]*)?|1.01[0-9]*)}}, {{-0.164[0-9]*}}, {{-0.94[67][0-9]*}}, {{-1.26[0-9]*}}],
  // CHECK-NEXT: [{{-0.82[12][0-9]*}}, {{-0.448[0-9]*}}, {{0.22[12][0-9]*}}, {{0.702[0-9]*}}]]
  %x16 = arith.truncf %x3d : tensor<2x?x5xf32> to tensor<2x?x5xf16>
  %w16 = arith.truncf %wt : tensor<4x5xf32> to tensor<4x5xf16>
  %b16 = arith.truncf %b : tensor<4xf32> to tensor<4xf16>
  %r3d = tensor.cast %r : tensor<2x3x4xf32> to tensor<2x?x4xf32>
  %r16 = arith.truncf %r3d : tensor<2x?x4xf32> to tensor<2x?x4xf16>
  %5 = call @f16_all(%x16, %w16, %b16, %r16) : (tensor<2x?x5xf16>, tensor<4x5xf16>, tensor<4xf16>, tensor<2x?x4xf16>) -> tensor<2x?x4xf16>
  %e5 = arith.extf %5 : tensor<2x?x4xf16> to tensor<2x?x4xf32>
  call @print3(%e5) : (tensor<2x?x4xf32>) -> ()
  return
}
