// LayerNorm (with and without bias, over one and over two trailing
// dimensions) and RMSNorm on the CPU with dynamic shapes, and both on f16
// (statistics in f32, one rounding at the end).
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy float64, x = round(2*sin(0.73*arange(24) + 0.3), 2)
// reshaped to 2x3x4, scale/bias likewise with other seeds:
//   layer_norm: (x - mean) / sqrt(var + eps) * scale (+ bias), mean and the
//               (biased) var over the normalized axes
//   rms_norm:   x / sqrt(mean(x**2) + eps) * scale
// f16 cases round the inputs and the result to float16.

func.func @layer_norm(%x: tensor<?x?x4xf32>, %g: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<?x?x4xf32> {
  %0 = ds.layer_norm %x, %g, %b : (tensor<?x?x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  return %0 : tensor<?x?x4xf32>
}

func.func @layer_norm_2d(%x: tensor<?x?x?xf32>, %g: tensor<?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ds.layer_norm %x, %g {axis = 1 : i64, epsilon = 1.0e-03 : f32} : (tensor<?x?x?xf32>, tensor<?x?xf32>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

func.func @rms_norm(%x: tensor<?x?x?xf32>, %g: tensor<?xf32>) -> tensor<?x?x?xf32> {
  %0 = ds.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : (tensor<?x?x?xf32>, tensor<?xf32>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

func.func @rms_norm_f16(%x: tensor<2x?x4xf16>, %g: tensor<4xf16>) -> tensor<2x?x4xf16> {
  %0 = ds.rms_norm %x, %g {epsilon = 1.0e-06 : f32} : (tensor<2x?x4xf16>, tensor<4xf16>) -> tensor<2x?x4xf16>
  return %0 : tensor<2x?x4xf16>
}

func.func @layer_norm_f16(%x: tensor<2x3x4xf16>, %g: tensor<4xf16>, %b: tensor<4xf16>) -> tensor<2x3x4xf16> {
  %0 = ds.layer_norm %x, %g, %b : (tensor<2x3x4xf16>, tensor<4xf16>, tensor<4xf16>) -> tensor<2x3x4xf16>
  return %0 : tensor<2x3x4xf16>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print(%t: tensor<?x?x?xf32>) {
  %m = tensor.collapse_shape %t [[0, 1], [2]] : tensor<?x?x?xf32> into tensor<?x?xf32>
  %u = tensor.cast %m : tensor<?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %x = arith.constant dense<[[[0.59, 1.71, 1.96, 1.21], [-0.16, -1.45, -2.0, -1.53], [-0.29, 1.11, 1.94, 1.78]], [[0.71, -0.71, -1.78, -1.94], [-1.11, 0.29, 1.53, 2.0], [1.45, 0.16, -1.21, -1.96]]]> : tensor<2x3x4xf32>
  %g = arith.constant dense<[0.89, 0.97, 0.55, -0.15]> : tensor<4xf32>
  %b = arith.constant dense<[0.81, 0.21, -0.5, -0.95]> : tensor<4xf32>
  %g2 = arith.constant dense<[[0.48, 0.94, 0.93, 0.44], [-0.27, -0.85, -0.99, -0.62], [0.06, 0.71, 1.0, 0.78]]> : tensor<3x4xf32>
  %xd = tensor.cast %x : tensor<2x3x4xf32> to tensor<?x?x?xf32>

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{-0.510[89][0-9]*}}, {{0.844[12][0-9]*}}, {{0.122[0-9]*}}, {{-0.904[89][0-9]*}}],
  // CHECK-NEXT: [{{2.276[0-9]*}}, {{-0.02444[0-9]*}}, {{-1.076[0-9]*}}, {{-0.896[12][0-9]*}}],
  // CHECK-NEXT: [{{-0.631[67][0-9]*}}, {{0.1824[0-9]*}}, {{0.00330[789][0-9]*}}, {{(-1.059[0-9]*|-1.06[0-9]*)}}],
  // CHECK-NEXT: [{{2.18[89][0-9]*}}, {{0.4116[0-9]*}}, {{-0.941[67][0-9]*}}, {{-0.8068[0-9]*}}],
  // CHECK-NEXT: [{{-0.5087[0-9]*}}, {{-0.1015[0-9]*}}, {{-0.1113[0-9]*}}, {{-1.114[0-9]*}}],
  // CHECK-NEXT: [{{2.063[0-9]*}}, {{0.618[34][0-9]*}}, {{-0.8452[0-9]*}}, {{-0.769[67][0-9]*}}]]
  %x0 = tensor.cast %x : tensor<2x3x4xf32> to tensor<?x?x4xf32>
  %0 = call @layer_norm(%x0, %g, %b) : (tensor<?x?x4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %r0 = tensor.cast %0 : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  call @print(%r0) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{(0.06339[0-9]*|0.0634[0-9]*)}}, {{0.879[12][0-9]*}}, {{1.036[0-9]*}}, {{0.2537[0-9]*}}],
  // CHECK-NEXT: [{{0.1095[0-9]*}}, {{1.131[0-9]*}}, {{1.708[0-9]*}}, {{0.860[78][0-9]*}}],
  // CHECK-NEXT: [{{-0.02994[0-9]*}}, {{0.3585[0-9]*}}, {{1.1[0-9]*}}, {{0.768[67][0-9]*}}],
  // CHECK-NEXT: [{{(0.3239[0-9]*|0.324[0-9]*)}}, {{-0.3404[0-9]*}}, {{-1.063[0-9]*}}, {{-0.5546[0-9]*}}],
  // CHECK-NEXT: [{{0.1766[0-9]*}}, {{(-0.3129[0-9]*|-0.313[0-9]*)}}, {{-1.261[0-9]*}}, {{-1.002[0-9]*}}],
  // CHECK-NEXT: [{{0.0729[23][0-9]*}}, {{0.194[0-9]*}}, {{-0.727[34][0-9]*}}, {{-0.994[56][0-9]*}}]]
  %g2d = tensor.cast %g2 : tensor<3x4xf32> to tensor<?x?xf32>
  %1 = call @layer_norm_2d(%xd, %g2d) : (tensor<?x?x?xf32>, tensor<?x?xf32>) -> tensor<?x?x?xf32>
  call @print(%1) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{0.3585[0-9]*}}, {{1.132[0-9]*}}, {{(0.736[0-9]*|0.7361[0-9]*)}}, {{-0.1239[0-9]*}}],
  // CHECK-NEXT: [{{-0.0978[56][0-9]*}}, {{-0.966[56][0-9]*}}, {{(-0.7559[0-9]*|-0.756[0-9]*)}}, {{0.1577[0-9]*}}],
  // CHECK-NEXT: [{{-0.1797[0-9]*}}, {{0.749[78][0-9]*}}, {{0.743[0-9]*}}, {{-0.1859[0-9]*}}],
  // CHECK-NEXT: [{{0.448[45][0-9]*}}, {{-0.488[78][0-9]*}}, {{-0.6948[0-9]*}}, {{0.2065[0-9]*}}],
  // CHECK-NEXT: [{{(-0.7139[0-9]*|-0.714[0-9]*)}}, {{0.2033[0-9]*}}, {{0.608[12][0-9]*}}, {{-0.2168[0-9]*}}],
  // CHECK-NEXT: [{{0.946[56][0-9]*}}, {{0.1138[0-9]*}}, {{-0.4881[0-9]*}}, {{0.2156[0-9]*}}]]
  %gd = tensor.cast %g : tensor<4xf32> to tensor<?xf32>
  %2 = call @rms_norm(%xd, %gd) : (tensor<?x?x?xf32>, tensor<?xf32>) -> tensor<?x?x?xf32>
  call @print(%2) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{0.358[0-9]*}}, {{1.13[0-9]*}}, {{0.73[56][0-9]*}}, {{-0.12[34][0-9]*}}],
  // CHECK-NEXT: [{{-0.097[89][0-9]*}}, {{-0.96[67][0-9]*}}, {{-0.75[56][0-9]*}}, {{0.157[0-9]*}}],
  // CHECK-NEXT: [{{-0.179[0-9]*}}, {{(0.749[0-9]*|0.75[0-9]*)}}, {{0.74[23][0-9]*}}, {{-0.18[56][0-9]*}}],
  // CHECK-NEXT: [{{0.448[0-9]*}}, {{-0.48[89][0-9]*}}, {{-0.69[45][0-9]*}}, {{0.206[0-9]*}}],
  // CHECK-NEXT: [{{-0.71[34][0-9]*}}, {{0.203[0-9]*}}, {{0.60[78][0-9]*}}, {{-0.216[0-9]*}}],
  // CHECK-NEXT: [{{0.94[67][0-9]*}}, {{0.113[0-9]*}}, {{-0.48[78][0-9]*}}, {{0.215[0-9]*}}]]
  %x16 = arith.truncf %x : tensor<2x3x4xf32> to tensor<2x3x4xf16>
  %g16 = arith.truncf %g : tensor<4xf32> to tensor<4xf16>
  %b16 = arith.truncf %b : tensor<4xf32> to tensor<4xf16>
  %x16d = tensor.cast %x16 : tensor<2x3x4xf16> to tensor<2x?x4xf16>
  %3 = call @rms_norm_f16(%x16d, %g16) : (tensor<2x?x4xf16>, tensor<4xf16>) -> tensor<2x?x4xf16>
  %e3 = arith.extf %3 : tensor<2x?x4xf16> to tensor<2x?x4xf32>
  %r3 = tensor.cast %e3 : tensor<2x?x4xf32> to tensor<?x?x?xf32>
  call @print(%r3) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{(-0.51[0-9]*|-0.511[0-9]*)}}, {{0.84[34][0-9]*}}, {{0.121[0-9]*}}, {{-0.90[45][0-9]*}}],
  // CHECK-NEXT: [{{2.27[0-9]*}}, {{-0.0246[0-9]*}}, {{-1.07[0-9]*}}, {{-0.896[0-9]*}}],
  // CHECK-NEXT: [{{-0.63[12][0-9]*}}, {{0.182[0-9]*}}, {{0.00314[0-9]*}}, {{-1.06[0-9]*}}],
  // CHECK-NEXT: [{{2.1[89][0-9]*}}, {{0.41[12][0-9]*}}, {{(-0.94[0-9]*|-0.941[0-9]*)}}, {{-0.80[67][0-9]*}}],
  // CHECK-NEXT: [{{-0.50[89][0-9]*}}, {{-0.101[0-9]*}}, {{-0.111[0-9]*}}, {{-1.11[0-9]*}}],
  // CHECK-NEXT: [{{2.06[0-9]*}}, {{0.618[0-9]*}}, {{-0.84[45][0-9]*}}, {{(-0.769[0-9]*|-0.77[0-9]*)}}]]
  %4 = call @layer_norm_f16(%x16, %g16, %b16) : (tensor<2x3x4xf16>, tensor<4xf16>, tensor<4xf16>) -> tensor<2x3x4xf16>
  %e4 = arith.extf %4 : tensor<2x3x4xf16> to tensor<2x3x4xf32>
  %r4 = tensor.cast %e4 : tensor<2x3x4xf32> to tensor<?x?x?xf32>
  call @print(%r4) : (tensor<?x?x?xf32>) -> ()
  return
}
