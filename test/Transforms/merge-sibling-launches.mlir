// RUN: ds-opt %s --ds-merge-sibling-launches --split-input-file | FileCheck %s

// Two independent launches become one of gA + gB blocks at the second's
// place: blocks below gA run the first body, the others the second with the
// block index shifted; a deallocation between them waits for both.
// CHECK-LABEL: func.func @independent
// CHECK-SAME: (%[[X:.+]]: memref<256xf32>, %[[Y:.+]]: memref<512xf32>, %[[GA:.+]]: index, %[[GB:.+]]: index)
// CHECK: %[[T:.+]] = memref.alloc()
// CHECK: %[[N:.+]] = arith.addi %[[GA]], %[[GB]]
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[N]], %{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}}) threads({{.*}}) in ({{.*}} = %c256{{.*}},
// CHECK: %[[IN_A:.+]] = arith.cmpi ult, %[[BX]], %[[GA]]
// CHECK: scf.if %[[IN_A]] {
// CHECK: memref.store %{{.+}}, %[[X]][%[[BX]]]
// CHECK: } else {
// CHECK: %[[SHIFTED:.+]] = arith.subi %[[BX]], %[[GA]]
// CHECK: memref.store %{{.+}}, %[[Y]][%[[SHIFTED]]]
// CHECK: }
// CHECK: gpu.terminator
// CHECK: memref.dealloc %[[T]]
// CHECK-NOT: gpu.launch
func.func @independent(%x: memref<256xf32>, %y: memref<512xf32>, %ga: index, %gb: index) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %t = memref.alloc() : memref<4xf32>
  %f = arith.constant 1.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %ga, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    memref.store %f, %x[%bx] : memref<256xf32>
    gpu.terminator
  }
  memref.dealloc %t : memref<4xf32>
  %g = arith.constant 2.0 : f32
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %gb, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    memref.store %g, %y[%bx] : memref<512xf32>
    gpu.terminator
  }
  return
}

// -----

// Three independent launches (two views of one allocation count as that
// allocation, here only read) become one: the merged launch takes the
// third too.
// CHECK-LABEL: func.func @run_of_three
// CHECK: gpu.launch
// CHECK: scf.if
// CHECK: scf.if
// CHECK-NOT: gpu.launch
func.func @run_of_three(%a: memref<8xf32>, %b: memref<8xf32>, %c: memref<8xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  %src = memref.alloc() : memref<16xf32>
  %lo = memref.subview %src[0] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1]>>
  %hi = memref.subview %src[8] [8] [1] : memref<16xf32> to memref<8xf32, strided<[1], offset: 8>>
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %lo[%tx] : memref<8xf32, strided<[1]>>
    memref.store %v, %a[%tx] : memref<8xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %hi[%tx] : memref<8xf32, strided<[1], offset: 8>>
    memref.store %v, %b[%tx] : memref<8xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %lo[%tx] : memref<8xf32, strided<[1]>>
    memref.store %v, %c[%tx] : memref<8xf32>
    gpu.terminator
  }
  memref.dealloc %src : memref<16xf32>
  return
}

// -----

// Kept apart: the second reads (through a view) what the first writes; a
// write to a view of a buffer the other reads; a named (specialized)
// kernel; another block size; a 2-D grid; an op touching memory between.
// CHECK-LABEL: func.func @dependent
// CHECK-COUNT-7: gpu.launch
// CHECK-NOT: scf.if
func.func @dependent(%x: memref<8xf32>, %y: memref<8xf32>, %z: memref<8xf32>, %n: index) {
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index
  %t = memref.alloc() : memref<8xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %x[%tx] : memref<8xf32>
    memref.store %v, %t[%tx] : memref<8xf32>
    gpu.terminator
  }
  %tv = memref.subview %t[0] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1]>>
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %tv[%tx] : memref<4xf32, strided<[1]>>
    memref.store %v, %y[%tx] : memref<8xf32>
    gpu.terminator
  }
  %yv = memref.subview %y[4] [4] [1] : memref<8xf32> to memref<4xf32, strided<[1], offset: 4>>
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %f = arith.constant 0.0 : f32
    memref.store %f, %yv[%tx] : memref<4xf32, strided<[1], offset: 4>>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %f = arith.constant 0.0 : f32
    memref.store %f, %z[%tx] : memref<8xf32>
    gpu.terminator
  } {function = @named_kernel}
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c128, %tsy = %c1, %tsz = %c1) {
    %f = arith.constant 1.0 : f32
    memref.store %f, %x[%tx] : memref<8xf32>
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c2, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c128, %tsy = %c1, %tsz = %c1) {
    %f = arith.constant 2.0 : f32
    memref.store %f, %t[%tx] : memref<8xf32>
    gpu.terminator
  }
  %s = memref.alloc() : memref<8xf32>
  memref.copy %z, %s : memref<8xf32> to memref<8xf32>
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c128, %tsy = %c1, %tsz = %c1) {
    %f = arith.constant 3.0 : f32
    memref.store %f, %s[%tx] : memref<8xf32>
    gpu.terminator
  }
  return
}

// -----

// Kept apart: together the two bodies would capture more than 1 KiB of
// kernel parameters (eight rank-8 descriptors of 152 bytes each), which
// is how @prepare's weight copies once became one kernel past CUDA's
// 4 KiB limit.
// CHECK-LABEL: func.func @too_many_parameters
// CHECK-COUNT-2: gpu.launch
// CHECK-NOT: scf.if
!m = memref<1x1x1x1x1x1x1x8xf32>
func.func @too_many_parameters(%a0: !m, %a1: !m, %a2: !m, %a3: !m, %b0: !m, %b1: !m, %b2: !m, %b3: !m, %n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c256 = arith.constant 256 : index
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %a0[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    memref.store %v, %a1[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    memref.store %v, %a2[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    memref.store %v, %a3[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    gpu.terminator
  }
  gpu.launch blocks(%bx, %by, %bz) in (%sx = %n, %sy = %c1, %sz = %c1)
             threads(%tx, %ty, %tz) in (%tsx = %c256, %tsy = %c1, %tsz = %c1) {
    %v = memref.load %b0[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    memref.store %v, %b1[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    memref.store %v, %b2[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    memref.store %v, %b3[%c0, %c0, %c0, %c0, %c0, %c0, %c0, %tx] : !m
    gpu.terminator
  }
  return
}
