// ds.cumsum (inclusive, exclusive, reverse, both, integer), ds.trilu
// (lower/upper with several diagonals) and ds.broadcast on the CPU with
// dynamic shapes.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy float64. cumsum: np.cumsum along the axis;
// exclusive subtracts the element itself; reverse flips before and after.
// trilu: np.tril / np.triu with k = diagonal. broadcast: np.broadcast_to.
// x = 0.5*arange(1, 13).reshape(3, 4) - 1, m = arange(1, 13).reshape(3, 4).

func.func @cumsums(%x: tensor<?x?xf32>) -> (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>) {
  %0 = ds.cumsum %x {axis = 1 : i64} : tensor<?x?xf32>
  %1 = ds.cumsum %x {axis = -1 : i64, exclusive} : tensor<?x?xf32>
  %2 = ds.cumsum %x {axis = 0 : i64, reverse} : tensor<?x?xf32>
  %3 = ds.cumsum %x {axis = 1 : i64, exclusive, reverse} : tensor<?x?xf32>
  return %0, %1, %2, %3 : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>
}

func.func @cumsum_i64(%x: tensor<2x?xi64>) -> tensor<2x?xi64> {
  %0 = ds.cumsum %x {axis = 1 : i64} : tensor<2x?xi64>
  return %0 : tensor<2x?xi64>
}

func.func @trilus(%m: tensor<?x?xf32>) -> (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>) {
  %0 = ds.trilu %m : tensor<?x?xf32>
  %1 = ds.trilu %m {diagonal = 1 : i64, upper} : tensor<?x?xf32>
  %2 = ds.trilu %m {diagonal = -1 : i64} : tensor<?x?xf32>
  %3 = ds.trilu %m {diagonal = -1 : i64, upper} : tensor<?x?xf32>
  return %0, %1, %2, %3 : tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>
}

