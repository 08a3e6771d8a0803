// ds.kv_cache.append / ds.kv_cache.read on the CPU: two appends at
// dynamic offsets into a preallocated cache, each followed by a read of the
// filled prefix; positions past the prefix keep the cache's old contents.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy slicing: cache[:, :, off:off+S, :] = update, then
// cache[:, :, :length, :]. The cache starts as -1 everywhere.

func.func @step(%cache: tensor<1x2x5x2xf32>, %upd: tensor<1x2x?x2xf32>, %off: index, %len: index) -> (tensor<1x2x5x2xf32>, tensor<1x2x?x2xf32>) {
  %c = ds.kv_cache.append %cache, %upd, %off : (tensor<1x2x5x2xf32>, tensor<1x2x?x2xf32>, index) -> tensor<1x2x5x2xf32>
  %r = ds.kv_cache.read %c, %len : (tensor<1x2x5x2xf32>, index) -> tensor<1x2x?x2xf32>
  return %c, %r : tensor<1x2x5x2xf32>, tensor<1x2x?x2xf32>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print(%t: tensor<1x2x?x2xf32>) {
  %m = tensor.collapse_shape %t [[0, 1, 2], [3]] : tensor<1x2x?x2xf32> into tensor<?x2xf32>
  %u = tensor.cast %m : tensor<?x2xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %cache = arith.constant dense<-1.0> : tensor<1x2x5x2xf32>
  %u = arith.constant dense<[[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]]> : tensor<1x2x2x2xf32>
  %u1 = tensor.cast %u : tensor<1x2x2x2xf32> to tensor<1x2x?x2xf32>
  %c1 = arith.constant 1 : index
  %c3 = arith.constant 3 : index
  // CHECK-LABEL: sizes = [6, 2]
  // CHECK-NEXT: {{\[\[}}{{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(2.999[0-9]*|3(.[0-9]*)?)}}, {{(3.999[0-9]*|4(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(4.999[0-9]*|5(.[0-9]*)?)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(7.999[0-9]*|8(.[0-9]*)?)}}]]
  %0:2 = call @step(%cache, %u1, %c1, %c3) : (tensor<1x2x5x2xf32>, tensor<1x2x?x2xf32>, index, index) -> (tensor<1x2x5x2xf32>, tensor<1x2x?x2xf32>)
  call @print(%0#1) : (tensor<1x2x?x2xf32>) -> ()

  %v = arith.constant dense<[[[[10.0, 20.0]], [[30.0, 40.0]]]]> : tensor<1x2x1x2xf32>
  %v1 = tensor.cast %v : tensor<1x2x1x2xf32> to tensor<1x2x?x2xf32>
  %c4 = arith.constant 4 : index
  // CHECK-LABEL: sizes = [8, 2]
  // CHECK-NEXT: {{\[\[}}{{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(0.9999[0-9]*|1(.[0-9]*)?)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(2.999[0-9]*|3(.[0-9]*)?)}}, {{(3.999[0-9]*|4(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(10(.[0-9]*)?|9.999[0-9]*)}}, {{(19.99[0-9]*|20(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(4.999[0-9]*|5(.[0-9]*)?)}}, {{(5.999[0-9]*|6(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(7.999[0-9]*|8(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(29.99[0-9]*|30(.[0-9]*)?)}}, {{(39.99[0-9]*|40(.[0-9]*)?)}}]]
  %1:2 = call @step(%0#0, %v1, %c3, %c4) : (tensor<1x2x5x2xf32>, tensor<1x2x?x2xf32>, index, index) -> (tensor<1x2x5x2xf32>, tensor<1x2x?x2xf32>)
  call @print(%1#1) : (tensor<1x2x?x2xf32>) -> ()
  return
}
