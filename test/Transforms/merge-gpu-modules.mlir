// RUN: ds-opt %s --ds-merge-gpu-modules | FileCheck %s

// Every kernel moves into the first module; a clashing name is renamed and
// its launch follows.
// CHECK: gpu.module @a
// CHECK: gpu.func @k(
// CHECK: gpu.func @k_0(
// CHECK-NOT: gpu.module
// CHECK-LABEL: func.func @host
// CHECK: gpu.launch_func @a::@k blocks
// CHECK: gpu.launch_func @a::@k_0 blocks
module attributes {gpu.container_module} {
  gpu.module @a {
    gpu.func @k(%x: memref<4xf32>) kernel { gpu.return }
  }
  gpu.module @b {
    gpu.func @k(%x: memref<4xf32>) kernel { gpu.return }
  }
  func.func @host(%x: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @a::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>)
    gpu.launch_func @b::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>)
    return
  }
}