func.func @broadcast(%b: tensor<?x1xf32>, %n: index, %k: index) -> tensor<?x?x?xf32> {
  %c0 = arith.constant 0 : index
  %rows = tensor.dim %b, %c0 : tensor<?x1xf32>
  %0 = ds.broadcast %b [%n, %rows, %k] : (tensor<?x1xf32>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
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

func.func @main() {
  %x = arith.constant dense<[[-0.5, 0.0, 0.5, 1.0], [1.5, 2.0, 2.5, 3.0], [3.5, 4.0, 4.5, 5.0]]> : tensor<3x4xf32>
  %xd = tensor.cast %x : tensor<3x4xf32> to tensor<?x?xf32>
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{(-0.4999[0-9]*|-0.5[0-9]*)}}, {{(-0.4999[0-9]*|-0.5[0-9]*)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{(0.9999[0-9]*|1(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(1.499[0-9]*|1.5[0-9]*)}}, {{(3.499[0-9]*|3.5[0-9]*)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}, {{(8.999[0-9]*|9(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(3.499[0-9]*|3.5[0-9]*)}}, {{(7.499[0-9]*|7.5[0-9]*)}}, {{(11.99[0-9]*|12(.[0-9]*)?)}}, {{(16.99[0-9]*|17(.[0-9]*)?)}}]]
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{-?(0|[0-9.]+e-[0-9]+)}}, {{(-0.4999[0-9]*|-0.5[0-9]*)}}, {{(-0.4999[0-9]*|-0.5[0-9]*)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(3.499[0-9]*|3.5[0-9]*)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{(3.499[0-9]*|3.5[0-9]*)}}, {{(7.499[0-9]*|7.5[0-9]*)}}, {{(11.99[0-9]*|12(.[0-9]*)?)}}]]
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{(4.499[0-9]*|4.5[0-9]*)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}, {{(7.499[0-9]*|7.5[0-9]*)}}, {{(8.999[0-9]*|9(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(4.999[0-9]*|5(.[0-9]*)?)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}, {{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(7.999[0-9]*|8(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(3.499[0-9]*|3.5[0-9]*)}}, {{(3.999[0-9]*|4(.[0-9]*)?)}}, {{(4.499[0-9]*|4.5[0-9]*)}}, {{(4.999[0-9]*|5(.[0-9]*)?)}}]]
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{(7.499[0-9]*|7.5[0-9]*)}}, {{(5.499[0-9]*|5.5[0-9]*)}}, {{(2.999[0-9]*|3(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{(13.49[0-9]*|13.5[0-9]*)}}, {{(9.499[0-9]*|9.5[0-9]*)}}, {{(4.999[0-9]*|5(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}]]
  %0:4 = call @cumsums(%xd) : (tensor<?x?xf32>) -> (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>)
  call @print2(%0#0) : (tensor<?x?xf32>) -> ()
  call @print2(%0#1) : (tensor<?x?xf32>) -> ()
  call @print2(%0#2) : (tensor<?x?xf32>) -> ()
  call @print2(%0#3) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [2, 3]
  // CHECK-NEXT: {{\[\[}}{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(0.9999[0-9]*|1(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}]]
  %xi = arith.constant dense<[[1, 0, 0], [1, 1, 0]]> : tensor<2x3xi64>
  %xid = tensor.cast %xi : tensor<2x3xi64> to tensor<2x?xi64>
  %4 = call @cumsum_i64(%xid) : (tensor<2x?xi64>) -> tensor<2x?xi64>
  %f4 = arith.sitofp %4 : tensor<2x?xi64> to tensor<2x?xf32>
  %r4 = tensor.cast %f4 : tensor<2x?xf32> to tensor<?x?xf32>
  call @print2(%r4) : (tensor<?x?xf32>) -> ()

  %m = arith.constant dense<[[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [9.0, 10.0, 11.0, 12.0]]> : tensor<3x4xf32>
  %md = tensor.cast %m : tensor<3x4xf32> to tensor<?x?xf32>
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{(4.999[0-9]*|5(.[0-9]*)?)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{(8.999[0-9]*|9(.[0-9]*)?)}}, {{(10(.[0-9]*)?|9.999[0-9]*)}}, {{(10.99[0-9]*|11(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}]]
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{-?(0|[0-9.]+e-[0-9]+)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}, {{(2.999[0-9]*|3(.[0-9]*)?)}}, {{(3.999[0-9]*|4(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(7.999[0-9]*|8(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{(11.99[0-9]*|12(.[0-9]*)?)}}]]
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{(4.999[0-9]*|5(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{(8.999[0-9]*|9(.[0-9]*)?)}}, {{(10(.[0-9]*)?|9.999[0-9]*)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}]]
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}, {{(2.999[0-9]*|3(.[0-9]*)?)}}, {{(3.999[0-9]*|4(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(4.999[0-9]*|5(.[0-9]*)?)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}, {{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(7.999[0-9]*|8(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{(10(.[0-9]*)?|9.999[0-9]*)}}, {{(10.99[0-9]*|11(.[0-9]*)?)}}, {{(11.99[0-9]*|12(.[0-9]*)?)}}]]
  %5:4 = call @trilus(%md) : (tensor<?x?xf32>) -> (tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>, tensor<?x?xf32>)
  call @print2(%5#0) : (tensor<?x?xf32>) -> ()
  call @print2(%5#1) : (tensor<?x?xf32>) -> ()
  call @print2(%5#2) : (tensor<?x?xf32>) -> ()
  call @print2(%5#3) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [6, 4]
  // CHECK-NEXT: {{\[\[}}{{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}],
  // CHECK-NEXT: [{{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}],
  // CHECK-NEXT: [{{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}, {{(1.499[0-9]*|1.5[0-9]*)}}],
  // CHECK-NEXT: [{{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}]]
  %bb = arith.constant dense<[[1.5], [-2.0]]> : tensor<2x1xf32>
  %bbd = tensor.cast %bb : tensor<2x1xf32> to tensor<?x1xf32>
  %n = arith.constant 3 : index
  %k = arith.constant 4 : index
  %9 = call @broadcast(%bbd, %n, %k) : (tensor<?x1xf32>, index, index) -> tensor<?x?x?xf32>
  %m9 = tensor.collapse_shape %9 [[0, 1], [2]] : tensor<?x?x?xf32> into tensor<?x?xf32>
  call @print2(%m9) : (tensor<?x?xf32>) -> ()
  return
}
