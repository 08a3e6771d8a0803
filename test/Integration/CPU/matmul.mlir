// ds.matmul on the CPU: numpy batch broadcasting (a size-1 and a missing
// batch dimension), rank-1 operands on either side and on both, dynamic
// batch and N, f16 (f32 accumulation) and i32.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy.matmul in float64 on round(sin(0.73*arange(n) +
// seed), 2) inputs (f16: inputs and result rounded to float16; i32 exact).

func.func @batch_broadcast(%a: tensor<2x1x3x4xf32>, %b: tensor<5x4x2xf32>) -> tensor<2x5x3x2xf32> {
  %0 = ds.matmul %a, %b : (tensor<2x1x3x4xf32>, tensor<5x4x2xf32>) -> tensor<2x5x3x2xf32>
  return %0 : tensor<2x5x3x2xf32>
}

func.func @rank1(%m: tensor<?x4xf32>, %v: tensor<4xf32>, %c: tensor<?x4x3xf32>) -> (tensor<?xf32>, tensor<?x3xf32>, tensor<f32>) {
  %0 = ds.matmul %m, %v : (tensor<?x4xf32>, tensor<4xf32>) -> tensor<?xf32>
  %1 = ds.matmul %v, %c : (tensor<4xf32>, tensor<?x4x3xf32>) -> tensor<?x3xf32>
  %2 = ds.matmul %v, %v : (tensor<4xf32>, tensor<4xf32>) -> tensor<f32>
  return %0, %1, %2 : tensor<?xf32>, tensor<?x3xf32>, tensor<f32>
}

func.func @dynamic(%a: tensor<?x3x4xf32>, %b: tensor<1x4x?xf32>) -> tensor<?x3x?xf32> {
  %0 = ds.matmul %a, %b : (tensor<?x3x4xf32>, tensor<1x4x?xf32>) -> tensor<?x3x?xf32>
  return %0 : tensor<?x3x?xf32>
}

func.func @f16(%a: tensor<2x3x4xf16>, %b: tensor<4x2xf16>) -> tensor<2x3x2xf16> {
  %0 = ds.matmul %a, %b : (tensor<2x3x4xf16>, tensor<4x2xf16>) -> tensor<2x3x2xf16>
  return %0 : tensor<2x3x2xf16>
}

