// RUN: ds-opt %s --split-input-file --ds-map-to-gpu -verify-diagnostics | FileCheck %s

// A 2-d parallel loop becomes one launch of ceil(n*m / 256) blocks of 256
// threads; each thread recovers (i, j) from its linear id, the last
// dimension fastest, and is guarded against the tail.
// CHECK-LABEL: func.func @parallel
// CHECK: %[[C256:.+]] = arith.constant 256 : index
// CHECK-NEXT: %[[BLOCKS:.+]] = arith.ceildivsi %[[TOTAL:.+]], %[[C256]] : index
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[BLOCKS]], %{{.+}} = %{{.+}}, %{{.+}} = %{{.+}}) threads(%[[TX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[C256]],
// CHECK: %[[ID:.+]] = arith.addi %{{.+}}, %[[TX]]
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[ID]], %[[TOTAL]]
// CHECK: scf.if %[[IN]]
// The division by the run-time extent m is 32-bit when n * m fits in 31
// bits (a uniform branch; a 64-bit one is a long instruction sequence).
// CHECK: %[[FITS:.+]] = arith.cmpi ule, %[[TOTAL]], %c2147483647
// CHECK: %[[IJ:.+]]:2 = scf.if %[[FITS]] -> (index, index) {
// CHECK: %[[ID32:.+]] = arith.index_castui %[[ID]] : index to i32
// CHECK: arith.remui %[[ID32]], %{{.+}} : i32
// CHECK: arith.divui %[[ID32]], %{{.+}} : i32
// CHECK: } else {
// CHECK: arith.remui %[[ID]], %{{.+}} : index
// CHECK: arith.divui %[[ID]], %{{.+}} : index
// CHECK: }
// CHECK: memref.load
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: scf.parallel
func.func @parallel(%a: memref<?x?xf32>, %b: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?x?xf32>
  %m = memref.dim %a, %c1 : memref<?x?xf32>
  scf.parallel (%i, %j) = (%c0, %c0) to (%n, %m) step (%c1, %c1) {
    %x = memref.load %a[%i, %j] : memref<?x?xf32>
    memref.store %x, %b[%i, %j] : memref<?x?xf32>
    scf.reduce
  }
  return
}

// -----

// A nested parallel loop runs sequentially inside its thread; a top-level
// loop that is not parallel (the per-sequence cache append) becomes a
// one-thread launch; allocations and views stay on the host.
// CHECK-LABEL: func.func @nested_and_serial
// CHECK: memref.alloc
// CHECK: gpu.launch
// CHECK: scf.for
// CHECK-NOT: scf.parallel
// CHECK: gpu.terminator
// CHECK: gpu.launch blocks(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[ONE:[a-z0-9_]+]], %{{.+}} = %[[ONE]], %{{.+}} = %[[ONE]]) threads(%{{.+}}, %{{.+}}, %{{.+}}) in (%{{.+}} = %[[ONE]], %{{.+}} = %[[ONE]], %{{.+}} = %[[ONE]])
// CHECK: scf.for
// CHECK: memref.load %{{.+}} : memref<?xi64>
// CHECK: gpu.terminator
// CHECK: return
func.func @nested_and_serial(%a: memref<?x8xf32>, %off: memref<?xi64>,
                             %c: memref<?x64xf32>) -> memref<?x8xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %n = memref.dim %a, %c0 : memref<?x8xf32>
  %t = memref.alloc(%n) : memref<?x8xf32>
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    scf.parallel (%j) = (%c0) to (%c8) step (%c1) {
      %x = memref.load %a[%i, %j] : memref<?x8xf32>
      memref.store %x, %t[%i, %j] : memref<?x8xf32>
      scf.reduce
    }
    scf.reduce
  }
  scf.for %b = %c0 to %n step %c1 {
    %o = memref.load %off[%b] : memref<?xi64>
    %oi = arith.index_cast %o : i64 to index
    %x = memref.load %t[%b, %c0] : memref<?x8xf32>
    memref.store %x, %c[%b, %oi] : memref<?x64xf32>
  }
  return %t : memref<?x8xf32>
}

