// RUN: ds-opt %s --split-input-file --ds-reductions-to-gpu --cse | FileCheck %s

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// RMSNorm's sum of squares over [?, 2048]: a warp per row, 8 rows a block.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK-SAME: (%[[X:.+]]: memref<?x2048xf32>, %[[ACC:.+]]: memref<?xf32>)
// CHECK-NOT: linalg.generic
// CHECK: %[[M:.+]] = memref.dim %[[X]], %c0
// CHECK: %[[GX:.+]] = arith.ceildivsi %[[M]], %c8
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[GX]], %{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}}) threads(%[[TX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %c256, %{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}})
// CHECK: %[[WARP:.+]] = arith.divui %[[TX]], %c32
// CHECK: %[[LANE:.+]] = arith.remui %[[TX]], %c32
// CHECK: %[[B8:.+]] = arith.muli %[[BX]], %c8
// CHECK: %[[ROW:.+]] = arith.addi %[[B8]], %[[WARP]]
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[ROW]], %[[M]]
// CHECK: scf.if %[[IN]] {
// CHECK: %[[ZERO:.+]] = arith.constant -0.000000e+00 : f32
// CHECK: %[[PART:.+]] = scf.for %[[R:.+]] = %[[LANE]] to %c2048 step %c32 iter_args(%[[A:.+]] = %[[ZERO]]) -> (f32) {
// CHECK: %[[V:.+]] = memref.load %[[X]][%[[ROW]], %[[R]]]
// CHECK: %[[SQ:.+]] = arith.mulf %[[V]], %[[V]] : f32
// CHECK: %[[S:.+]] = arith.addf %[[SQ]], %[[A]] : f32
// CHECK: scf.yield %[[S]] : f32
// CHECK: }
// CHECK: %[[S16:[^,]+]], %{{.+}} = gpu.shuffle  xor %[[PART]], %c16_i32, %c32_i32 : f32
// CHECK: %[[A16:.+]] = arith.addf %[[S16]], %[[PART]] : f32
// CHECK: gpu.shuffle  xor %[[A16]], %c8_i32, %c32_i32 : f32
// CHECK: arith.addf
// CHECK: gpu.shuffle  xor %{{.+}}, %c4_i32, %c32_i32 : f32
// CHECK: arith.addf
// CHECK: gpu.shuffle  xor %{{.+}}, %c2_i32, %c32_i32 : f32
// CHECK: arith.addf
// CHECK: %[[S1:[^,]+]], %{{.+}} = gpu.shuffle  xor %{{.+}}, %c1_i32, %c32_i32 : f32
// CHECK: %[[SUM:.+]] = arith.addf %[[S1]], %{{.+}} : f32
// CHECK-NOT: gpu.shuffle
// CHECK: %[[LANE0:.+]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[LANE0]] {
// CHECK: %[[INIT:.+]] = memref.load %[[ACC]][%[[ROW]]]
// CHECK: %[[RES:.+]] = arith.addf %[[SUM]], %[[INIT]] : f32
// CHECK: memref.store %[[RES]], %[[ACC]][%[[ROW]]]
// CHECK: }
// CHECK: }
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @sum_of_squares(%x: memref<?x2048xf32>, %acc: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x2048xf32>) outs(%acc : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %sq, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#s = affine_map<(b, h, q, k) -> (b, h, q, k)>
#m = affine_map<(b, h, q, k) -> (b, h, q)>

// Softmax's row maximum over a dynamic last dimension (attention scores
// over a KV cache): outputs = B * 8 * Q, -inf identity, maximumf combine,
// the output index delinearised with the last parallel dimension fastest.
// CHECK-LABEL: func.func @row_max
// CHECK-SAME: (%[[S:.+]]: memref<?x8x?x?xf32>, %[[MAX:.+]]: memref<?x8x?xf32>)
// CHECK-DAG: %[[B:.+]] = memref.dim %[[S]], %c0
// CHECK-DAG: %[[Q:.+]] = memref.dim %[[S]], %c2
// CHECK-DAG: %[[K:.+]] = memref.dim %[[S]], %c3
// CHECK: %[[BQ:.+]] = arith.muli %[[B]], %[[Q]]
// CHECK: %[[N:.+]] = arith.muli %[[BQ]], %c8
// CHECK: %[[GX:.+]] = arith.ceildivsi %[[N]], %c8
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %[[GX]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256,
// CHECK: %[[ID:.+]] = arith.addi
// CHECK: arith.cmpi ult, %[[ID]], %[[N]]
// CHECK: %[[QI:.+]] = arith.remui %[[ID]], %[[Q]]
// CHECK: %[[R1:.+]] = arith.divui %[[ID]], %[[Q]]
// CHECK: %[[HI:.+]] = arith.remui %[[R1]], %c8
// CHECK: %[[BI:.+]] = arith.divui %[[R1]], %c8
// CHECK: %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[PART:.+]] = scf.for %[[R:.+]] = %{{.+}} to %[[K]] step %c32 iter_args(%[[A:.+]] = %[[NEGINF]])
// CHECK: %[[V:.+]] = memref.load %[[S]][%[[BI]], %[[HI]], %[[QI]], %[[R]]]
// CHECK: %[[M:.+]] = arith.maximumf %[[A]], %[[V]] : f32
// CHECK: scf.yield %[[M]]
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: scf.if
// CHECK: %[[INIT:.+]] = memref.load %[[MAX]][%[[BI]], %[[HI]], %[[QI]]]
// CHECK: %[[RES:.+]] = arith.maximumf %[[INIT]], %{{.+}} : f32
// CHECK: memref.store %[[RES]], %[[MAX]][%[[BI]], %[[HI]], %[[QI]]]
func.func @row_max(%s: memref<?x8x?x?xf32>, %max: memref<?x8x?xf32>) {
  linalg.generic {indexing_maps = [#s, #m],
                  iterator_types = ["parallel", "parallel", "parallel",
                                    "reduction"]}
      ins(%s : memref<?x8x?x?xf32>) outs(%max : memref<?x8x?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %r = arith.maximumf %o, %in : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#bcast = affine_map<(d0, d1) -> (d0)>
#out = affine_map<(d0, d1) -> (d0)>

// Softmax's denominator: two inputs (the scores and the broadcast row
// maximum), a static output count, linalg.index of the reduction dimension
// mapped to the lane's loop index.
// CHECK-LABEL: func.func @sum_exp
// CHECK-SAME: (%[[S:.+]]: memref<12x?xf32>, %[[MAX:.+]]: memref<12xf32>, %[[SUM:.+]]: memref<12xf32>)
// CHECK: %[[K:.+]] = memref.dim %[[S]], %c1
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c2, {{.*}}) threads({{.*}}) in ({{.*}} = %c256,
// CHECK: arith.cmpi ult, %[[ROW:.+]], %c12
// CHECK: scf.for %[[R:.+]] = %{{.+}} to %[[K]] step %c32
// CHECK: memref.load %[[S]][%[[ROW]], %[[R]]]
// CHECK: memref.load %[[MAX]][%[[ROW]]]
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: arith.index_cast %[[R]]
// CHECK: arith.addf
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: memref.store %{{.+}}, %[[SUM]][%[[ROW]]]
func.func @sum_exp(%s: memref<12x?xf32>, %max: memref<12xf32>,
                   %sum: memref<12xf32>) {
  linalg.generic {indexing_maps = [#row, #bcast, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%s, %max : memref<12x?xf32>, memref<12xf32>)
      outs(%sum : memref<12xf32>) {
  ^bb0(%in: f32, %m: f32, %o: f32):
    %d = arith.subf %in, %m : f32
    %e = math.exp %d : f32
    %k = linalg.index 1 : index
    %ki = arith.index_cast %k : index to i64
    %kf = arith.sitofp %ki : i64 to f32
    %w = arith.mulf %e, %kf : f32
    %a = arith.addf %o, %w : f32
    linalg.yield %a : f32
  }
  return
}

// -----

#in = affine_map<(d0) -> (0, d0 * 2 + 1)>
#id = affine_map<(d0) -> (d0)>
#scalar = affine_map<(d0) -> ()>

// A full reduction into a 0-d buffer: one output (one block); an input
// indexed by a constant and an affine expression (expanded to arith), a
// scalar input used directly, and a `ninf` combiner whose identity is the
// largest finite float rather than +inf.
// CHECK-LABEL: func.func @full_min
// CHECK-SAME: (%[[X:.+]]: memref<4x?xf32>, %[[Y:.+]]: memref<?xf32>, %[[ACC:.+]]: memref<f32>, %[[SCALE:.+]]: f32)
// CHECK: %[[K:.+]] = memref.dim %[[Y]], %c0
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c1, {{.*}}) threads({{.*}}) in ({{.*}} = %c256,
// CHECK: %[[BIG:.+]] = arith.constant 3.40282347E+38 : f32
// CHECK: scf.for %[[R:.+]] = %{{.+}} to %[[K]] step %c32 iter_args(%[[A:.+]] = %[[BIG]])
// CHECK: %[[R2:.+]] = arith.muli %[[R]], %c2
// CHECK: %[[R21:.+]] = arith.addi %[[R2]], %c1
// CHECK: %[[XV:.+]] = memref.load %[[X]][%c0, %[[R21]]]
// CHECK: %[[YV:.+]] = memref.load %[[Y]][%[[R]]]
// CHECK: %[[P:.+]] = arith.mulf %[[XV]], %[[SCALE]]
// CHECK: %[[Q:.+]] = arith.mulf %[[P]], %[[YV]]
// CHECK: arith.minnumf %[[Q]], %[[A]] fastmath<ninf>
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: memref.load %[[ACC]][]
// CHECK: arith.minnumf {{.*}} fastmath<ninf>
// CHECK: memref.store %{{.+}}, %[[ACC]][]
func.func @full_min(%x: memref<4x?xf32>, %y: memref<?xf32>, %acc: memref<f32>,
                    %scale: f32) {
  linalg.generic {indexing_maps = [#in, #id, #scalar, #scalar],
                  iterator_types = ["reduction"]}
      ins(%x, %y, %scale : memref<4x?xf32>, memref<?xf32>, f32)
      outs(%acc : memref<f32>) {
  ^bb0(%a: f32, %b: f32, %s: f32, %o: f32):
    %p = arith.mulf %a, %s : f32
    %q = arith.mulf %p, %b : f32
    %r = arith.minnumf %q, %o fastmath<ninf> : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// A reduction of 16 elements: shorter than a warp, left to the generic path.
// CHECK-LABEL: func.func @short
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @short(%x: memref<?x16xf32>, %acc: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x16xf32>) outs(%acc : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = arith.addf %in, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d1)>

// The reduction is the first dimension (a column sum): left alone.
// CHECK-LABEL: func.func @not_last
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @not_last(%x: memref<2048x?xf32>, %acc: memref<?xf32>) {
  linalg.generic {indexing_maps = [#in, #out],
                  iterator_types = ["reduction", "parallel"]}
      ins(%x : memref<2048x?xf32>) outs(%acc : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = arith.addf %in, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// The output block argument is used twice: not a plain combiner, left
// alone.
// CHECK-LABEL: func.func @out_used_twice
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
func.func @out_used_twice(%x: memref<?x2048xf32>, %acc: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x2048xf32>) outs(%acc : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %p = arith.mulf %in, %o : f32
    %s = arith.addf %p, %o : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// Ops inside an existing launch are not touched; a bf16 output (only f32
// is handled) is left alone.
// CHECK-LABEL: func.func @untouched
// CHECK: gpu.launch
// CHECK: linalg.generic
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK-NOT: gpu.shuffle
// CHECK: return
func.func @untouched(%x: memref<?x2048xf32>, %acc: memref<?xf32>,
                     %y: memref<?x2048xbf16>, %acc16: memref<?xbf16>) {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
             threads(%tx, %ty, %tz) in (%sx = %c1, %sy = %c1, %sz = %c1) {
    linalg.generic {indexing_maps = [#row, #out],
                    iterator_types = ["parallel", "reduction"]}
        ins(%x : memref<?x2048xf32>) outs(%acc : memref<?xf32>) {
    ^bb0(%in: f32, %o: f32):
      %s = arith.addf %in, %o : f32
      linalg.yield %s : f32
    }
    gpu.terminator
  }
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%y : memref<?x2048xbf16>) outs(%acc16 : memref<?xbf16>) {
  ^bb0(%in: bf16, %o: bf16):
    %s = arith.addf %in, %o : bf16
    linalg.yield %s : bf16
  }
  return
}

// -----

// The init set by a fill, directly or through a copy of a filled buffer
// (bufferization's form for a reduction's init): lane 0 combines with the
// fill's value, and the fill and copy go.
// CHECK-LABEL: func.func @fill_folded
// CHECK-NOT: linalg.fill
// CHECK-NOT: linalg.copy
// CHECK: gpu.launch
// CHECK: %[[SUM:.+]] = arith.addf %cst{{.*}}, %{{.+}} : f32
// CHECK: memref.store %[[SUM]]
// CHECK: gpu.launch
// CHECK: arith.maximumf %cst{{.*}}, %{{.+}} : f32
// CHECK-NOT: linalg.fill
// CHECK: return
func.func @fill_folded(%x: memref<?x256xf32>) -> (memref<?xf32>, memref<?xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %ninf = arith.constant 0xFF800000 : f32
  %n = memref.dim %x, %c0 : memref<?x256xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x256xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %out, %in : f32
    linalg.yield %a : f32
  }
  %filled = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%ninf : f32) outs(%filled : memref<?xf32>)
  %max = memref.alloc(%n) : memref<?xf32>
  linalg.copy ins(%filled : memref<?xf32>) outs(%max : memref<?xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x256xf32>) outs(%max : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %m = arith.maximumf %out, %in : f32
    linalg.yield %m : f32
  }
  memref.dealloc %filled : memref<?xf32>
  return %sum, %max : memref<?xf32>, memref<?xf32>
}

// -----

// A fill whose buffer is read before the reduction stays, and the kernel
// loads the init.
// CHECK-LABEL: func.func @fill_read_first
// CHECK: linalg.fill
// CHECK: memref.copy
// CHECK: gpu.launch
// CHECK: memref.load %{{.+}} : memref<?xf32>
// CHECK: arith.addf
func.func @fill_read_first(%x: memref<?x256xf32>, %keep: memref<?xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x256xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  memref.copy %sum, %keep : memref<?xf32> to memref<?xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>], iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x256xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = arith.addf %out, %in : f32
    linalg.yield %a : f32
  }
  return %sum : memref<?xf32>
}
