// RUN: ds-opt %s --split-input-file --ds-gemv-to-gpu="prefetch-weights=true" --canonicalize --cse | FileCheck %s
// RUN: ds-opt %s --split-input-file --ds-gemv-to-gpu --canonicalize --cse | FileCheck %s --check-prefix=OFF

// With prefetch-weights the tensor-core GEMV opens, before any load, with
// one cp.async.bulk.prefetch (to L2) a lane of the weight bytes its warp
// streams (ds-gpu-programmatic-launch keeps them ahead of its wait). The
// CUDA-core GEMV and the prefill GEMM do not prefetch. Off by default.
// OFF-NOT: nvvm.cp.async.bulk.prefetch

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// A block's 8 weight rows over its warp's 256-element K range are 8 x 512
// bytes: 4 lanes a row, 128 bytes each, lane l at row n0 + l / 4, from the
// warp's K start plus (l % 4) * 128 bytes.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: %[[W:[a-z0-9]+]]: memref<512x2048xbf16>
// CHECK: gpu.launch {{.*}} function(@gemv_512x2048)
// CHECK-NOT: prefetch
// CHECK: gpu.terminator
// CHECK: gpu.launch {{.*}} function(@gemm_mma_512x2048)
// CHECK-NOT: prefetch
// CHECK: gpu.terminator
// CHECK: gpu.launch {{.*}} function(@gemv_mma_512x2048)
// CHECK-NOT: vector.load
// CHECK: %[[R:.+]] = arith.divui %{{.+}}, %c4
// CHECK: %[[N:.+]] = arith.addi %{{.+}}, %[[R]]
// CHECK: %[[WROW:.+]] = arith.minui %[[N]], %c511
// CHECK: %[[KB:.+]] = arith.minui %{{.+}}, %c2048
// CHECK: %[[PIECE:.+]] = arith.muli %{{.+}}, %c128
// CHECK: %[[ROWK:.+]] = arith.muli %[[WROW]], %c2048
// CHECK: %[[E:.+]] = arith.addi %[[ROWK]], %[[KB]]
// CHECK: %[[BYTES:.+]] = arith.muli %[[E]], %c2
// CHECK: %[[SUM:.+]] = arith.addi %[[BYTES]], %[[PIECE]]
// CHECK: arith.minui %[[SUM]], %c2097024
// CHECK: memref.extract_aligned_pointer_as_index %[[W]]
// CHECK: %[[P:.+]] = llvm.inttoptr
// CHECK: %[[G:.+]] = llvm.addrspacecast %[[P]] : !llvm.ptr to !llvm.ptr<1>
// CHECK: nvvm.cp.async.bulk.prefetch %[[G]], %c128_i32
// CHECK-NOT: prefetch
// CHECK: vector.load
// CHECK: gpu.terminator
func.func @dynamic(%x: memref<?x2048xbf16>, %w: memref<512x2048xbf16>) -> memref<?x512xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x2048xbf16>
  %acc = memref.alloc(%m) : memref<?x512xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x512xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<?x2048xbf16>, memref<512x2048xbf16>)
      outs(%acc : memref<?x512xf32>)
  return %acc : memref<?x512xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// K = 8192: a warp's 1024 elements of 8 rows, 512 bytes a lane.
// CHECK-LABEL: func.func @down
// CHECK: gpu.launch {{.*}} function(@gemv_mma_2048x8192)
// CHECK: nvvm.cp.async.bulk.prefetch %{{.+}}, %c512_i32
// CHECK-NOT: prefetch
// CHECK: gpu.terminator
func.func @down(%x: memref<16x8192xf16>, %w: memref<2048x8192xf16>) -> memref<16x2048xf32> {
  %zero = arith.constant 0.0 : f32
  %acc = memref.alloc() : memref<16x2048xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<16x2048xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<16x8192xf16>, memref<2048x8192xf16>)
      outs(%acc : memref<16x2048xf32>)
  return %acc : memref<16x2048xf32>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// 12 weight rows of 64: the last block's rows clamp to row 11, and the
// 32-byte chunks to the buffer's end (12 * 128 - 32 bytes).
// CHECK-LABEL: func.func @edges
// CHECK: gpu.launch {{.*}} function(@gemv_mma_12x64)
// CHECK: arith.minui %{{.+}}, %c11
// CHECK: arith.minui %{{.+}}, %c1504
// CHECK: nvvm.cp.async.bulk.prefetch %{{.+}}, %c32_i32
// CHECK: gpu.terminator
func.func @edges(%x: memref<16x64xbf16>, %w: memref<12x64xbf16>) -> memref<16x12xf32> {
  %zero = arith.constant 0.0 : f32
  %acc = memref.alloc() : memref<16x12xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<16x12xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<16x64xbf16>, memref<12x64xbf16>)
      outs(%acc : memref<16x12xf32>)
  return %acc : memref<16x12xf32>
}
