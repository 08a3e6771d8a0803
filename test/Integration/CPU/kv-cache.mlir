// ds.kv_cache.append / ds.kv_cache.read on the CPU: two sequences at
// different offsets in one preallocated cache, two appends, each followed
// by a read of the filled prefix; positions not written keep the cache's
// old contents.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy, per sequence b: cache[b, :, off[b]:off[b]+S, :] =
// update[b], then cache[:, :, :length, :]. The cache starts as -1.

func.func @step(%cache: tensor<2x1x4x2xf32>, %upd: tensor<2x1x?x2xf32>, %off: tensor<2xi64>, %len: index) -> (tensor<2x1x4x2xf32>, tensor<2x1x?x2xf32>) {
  %c = ds.kv_cache.append %cache, %upd, %off : (tensor<2x1x4x2xf32>, tensor<2x1x?x2xf32>, tensor<2xi64>) -> tensor<2x1x4x2xf32>
  %r = ds.kv_cache.read %c, %len : (tensor<2x1x4x2xf32>, index) -> tensor<2x1x?x2xf32>
  return %c, %r : tensor<2x1x4x2xf32>, tensor<2x1x?x2xf32>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print(%t: tensor<2x1x?x2xf32>) {
  %m = tensor.collapse_shape %t [[0, 1, 2], [3]] : tensor<2x1x?x2xf32> into tensor<?x2xf32>
  %u = tensor.cast %m : tensor<?x2xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %cache = arith.constant dense<-1.0> : tensor<2x1x4x2xf32>
  %u = arith.constant dense<[[[[1.0, 2.0], [3.0, 4.0]]], [[[5.0, 6.0], [7.0, 8.0]]]]> : tensor<2x1x2x2xf32>
  %u1 = tensor.cast %u : tensor<2x1x2x2xf32> to tensor<2x1x?x2xf32>
  %off1 = arith.constant dense<[0, 2]> : tensor<2xi64>
  %c4 = arith.constant 4 : index
  // Sequence 0 gets rows 0-1, sequence 1 rows 2-3.
  // CHECK-LABEL: sizes = [8, 2]
  // CHECK-NEXT: {{\[\[}}1, 2],
  // CHECK-NEXT: [3, 4],
  // CHECK-NEXT: [-1, -1],
  // CHECK-NEXT: [-1, -1],
  // CHECK-NEXT: [-1, -1],
  // CHECK-NEXT: [-1, -1],
  // CHECK-NEXT: [5, 6],
  // CHECK-NEXT: [7, 8]]
  %0:2 = call @step(%cache, %u1, %off1, %c4) : (tensor<2x1x4x2xf32>, tensor<2x1x?x2xf32>, tensor<2xi64>, index) -> (tensor<2x1x4x2xf32>, tensor<2x1x?x2xf32>)
  call @print(%0#1) : (tensor<2x1x?x2xf32>) -> ()

  %v = arith.constant dense<[[[[10.0, 20.0]]], [[[30.0, 40.0]]]]> : tensor<2x1x1x2xf32>
  %v1 = tensor.cast %v : tensor<2x1x1x2xf32> to tensor<2x1x?x2xf32>
  %off2 = arith.constant dense<[2, 1]> : tensor<2xi64>
  %c3 = arith.constant 3 : index
  // Then one row each: sequence 0 at 2, sequence 1 at 1; read 3 rows.
  // CHECK-LABEL: sizes = [6, 2]
  // CHECK-NEXT: {{\[\[}}1, 2],
  // CHECK-NEXT: [3, 4],
  // CHECK-NEXT: [10, 20],
  // CHECK-NEXT: [-1, -1],
  // CHECK-NEXT: [30, 40],
  // CHECK-NEXT: [5, 6]]
  %1:2 = call @step(%0#0, %v1, %off2, %c3) : (tensor<2x1x4x2xf32>, tensor<2x1x?x2xf32>, tensor<2xi64>, index) -> (tensor<2x1x4x2xf32>, tensor<2x1x?x2xf32>)
  call @print(%1#1) : (tensor<2x1x?x2xf32>) -> ()
  return
}
