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

// L2 prefetches (a GEMV kernel's weights) and the pure code computing their
// addresses stay ahead of the wait; the first other op goes after it.
// CHECK-LABEL: gpu.func @prefetching(
// CHECK-NEXT: gpu.thread_id
// CHECK-NEXT: memref.extract_aligned_pointer_as_index
// CHECK-NEXT: arith.index_castui
// CHECK-NEXT: llvm.inttoptr
// CHECK-NEXT: nvvm.prefetch level = L2
// CHECK-NEXT: arith.constant
// CHECK-NEXT: nvvm.prefetch level = L2
// CHECK-NEXT: llvm.addrspacecast
// CHECK-NEXT: arith.constant
// CHECK-NEXT: nvvm.cp.async.bulk.prefetch
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: memref.load
// A load before the prefetch: the wait goes first.
// CHECK-LABEL: gpu.func @load_first(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant
// CHECK-NEXT: memref.load
// CHECK-NEXT: nvvm.prefetch
// So does an op with a region, even around a prefetch, and an L1
// prefetch (L1 is not coherent with other SMs' writes).
// CHECK-LABEL: gpu.func @region_first(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: scf.if
// CHECK-LABEL: gpu.func @l1(
// CHECK-NEXT: nvvm.griddepcontrol wait
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: nvvm.prefetch level = L1
module attributes {gpu.container_module} {
  gpu.module @d {
    gpu.func @prefetching(%w: memref<64xf32>, %p: !llvm.ptr) kernel {
      %t = gpu.thread_id x
      %i = memref.extract_aligned_pointer_as_index %w : memref<64xf32> -> index
      %a = arith.index_castui %i : index to i64
      %q = llvm.inttoptr %a : i64 to !llvm.ptr
      nvvm.prefetch level = L2, %q : !llvm.ptr
      %c0 = arith.constant 0 : index
      nvvm.prefetch level = L2, %p : !llvm.ptr
      %g = llvm.addrspacecast %q : !llvm.ptr to !llvm.ptr<1>
      %n = arith.constant 128 : i32
      nvvm.cp.async.bulk.prefetch %g, %n : !llvm.ptr<1>
      %v = memref.load %w[%t] : memref<64xf32>
      memref.store %v, %w[%c0] : memref<64xf32>
      gpu.return
    }
    gpu.func @load_first(%w: memref<64xf32>, %p: !llvm.ptr) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %w[%c0] : memref<64xf32>
      nvvm.prefetch level = L2, %p : !llvm.ptr
      memref.store %v, %w[%c0] : memref<64xf32>
      gpu.return
    }
    gpu.func @region_first(%c: i1, %p: !llvm.ptr) kernel {
      scf.if %c {
        nvvm.prefetch level = L2, %p : !llvm.ptr
      }
      nvvm.prefetch level = L2, %p : !llvm.ptr
      gpu.return
    }
    gpu.func @l1(%p: !llvm.ptr) kernel {
      nvvm.prefetch level = L1, %p : !llvm.ptr
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
