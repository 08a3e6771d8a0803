// Softmax, log-softmax and ds.reduce (mean with keep_dims, max over two
// axes, sum over all axes, min, prod, integer sum and mean) on the CPU with
// dynamic shapes, and softmax / mean on f16 (accumulated in f32).
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy float64 on x = round(3*sin(0.73*arange(24) + 0.9), 2)
// as 2x3x4: softmax e/e.sum with e = exp(x - x.max(axis)); log-softmax
// x - max - log(sum(exp(x - max))); x.mean/max/sum/min/prod over the axes.
// f16 rounds inputs and result; the integer mean is the sum divided by the
// count, rounded toward zero.

func.func @softmax(%x: tensor<?x?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ds.softmax %x {axis = -1 : i64} : tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

func.func @log_softmax(%x: tensor<?x?x?xf32>) -> tensor<?x?x?xf32> {
  %0 = ds.softmax %x {axis = 1 : i64, log} : tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

func.func @mean_keep(%x: tensor<?x?x?xf32>) -> tensor<?x?x1xf32> {
  %0 = ds.reduce mean %x {axes = array<i64: 2>, keep_dims} : (tensor<?x?x?xf32>) -> tensor<?x?x1xf32>
  return %0 : tensor<?x?x1xf32>
}

func.func @max_two_axes(%x: tensor<?x?x?xf32>) -> tensor<?xf32> {
  %0 = ds.reduce max %x {axes = array<i64: 0, 2>} : (tensor<?x?x?xf32>) -> tensor<?xf32>
  return %0 : tensor<?xf32>
}

func.func @sum_all(%x: tensor<?x?x?xf32>) -> tensor<1x1x1xf32> {
  %0 = ds.reduce sum %x {axes = array<i64: 0, 1, 2>, keep_dims} : (tensor<?x?x?xf32>) -> tensor<1x1x1xf32>
  return %0 : tensor<1x1x1xf32>
}

func.func @min_prod(%x: tensor<2x3x4xf32>) -> (tensor<2x4xf32>, tensor<2x3xf32>) {
  %0 = ds.reduce min %x {axes = array<i64: 1>} : (tensor<2x3x4xf32>) -> tensor<2x4xf32>
  %1 = ds.reduce prod %x {axes = array<i64: 2>} : (tensor<2x3x4xf32>) -> tensor<2x3xf32>
  return %0, %1 : tensor<2x4xf32>, tensor<2x3xf32>
}

func.func @f16(%x: tensor<2x?x4xf16>) -> (tensor<2x?x4xf16>, tensor<2xf16>) {
  %0 = ds.softmax %x {axis = 2 : i64} : tensor<2x?x4xf16>
  %1 = ds.reduce mean %x {axes = array<i64: 1, 2>} : (tensor<2x?x4xf16>) -> tensor<2xf16>
  return %0, %1 : tensor<2x?x4xf16>, tensor<2xf16>
}

func.func @integers(%x: tensor<?x4xi32>) -> (tensor<4xi32>, tensor<?xi32>) {
  %0 = ds.reduce sum %x {axes = array<i64: 0>} : (tensor<?x4xi32>) -> tensor<4xi32>
  %1 = ds.reduce mean %x {axes = array<i64: 1>} : (tensor<?x4xi32>) -> tensor<?xi32>
  return %0, %1 : tensor<4xi32>, tensor<?xi32>
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
  %x = arith.constant dense<[[[2.35, 2.99, 2.11, 0.15], [-1.88, -2.96, -2.53, -0.81], [1.32, 2.78, 2.82, 1.42]], [[-0.7, -2.47, -2.98, -1.97], [0.04, 2.03, 2.99, 2.42], [0.62, -1.5, -2.85, -2.75]]]> : tensor<2x3x4xf32>
  %xd = tensor.cast %x : tensor<2x3x4xf32> to tensor<?x?x?xf32>

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{0.2635[0-9]*}}, {{0.499[89][0-9]*}}, {{0.2073[0-9]*}}, {{0.0292[0-9]*}}],
  // CHECK-NEXT: [{{0.2093[0-9]*}}, {{0.0710[89][0-9]*}}, {{0.1092[0-9]*}}, {{0.610[23][0-9]*}}],
  // CHECK-NEXT: [{{(0.09179[0-9]*|0.0918[0-9]*)}}, {{0.395[23][0-9]*}}, {{0.4114[0-9]*}}, {{0.1014[0-9]*}}],
  // CHECK-NEXT: [{{0.643[67][0-9]*}}, {{0.1096[0-9]*}}, {{0.06584[0-9]*}}, {{0.1807[0-9]*}}],
  // CHECK-NEXT: [{{0.0261[56][0-9]*}}, {{0.1913[0-9]*}}, {{0.499[78][0-9]*}}, {{0.2826[0-9]*}}],
  // CHECK-NEXT: [{{0.843[45][0-9]*}}, {{0.1012[0-9]*}}, {{0.02624[0-9]*}}, {{0.029[0-9]*}}]]
  %0 = call @softmax(%xd) : (tensor<?x?x?xf32>) -> tensor<?x?x?xf32>
  call @print3(%0) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{-0.3159[0-9]*}}, {{(-0.595[0-9]*|-0.5951[0-9]*)}}, {{-1.113[0-9]*}}, {{-1.598[0-9]*}}],
  // CHECK-NEXT: [{{-4.54[56][0-9]*}}, {{-6.54[45][0-9]*}}, {{-5.75[23][0-9]*}}, {{-2.55[78][0-9]*}}],
  // CHECK-NEXT: [{{-1.34[56][0-9]*}}, {{(-0.805[0-9]*|-0.8051[0-9]*)}}, {{-0.403[0-9]*}}, {{-0.3281[0-9]*}}],
  // CHECK-NEXT: [{{-1.922[0-9]*}}, {{-4.539[0-9]*}}, {{-5.975[0-9]*}}, {{-4.40[78][0-9]*}}],
  // CHECK-NEXT: [{{-1.182[0-9]*}}, {{-0.0396[12][0-9]*}}, {{-0.00544[789][0-9]*}}, {{-0.01792[0-9]*}}],
  // CHECK-NEXT: [{{-0.602[67][0-9]*}}, {{-3.569[0-9]*}}, {{-5.845[0-9]*}}, {{-5.18[78][0-9]*}}]]
  %1 = call @log_softmax(%xd) : (tensor<?x?x?xf32>) -> tensor<?x?x?xf32>
  call @print3(%1) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 1]
  // CHECK-NEXT: {{\[\[}}{{(1.899[0-9]*|1.9[0-9]*)}}],
  // CHECK-NEXT: [{{-2.04[45][0-9]*}}],
  // CHECK-NEXT: [{{2.08[45][0-9]*}}],
  // CHECK-NEXT: [{{(-2.029[0-9]*|-2.03[0-9]*)}}],
  // CHECK-NEXT: [{{(1.869[0-9]*|1.87[0-9]*)}}],
  // CHECK-NEXT: [{{(-1.619[0-9]*|-1.62[0-9]*)}}]]
  %2 = call @mean_keep(%xd) : (tensor<?x?x?xf32>) -> tensor<?x?x1xf32>
  %r2 = tensor.cast %2 : tensor<?x?x1xf32> to tensor<?x?x?xf32>
  call @print3(%r2) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [3]
  // CHECK-NEXT: [{{(2.989[0-9]*|2.99[0-9]*)}}, {{(2.989[0-9]*|2.99[0-9]*)}}, {{(2.819[0-9]*|2.82[0-9]*)}}]
  %3 = call @max_two_axes(%xd) : (tensor<?x?x?xf32>) -> tensor<?xf32>
  call @print1(%3) : (tensor<?xf32>) -> ()

  // CHECK-LABEL: sizes = [1, 1]
  // CHECK-NEXT: {{\[\[}}{{(0.6399[0-9]*|0.64[0-9]*)}}]]
  %4 = call @sum_all(%xd) : (tensor<?x?x?xf32>) -> tensor<1x1x1xf32>
  %r4 = tensor.cast %4 : tensor<1x1x1xf32> to tensor<?x?x?xf32>
  call @print3(%r4) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [2, 4]
  // CHECK-NEXT: {{\[\[}}{{(-1.879[0-9]*|-1.88[0-9]*)}}, {{(-2.959[0-9]*|-2.96[0-9]*)}}, {{(-2.529[0-9]*|-2.53[0-9]*)}}, {{(-0.8099[0-9]*|-0.81[0-9]*)}}],
  // CHECK-NEXT: [{{(-0.6999[0-9]*|-0.7[0-9]*)}}, {{(-2.469[0-9]*|-2.47[0-9]*)}}, {{(-2.979[0-9]*|-2.98[0-9]*)}}, {{(-2.749[0-9]*|-2.75[0-9]*)}}]]
  // CHECK-LABEL: sizes = [2, 3]
  // CHECK-NEXT: {{\[\[}}{{2.22[34][0-9]*}}, {{11.4[0-9]*}}, {{14.69[0-9]*}}],
  // CHECK-NEXT: [{{10.1[45][0-9]*}}, {{0.5875[0-9]*}}, {{-7.28[89][0-9]*}}]]
  %5:2 = call @min_prod(%x) : (tensor<2x3x4xf32>) -> (tensor<2x4xf32>, tensor<2x3xf32>)
  %r5 = tensor.cast %5#0 : tensor<2x4xf32> to tensor<?x?xf32>
  call @print2(%r5) : (tensor<?x?xf32>) -> ()
  %r6 = tensor.cast %5#1 : tensor<2x3xf32> to tensor<?x?xf32>
  call @print2(%r6) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{0.263[0-9]*}}, {{(0.499[0-9]*|0.5[0-9]*)}}, {{0.207[0-9]*}}, {{0.029[12][0-9]*}}],
  // CHECK-NEXT: [{{0.209[0-9]*}}, {{0.071[0-9]*}}, {{0.109[0-9]*}}, {{0.61[0-9]*}}],
  // CHECK-NEXT: [{{0.091[89][0-9]*}}, {{0.39[45][0-9]*}}, {{0.411[0-9]*}}, {{0.101[0-9]*}}],
  // CHECK-NEXT: [{{0.643[0-9]*}}, {{0.109[0-9]*}}, {{0.065[78][0-9]*}}, {{0.18[0-9]*}}],
  // CHECK-NEXT: [{{0.0261[0-9]*}}, {{0.191[0-9]*}}, {{(0.499[0-9]*|0.5[0-9]*)}}, {{0.282[0-9]*}}],
  // CHECK-NEXT: [{{0.84[23][0-9]*}}, {{0.101[0-9]*}}, {{0.0262[0-9]*}}, {{(0.0289[0-9]*|0.029[0-9]*)}}]]
  // CHECK-LABEL: sizes = [2]
  // CHECK-NEXT: [{{0.646[0-9]*}}, {{-0.59[23][0-9]*}}]
  %x16 = arith.truncf %x : tensor<2x3x4xf32> to tensor<2x3x4xf16>
  %x16d = tensor.cast %x16 : tensor<2x3x4xf16> to tensor<2x?x4xf16>
  %7:2 = call @f16(%x16d) : (tensor<2x?x4xf16>) -> (tensor<2x?x4xf16>, tensor<2xf16>)
  %e7 = arith.extf %7#0 : tensor<2x?x4xf16> to tensor<2x?x4xf32>
  %r7 = tensor.cast %e7 : tensor<2x?x4xf32> to tensor<?x?x?xf32>
  call @print3(%r7) : (tensor<?x?x?xf32>) -> ()
  %e8 = arith.extf %7#1 : tensor<2xf16> to tensor<2xf32>
  %r8 = tensor.cast %e8 : tensor<2xf32> to tensor<?xf32>
  call @print1(%r8) : (tensor<?xf32>) -> ()

  // CHECK-LABEL: sizes = [4]
  // CHECK-NEXT: [{{(2.999[0-9]*|3(.[0-9]*)?)}}, {{(10.99[0-9]*|11(.[0-9]*)?)}}, {{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(2.999[0-9]*|3(.[0-9]*)?)}}]
  // CHECK-LABEL: sizes = [3]
  // CHECK-NEXT: [{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}]
  %xi = arith.constant dense<[[3, -1, 4, 1], [-5, 9, 2, -6], [5, 3, -5, 8]]> : tensor<3x4xi32>
  %xid = tensor.cast %xi : tensor<3x4xi32> to tensor<?x4xi32>
  %9:2 = call @integers(%xid) : (tensor<?x4xi32>) -> (tensor<4xi32>, tensor<?xi32>)
  %f9 = arith.sitofp %9#0 : tensor<4xi32> to tensor<4xf32>
  %r9 = tensor.cast %f9 : tensor<4xf32> to tensor<?xf32>
  call @print1(%r9) : (tensor<?xf32>) -> ()
  %f10 = arith.sitofp %9#1 : tensor<?xi32> to tensor<?xf32>
  call @print1(%f10) : (tensor<?xf32>) -> ()
  return
}