// -----

// The per-sequence cache append as it reaches this pass: the sequential
// loop only reads (each sequence's position), its writes are in a
// parallel loop. One block runs it: every thread walks the sequences,
// the copy's iterations are spread over the 256 threads (linearised,
// strided by the block size), and a barrier ends each sequence's copy.
// CHECK-LABEL: func.func @cache_append
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ONE:[a-z0-9_]+]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]]) threads(%[[TID:[a-z0-9_]+]], {{.*}}) in ({{.*}} = %c256{{.*}}, {{.*}} = %[[ONE]], {{.*}} = %[[ONE]])
// CHECK: scf.for %[[SEQ:.+]] = %{{.+}} to %{{.+}} step
// CHECK: memref.load %{{.+}}[%[[SEQ]]] : memref<?xi64>
// CHECK: scf.for %[[I:.+]] = %[[TID]] to %{{.+}} step %c256
// CHECK: arith.remui %[[I]]
// CHECK: memref.store
// CHECK: gpu.barrier
// CHECK-NOT: scf.parallel
// CHECK: gpu.terminator
func.func @cache_append(%new: memref<?x8x64xf32>, %pos: memref<?xi64>,
                        %cache: memref<?x8x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %new, %c0 : memref<?x8x64xf32>
  scf.for %b = %c0 to %n step %c1 {
    %p = memref.load %pos[%b] : memref<?xi64>
    %pi = arith.index_cast %p : i64 to index
    scf.parallel (%h, %d) = (%c0, %c0) to (%c8, %c64) step (%c1, %c1) {
      %x = memref.load %new[%b, %h, %d] : memref<?x8x64xf32>
      memref.store %x, %cache[%b, %h, %pi, %d] : memref<?x8x?x64xf32>
      scf.reduce
    }
  }
  return
}

// -----

