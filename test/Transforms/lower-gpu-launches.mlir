// RUN: ds-opt %s --split-input-file --ds-lower-gpu-launches -verify-diagnostics | FileCheck %s

// The host code calls the runtime through its table __ds_cuda_api: the
// launch (slot 2) gets the kernel's index, the grid, the block, the shared
// bytes and a pointer array to the kernel's parameters; malloc and free
// become slots 0 and 1; a constant global is replaced by its device copy
// (slot 3). The kernel table is recorded for ds-compile.
// CHECK: module attributes {ds.cuda_kernels = [@m::@k0, @m::@k1]
// CHECK: llvm.mlir.global external @__ds_cuda_api() {{.*}} : !llvm.array<4 x ptr> {
// CHECK: llvm.mlir.zero : !llvm.array<4 x ptr>
// CHECK-LABEL: llvm.func @forward
// CHECK-SAME: ds.kernel_launches = 3 : i64
// CHECK: %[[TABLE:.+]] = llvm.mlir.addressof @__ds_cuda_api
// CHECK-NEXT: llvm.getelementptr %[[TABLE]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT: %[[ALLOC:.+]] = llvm.load
// CHECK-NEXT: %[[BUF:.+]] = llvm.call %[[ALLOC]](%{{.+}}) : !llvm.ptr, (i64) -> !llvm.ptr
// Each parameter is stored in its slot, and the slot in the pointer array.
// CHECK: llvm.store %{{.+}}, %[[SLOT:.+]] : i64, !llvm.ptr
// CHECK-NEXT: %[[P0:.+]] = llvm.getelementptr %[[PARAMS:.+]][0]
// CHECK-NEXT: llvm.store %[[SLOT]], %[[P0]] : !llvm.ptr, !llvm.ptr
// CHECK: llvm.getelementptr %{{.+}}[2] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT: %[[LAUNCH:.+]] = llvm.load
// CHECK-NEXT: %[[K0:.+]] = llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT: llvm.call %[[LAUNCH]](%[[K0]], %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[PARAMS]]) : !llvm.ptr, (i32, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr) -> ()
// CHECK: llvm.getelementptr %{{.+}}[2]
// CHECK-NEXT: llvm.load
// CHECK-NEXT: llvm.mlir.constant(1 : i32) : i32
// CHECK-NEXT: llvm.call
// The first kernel again: index 0.
// CHECK: llvm.getelementptr %{{.+}}[2]
// CHECK-NEXT: llvm.load
// CHECK-NEXT: llvm.mlir.constant(0 : i32) : i32
// CHECK-NEXT: llvm.call
// CHECK: %[[CONST:.+]] = llvm.mlir.addressof @table
// CHECK: llvm.getelementptr %{{.+}}[3] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[DEV:.+]] = llvm.call %{{.+}}(%{{.+}}, %[[CONST]], %{{.+}}) : !llvm.ptr, (i32, !llvm.ptr, i64) -> !llvm.ptr
// CHECK: llvm.ptrtoint %[[DEV]]
// CHECK: llvm.getelementptr %{{.+}}[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: llvm.call %{{.+}}(%[[BUF]]) : !llvm.ptr, (!llvm.ptr) -> ()
// CHECK: llvm.return %[[DEV]]
// CHECK-NOT: gpu.launch_func
// CHECK-NOT: @malloc(
module attributes {gpu.container_module} {
  llvm.func @malloc(i64) -> !llvm.ptr
  llvm.func @free(!llvm.ptr)
  llvm.mlir.global private constant @table(dense<[1.0, 2.0]> : tensor<2xf32>) : !llvm.array<2 x f32>
  gpu.binary @m [#gpu.object<#nvvm.target, "BLOB">]
  llvm.func @forward(%n: i64) -> !llvm.ptr {
    %c1 = llvm.mlir.constant(1 : index) : i64
    %p = llvm.call @malloc(%n) : (i64) -> !llvm.ptr
    %v = llvm.ptrtoint %p : !llvm.ptr to i64
    gpu.launch_func @m::@k0 blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%v : i64)
    gpu.launch_func @m::@k1 blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%v : i64)
    gpu.launch_func @m::@k0 blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) : i64 args(%v : i64)
    %t = llvm.mlir.addressof @table : !llvm.ptr
    %tv = llvm.ptrtoint %t : !llvm.ptr to i64
    llvm.call @free(%p) : (!llvm.ptr) -> ()
    llvm.return %t : !llvm.ptr
  }
}

// -----

// Two launches of which the host runs one per call (ds-gemv-to-gpu's
// CUDA-core / tensor-core pair, recorded as ds.alternative_launches) count
// once.
// CHECK-LABEL: llvm.func @dispatch
// CHECK-SAME: ds.kernel_launches = 1 : i64
module attributes {gpu.container_module} {
  gpu.binary @m [#gpu.object<#nvvm.target, "BLOB">]
  llvm.func @dispatch(%n: i64, %few: i1) attributes {ds.alternative_launches = 1 : i64} {
    %c1 = llvm.mlir.constant(1 : index) : i64
    llvm.cond_br %few, ^core, ^mma
  ^core:
    gpu.launch_func @m::@gemv blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) : i64
    llvm.br ^done
  ^mma:
    gpu.launch_func @m::@gemv_mma blocks in (%n, %c1, %c1) threads in (%c1, %c1, %c1) : i64
    llvm.br ^done
  ^done:
    llvm.return
  }
}

