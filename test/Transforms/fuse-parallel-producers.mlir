// RUN: ds-opt %s --ds-fuse-parallel-producers --split-input-file | FileCheck %s

// RoPE-like keys appended to a cache at each row's position: the producer
// is recomputed inside the append, at the coordinates the append reads
// (the subview's offset added), and the temporary goes.
// CHECK-LABEL: func.func @append
// CHECK-NOT: memref.alloc
// CHECK-NOT: scf.parallel (%{{.+}}, %{{.+}}, %{{.+}})
// CHECK: scf.for %[[B:.+]] = %c0 to
// CHECK: %[[DST:.+]] = memref.subview %{{.+}}[%[[B]], 0, %{{.+}}, 0] [1, 8, 1, 64]
// CHECK: scf.parallel (%[[H:.+]], %[[E:.+]]) =
// CHECK: %[[X:.+]] = memref.load %arg0[%[[B]], %[[H]], %c0, %[[E]]]
// CHECK: %[[R:.+]] = affine.apply #{{.+}}(%[[E]])
// CHECK: %[[C:.+]] = memref.load %arg1[%[[B]], %c0, %c0, %[[R]]]
// CHECK: %[[Y:.+]] = arith.mulf %[[X]], %[[C]]
// CHECK: memref.store %[[Y]], %[[DST]][%c0, %[[H]], %c0, %[[E]]]
// CHECK-NOT: memref.dealloc
func.func @append(%q: memref<?x8x1x64xbf16>, %cos: memref<?x1x1x32xbf16>, %start: memref<?xi64>, %cache: memref<?x8x?x64xbf16>, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %t = memref.alloc(%n) : memref<?x8x1x64xbf16>
  scf.parallel (%b, %h, %e) = (%c0, %c0, %c0) to (%n, %c8, %c64) step (%c1, %c1, %c1) {
    %x = memref.load %q[%b, %h, %c0, %e] : memref<?x8x1x64xbf16>
    %r = affine.apply affine_map<(d0) -> (d0 mod 32)>(%e)
    %c = memref.load %cos[%b, %c0, %c0, %r] : memref<?x1x1x32xbf16>
    %y = arith.mulf %x, %c : bf16
    memref.store %y, %t[%b, %h, %c0, %e] : memref<?x8x1x64xbf16>
    scf.reduce
  }
  scf.for %i = %c0 to %n step %c1 {
    %s64 = memref.load %start[%i] : memref<?xi64>
    %s = arith.index_cast %s64 : i64 to index
    %src = memref.subview %t[%i, 0, 0, 0] [1, 8, 1, 64] [1, 1, 1, 1] : memref<?x8x1x64xbf16> to memref<1x8x1x64xbf16, strided<[512, 64, 64, 1], offset: ?>>
    %dst = memref.subview %cache[%i, 0, %s, 0] [1, 8, 1, 64] [1, 1, 1, 1] : memref<?x8x?x64xbf16> to memref<1x8x1x64xbf16, strided<[?, ?, 64, 1], offset: ?>>
    scf.parallel (%h, %e) = (%c0, %c0) to (%c8, %c64) step (%c1, %c1) {
      %v = memref.load %src[%c0, %h, %c0, %e] : memref<1x8x1x64xbf16, strided<[512, 64, 64, 1], offset: ?>>
      memref.store %v, %dst[%c0, %h, %c0, %e] : memref<1x8x1x64xbf16, strided<[?, ?, 64, 1], offset: ?>>
      scf.reduce
    }
  }
  memref.dealloc %t : memref<?x8x1x64xbf16>
  return
}

// -----