// The cache append as the pipeline produces it: each sequence copies into a
// subview of the cache at offset (sequence, 0, position, 0) with size 1 in
// the sequence dimension, so the iterations write disjoint rows and are
// independent. Its body is a position load, views and one copy whose
// bounds the host knows: one thread per (sequence, head, element), the
// sequence slowest, each loading its sequence's position.
// CHECK-LABEL: func.func @cache_append_slices
// CHECK: %[[N:.+]] = memref.dim
// CHECK: %[[TRIPS:.+]] = arith.maxsi
// The copy's trip counts fold to constants as they are built.
// CHECK: %[[H:.+]] = arith.constant 8 : index
// CHECK: %[[D:.+]] = arith.constant 64 : index
// CHECK: %[[TH:.+]] = arith.muli %[[TRIPS]], %[[H]]
// CHECK: %[[TOTAL:.+]] = arith.muli %[[TH]], %[[D]]
// CHECK: %[[BLOCKS:.+]] = arith.ceildivsi %[[TOTAL]], %c256
// CHECK: gpu.launch blocks(%[[BX:[a-z0-9_]+]], {{.*}}) in ({{.*}} = %[[BLOCKS]], {{.*}}) threads(%[[TID:[a-z0-9_]+]], {{.*}}) in ({{.*}} = %c256{{.*}},
// CHECK-NOT: scf.for
// CHECK: arith.cmpi ult, %{{.+}}, %[[TOTAL]]
// CHECK: %[[REST:.+]] = arith.divui %{{.+}}, %[[D]]
// CHECK: %[[SEQI:.+]] = arith.divui %[[REST]], %[[H]]
// CHECK: %[[SEQS:.+]] = arith.muli %[[SEQI]], %c1
// CHECK: %[[SEQ:.+]] = arith.addi %c0{{.*}}, %[[SEQS]]
// CHECK: memref.load %{{.+}}[%[[SEQ]]] : memref<?xi64>
// CHECK: memref.subview %{{.+}}[%[[SEQ]], 0, %{{.+}}, 0] [1, 8, 1, 64]
// CHECK-NOT: scf.for
// CHECK: memref.store
// CHECK-NOT: gpu.barrier
// CHECK: gpu.terminator
// When the copy's bounds depend on what the iteration loaded, the host
// cannot count the threads: a block per sequence, the copy spread over its
// threads.
// CHECK-LABEL: func.func @cache_append_loaded_length
// CHECK: %[[TRIPS:.+]] = arith.maxsi
// CHECK: gpu.launch blocks(%[[BX:[a-z0-9_]+]], {{.*}}) in ({{.*}} = %[[TRIPS]], {{.*}}) threads(%[[TID:[a-z0-9_]+]], {{.*}}) in ({{.*}} = %c256{{.*}},
// CHECK: %[[SEQ:.+]] = arith.addi %c0{{.*}}, %{{.+}}
// CHECK: memref.load %{{.+}}[%[[SEQ]]] : memref<?xi64>
// CHECK: scf.for %{{.+}} = %[[TID]] to %{{.+}} step %c256
// CHECK: memref.store
// CHECK: gpu.barrier
// CHECK: gpu.terminator
// Reading another sequence's row of the buffer it writes makes the
// iterations dependent: one block walks the sequences in order.
// CHECK-LABEL: func.func @cache_append_reads_neighbour
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ONE0:[a-z0-9_]+]], {{.*}} = %[[ONE0]], {{.*}} = %[[ONE0]]) threads
// CHECK: scf.for
// The same with a subview two sequences wide: iterations overlap, so one
// block walks the sequences in order.
// CHECK-LABEL: func.func @cache_append_overlap
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[ONE:[a-z0-9_]+]], {{.*}} = %[[ONE]], {{.*}} = %[[ONE]]) threads
// CHECK: scf.for
func.func @cache_append_slices(%new: memref<?x8x64xf32>, %pos: memref<?xi64>,
                               %cache: memref<?x8x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %new, %c0 : memref<?x8x64xf32>
  scf.for %b = %c0 to %n step %c1 {
    %p = memref.load %pos[%b] : memref<?xi64>
    %pi = arith.index_cast %p : i64 to index
    %src = memref.subview %new[%b, 0, 0] [1, 8, 64] [1, 1, 1] : memref<?x8x64xf32> to memref<1x8x64xf32, strided<[512, 64, 1], offset: ?>>
    %dst = memref.subview %cache[%b, 0, %pi, 0] [1, 8, 1, 64] [1, 1, 1, 1] : memref<?x8x?x64xf32> to memref<1x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
    scf.parallel (%h, %d) = (%c0, %c0) to (%c8, %c64) step (%c1, %c1) {
      %x = memref.load %src[%c0, %h, %d] : memref<1x8x64xf32, strided<[512, 64, 1], offset: ?>>
      memref.store %x, %dst[%c0, %h, %c0, %d] : memref<1x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
      scf.reduce
    }
  }
  return
}
func.func @cache_append_loaded_length(%new: memref<?x8x64xf32>, %pos: memref<?xi64>,
                                      %cache: memref<?x8x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %n = memref.dim %new, %c0 : memref<?x8x64xf32>
  scf.for %b = %c0 to %n step %c1 {
    %p = memref.load %pos[%b] : memref<?xi64>
    %pi = arith.index_cast %p : i64 to index
    %src = memref.subview %new[%b, 0, 0] [1, 8, 64] [1, 1, 1] : memref<?x8x64xf32> to memref<1x8x64xf32, strided<[512, 64, 1], offset: ?>>
    %dst = memref.subview %cache[%b, 0, 0, 0] [1, 8, 1, 64] [1, 1, 1, 1] : memref<?x8x?x64xf32> to memref<1x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
    scf.parallel (%h, %d) = (%c0, %c0) to (%c8, %pi) step (%c1, %c1) {
      %x = memref.load %src[%c0, %h, %d] : memref<1x8x64xf32, strided<[512, 64, 1], offset: ?>>
      memref.store %x, %dst[%c0, %h, %c0, %d] : memref<1x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
      scf.reduce
    }
  }
  return
}
func.func @cache_append_reads_neighbour(%new: memref<?x8x64xf32>, %pos: memref<?xi64>,
                                        %cache: memref<?x8x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %new, %c0 : memref<?x8x64xf32>
  scf.for %b = %c0 to %n step %c1 {
    %p = memref.load %pos[%b] : memref<?xi64>
    %pi = arith.index_cast %p : i64 to index
    %dst = memref.subview %cache[%b, 0, %pi, 0] [1, 8, 1, 64] [1, 1, 1, 1] : memref<?x8x?x64xf32> to memref<1x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
    scf.parallel (%h, %d) = (%c0, %c0) to (%c8, %c64) step (%c1, %c1) {
      %x = memref.load %cache[%c0, %h, %c0, %d] : memref<?x8x?x64xf32>
      memref.store %x, %dst[%c0, %h, %c0, %d] : memref<1x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
      scf.reduce
    }
  }
  return
}
func.func @cache_append_overlap(%new: memref<?x8x64xf32>, %pos: memref<?xi64>,
                                %cache: memref<?x8x?x64xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c8 = arith.constant 8 : index
  %c64 = arith.constant 64 : index
  %n = memref.dim %new, %c0 : memref<?x8x64xf32>
  scf.for %b = %c0 to %n step %c1 {
    %p = memref.load %pos[%b] : memref<?xi64>
    %pi = arith.index_cast %p : i64 to index
    %dst = memref.subview %cache[%b, 0, %pi, 0] [2, 8, 1, 64] [1, 1, 1, 1] : memref<?x8x?x64xf32> to memref<2x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
    scf.parallel (%h, %d) = (%c0, %c0) to (%c8, %c64) step (%c1, %c1) {
      %x = memref.load %new[%b, %h, %d] : memref<?x8x64xf32>
      memref.store %x, %dst[%c0, %h, %c0, %d] : memref<2x8x1x64xf32, strided<[?, ?, 64, 1], offset: ?>>
      scf.reduce
    }
  }
  return
}

