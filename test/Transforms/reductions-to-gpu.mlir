// RUN: ds-opt %s --split-input-file --ds-reductions-to-gpu --cse | FileCheck %s

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// RMSNorm's sum of squares over [?, 2048]: at least 256 elements, so a
// block of 8 warps per row. (A view at an unknown offset: its rows are not
// provably aligned, so no vector loads.) Each thread folds four elements a step, all
// four loaded first; each warp's butterfly result goes to shared memory and
// thread 0 folds the 8 of them, then the init's value, and stores.
// CHECK-LABEL: func.func @sum_of_squares
// CHECK-SAME: (%[[X:.+]]: memref<?x2048xf32, strided<[?, 1], offset: ?>>, %[[ACC:.+]]: memref<?xf32>)
// CHECK-NOT: linalg.generic
// CHECK: %[[M:.+]] = memref.dim %[[X]], %c0
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[M]], %{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}}) threads(%[[TX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %c256, %{{.+}} = %c1{{.*}}, %{{.+}} = %c1{{.*}}) function(@reduce_rows) workgroup(%[[SLOTS:.+]] : memref<8xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[WARP:.+]] = arith.divui %[[TX]], %c32
// CHECK: %[[LANE:.+]] = arith.remui %[[TX]], %c32
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[BX]], %[[M]]
// CHECK: scf.if %[[IN]] {
// CHECK: %[[ZERO:.+]] = arith.constant -0.000000e+00 : f32
// CHECK: %[[MAIN:.+]] = scf.for %[[BASE:.+]] = %c0 to %{{.+}} step %{{.+}} iter_args(%[[A:.+]] = %[[ZERO]]) -> (f32) {
// CHECK: %[[R0:.+]] = arith.addi %[[BASE]], %[[TX]]
// CHECK: %[[V0:.+]] = memref.load %[[X]][%[[BX]], %[[R0]]]
// CHECK: %[[SQ0:.+]] = arith.mulf %[[V0]], %[[V0]] : f32
// CHECK-COUNT-3: memref.load %[[X]]
// CHECK: %[[S0:.+]] = arith.addf %[[SQ0]], %[[A]] : f32
// CHECK-COUNT-3: arith.addf
// CHECK: scf.yield
// CHECK: }
// CHECK: %[[TAIL:.+]] = scf.for %{{.+}} = %{{.+}} to %c2048 step %c256 iter_args(%{{.+}} = %[[MAIN]]) -> (f32) {
// CHECK: %[[S16:[^,]+]], %{{.+}} = gpu.shuffle  xor %[[TAIL]], %c16_i32, %c32_i32 : f32
// CHECK: %[[A16:.+]] = arith.addf %[[S16]], %[[TAIL]] : f32
// CHECK: gpu.shuffle  xor %[[A16]], %c8_i32, %c32_i32 : f32
// CHECK-COUNT-3: gpu.shuffle
// CHECK: %[[WSUM:.+]] = arith.addf
// CHECK-NOT: gpu.shuffle
// CHECK: %[[LANE0:.+]] = arith.cmpi eq, %[[LANE]], %c0
// CHECK: scf.if %[[LANE0]] {
// CHECK: memref.store %[[WSUM]], %[[SLOTS]][%[[WARP]]]
// CHECK: }
// CHECK: gpu.barrier
// CHECK: %[[T0:.+]] = arith.cmpi eq, %[[TX]], %c0
// CHECK: scf.if %[[T0]] {
// CHECK: memref.load %[[SLOTS]][%c0]
// CHECK-COUNT-7: memref.load %[[SLOTS]]
// CHECK: %[[INIT:.+]] = memref.load %[[ACC]][%[[BX]]]
// CHECK: %[[RES:.+]] = arith.addf %{{.+}}, %[[INIT]] : f32
// CHECK: memref.store %[[RES]], %[[ACC]][%[[BX]]]
// CHECK: }
// CHECK: }
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK: return
func.func @sum_of_squares(%x: memref<?x2048xf32, strided<[?, 1], offset: ?>>, %acc: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x2048xf32, strided<[?, 1], offset: ?>>) outs(%acc : memref<?xf32>) {
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
// The divisions by the run-time extent are 32-bit when the output count
// fits in 31 bits (a uniform branch; 64-bit division is a long sequence).
// CHECK: %[[FITS:.+]] = arith.cmpi ule, %[[N]], %c2147483647
// CHECK: %[[IDX:.+]]:3 = scf.if %[[FITS]] -> (index, index, index) {
// CHECK: %[[ID32:.+]] = arith.index_castui %[[ID]] : index to i32
// CHECK: %[[Q32:.+]] = arith.index_castui %[[Q]] : index to i32
// CHECK: arith.remui %[[ID32]], %[[Q32]] : i32
// CHECK: arith.divui %[[ID32]], %[[Q32]] : i32
// CHECK: } else {
// CHECK: arith.remui %[[ID]], %[[Q]] : index
// CHECK: arith.divui %[[ID]], %[[Q]] : index
// CHECK: }
// CHECK: %[[NEGINF:.+]] = arith.constant 0xFF800000 : f32
// CHECK: %[[SPAN:.+]] = arith.muli %c32, %c4
// CHECK: %[[GROUPS:.+]] = arith.divui %[[K]], %[[SPAN]]
// CHECK: %[[FULL:.+]] = arith.muli %[[GROUPS]], %[[SPAN]]
// CHECK: %[[MAIN:.+]] = scf.for %{{.+}} = %c0 to %[[FULL]] step %[[SPAN]] iter_args(%{{.+}} = %[[NEGINF]])
// CHECK-COUNT-4: memref.load %[[S]]
// CHECK-COUNT-4: arith.maximumf
// CHECK: scf.yield
// CHECK: %[[START:.+]] = arith.addi %[[FULL]], %{{.+}}
// CHECK: scf.for %[[R:.+]] = %[[START]] to %[[K]] step %c32 iter_args(%[[A:.+]] = %[[MAIN]])
// CHECK: %[[V:.+]] = memref.load %[[S]][%[[IDX]]#0, %[[IDX]]#1, %[[IDX]]#2, %[[R]]]
// CHECK: %[[M:.+]] = arith.maximumf %[[A]], %[[V]] : f32
// CHECK: scf.yield %[[M]]
// CHECK-COUNT-5: gpu.shuffle  xor
// CHECK: scf.if
// CHECK: %[[INIT:.+]] = memref.load %[[MAX]][%[[IDX]]#0, %[[IDX]]#1, %[[IDX]]#2]
// CHECK: %[[RES:.+]] = arith.maximumf %[[INIT]], %{{.+}} : f32
// CHECK: memref.store %[[RES]], %[[MAX]][%[[IDX]]#0, %[[IDX]]#1, %[[IDX]]#2]
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
// CHECK: scf.for
// CHECK: scf.for %[[R:.+]] = %{{.+}} to %[[K]] step %c32 iter_args(%[[A:.+]] = %{{.+}})
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

// -----

#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// An argmax (ds-append-next-tokens' first stage): a select reduction with a
// value and an index output, seeded by fills of (NaN, 0). The fills fold
// into the threads' starting values (the combine is idempotent), both
// accumulators go round the butterfly, the i64 one as two i32 halves, and
// the 2004-element rows take a block each. Both outputs are stored; no
// final combine with the init.
// CHECK-LABEL: func.func @argmax
// CHECK-SAME: (%[[X:.+]]: memref<?x2004xbf16>, %[[IDX:.+]]: memref<?xi64>)
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch {{.*}} workgroup(%[[VS:.+]] : memref<8xf32, #gpu.address_space<workgroup>>, %[[IS:.+]] : memref<8xi64, #gpu.address_space<workgroup>>)
// CHECK: %[[MAIN:.+]]:2 = scf.for {{.*}} iter_args(%{{.+}} = %cst, %{{.+}} = %c0_i64) -> (f32, i64)
// CHECK-NOT: linalg.index
// CHECK: %[[TAIL:.+]]:2 = scf.for {{.*}} iter_args(%{{.+}} = %[[MAIN]]#0, %{{.+}} = %[[MAIN]]#1) -> (f32, i64)
// CHECK: memref.load %[[X]]
// CHECK: arith.index_cast
// CHECK: arith.extf
// CHECK: arith.cmpf uno
// CHECK: arith.select
// CHECK: arith.select
// CHECK: scf.yield
// CHECK: %[[SV:[^,]+]], %{{.+}} = gpu.shuffle  xor %[[TAIL]]#0, %c16_i32, %c32_i32 : f32
// CHECK: %[[LO:.+]] = arith.trunci %[[TAIL]]#1 : i64 to i32
// CHECK: %[[SLO:[^,]+]], %{{.+}} = gpu.shuffle  xor %[[LO]], %c16_i32, %c32_i32 : i32
// CHECK: %[[SHR:.+]] = arith.shrui %[[TAIL]]#1, %c32_i64 : i64
// CHECK: %[[HI:.+]] = arith.trunci %[[SHR]] : i64 to i32
// CHECK: %[[SHI:[^,]+]], %{{.+}} = gpu.shuffle  xor %[[HI]], %c16_i32, %c32_i32 : i32
// CHECK: %[[HI64:.+]] = arith.extui %[[SHI]] : i32 to i64
// CHECK: %[[HIS:.+]] = arith.shli %[[HI64]], %c32_i64 : i64
// CHECK: %[[LO64:.+]] = arith.extui %[[SLO]] : i32 to i64
// CHECK: %[[OTHER:.+]] = arith.ori %[[LO64]], %[[HIS]] : i64
// CHECK: arith.cmpi slt, %[[OTHER]], %[[TAIL]]#1 : i64
// CHECK-COUNT-12: gpu.shuffle
// CHECK-NOT: gpu.shuffle
// CHECK: memref.store %{{.+}}, %[[VS]]
// CHECK: memref.store %{{.+}}, %[[IS]]
// CHECK: gpu.barrier
// CHECK: scf.if
// CHECK-NOT: memref.load %{{.+}} : memref<?xi64>
// CHECK: memref.store %{{.+}}, %{{.+}}[%{{.+}}] : memref<?xf32>
// CHECK: memref.store %{{.+}}, %{{.+}}[%{{.+}}] : memref<?xi64>
// CHECK: memref.copy
func.func @argmax(%x: memref<?x2004xbf16>, %idx: memref<?xi64>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?x2004xbf16>
  %nan = arith.constant 0x7FC00000 : f32
  %zero = arith.constant 0 : i64
  %v = memref.alloc(%n) : memref<?xf32>
  %i = memref.alloc(%n) : memref<?xi64>
  linalg.fill ins(%nan : f32) outs(%v : memref<?xf32>)
  linalg.fill ins(%zero : i64) outs(%i : memref<?xi64>)
  linalg.generic {indexing_maps = [#in, #out, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x2004xbf16>) outs(%v, %i : memref<?xf32>, memref<?xi64>) {
  ^bb0(%in: bf16, %cv: f32, %ci: i64):
    %l = linalg.index 1 : index
    %li = arith.index_cast %l : index to i64
    %e = arith.extf %in : bf16 to f32
    %curnan = arith.cmpf uno, %cv, %cv : f32
    %ord = arith.cmpf ord, %e, %e : f32
    %repl = arith.andi %curnan, %ord : i1
    %gt = arith.cmpf ogt, %e, %cv : f32
    %eq = arith.cmpf oeq, %e, %cv : f32
    %lt = arith.cmpi slt, %li, %ci : i64
    %tie = arith.andi %eq, %lt : i1
    %o1 = arith.ori %repl, %gt : i1
    %better = arith.ori %o1, %tie : i1
    %sv = arith.select %better, %e, %cv : f32
    %si = arith.select %better, %li, %ci : i64
    linalg.yield %sv, %si : f32, i64
  }
  memref.copy %i, %idx : memref<?xi64> to memref<?xi64>
  return
}

// -----

#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// The second stage, over a dynamic number of partial winners: a warp per
// output, inits loaded (no fill) as every lane's start, candidates read
// from two inputs.
// CHECK-LABEL: func.func @argmax_partials
// CHECK-SAME: (%[[PV:.+]]: memref<?x?xf32>, %[[PI:.+]]: memref<?x?xi64>, %[[V:.+]]: memref<?xf32>, %[[I:.+]]: memref<?xi64>)
// CHECK: gpu.launch
// CHECK-NOT: workgroup
// CHECK: %[[V0:.+]] = memref.load %[[V]][%[[ROW:.+]]] : memref<?xf32>
// CHECK: %[[I0:.+]] = memref.load %[[I]][%[[ROW]]] : memref<?xi64>
// CHECK: scf.for {{.*}} iter_args(%{{.+}} = %[[V0]], %{{.+}} = %[[I0]]) -> (f32, i64)
// CHECK-COUNT-4: memref.load %[[PI]]
// CHECK: scf.for {{.*}} step %c32
// CHECK-COUNT-15: gpu.shuffle
// CHECK-NOT: gpu.shuffle
// CHECK: memref.store %{{.+}}, %[[V]][%[[ROW]]]
// CHECK: memref.store %{{.+}}, %[[I]][%[[ROW]]]
func.func @argmax_partials(%pv: memref<?x?xf32>, %pi: memref<?x?xi64>,
                           %v: memref<?xf32>, %i: memref<?xi64>) {
  linalg.generic {indexing_maps = [#in, #in, #out, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%pv, %pi : memref<?x?xf32>, memref<?x?xi64>)
      outs(%v, %i : memref<?xf32>, memref<?xi64>) {
  ^bb0(%e: f32, %li: i64, %cv: f32, %ci: i64):
    %gt = arith.cmpf ogt, %e, %cv : f32
    %eq = arith.cmpf oeq, %e, %cv : f32
    %lt = arith.cmpi slt, %li, %ci : i64
    %tie = arith.andi %eq, %lt : i1
    %better = arith.ori %gt, %tie : i1
    %sv = arith.select %better, %e, %cv : f32
    %si = arith.select %better, %li, %ci : i64
    linalg.yield %sv, %si : f32, i64
  }
  return
}

// -----

#in = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// Not select reductions, left to the generic path: a condition that reads
// an input element other than through the candidates (partial results
// could not be compared), and an output that feeds a candidate.
// CHECK-LABEL: func.func @select_negative
// CHECK-NOT: gpu.launch
// CHECK: linalg.generic
// CHECK: linalg.generic
func.func @select_negative(%x: memref<?x64xf32>, %w: memref<?x64xf32>,
                           %v: memref<?xf32>, %i: memref<?xi64>) {
  linalg.generic {indexing_maps = [#in, #in, #out, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x, %w : memref<?x64xf32>, memref<?x64xf32>)
      outs(%v, %i : memref<?xf32>, memref<?xi64>) {
  ^bb0(%e: f32, %weight: f32, %cv: f32, %ci: i64):
    %l = linalg.index 1 : index
    %li = arith.index_cast %l : index to i64
    %scaled = arith.mulf %weight, %cv : f32
    %better = arith.cmpf ogt, %e, %scaled : f32
    %sv = arith.select %better, %e, %cv : f32
    %si = arith.select %better, %li, %ci : i64
    linalg.yield %sv, %si : f32, i64
  }
  linalg.generic {indexing_maps = [#in, #out, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x64xf32>)
      outs(%v, %i : memref<?xf32>, memref<?xi64>) {
  ^bb0(%e: f32, %cv: f32, %ci: i64):
    %l = linalg.index 1 : index
    %li = arith.index_cast %l : index to i64
    %sum = arith.addf %e, %cv : f32
    %better = arith.cmpf ogt, %e, %cv : f32
    %sv = arith.select %better, %sum, %cv : f32
    %si = arith.select %better, %li, %ci : i64
    linalg.yield %sv, %si : f32, i64
  }
  return
}

// -----

#p = affine_map<(b, h, g, q, d, k) -> (b, h, g, q, k)>
#v = affine_map<(b, h, g, q, d, k) -> (b, h, k, d)>
#o = affine_map<(b, h, g, q, d, k) -> (b, h, g, q, d)>

// Attention's P x V: the values are contiguous in the output's last
// dimension d, not along the keys. A column kernel: a block per 32
// consecutive d (grid = rows x ceil(64 / 32)), lane = d, the 8 warps split
// the keys (warp w takes k = w, w + 8, ...; 4 a step), their partial sums
// meet in shared memory and warp 0 adds the init and stores.
// CHECK-LABEL: func.func @pv
// CHECK-SAME: (%[[P:.+]]: memref<?x8x4x1x?xf32>, %[[V:.+]]: memref<?x8x?x64xbf16, strided<[?, ?, 64, 1]>>, %[[OUT:.+]]: memref<?x8x4x1x64xf32>)
// CHECK: %[[B:.+]] = memref.dim %[[P]], %c0
// CHECK: %[[K:.+]] = memref.dim %[[P]], %c4
// CHECK: %[[CBS:.+]] = arith.ceildivsi %c64, %c32
// CHECK: %[[BLOCKS:.+]] = arith.muli %{{.+}}, %[[CBS]]
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[BLOCKS]], {{.*}}) threads(%[[TX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %c256, {{.*}}) function(@reduce_columns) workgroup(%[[PART:.+]] : memref<8x32xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[WARP:.+]] = arith.divui %[[TX]], %c32
// CHECK: %[[LANE:.+]] = arith.remui %[[TX]], %c32
// CHECK: %[[CB:.+]] = arith.remui %[[BX]], %[[CBS]]
// CHECK: %[[C0:.+]] = arith.muli %[[CB]], %c32
// CHECK: %[[D:.+]] = arith.addi %[[C0]], %[[LANE]]
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[D]], %c64
// CHECK: %[[ACC:.+]] = scf.if %[[IN]] -> (f32) {
// CHECK: scf.for %[[BASE:.+]] = %c0 to %{{.+}} step %{{.+}} iter_args
// CHECK: %[[K0:.+]] = arith.addi %[[BASE]], %[[WARP]]
// CHECK: memref.load %[[P]][%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[K0]]]
// CHECK: memref.load %[[V]][%{{.+}}, %{{.+}}, %[[K0]], %[[D]]]
// CHECK: %[[STEP1:.+]] = arith.muli %c8, %c1
// CHECK: arith.addi %[[K0]], %[[STEP1]]
// CHECK: scf.for %{{.+}} = %{{.+}} to %[[K]] step %c8
// CHECK: } else {
// CHECK: scf.yield %cst
// CHECK: memref.store %[[ACC]], %[[PART]][%[[WARP]], %[[LANE]]]
// CHECK: gpu.barrier
// CHECK: %[[W0:.+]] = arith.cmpi eq, %[[WARP]], %c0
// CHECK: %[[WRITE:.+]] = arith.andi %[[W0]], %[[IN]]
// CHECK: scf.if %[[WRITE]] {
// CHECK-COUNT-8: memref.load %[[PART]]
// CHECK: memref.load %[[OUT]]
// CHECK: memref.store %{{.+}}, %[[OUT]][%{{.+}}, %{{.+}}, %{{.+}}, %{{.+}}, %[[D]]]
func.func @pv(%p: memref<?x8x4x1x?xf32>,
              %v: memref<?x8x?x64xbf16, strided<[?, ?, 64, 1]>>,
              %out: memref<?x8x4x1x64xf32>) {
  linalg.generic {indexing_maps = [#p, #v, #o],
                  iterator_types = ["parallel", "parallel", "parallel",
                                    "parallel", "parallel", "reduction"]}
      ins(%p, %v : memref<?x8x4x1x?xf32>,
                   memref<?x8x?x64xbf16, strided<[?, ?, 64, 1]>>)
      outs(%out : memref<?x8x4x1x64xf32>) {
  ^bb0(%pi: f32, %vi: bf16, %o: f32):
    %e = arith.extf %vi : bf16 to f32
    %m = arith.mulf %pi, %e : f32
    %s = arith.addf %o, %m : f32
    linalg.yield %s : f32
  }
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
#w = affine_map<(d0, d1) -> (d1)>

// RMSNorm: the normalisation right after the sum of squares reads the sum
// broadcast over the row and the same row: it runs in the reduction's
// kernel. Each block folds its warps' sums (every thread reads the 8
// slots), adds the fill's value, and its threads normalise the row; the
// sum is never stored and the second generic is gone.
// The output's allocation, between the two, moves before the kernel.
// CHECK-LABEL: func.func @rmsnorm_epilogue
// CHECK-SAME: (%[[X:.+]]: memref<?x2048xf32>, %[[W:.+]]: memref<2048xbf16>)
// CHECK: %[[Y:.+]] = memref.alloc(%{{.+}}) : memref<?x2048xbf16>
// CHECK: gpu.launch
// CHECK: gpu.barrier
// CHECK-COUNT-8: memref.load %{{.+}} : memref<8xf32, #gpu.address_space<workgroup>>
// CHECK: %[[SUM:.+]] = arith.addf %cst{{.*}}, %{{.+}}
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %{{.+}} {
// CHECK-COUNT-4: memref.store %{{.+}}, %[[Y]]
// CHECK: }
// CHECK: scf.for %[[R:.+]] = %{{.+}} to %c2048 step %c256 {
// CHECK: memref.load %[[W]][%[[R]]]
// CHECK: memref.load %[[X]][%{{.+}}, %[[R]]]
// CHECK: arith.divf %[[SUM]]
// CHECK: math.rsqrt
// CHECK: memref.store %{{.+}}, %[[Y]][%{{.+}}, %[[R]]]
// CHECK-NOT: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
func.func @rmsnorm_epilogue(%x: memref<?x2048xf32>, %w: memref<2048xbf16>)
    -> memref<?x2048xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x2048xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x2048xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %sq = arith.mulf %in, %in : f32
    %s = arith.addf %o, %sq : f32
    linalg.yield %s : f32
  }
  %y = memref.alloc(%n) : memref<?x2048xbf16>
  linalg.generic {indexing_maps = [#w, #row, #out, #row],
                  iterator_types = ["parallel", "parallel"]}
      ins(%w, %x, %sum : memref<2048xbf16>, memref<?x2048xf32>, memref<?xf32>)
      outs(%y : memref<?x2048xbf16>) {
  ^bb0(%wi: bf16, %xi: f32, %si: f32, %o: bf16):
    %c = arith.constant 2.048000e+03 : f32
    %m = arith.divf %si, %c : f32
    %r = math.rsqrt %m : f32
    %v = arith.mulf %xi, %r : f32
    %t = arith.truncf %v : f32 to bf16
    %p = arith.mulf %wi, %t : bf16
    linalg.yield %p : bf16
  }
  memref.dealloc %sum : memref<?xf32>
  return %y : memref<?x2048xbf16>
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// Softmax's row maximum over a dynamic row, then exp(s - max) written over
// the scores in place: a warp per row; after the butterfly every lane
// combines the fill's value and writes its part of the row.
// CHECK-LABEL: func.func @softmax_exp_epilogue
// CHECK-SAME: (%[[S:.+]]: memref<?x?xf32>)
// CHECK: %[[K:.+]] = memref.dim %[[S]], %c1
// CHECK: gpu.launch
// CHECK: %[[LANE:.+]] = arith.remui
// CHECK-COUNT-5: gpu.shuffle
// CHECK: %[[MAX:.+]] = arith.maximumf %cst{{.*}}, %{{.+}} : f32
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %{{.+}} {
// CHECK-COUNT-4: math.exp
// CHECK-COUNT-4: memref.store %{{.+}}, %[[S]]
// CHECK: }
// CHECK: scf.for %[[R:.+]] = %{{.+}} to %[[K]] step %c32 {
// CHECK: %[[V:.+]] = memref.load %[[S]][%{{.+}}, %[[R]]]
// CHECK: arith.subf %[[V]], %[[MAX]]
// CHECK: math.exp
// CHECK: memref.store %{{.+}}, %[[S]][%{{.+}}, %[[R]]]
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
func.func @softmax_exp_epilogue(%s: memref<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %ninf = arith.constant 0xFF800000 : f32
  %n = memref.dim %s, %c0 : memref<?x?xf32>
  %max = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%s : memref<?x?xf32>) outs(%max : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %m = arith.maximumf %o, %in : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#row, #out, #row],
                  iterator_types = ["parallel", "parallel"]}
      ins(%s, %max : memref<?x?xf32>, memref<?xf32>) outs(%s : memref<?x?xf32>) {
  ^bb0(%si: f32, %mi: f32, %o: f32):
    %d = arith.subf %si, %mi : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  }
  memref.dealloc %max : memref<?xf32>
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// No epilogue when the result has another reader (here the function's
// result), or when the next op reads a row the reduction did not: both
// generics after the reductions stay.
// CHECK-LABEL: func.func @no_epilogue
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: linalg.generic
// CHECK: gpu.launch
// CHECK: memref.store
// CHECK: linalg.generic
func.func @no_epilogue(%x: memref<?x256xf32>, %z: memref<?x256xf32>,
                       %y: memref<?x256xf32>, %acc: memref<?xf32>)
    -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n = memref.dim %x, %c0 : memref<?x256xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x256xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = arith.addf %o, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #out, #row],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x, %sum : memref<?x256xf32>, memref<?xf32>) outs(%y : memref<?x256xf32>) {
  ^bb0(%xi: f32, %si: f32, %o: f32):
    %d = arith.divf %xi, %si : f32
    linalg.yield %d : f32
  }
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x256xf32>) outs(%acc : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = arith.addf %o, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #out, #row],
                  iterator_types = ["parallel", "parallel"]}
      ins(%z, %acc : memref<?x256xf32>, memref<?xf32>) outs(%y : memref<?x256xf32>) {
  ^bb0(%zi: f32, %ai: f32, %o: f32):
    %d = arith.divf %zi, %ai : f32
    linalg.yield %d : f32
  }
  return %sum : memref<?xf32>
}

// -----

#q = affine_map<(b, h, k, d) -> (b, h, d)>
#kk = affine_map<(b, h, k, d) -> (b, h floordiv 4, k, d)>
#o = affine_map<(b, h, k, d) -> (b, h, k)>

// Attention's scores, Q x K^T over a 64-wide head, K at an unknown offset
// (rows not provably aligned, so no vector loads): a static row shorter
// than 256 gets a group of lanes, about 8 elements each (8 lanes here), so
// a warp computes 4 scores and a block 32: the grid is ceil(outputs / 32).
// Lane l works on output 4 * warp + l / 8 at elements l % 8, + 8, ...; the
// butterfly stays in the group (offsets 4, 2, 1); a group past the last
// output recomputes the last one (min) so the whole warp shuffles, and only
// a valid group's first lane stores.
// CHECK-LABEL: func.func @scores_lane_groups
// CHECK: %[[OUTS:.+]] = arith.muli %{{.+}}, %c32 : index
// CHECK: %[[BLOCKS:.+]] = arith.ceildivsi %[[OUTS]], %c32 : index
// CHECK: gpu.launch blocks(%[[BX:.+]], %{{.+}}, %{{.+}}) in (%{{.+}} = %[[BLOCKS]], {{.*}} threads(%[[TX:.+]], %{{.+}}, %{{.+}}) in
// CHECK: %[[WARP:.+]] = arith.divui %[[TX]], %c32
// CHECK: %[[LANE:.+]] = arith.remui %[[TX]], %c32
// CHECK: %[[W8:.+]] = arith.muli %[[BX]], %c8
// CHECK: %[[GW:.+]] = arith.addi %[[W8]], %[[WARP]]
// CHECK: %[[FIRST:.+]] = arith.muli %[[GW]], %c4
// CHECK: %[[T:.+]] = arith.remui %[[LANE]], %c8
// CHECK: %[[IN:.+]] = arith.cmpi ult, %[[FIRST]], %[[OUTS]]
// CHECK: scf.if %[[IN]] {
// CHECK: %[[G:.+]] = arith.divui %[[LANE]], %c8
// CHECK: %[[OWN:.+]] = arith.addi %[[FIRST]], %[[G]]
// CHECK: %[[VALID:.+]] = arith.cmpi ult, %[[OWN]], %[[OUTS]]
// CHECK: %[[LASTOUT:.+]] = arith.subi %[[OUTS]], %c1
// CHECK: arith.minui %[[OWN]], %[[LASTOUT]]
// CHECK: scf.for %[[BASE:.+]] = %c0 to %{{.+}} step %{{.+}} iter_args
// CHECK: arith.addi %[[BASE]], %[[T]]
// CHECK: scf.for %{{.+}} = %{{.+}} to %c64 step %c8 iter_args
// CHECK-NOT: gpu.shuffle  xor %{{.+}}, %c16_i32
// CHECK: gpu.shuffle  xor %{{.+}}, %c4_i32, %c32_i32 : f32
// CHECK: gpu.shuffle  xor %{{.+}}, %c2_i32, %c32_i32 : f32
// CHECK: gpu.shuffle  xor %{{.+}}, %c1_i32, %c32_i32 : f32
// CHECK: %[[T0:.+]] = arith.cmpi eq, %[[T]], %c0
// CHECK: %[[W:.+]] = arith.andi %[[T0]], %[[VALID]]
// CHECK: scf.if %[[W]] {
// CHECK: memref.store
func.func @scores_lane_groups(%q: memref<?x32x64xbf16>, %k: memref<?x8x?x64xbf16, strided<[?, ?, 64, 1], offset: ?>>,
                              %s: memref<?x32x?xf32>) {
  linalg.generic {indexing_maps = [#q, #kk, #o],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<?x32x64xbf16>, memref<?x8x?x64xbf16, strided<[?, ?, 64, 1], offset: ?>>)
      outs(%s : memref<?x32x?xf32>) {
  ^bb0(%a: bf16, %b: bf16, %o: f32):
    %ea = arith.extf %a : bf16 to f32
    %eb = arith.extf %b : bf16 to f32
    %m = arith.mulf %ea, %eb : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>

// A row epilogue after a lane-group reduction (a 64-wide row max, then the
// exponentials written over the row in place; a view at an unknown offset,
// so no vector loads): only a valid group runs it,
// since a repeated group would read what the real one already overwrote.
// CHECK-LABEL: func.func @group_epilogue
// CHECK: gpu.launch
// CHECK: %[[T:.+]] = arith.remui %{{.+}}, %c8
// CHECK: arith.cmpi ult
// CHECK: scf.if
// CHECK: %[[VALID:.+]] = arith.cmpi ult
// CHECK-COUNT-3: gpu.shuffle
// CHECK: scf.if %[[VALID]] {
// CHECK: scf.for %{{.+}} = %c0 to %{{.+}} step %{{.+}} {
// CHECK: math.exp
// CHECK: memref.store
// CHECK: gpu.terminator
func.func @group_epilogue(%s: memref<?x64xf32, strided<[64, 1], offset: ?>>) {
  %c0 = arith.constant 0 : index
  %ninf = arith.constant 0xFF800000 : f32
  %n = memref.dim %s, %c0 : memref<?x64xf32, strided<[64, 1], offset: ?>>
  %max = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%ninf : f32) outs(%max : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%s : memref<?x64xf32, strided<[64, 1], offset: ?>>) outs(%max : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %m = arith.maxnumf %in, %o : f32
    linalg.yield %m : f32
  }
  linalg.generic {indexing_maps = [#row, #out, #row],
                  iterator_types = ["parallel", "parallel"]}
      ins(%s, %max : memref<?x64xf32, strided<[64, 1], offset: ?>>, memref<?xf32>) outs(%s : memref<?x64xf32, strided<[64, 1], offset: ?>>) {
  ^bb0(%si: f32, %mi: f32, %o: f32):
    %d = arith.subf %si, %mi : f32
    %e = math.exp %d : f32
    linalg.yield %e : f32
  }
  memref.dealloc %max : memref<?xf32>
  return
}

// -----

#q = affine_map<(b, h, k, d) -> (b, h, d)>
#kk = affine_map<(b, h, k, d) -> (b, h, k, d)>
#o = affine_map<(b, h, k, d) -> (b, h, k)>
#s3 = affine_map<(b, h, k) -> (b, h, k)>
#len = affine_map<(b, h, k) -> (b)>

// Pointwise epilogue: attention's scale and mask, written over the scores
// in place, run where each score is stored. The mask's other input (the
// lengths) is loaded at the score's batch index, linalg.index becomes the
// key index, and the score is stored once, masked.
// CHECK-LABEL: func.func @scores_then_mask
// CHECK-SAME: (%[[Q:.+]]: memref<?x12x64xf32>, %[[K:.+]]: memref<?x12x?x64xf32>, %[[LEN:.+]]: memref<?xi64>, %[[S:.+]]: memref<?x12x?xf32>)
// CHECK: gpu.launch
// CHECK: gpu.shuffle
// CHECK: scf.if
// CHECK: %[[OLD:.+]] = memref.load %[[S]][%[[B:.+]], %[[H:.+]], %[[KI:.+]]]
// CHECK: %[[SUM:.+]] = arith.addf %[[OLD]]
// CHECK-NOT: memref.store
// CHECK: %[[L:.+]] = memref.load %[[LEN]][%[[B]]]
// CHECK: %[[SCALED:.+]] = arith.mulf %[[SUM]], %{{.+}} : f32
// CHECK: %[[LI:.+]] = arith.index_cast %[[L]]
// CHECK: arith.cmpi slt, %[[KI]], %[[LI]]
// CHECK: %[[MASKED:.+]] = arith.select %{{.+}}, %[[SCALED]], %{{.+}} : f32
// CHECK: memref.store %[[MASKED]], %[[S]][%[[B]], %[[H]], %[[KI]]]
// CHECK-NOT: memref.store
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
func.func @scores_then_mask(%q: memref<?x12x64xf32>, %k: memref<?x12x?x64xf32>,
                            %len: memref<?xi64>, %s: memref<?x12x?xf32>) {
  %scale = arith.constant 0.125 : f32
  %ninf = arith.constant 0xFF800000 : f32
  linalg.generic {indexing_maps = [#q, #kk, #o],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<?x12x64xf32>, memref<?x12x?x64xf32>)
      outs(%s : memref<?x12x?xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %m = arith.mulf %a, %b : f32
    %r = arith.addf %acc, %m : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [#s3, #len, #s3],
                  iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%s, %len : memref<?x12x?xf32>, memref<?xi64>)
      outs(%s : memref<?x12x?xf32>) {
  ^bb0(%v: f32, %l: i64, %o: f32):
    %x = arith.mulf %v, %scale : f32
    %i = linalg.index 2 : index
    %li = arith.index_cast %l : i64 to index
    %ok = arith.cmpi slt, %i, %li : index
    %y = arith.select %ok, %x, %ninf : f32
    linalg.yield %y : f32
  }
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>

// A mean: the sum's division by the row length into a new buffer. The sum
// itself has no other reader, so only the mean is stored; its allocation
// (between the two ops) moves before the kernel.
// CHECK-LABEL: func.func @mean
// CHECK: %[[SUM:.+]] = memref.alloc
// CHECK: %[[MEAN:.+]] = memref.alloc
// CHECK: gpu.launch
// CHECK: %[[TOTAL:.+]] = arith.addf %cst{{.*}}, %{{.+}} : f32
// CHECK-NOT: memref.store %{{.+}}, %[[SUM]]
// CHECK: %[[M:.+]] = arith.divf %[[TOTAL]], %{{.+}} : f32
// CHECK: memref.store %[[M]], %[[MEAN]][
// CHECK: gpu.terminator
// CHECK-NOT: linalg.generic
// CHECK: return %[[MEAN]]
func.func @mean(%x: memref<?x768xf32>) -> memref<?xf32> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %n768 = arith.constant 768.0 : f32
  %n = memref.dim %x, %c0 : memref<?x768xf32>
  %sum = memref.alloc(%n) : memref<?xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?xf32>)
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x768xf32>) outs(%sum : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = arith.addf %o, %in : f32
    linalg.yield %s : f32
  }
  %mean = memref.alloc(%n) : memref<?xf32>
  linalg.generic {indexing_maps = [#id1, #id1],
                  iterator_types = ["parallel"]}
      ins(%sum : memref<?xf32>) outs(%mean : memref<?xf32>) {
  ^bb0(%s: f32, %o: f32):
    %m = arith.divf %s, %n768 : f32
    linalg.yield %m : f32
  }
  memref.dealloc %sum : memref<?xf32>
  return %mean : memref<?xf32>
}

// -----

#p = affine_map<(b, h, q, d, k) -> (b, h, q, k)>
#v = affine_map<(b, h, q, d, k) -> (b, h, k, d)>
#o = affine_map<(b, h, q, d, k) -> (b, h, q, d)>
#id4 = affine_map<(b, h, q, d) -> (b, h, q, d)>

// The column kernel (P x V) with a chain: the cast to bf16 into a new
// buffer, then the transpose back to [b, q, h, d]. The f32 output and the
// cast's buffer have no other reader: only the transposed bf16 value is
// stored, at the permuted index.
// CHECK-LABEL: func.func @pv_cast_transpose
// CHECK-SAME: (%[[P:.+]]: memref<?x8x?x?xf32>, %[[V:.+]]: memref<?x8x?x64xbf16>, %[[OUT:.+]]: memref<?x?x8x64xbf16>)
// CHECK: gpu.launch {{.*}} function(@reduce_columns)
// CHECK: gpu.barrier
// CHECK-NOT: memref.store %{{.+}} : memref<?x8x?x64xf32>
// CHECK: %[[T:.+]] = arith.truncf %{{.+}} : f32 to bf16
// CHECK-NOT: memref.store %{{.+}} : memref<?x8x?x64xbf16>
// CHECK: memref.store %[[T]], %[[OUT]][%[[B:.+]], %[[Q:.+]], %[[H:.+]], %[[D:.+]]] : memref<?x?x8x64xbf16>
// CHECK: gpu.terminator
// CHECK-NOT: linalg.
func.func @pv_cast_transpose(%p: memref<?x8x?x?xf32>, %v: memref<?x8x?x64xbf16>,
                             %out: memref<?x?x8x64xbf16>) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %zero = arith.constant 0.0 : f32
  %b = memref.dim %p, %c0 : memref<?x8x?x?xf32>
  %s = memref.dim %p, %c2 : memref<?x8x?x?xf32>
  %acc = memref.alloc(%b, %s) : memref<?x8x?x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x8x?x64xf32>)
  linalg.generic {indexing_maps = [#p, #v, #o],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]}
      ins(%p, %v : memref<?x8x?x?xf32>, memref<?x8x?x64xbf16>)
      outs(%acc : memref<?x8x?x64xf32>) {
  ^bb0(%pi: f32, %vi: bf16, %o: f32):
    %e = arith.extf %vi : bf16 to f32
    %m = arith.mulf %pi, %e : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  }
  %cast = memref.alloc(%b, %s) : memref<?x8x?x64xbf16>
  linalg.generic {indexing_maps = [#id4, #id4],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%acc : memref<?x8x?x64xf32>) outs(%cast : memref<?x8x?x64xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  linalg.transpose ins(%cast : memref<?x8x?x64xbf16>)
      outs(%out : memref<?x?x8x64xbf16>) permutation = [0, 2, 1, 3]
  memref.dealloc %acc : memref<?x8x?x64xf32>
  memref.dealloc %cast : memref<?x8x?x64xbf16>
  return
}

// -----

#row = affine_map<(d0, d1) -> (d0, d1)>
#out = affine_map<(d0, d1) -> (d0)>
#id1 = affine_map<(d0) -> (d0)>
#first = affine_map<(d0) -> (d0, 0)>

// Not pointwise epilogues: an op writing a buffer the reduction reads
// (other threads may not have read it yet), and an op reading the result
// twice.
// CHECK-LABEL: func.func @pointwise_negative
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK: linalg.generic
// CHECK: gpu.launch
// CHECK: gpu.terminator
// CHECK: linalg.generic
func.func @pointwise_negative(%x: memref<?x768xf32>, %a: memref<?xf32>,
                              %b: memref<?xf32>, %c: memref<?xf32>) {
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x768xf32>) outs(%a : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = arith.addf %o, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #first],
                  iterator_types = ["parallel"]}
      ins(%a : memref<?xf32>) outs(%x : memref<?x768xf32>) {
  ^bb0(%s: f32, %o: f32):
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#row, #out],
                  iterator_types = ["parallel", "reduction"]}
      ins(%x : memref<?x768xf32>) outs(%b : memref<?xf32>) {
  ^bb0(%in: f32, %o: f32):
    %s = arith.addf %o, %in : f32
    linalg.yield %s : f32
  }
  linalg.generic {indexing_maps = [#id1, #id1, #id1],
                  iterator_types = ["parallel"]}
      ins(%b, %b : memref<?xf32>, memref<?xf32>) outs(%c : memref<?xf32>) {
  ^bb0(%s: f32, %t: f32, %o: f32):
    %m = arith.mulf %s, %t : f32
    linalg.yield %m : f32
  }
  return
}

// -----

#q = affine_map<(b, h, k, d) -> (b, h, d)>
#kk = affine_map<(b, h, k, d) -> (b, h floordiv 4, k, d)>
#o = affine_map<(b, h, k, d) -> (b, h, k)>

// The same scores with aligned rows (identity layouts): 16-byte pieces
// tile the 64-wide head, so each score gets one thread (about 8 pieces a
// lane), 256 scores a block: it loads its Q row and its K row 8 bf16 at a
// time and folds the 64 products; no shuffles.
// CHECK-LABEL: func.func @scores_vector
// CHECK: %[[OUTS:.+]] = arith.muli %{{.+}}, %c32 : index
// CHECK: %[[BLOCKS:.+]] = arith.ceildivsi %[[OUTS]], %c256 : index
// CHECK: gpu.launch blocks({{.*}}) in (%{{.+}} = %[[BLOCKS]], {{.*}} threads
// CHECK: scf.for %[[BASE:.+]] = %c0 to %c64 step %c8 iter_args
// CHECK: %[[AT:.+]] = arith.addi %[[BASE]], %{{.+}}
// CHECK: vector.load %{{.+}}[%{{.+}}, %{{.+}}, %[[AT]]] {alignment = 16 : i64} : memref<?x32x64xbf16>, vector<8xbf16>
// CHECK: vector.load %{{.+}}[%{{.+}}, %{{.+}}, %{{.+}}, %[[AT]]] {alignment = 16 : i64} : memref<?x8x?x64xbf16>, vector<8xbf16>
// CHECK-NOT: memref.load
// CHECK-COUNT-8: arith.mulf
// CHECK-NOT: memref.load
// CHECK: scf.yield
// CHECK-NOT: gpu.shuffle
// CHECK: memref.store
func.func @scores_vector(%q: memref<?x32x64xbf16>, %k: memref<?x8x?x64xbf16>,
                         %s: memref<?x32x?xf32>) {
  linalg.generic {indexing_maps = [#q, #kk, #o],
                  iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%q, %k : memref<?x32x64xbf16>, memref<?x8x?x64xbf16>)
      outs(%s : memref<?x32x?xf32>) {
  ^bb0(%a: bf16, %b: bf16, %o: f32):
    %ea = arith.extf %a : bf16 to f32
    %eb = arith.extf %b : bf16 to f32
    %m = arith.mulf %ea, %eb : f32
    %r = arith.addf %o, %m : f32
    linalg.yield %r : f32
  }
  return
}

// -----

#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#rows3 = affine_map<(d0, d1, d2) -> (d0, d1)>

// An RMSNorm that ds-gemv-to-gpu moved into its dispatch's tensor-core
// branch: the branch of a host-side scf.if is host code too, so its sum
// and normalisation become one row kernel there, though the sum's
// deallocation stays outside the branch.
// CHECK-LABEL: func.func @norm_in_branch
// CHECK: scf.if
// CHECK: } else {
// CHECK-NOT: linalg.
// CHECK: gpu.launch {{.*}} function(@reduce_rows)
// CHECK: math.rsqrt
// CHECK: memref.store
// CHECK-NOT: linalg.
// CHECK: }
// CHECK: memref.dealloc
func.func @norm_in_branch(%few: i1, %h: memref<?x1x64xbf16>, %y: memref<?x1x64xbf16>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %b = memref.dim %h, %c0 : memref<?x1x64xbf16>
  %sum = memref.alloc(%b) : memref<?x1xf32>
  scf.if %few {
  } else {
    linalg.fill ins(%zero : f32) outs(%sum : memref<?x1xf32>)
    linalg.generic {indexing_maps = [#id3, #rows3], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<?x1x64xbf16>) outs(%sum : memref<?x1xf32>) {
    ^bb0(%in: bf16, %out: f32):
      %0 = arith.extf %in : bf16 to f32
      %1 = arith.mulf %0, %0 : f32
      %2 = arith.addf %out, %1 : f32
      linalg.yield %2 : f32
    }
    linalg.generic {indexing_maps = [#id3, #rows3, #id3], iterator_types = ["parallel", "parallel", "parallel"]} ins(%h, %sum : memref<?x1x64xbf16>, memref<?x1xf32>) outs(%y : memref<?x1x64xbf16>) {
    ^bb0(%in: bf16, %s: f32, %out: bf16):
      %0 = arith.extf %in : bf16 to f32
      %1 = arith.divf %s, %k : f32
      %2 = math.rsqrt %1 : f32
      %3 = arith.mulf %0, %2 : f32
      %4 = arith.truncf %3 : f32 to bf16
      linalg.yield %4 : bf16
    }
  }
  memref.dealloc %sum : memref<?x1xf32>
  return
}
