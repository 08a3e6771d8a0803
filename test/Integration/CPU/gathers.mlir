// ds.gather (negative and out-of-range indices), ds.gather_elements,
// ds.gather_nd (with and without batch_dims) and ds.embedding on the CPU.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy fancy indexing on data = 1.5*arange(12).reshape(3, 4) - 4
// with indices made safe the way the lowering defines it:
//   i < 0 ? i + n : i, then clamped to [0, n - 1]
// (so -1 is the last row, and 7 / -9 on a dimension of 4 read 3 / 0).
// gather_elements = take_along_axis; gather_nd reads data[i0, i1] per index
// row (batch_dims = 1: data[b, i]); the embedding table is
// round(sin(0.73*arange(15) + 1.2), 2) as 5x3.

func.func @gather_axis0(%d: tensor<?x?xf32>, %i: tensor<?x?xi64>) -> tensor<?x?x?xf32> {
  %0 = ds.gather %d, %i {axis = 0 : i64} : (tensor<?x?xf32>, tensor<?x?xi64>) -> tensor<?x?x?xf32>
  return %0 : tensor<?x?x?xf32>
}

func.func @gather_axis1(%d: tensor<3x4xf32>, %i: tensor<?xi32>) -> tensor<3x?xf32> {
  %0 = ds.gather %d, %i {axis = -1 : i64} : (tensor<3x4xf32>, tensor<?xi32>) -> tensor<3x?xf32>
  return %0 : tensor<3x?xf32>
}