// -----

// A value read from device memory that sizes a host allocation cannot be
// compiled for the GPU.
func.func @data_dependent_shape(%len: memref<i64>) -> memref<?xf32> {
  // expected-error @+1 {{ds-map-to-gpu: this op reads device memory and its result is used by host code}}
  %l = memref.load %len[] : memref<i64>
  %n = arith.index_cast %l : i64 to index
  %r = memref.alloc(%n) : memref<?xf32>
  return %r : memref<?xf32>
}

// -----

// A host-side scf.if (ds-gemv-to-gpu's dispatch by row count, on a shape)
// is mapped branch by branch: each branch's parallel loop becomes a launch
// inside it.
// CHECK-LABEL: func.func @host_branches
// CHECK: scf.if %{{.+}} {
// CHECK-NEXT: arith.constant
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK-NOT: scf.parallel
func.func @host_branches(%a: memref<?xf32>, %b: memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %n = memref.dim %a, %c0 : memref<?xf32>
  %few = arith.cmpi sle, %n, %c4 : index
  scf.if %few {
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      %x = memref.load %a[%i] : memref<?xf32>
      memref.store %x, %b[%i] : memref<?xf32>
      scf.reduce
    }
  } else {
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      %x = memref.load %b[%i] : memref<?xf32>
      memref.store %x, %a[%i] : memref<?xf32>
      scf.reduce
    }
  }
  return
}

// -----

// A branch on a value read from device memory is not a host branch: the
// read is rejected as for any host use of device data.
func.func @device_branch(%a: memref<?xf32>, %b: memref<?xf32>, %flag: memref<i1>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %a, %c0 : memref<?xf32>
  // expected-error @+1 {{ds-map-to-gpu: this op reads device memory and its result is used by host code}}
  %f = memref.load %flag[] : memref<i1>
  scf.if %f {
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      %x = memref.load %a[%i] : memref<?xf32>
      memref.store %x, %b[%i] : memref<?xf32>
      scf.reduce
    }
  }
  return
}