func.func @i32(%a: tensor<2x3xi32>, %b: tensor<3x2xi32>) -> tensor<2x2xi32> {
  %0 = ds.matmul %a, %b : (tensor<2x3xi32>, tensor<3x2xi32>) -> tensor<2x2xi32>
  return %0 : tensor<2x2xi32>
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

func.func @print3(%t: tensor<?x?x?xf32>) {
  %m = tensor.collapse_shape %t [[0, 1], [2]] : tensor<?x?x?xf32> into tensor<?x?xf32>
  call @print2(%m) : (tensor<?x?xf32>) -> ()
  return
}

func.func @main() {
  %a = arith.constant dense<[[[[0.2, 0.8, 1.0, 0.68], [0.02, -0.65, -0.99, -0.83], [-0.24, 0.47, 0.94, 0.93]]], [[[0.45, -0.26, -0.84, -0.99], [-0.63, 0.04, 0.7, 1.0], [0.79, 0.18, -0.52, -0.96]]]]> : tensor<2x1x3x4xf32>
  %b = arith.constant dense<[[[0.99, 0.85], [0.28, -0.43], [-0.92, -0.94], [-0.48, 0.22]], [[0.82, 0.99], [0.66, -0.01], [-0.67, -0.99], [-0.81, -0.21]], [[0.49, 0.95], [0.92, 0.42], [-0.29, -0.85], [-0.98, -0.61]], [[0.07, 0.72], [1.0, 0.77], [0.15, -0.55], [-0.97, -0.89]], [[-0.36, 0.35], [0.89, 0.97], [0.56, -0.14], [-0.76, -1.0]]]> : tensor<5x4x2xf32>
  %v = arith.constant dense<[0.52, -0.19, -0.79, -1.0]> : tensor<4xf32>
  %c = arith.constant dense<[[[0.04, -0.64, -0.99], [-0.84, -0.26, 0.45], [0.93, 0.94, 0.47], [-0.24, -0.83, -0.99]], [[-0.65, 0.02, 0.68], [1.0, 0.8, 0.2], [-0.51, -0.95, -0.91], [-0.41, 0.31, 0.86]]]> : tensor<2x4x3xf32>
  %ad = arith.constant dense<[[[0.72, 1.0, 0.77, 0.15], [-0.55, -0.97, -0.89, -0.36], [0.35, 0.89, 0.97, 0.56]], [[-0.13, -0.76, -1.0, -0.73], [-0.09, 0.6, 0.98, 0.86], [0.3, -0.41, -0.91, -0.95]]]> : tensor<2x3x4xf32>
  %bd = arith.constant dense<[[[0.95, 0.49], [-0.22, -0.81], [-0.99, -0.67], [-0.0, 0.66]]]> : tensor<1x4x2xf32>

  // CHECK-LABEL: sizes = [30, 2]
  // CHECK-NEXT: {{\[\[}}{{-0.824[34][0-9]*}}, {{-0.964[34][0-9]*}}],
  // CHECK-NEXT: [{{1.14[67][0-9]*}}, {{1.044[0-9]*}}],
  // CHECK-NEXT: [{{-1.417[0-9]*}}, {{-1.085[0-9]*}}],
  // CHECK-NEXT: [{{-0.528[78][0-9]*}}, {{-0.942[78][0-9]*}}],
  // CHECK-NEXT: [{{(0.9229[0-9]*|0.923[0-9]*)}}, {{1.18[0-9]*}}],
  // CHECK-NEXT: [{{-1.269[0-9]*}}, {{-1.368[0-9]*}}],
  // CHECK-NEXT: [{{-0.122[34][0-9]*}}, {{-0.738[78][0-9]*}}],
  // CHECK-NEXT: [{{0.512[23][0-9]*}}, {{1.093[0-9]*}}],
  // CHECK-NEXT: [{{-0.869[12][0-9]*}}, {{-1.396[0-9]*}}],
  // CHECK-NEXT: [{{0.304[34][0-9]*}}, {{-0.395[12][0-9]*}}],
  // CHECK-NEXT: [{{(0.007999[0-9]*|0.008[0-9]*|0.008001[0-9]*)}}, {{(0.797[0-9]*|0.7971[0-9]*)}}],
  // CHECK-NEXT: [{{-0.307[89][0-9]*}}, {{-1.155[0-9]*}}],
  // CHECK-NEXT: [{{0.683[12][0-9]*}}, {{(0.02599[0-9]*|0.026[0-9]*)}}],
  // CHECK-NEXT: [{{-0.509[23][0-9]*}}, {{(0.345[0-9]*|0.3451[0-9]*)}}],
  // CHECK-NEXT: [{{0.324[23][0-9]*}}, {{-0.689[67][0-9]*}}],
  // CHECK-NEXT: [{{1.62[0-9]*}}, {{1.066[0-9]*}}],
  // CHECK-NEXT: [{{-1.736[0-9]*}}, {{-0.990[67][0-9]*}}],
  // CHECK-NEXT: [{{1.771[0-9]*}}, {{0.871[67][0-9]*}}],
  // CHECK-NEXT: [{{1.562[0-9]*}}, {{1.487[0-9]*}}],
  // CHECK-NEXT: [{{-1.769[0-9]*}}, {{-1.527[0-9]*}}],
  // CHECK-NEXT: [{{1.892[0-9]*}}, {{1.496[0-9]*}}],
  // CHECK-NEXT: [{{1.195[0-9]*}}, {{1.636[0-9]*}}],
  // CHECK-NEXT: [{{-1.454[0-9]*}}, {{-1.786[0-9]*}}],
  // CHECK-NEXT: [{{1.644[0-9]*}}, {{1.853[0-9]*}}],
  // CHECK-NEXT: [{{0.605[78][0-9]*}}, {{1.466[0-9]*}}],
  // CHECK-NEXT: [{{(-0.869[0-9]*|-0.8691[0-9]*)}}, {{-1.697[0-9]*}}],
  // CHECK-NEXT: [{{1.088[0-9]*}}, {{1.847[0-9]*}}],
  // CHECK-NEXT: [{{-0.111[34][0-9]*}}, {{1.012[0-9]*}}],
  // CHECK-NEXT: [{{-0.105[56][0-9]*}}, {{-1.279[0-9]*}}],
  // CHECK-NEXT: [{{0.314[12][0-9]*}}, {{1.483[0-9]*}}]]
  %0 = call @batch_broadcast(%a, %b) : (tensor<2x1x3x4xf32>, tensor<5x4x2xf32>) -> tensor<2x5x3x2xf32>
  %m0 = tensor.collapse_shape %0 [[0, 1, 2], [3]] : tensor<2x5x3x2xf32> into tensor<30x2xf32>
  %r0 = tensor.cast %m0 : tensor<30x2xf32> to tensor<?x?xf32>
  call @print2(%r0) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [3]
  // CHECK-NEXT: [{{-0.573[89][0-9]*}}, {{0.961[34][0-9]*}}, {{-1.313[0-9]*}}]
  // CHECK-LABEL: sizes = [2, 3]
  // CHECK-NEXT: {{\[\[}}{{-0.314[23][0-9]*}}, {{(-0.1959[0-9]*|-0.196[0-9]*)}}, {{(0.01839[0-9]*|0.0184[0-9]*)}}],
  // CHECK-NEXT: [{{0.284[89][0-9]*}}, {{0.298[89][0-9]*}}, {{0.174[45][0-9]*}}]]
  // CHECK-LABEL: sizes = [1]
  // CHECK-NEXT: [{{1.93[0-9]*}}]
  %m = tensor.extract_slice %ad[0, 0, 0] [1, 3, 4] [1, 1, 1] : tensor<2x3x4xf32> to tensor<3x4xf32>
  %md = tensor.cast %m : tensor<3x4xf32> to tensor<?x4xf32>
  %cd = tensor.cast %c : tensor<2x4x3xf32> to tensor<?x4x3xf32>
  %1:3 = call @rank1(%md, %v, %cd) : (tensor<?x4xf32>, tensor<4xf32>, tensor<?x4x3xf32>) -> (tensor<?xf32>, tensor<?x3xf32>, tensor<f32>)
  call @print1(%1#0) : (tensor<?xf32>) -> ()
  %r2 = tensor.cast %1#1 : tensor<?x3xf32> to tensor<?x?xf32>
  call @print2(%r2) : (tensor<?x?xf32>) -> ()
  %r3 = tensor.expand_shape %1#2 [] output_shape [1] : tensor<f32> into tensor<1xf32>
  %r3d = tensor.cast %r3 : tensor<1xf32> to tensor<?xf32>
  call @print1(%r3d) : (tensor<?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 2]
  // CHECK-NEXT: {{\[\[}}{{-0.298[23][0-9]*}}, {{(-0.874[0-9]*|-0.8741[0-9]*)}}],
  // CHECK-NEXT: [{{(0.5719[0-9]*|0.572[0-9]*)}}, {{0.874[89][0-9]*}}],
  // CHECK-NEXT: [{{-0.823[56][0-9]*}}, {{-0.829[67][0-9]*}}],
  // CHECK-NEXT: [{{1.033[0-9]*}}, {{(0.74[0-9]*|0.7401[0-9]*)}}],
  // CHECK-NEXT: [{{-1.187[0-9]*}}, {{(-0.619[0-9]*|-0.6191[0-9]*)}}],
  // CHECK-NEXT: [{{1.276[0-9]*}}, {{0.461[78][0-9]*}}]]
  %add = tensor.cast %ad : tensor<2x3x4xf32> to tensor<?x3x4xf32>
  %bdd = tensor.cast %bd : tensor<1x4x2xf32> to tensor<1x4x?xf32>
  %4 = call @dynamic(%add, %bdd) : (tensor<?x3x4xf32>, tensor<1x4x?xf32>) -> tensor<?x3x?xf32>
  %r4 = tensor.cast %4 : tensor<?x3x?xf32> to tensor<?x?x?xf32>
  call @print3(%r4) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 2]
  // CHECK-NEXT: {{\[\[}}{{-0.29[78][0-9]*}}, {{-0.87[34][0-9]*}}],
  // CHECK-NEXT: [{{0.57[12][0-9]*}}, {{0.87[45][0-9]*}}],
  // CHECK-NEXT: [{{-0.82[34][0-9]*}}, {{(-0.829[0-9]*|-0.83[0-9]*)}}],
  // CHECK-NEXT: [{{1.03[0-9]*}}, {{(0.739[0-9]*|0.74[0-9]*)}}],
  // CHECK-NEXT: [{{-1.18[0-9]*}}, {{-0.61[89][0-9]*}}],
  // CHECK-NEXT: [{{1.27[0-9]*}}, {{0.461[0-9]*}}]]
  %a16 = arith.truncf %ad : tensor<2x3x4xf32> to tensor<2x3x4xf16>
  %b2 = tensor.collapse_shape %bd [[0, 1], [2]] : tensor<1x4x2xf32> into tensor<4x2xf32>
  %b16 = arith.truncf %b2 : tensor<4x2xf32> to tensor<4x2xf16>
  %5 = call @f16(%a16, %b16) : (tensor<2x3x4xf16>, tensor<4x2xf16>) -> tensor<2x3x2xf16>
  %e5 = arith.extf %5 : tensor<2x3x2xf16> to tensor<2x3x2xf32>
  %r5 = tensor.cast %e5 : tensor<2x3x2xf32> to tensor<?x?x?xf32>
  call @print3(%r5) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [2, 2]
  // CHECK-NEXT: {{\[\[}}{{(28.99[0-9]*|29(.[0-9]*)?)}}, {{(-20.99[0-9]*|-21(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(7.999[0-9]*|8(.[0-9]*)?)}}]]
  %ai = arith.constant dense<[[1, -2, 3], [4, 0, -1]]> : tensor<2x3xi32>
  %bi = arith.constant dense<[[2, 1], [-3, 5], [7, -4]]> : tensor<3x2xi32>
  %6 = call @i32(%ai, %bi) : (tensor<2x3xi32>, tensor<3x2xi32>) -> tensor<2x2xi32>
  %f6 = arith.sitofp %6 : tensor<2x2xi32> to tensor<2x2xf32>
  %r6 = tensor.cast %f6 : tensor<2x2xf32> to tensor<?x?xf32>
  call @print2(%r6) : (tensor<?x?xf32>) -> ()
  return
}