// One temporary reused by two producers (memory planning across layers):
// each reader takes the value of the producer before it.
// CHECK-LABEL: func.func @reused
// CHECK-NOT: memref.alloc
// CHECK: %[[A:.+]] = memref.load %arg0[%[[I:.+]]]
// CHECK: %[[NA:.+]] = arith.negf %[[A]]
// CHECK: memref.store %[[NA]], %arg2[%[[I]]]
// CHECK: %[[B:.+]] = memref.load %arg1[%[[J:.+]]]
// CHECK: %[[NB:.+]] = arith.negf %[[B]]
// CHECK: memref.store %[[NB]], %arg3[%[[J]]]
// CHECK-NOT: memref.dealloc
func.func @reused(%a: memref<64xf32>, %b: memref<64xf32>, %oa: memref<64xf32>, %ob: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %t = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    %y = arith.negf %x : f32
    memref.store %y, %t[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %t[%i] : memref<64xf32>
    memref.store %v, %oa[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %b[%i] : memref<64xf32>
    %y = arith.negf %x : f32
    memref.store %y, %t[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %t[%i] : memref<64xf32>
    memref.store %v, %ob[%i] : memref<64xf32>
    scf.reduce
  }
  memref.dealloc %t : memref<64xf32>
  return
}

// -----

// Kept: the reader writes the producer's input before reading the
// temporary (recomputing there would see the new value).
// CHECK-LABEL: func.func @input_changes
// CHECK: memref.alloc
// CHECK-COUNT-2: scf.parallel
func.func @input_changes(%a: memref<64xf32>, %o: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 0.0 : f32
  %t = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    memref.store %x, %t[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    memref.store %f, %a[%i] : memref<64xf32>
    %v = memref.load %t[%i] : memref<64xf32>
    memref.store %v, %o[%i] : memref<64xf32>
    scf.reduce
  }
  return
}

// -----

// Kept: a reader that is already a kernel; a producer with two stores; a
// producer whose bound is not the temporary's extent.
// CHECK-LABEL: func.func @not_fused
// CHECK-COUNT-3: memref.alloc
// CHECK-COUNT-3: scf.parallel
func.func @not_fused(%a: memref<64xf32>, %o: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %t = memref.alloc() : memref<64xf32>
  %u = memref.alloc() : memref<64xf32>
  %w = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    memref.store %x, %t[%i] : memref<64xf32>
    scf.reduce
  }
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %c1, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c64, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %t[%tx] : memref<64xf32>
    memref.store %v, %o[%tx] : memref<64xf32>
    gpu.terminator
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    memref.store %x, %u[%i] : memref<64xf32>
    memref.store %x, %o[%i] : memref<64xf32>
    scf.reduce
  }
  %v = memref.load %u[%c0] : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c32) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    memref.store %x, %w[%i] : memref<64xf32>
    scf.reduce
  }
  %z = memref.load %w[%c0] : memref<64xf32>
  return
}

// -----

// The producer's input is freed before the reader: the deallocation moves
// after the reader, or a buffer allocated in between could take its memory.
// CHECK-LABEL: func.func @input_freed
// CHECK: %[[IN:.+]] = memref.alloc() : memref<64xf32>
// CHECK: %[[OTHER:.+]] = memref.alloc() : memref<64xf32>
// CHECK: scf.for
// CHECK: scf.parallel
// CHECK: memref.load %[[IN]]
// CHECK: memref.dealloc %[[IN]]
// CHECK: return
func.func @input_freed(%a: memref<64xf32>, %o: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %f = arith.constant 1.0 : f32
  %in = memref.alloc() : memref<64xf32>
  %t = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %in[%i] : memref<64xf32>
    memref.store %x, %t[%i] : memref<64xf32>
    scf.reduce
  }
  memref.dealloc %in : memref<64xf32>
  %other = memref.alloc() : memref<64xf32>
  scf.for %i = %c0 to %c64 step %c1 {
    memref.store %f, %other[%i] : memref<64xf32>
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %t[%i] : memref<64xf32>
    %w = memref.load %other[%i] : memref<64xf32>
    %s = arith.addf %v, %w : f32
    memref.store %s, %o[%i] : memref<64xf32>
    scf.reduce
  }
  memref.dealloc %other : memref<64xf32>
  return
}

// -----

// Kept: the reader loads through a reshape of the temporary made before the
// producer (only plain subviews are rewritten, wherever the view op sits).
// CHECK-LABEL: func.func @early_view
// CHECK: memref.alloc
// CHECK: memref.expand_shape
// CHECK-COUNT-2: scf.parallel
func.func @early_view(%a: memref<64xf32>, %o: memref<8x8xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %t = memref.alloc() : memref<64xf32>
  %e = memref.expand_shape %t [[0, 1]] output_shape [8, 8] : memref<64xf32> into memref<8x8xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    memref.store %x, %t[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i, %j) = (%c0, %c0) to (%c8, %c8) step (%c1, %c1) {
    %v = memref.load %e[%i, %j] : memref<8x8xf32>
    memref.store %v, %o[%i, %j] : memref<8x8xf32>
    scf.reduce
  }
  return
}

// -----

// Kept: the temporary is also returned (a @prepare result), and a
// temporary the next writer reads before overwriting it.
// CHECK-LABEL: func.func @escapes
// CHECK-COUNT-3: scf.parallel
// CHECK: scf.for
// CHECK: memref.load %{{.+}}[%{{.+}}]
// CHECK: return
func.func @escapes(%a: memref<64xf32>, %o: memref<64xf32>) -> memref<64xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %t = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    memref.store %x, %t[%i] : memref<64xf32>
    scf.reduce
  }
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %v = memref.load %t[%i] : memref<64xf32>
    memref.store %v, %o[%i] : memref<64xf32>
    scf.reduce
  }
  %u = memref.alloc() : memref<64xf32>
  scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
    %x = memref.load %a[%i] : memref<64xf32>
    memref.store %x, %u[%i] : memref<64xf32>
    scf.reduce
  }
  scf.for %i = %c0 to %c64 step %c1 {
    %v = memref.load %u[%i] : memref<64xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %u[%i] : memref<64xf32>
  }
  memref.copy %u, %o : memref<64xf32> to memref<64xf32>
  return %t : memref<64xf32>
}
