// RUN: ds-opt %s --ds-gpu-programmatic-launch --split-input-file | FileCheck %s

// Every kernel waits for the grid before it, then lets the next one launch,
// before its first memory access; the module is listed for ds-compile.
// CHECK: module attributes {ds.programmatic_gpu_modules = ["a", "b"]
// CHECK-LABEL: gpu.func @k(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant
// CHECK-NEXT: memref.load
// CHECK-LABEL: gpu.func @helper(
// CHECK-NOT: griddepcontrol
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @l(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: gpu.return
module attributes {gpu.container_module} {
  gpu.module @a {
    gpu.func @k(%x: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %x[%c0] : memref<4xf32>
      memref.store %v, %x[%c0] : memref<4xf32>
      gpu.return
    }
    gpu.func @helper(%x: memref<4xf32>) {
      gpu.return
    }
  }
  gpu.module @b {
    gpu.func @l() kernel { gpu.return }
  }
}

// -----

// Running it twice changes nothing.
// CHECK-LABEL: gpu.func @once(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: gpu.return
module attributes {gpu.container_module} {
  gpu.module @c {
    gpu.func @once() kernel {
      nvvm.griddepcontrol wait
      nvvm.griddepcontrol launch_dependents
      gpu.return
    }
  }
}

// -----

// No GPU module: nothing to mark.
// CHECK-NOT: ds.programmatic_gpu_modules
// CHECK-LABEL: func.func @host
module {
  func.func @host() { return }
}
