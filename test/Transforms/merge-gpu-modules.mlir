// RUN: ds-opt %s --ds-merge-gpu-modules | FileCheck %s

// Every kernel moves into the first module; a clashing name is renamed and
// its launch follows. A kernel identical to one already there but for its
// name (@c::@same) is dropped, and its launch uses the one kept.
// CHECK: gpu.module @a
// CHECK: gpu.func @k(%{{.+}}: memref<4xf32>)
// CHECK: gpu.func @k_0(%{{.+}}: memref<8xf32>)
// CHECK-NOT: gpu.func
// CHECK-NOT: gpu.module
// CHECK-LABEL: func.func @host
// CHECK: gpu.launch_func @a::@k blocks
// CHECK: gpu.launch_func @a::@k_0 blocks
// CHECK: gpu.launch_func @a::@k blocks
module attributes {gpu.container_module} {
  gpu.module @a {
    gpu.func @k(%x: memref<4xf32>) kernel { gpu.return }
  }
  gpu.module @b {
    gpu.func @k(%x: memref<8xf32>) kernel { gpu.return }
  }
  gpu.module @c {
    gpu.func @same(%x: memref<4xf32>) kernel { gpu.return }
  }
  func.func @host(%x: memref<4xf32>, %y: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @a::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>)
    gpu.launch_func @b::@k blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%y : memref<8xf32>)
    gpu.launch_func @c::@same blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%x : memref<4xf32>)
    return
  }
}