func.func @gather_elements(%d: tensor<?x?xf32>, %i: tensor<?x?xi64>) -> tensor<?x?xf32> {
  %0 = ds.gather_elements %d, %i {axis = 1 : i64} : (tensor<?x?xf32>, tensor<?x?xi64>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

func.func @gather_nd(%d: tensor<?x?xf32>, %i: tensor<?x2xi64>, %ib: tensor<?x1xi64>) -> (tensor<?xf32>, tensor<?xf32>) {
  %0 = ds.gather_nd %d, %i : (tensor<?x?xf32>, tensor<?x2xi64>) -> tensor<?xf32>
  %1 = ds.gather_nd %d, %ib {batch_dims = 1 : i64} : (tensor<?x?xf32>, tensor<?x1xi64>) -> tensor<?xf32>
  return %0, %1 : tensor<?xf32>, tensor<?xf32>
}

func.func @embedding(%t: tensor<5x3xf32>, %ids: tensor<1x?xi64>) -> tensor<1x?x3xf32> {
  %0 = ds.embedding %t, %ids : (tensor<5x3xf32>, tensor<1x?xi64>) -> tensor<1x?x3xf32>
  return %0 : tensor<1x?x3xf32>
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
  %d = arith.constant dense<[[-4.0, -2.5, -1.0, 0.5], [2.0, 3.5, 5.0, 6.5], [8.0, 9.5, 11.0, 12.5]]> : tensor<3x4xf32>
  %dd = tensor.cast %d : tensor<3x4xf32> to tensor<?x?xf32>

  // CHECK-LABEL: sizes = [4, 4]
  // CHECK-NEXT: {{\[\[}}{{(7.999[0-9]*|8(.[0-9]*)?)}}, {{(9.499[0-9]*|9.5[0-9]*)}}, {{(10.99[0-9]*|11(.[0-9]*)?)}}, {{(12.49[0-9]*|12.5[0-9]*)}}],
  // CHECK-NEXT: [{{(7.999[0-9]*|8(.[0-9]*)?)}}, {{(9.499[0-9]*|9.5[0-9]*)}}, {{(10.99[0-9]*|11(.[0-9]*)?)}}, {{(12.49[0-9]*|12.5[0-9]*)}}],
  // CHECK-NEXT: [{{(-3.999[0-9]*|-4(.[0-9]*)?)}}, {{(-2.499[0-9]*|-2.5[0-9]*)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(0.4999[0-9]*|0.5[0-9]*)}}],
  // CHECK-NEXT: [{{(-3.999[0-9]*|-4(.[0-9]*)?)}}, {{(-2.499[0-9]*|-2.5[0-9]*)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(0.4999[0-9]*|0.5[0-9]*)}}]]
  %i0 = arith.constant dense<[[2, -1], [0, -3]]> : tensor<2x2xi64>
  %i0d = tensor.cast %i0 : tensor<2x2xi64> to tensor<?x?xi64>
  %0 = call @gather_axis0(%dd, %i0d) : (tensor<?x?xf32>, tensor<?x?xi64>) -> tensor<?x?x?xf32>
  call @print3(%0) : (tensor<?x?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{(0.4999[0-9]*|0.5[0-9]*)}}, {{(-2.499[0-9]*|-2.5[0-9]*)}}, {{(0.4999[0-9]*|0.5[0-9]*)}}, {{(-3.999[0-9]*|-4(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(6.499[0-9]*|6.5[0-9]*)}}, {{(3.499[0-9]*|3.5[0-9]*)}}, {{(6.499[0-9]*|6.5[0-9]*)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(12.49[0-9]*|12.5[0-9]*)}}, {{(9.499[0-9]*|9.5[0-9]*)}}, {{(12.49[0-9]*|12.5[0-9]*)}}, {{(7.999[0-9]*|8(.[0-9]*)?)}}]]
  %i1 = arith.constant dense<[-1, 1, 7, -9]> : tensor<4xi32>
  %i1d = tensor.cast %i1 : tensor<4xi32> to tensor<?xi32>
  %1 = call @gather_axis1(%d, %i1d) : (tensor<3x4xf32>, tensor<?xi32>) -> tensor<3x?xf32>
  %r1 = tensor.cast %1 : tensor<3x?xf32> to tensor<?x?xf32>
  call @print2(%r1) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [3, 2]
  // CHECK-NEXT: {{\[\[}}{{(0.4999[0-9]*|0.5[0-9]*)}}, {{(-3.999[0-9]*|-4(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(6.499[0-9]*|6.5[0-9]*)}}, {{(4.999[0-9]*|5(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(9.499[0-9]*|9.5[0-9]*)}}, {{(9.499[0-9]*|9.5[0-9]*)}}]]
  %ie = arith.constant dense<[[3, 0], [-1, 2], [1, 1]]> : tensor<3x2xi64>
  %ied = tensor.cast %ie : tensor<3x2xi64> to tensor<?x?xi64>
  %2 = call @gather_elements(%dd, %ied) : (tensor<?x?xf32>, tensor<?x?xi64>) -> tensor<?x?xf32>
  call @print2(%2) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [3]
  // CHECK-NEXT: [{{(9.499[0-9]*|9.5[0-9]*)}}, {{(0.4999[0-9]*|0.5[0-9]*)}}, {{(0.4999[0-9]*|0.5[0-9]*)}}]
  // CHECK-LABEL: sizes = [3]
  // CHECK-NEXT: [{{(-2.499[0-9]*|-2.5[0-9]*)}}, {{(6.499[0-9]*|6.5[0-9]*)}}, {{(10.99[0-9]*|11(.[0-9]*)?)}}]
  %in = arith.constant dense<[[2, 1], [0, -1], [-3, 3]]> : tensor<3x2xi64>
  %ind = tensor.cast %in : tensor<3x2xi64> to tensor<?x2xi64>
  %ib = arith.constant dense<[[1], [3], [-2]]> : tensor<3x1xi64>
  %ibd = tensor.cast %ib : tensor<3x1xi64> to tensor<?x1xi64>
  %3:2 = call @gather_nd(%dd, %ind, %ibd) : (tensor<?x?xf32>, tensor<?x2xi64>, tensor<?x1xi64>) -> (tensor<?xf32>, tensor<?xf32>)
  call @print1(%3#0) : (tensor<?xf32>) -> ()
  call @print1(%3#1) : (tensor<?xf32>) -> ()

  // CHECK-LABEL: sizes = [3, 3]
  // CHECK-NEXT: {{\[\[}}{{(-0.5099[0-9]*|-0.51[0-9]*)}}, {{(-0.9499[0-9]*|-0.95[0-9]*)}}, {{(-0.9099[0-9]*|-0.91[0-9]*)}}],
  // CHECK-NEXT: [{{(0.9299[0-9]*|0.93[0-9]*)}}, {{(0.9399[0-9]*|0.94[0-9]*)}}, {{(0.4599[0-9]*|0.46[0-9]*)}}],
  // CHECK-NEXT: [{{(-0.6499[0-9]*|-0.65[0-9]*)}}, {{(0.02999[0-9]*|0.03[0-9]*)}}, {{(0.6899[0-9]*|0.69[0-9]*)}}]]
  %t = arith.constant dense<[[0.93, 0.94, 0.46], [-0.25, -0.83, -0.99], [-0.65, 0.03, 0.69], [1.0, 0.8, 0.19], [-0.51, -0.95, -0.91]]> : tensor<5x3xf32>
  %ids = arith.constant dense<[[4, 0, 2]]> : tensor<1x3xi64>
  %idsd = tensor.cast %ids : tensor<1x3xi64> to tensor<1x?xi64>
  %5 = call @embedding(%t, %idsd) : (tensor<5x3xf32>, tensor<1x?xi64>) -> tensor<1x?x3xf32>
  %r5 = tensor.cast %5 : tensor<1x?x3xf32> to tensor<?x?x?xf32>
  call @print3(%r5) : (tensor<?x?x?xf32>) -> ()
  return
}
