// RUN: ds-opt %s --split-input-file --ds-gemv-to-gpu --ds-record-alternative-launches --cse --verify-diagnostics | FileCheck %s

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>

// A bf16 decode linear with bias and the cast back to bf16: fill, matmul
// and epilogue become one tensor-core kernel. A block owns 8 columns and
// 16 rows: ceil(512 / 8) x ceil(M / 16) blocks of 8 warps splitting K
// (256 each), 4 steps of 32 in flight per warp.
// CHECK-LABEL: func.func @bf16_bias
// CHECK-SAME: (%[[X:.+]]: memref<?x2048xbf16>, %[[W:.+]]: memref<512x2048xbf16>, %[[B:.+]]: memref<512xbf16>)
// One of the three kernels runs per call (for ds-compile's statistics):
// CHECK-SAME: ds.alternative_launches = 2 : i64
// CHECK-NOT: linalg.
// CHECK: %[[M:.+]] = memref.dim %[[X]], %c0
// CHECK: %[[Y:.+]] = memref.alloc({{.*}}) : memref<?x512xbf16>
// Up to 4 rows (decode at small batch) the CUDA-core kernel runs, 4 rows
// a block at most; the host picks by the row count.
// CHECK: %[[FEW:.+]] = arith.cmpi sle, %[[M]], %c4
// CHECK: scf.if %[[FEW]] {
// CHECK: gpu.launch {{.*}} function(@gemv_512x2048)
// CHECK: ds.tile = #ds.tile<sizes = [4, 8, 1024], warps = 8, stages = 4>
// CHECK: } else {
// Past 64 rows (prefill), the tiled GEMM: blocks of 2 x 2 warps own 64 x 64
// outputs, each warp 32 x 32 as 2 x 4 mma tiles; per 32-wide K step a lane
// loads 16 bytes of 4 weight rows and 4 activation rows and runs the 16
// mma's they feed, 2 steps a loop iteration; the lane's fragments go
// straight through the epilogue (no shared memory).
// CHECK: %[[MANY:.+]] = arith.cmpi sgt, %[[M]], %c64
// CHECK: scf.if %[[MANY]] {
// CHECK: %[[GGY:.+]] = arith.ceildivsi %[[M]], %c64
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c8, {{.*}} = %[[GGY]], {{.*}}) threads({{.*}}) in ({{.*}} = %c128, {{.*}}) function(@gemm_mma_512x2048) {
// CHECK-NOT: workgroup
// CHECK: scf.for {{.*}} = %c0 to %c2048 step %c64 iter_args({{.*}}) -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-4: vector.load %[[W]][{{.*}}] {alignment = 16 : i64} : memref<512x2048xbf16>, vector<8xbf16>
// CHECK-COUNT-4: vector.load %[[X]][{{.*}}] {alignment = 16 : i64} : memref<?x2048xbf16>, vector<8xbf16>
// CHECK-COUNT-4: vector.load %[[W]]
// CHECK-COUNT-4: vector.load %[[X]]
// CHECK-COUNT-32: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK-NOT: gpu.barrier
// CHECK-COUNT-32: memref.store {{.*}}, %[[Y]][
// CHECK: gpu.terminator
// CHECK: ds.tile = #ds.tile<sizes = [64, 64, 64], warps = 4, stages = 2>
// CHECK: } else {
// CHECK: %[[GY:.+]] = arith.ceildivsi %[[M]], %c16
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c64, {{.*}} = %[[GY]], {{.*}}) threads({{.*}}) in ({{.*}} = %c256, {{.*}}) function(@gemv_mma_512x2048) workgroup(%[[PART:.+]] : memref<8x128xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.for {{.*}} step %c128
// Each step: 16 bytes of the weight row and of two activation rows.
// CHECK: vector.load %[[W]][{{.*}}] {alignment = 16 : i64} : memref<512x2048xbf16>, vector<8xbf16>
// CHECK-COUNT-2: vector.load %[[X]][{{.*}}] {alignment = 16 : i64} : memref<?x2048xbf16>, vector<8xbf16>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [0, 1, 8, 9, 2, 3, 10, 11]
// CHECK: nvvm.mma.sync {{.*}}multiplicandAPtxType = #nvvm.mma_type<bf16>{{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>
// CHECK: vector.shuffle %{{.+}}, %{{.+}} [4, 5, 12, 13, 6, 7, 14, 15]
// CHECK: nvvm.mma.sync
// The warps' partial sums meet in shared memory; warp 0 writes.
// CHECK: memref.store {{.*}}, %[[PART]]
// CHECK: gpu.barrier
// The epilogue at (row, col): the bias load, the add, the truncation.
// CHECK: memref.load %[[B]][
// CHECK: arith.addf
// CHECK: arith.truncf {{.*}} : f32 to bf16
// CHECK: memref.store {{.*}}, %[[Y]][
// CHECK: ds.tile = #ds.tile<sizes = [16, 8, 128], warps = 8, stages = 4>
// CHECK-NOT: linalg.
// CHECK: return
func.func @bf16_bias(%x: memref<?x2048xbf16>, %w: memref<512x2048xbf16>,
                     %b: memref<512xbf16>) -> memref<?x512xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x2048xbf16>
  %acc = memref.alloc(%m) : memref<?x512xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x512xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<?x2048xbf16>, memref<512x2048xbf16>)
      outs(%acc : memref<?x512xf32>)
  // The epilogue's output is allocated after the matmul: the kernel goes
  // where the epilogue was.
  %y = memref.alloc(%m) : memref<?x512xbf16>
  linalg.generic {indexing_maps = [#id, #col, #id],
                  iterator_types = ["parallel", "parallel"]}
      ins(%acc, %b : memref<?x512xf32>, memref<512xbf16>)
      outs(%y : memref<?x512xbf16>) {
  ^bb0(%a: f32, %bias: bf16, %o: bf16):
    %be = arith.extf %bias : bf16 to f32
    %s = arith.addf %a, %be : f32
    %t = arith.truncf %s : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %acc : memref<?x512xf32>
  return %y : memref<?x512xbf16>
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// A dynamic row count gets one variant per power of two up to the tile's
// 16 rows, chosen by the block's live rows: batch 1 computes one row.
// Without a zero fill the accumulator's value is added; with no epilogue
// the sum is stored into it.
// CHECK-LABEL: func.func @variants_no_fill
// CHECK: %[[LIVE:.+]] = arith.minsi
// CHECK: arith.cmpi sle, %[[LIVE]], %c1
// CHECK: arith.cmpi sle, %[[LIVE]], %c2
// CHECK: arith.cmpi sle, %[[LIVE]], %c4
// CHECK: arith.cmpi sle, %[[LIVE]], %c8
// CHECK: %[[OLD:.+]] = memref.load %[[ACC:.+]][
// CHECK: %[[NEW:.+]] = arith.addf %[[OLD]],
// CHECK: memref.store %[[NEW]], %[[ACC]][
// CHECK-NOT: linalg.matmul
func.func @variants_no_fill(%x: memref<?x256xf32>, %w: memref<64x256xf32>,
                            %acc: memref<?x64xf32>) {
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<?x256xf32>, memref<64x256xf32>)
      outs(%acc : memref<?x64xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// A static row count that fills the tile needs no variants; the tile from
// the IR is used (2 rows, 4 warps, 2 stages of 4 f32).
// CHECK-LABEL: func.func @static_rows_given_tile
// CHECK-NOT: arith.cmpi sle
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c16, {{.*}}) threads({{.*}}) in ({{.*}} = %c128,
// CHECK: scf.for {{.*}} step %c256
// CHECK-COUNT-2: vector.load {{.*}} : memref<64x256xf32>, vector<4xf32>
// CHECK: ds.tile = #ds.tile<sizes = [2, 4, 256], warps = 4, stages = 2>
func.func @static_rows_given_tile(%x: memref<4x256xf32>, %w: memref<64x256xf32>,
                                  %acc: memref<4x64xf32>) {
  linalg.matmul indexing_maps = [#x, #wt, #c]
      {ds.tile = #ds.tile<sizes = [2, 4, 256], warps = 4, stages = 2>}
      ins(%x, %w : memref<4x256xf32>, memref<64x256xf32>)
      outs(%acc : memref<4x64xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// A given tile with more warps than columns splits K: 8 warps on 4 columns,
// so 2 warps a column, each over 128 of K's 256 (its own range, one load
// of 4 f32 a lane). Each warp parks its sums in shared memory
// ([warp][row]); after a barrier every column's first warp adds its
// column's two and stores.
// CHECK-LABEL: func.func @given_split_k
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c16, {{.*}}) threads({{.*}}) in ({{.*}} = %c256,
// CHECK-SAME: workgroup(%[[PARTS:.+]] : memref<8x2xf32, #gpu.address_space<workgroup>>)
// CHECK: %[[COL:.+]] = arith.addi %{{.+}}, %{{.+}} : index
// CHECK: %[[SLOT:.+]] = arith.remui %{{.+}}, %c2 : index
// CHECK: %[[BEGIN:.+]] = arith.muli %[[SLOT]], %c128 : index
// CHECK: %[[END:.+]] = arith.addi %[[BEGIN]], %c128 : index
// CHECK: scf.for {{.*}} to %[[END]] step %c128
// CHECK: memref.store %{{.+}}, %[[PARTS]][
// CHECK: gpu.barrier
// CHECK: %[[FIRST:.+]] = arith.cmpi eq, %{{.+}}, %c0 : index
// CHECK: scf.if
// CHECK: %[[P0:.+]] = memref.load %[[PARTS]][
// CHECK: %[[P1:.+]] = memref.load %[[PARTS]][
// CHECK: %[[T:.+]] = arith.addf %[[P0]], %[[P1]] : f32
// CHECK: memref.store %[[T]], %{{.+}}[
// CHECK: ds.tile = #ds.tile<sizes = [2, 4, 128], warps = 8, stages = 1>
func.func @given_split_k(%x: memref<2x256xf32>, %w: memref<64x256xf32>,
                         %acc: memref<2x64xf32>) {
  %zero = arith.constant 0.0 : f32
  linalg.fill ins(%zero : f32) outs(%acc : memref<2x64xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      {ds.tile = #ds.tile<sizes = [2, 4, 128], warps = 8, stages = 1>}
      ins(%x, %w : memref<2x256xf32>, memref<64x256xf32>)
      outs(%acc : memref<2x64xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// A store into another buffer between the matmul and the elementwise
// consumer keeps the consumer separate (it reads the accumulator, which
// the kernel then writes); the fill still goes.
// CHECK-LABEL: func.func @epilogue_not_adjacent
// CHECK-NOT: linalg.fill
// CHECK: gpu.launch
// CHECK: memref.store {{.*}}, %[[ACC:.+]][
// CHECK: memref.store
// CHECK: linalg.generic
func.func @epilogue_not_adjacent(%x: memref<?x256xf32>, %w: memref<64x256xf32>,
                                 %y: memref<?x64xf32>, %flag: memref<1xf32>) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x256xf32>
  %acc = memref.alloc(%m) : memref<?x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x64xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<?x256xf32>, memref<64x256xf32>)
      outs(%acc : memref<?x64xf32>)
  memref.store %zero, %flag[%c0] : memref<1xf32>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%acc : memref<?x64xf32>) outs(%y : memref<?x64xf32>) {
  ^bb0(%a: f32, %o: f32):
    %r = arith.maximumf %a, %zero : f32
    linalg.yield %r : f32
  }
  memref.dealloc %acc : memref<?x64xf32>
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (k, n)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// Left to the generic path: a [K, N] weight (lanes would read down a
// column), and a K that is not a whole number of 16-byte vectors.
// CHECK-LABEL: func.func @not_gemv
// CHECK-NOT: gpu.launch
// CHECK: linalg.matmul
// CHECK: linalg.matmul
func.func @not_gemv(%x: memref<?x256xf32>, %w: memref<256x64xf32>,
                    %acc: memref<?x64xf32>, %x2: memref<?x66xbf16>,
                    %w2: memref<64x66xbf16>) {
  linalg.matmul indexing_maps = [#x, #w, #c]
      ins(%x, %w : memref<?x256xf32>, memref<256x64xf32>)
      outs(%acc : memref<?x64xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x2, %w2 : memref<?x66xbf16>, memref<64x66xbf16>)
      outs(%acc : memref<?x64xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

func.func @bad_tile(%x: memref<?x256xf32>, %w: memref<64x256xf32>,
                    %acc: memref<?x64xf32>) {
  // expected-error @+1 {{ds-gemv-to-gpu: tile #ds.tile<sizes = [16, 8, 100], warps = 8, stages = 1> is not a GEMV tile: expected sizes = [rows (1-64), columns, 128 x stages], warps 1-32 a multiple of columns (warps / columns split K, dividing it into whole vectors)}}
  linalg.matmul indexing_maps = [#x, #wt, #c]
      {ds.tile = #ds.tile<sizes = [16, 8, 100], warps = 8, stages = 1>}
      ins(%x, %w : memref<?x256xf32>, memref<64x256xf32>)
      outs(%acc : memref<?x64xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>

// The epilogue reads the accumulator through a view splitting M into
// [B, S] (a linear on [B, S, K] activations): it is still folded, the row
// split back into (b, s) with S's extent.
// CHECK-LABEL: func.func @epilogue_through_view
// CHECK-SAME: (%[[X:.+]]: memref<?x256xbf16>, %[[W:.+]]: memref<64x256xbf16>, %[[Y:.+]]: memref<?x?x64xbf16>, %[[B:.+]]: index, %[[S:.+]]: index)
// CHECK-NOT: linalg.
// CHECK: %[[VIEW:.+]] = memref.expand_shape
// CHECK: %[[SD:.+]] = memref.dim %[[VIEW]], %c1
// CHECK: gpu.launch
// CHECK: %[[SI:.+]] = arith.remui %[[ROW:.+]], %[[SD]]
// CHECK-NEXT: %[[BI:.+]] = arith.divui %[[ROW]], %[[SD]]
// CHECK: arith.truncf
// CHECK: memref.store %{{.+}}, %[[Y]][%[[BI]], %[[SI]], %{{.+}}] : memref<?x?x64xbf16>
// CHECK-NOT: linalg.
func.func @epilogue_through_view(%x: memref<?x256xbf16>, %w: memref<64x256xbf16>,
                                 %y: memref<?x?x64xbf16>, %b: index, %s: index) {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %m = memref.dim %x, %c0 : memref<?x256xbf16>
  %acc = memref.alloc(%m) : memref<?x64xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x64xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<?x256xbf16>, memref<64x256xbf16>)
      outs(%acc : memref<?x64xf32>)
  %v = memref.expand_shape %acc [[0, 1], [2]] output_shape [%b, %s, 64] : memref<?x64xf32> into memref<?x?x64xf32>
  linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%v : memref<?x?x64xf32>) outs(%y : memref<?x?x64xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  memref.dealloc %acc : memref<?x64xf32>
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// A tensor-core tile given in the IR ([16, 8, 32 x stages]): only the
// tensor-core kernel, with its 2 warps splitting K and 2 steps of 32 a
// loop iteration; no CUDA-core alternative is built.
// CHECK-LABEL: func.func @given_mma_tile
// CHECK-NOT: ds.alternative_launches
// CHECK-NOT: scf.if
// CHECK: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c64, {{.*}}) function(@gemv_mma_64x256) workgroup(%{{.+}} : memref<2x128xf32, #gpu.address_space<workgroup>>)
// CHECK: scf.for {{.*}} step %c64
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK: ds.tile = #ds.tile<sizes = [16, 8, 64], warps = 2, stages = 2>
// CHECK-NOT: function(@gemv_64x256)
func.func @given_mma_tile(%x: memref<?x256xbf16>, %w: memref<64x256xbf16>,
                          %acc: memref<?x64xf32>) {
  linalg.matmul indexing_maps = [#x, #wt, #c]
      {ds.tile = #ds.tile<sizes = [16, 8, 64], warps = 2, stages = 2>}
      ins(%x, %w : memref<?x256xbf16>, memref<64x256xbf16>)
      outs(%acc : memref<?x64xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// The tiled GEMM's tile given in the IR ([64, 64, 32 x stages], 4 warps):
// only that kernel, 1 step a loop iteration (16 mma's), no alternatives.
// The columns past N = 96 (the second block's last 32) are clamped on
// load and skipped on store.
// CHECK-LABEL: func.func @given_gemm_tile
// CHECK-NOT: ds.alternative_launches
// CHECK-NOT: scf.if
// CHECK: gpu.launch blocks({{.*}}) in ({{.*}} = %c2, {{.*}}) threads({{.*}}) in ({{.*}} = %c128, {{.*}}) function(@gemm_mma_96x256) {
// CHECK: arith.minui %{{.+}}, %c95
// CHECK: scf.for {{.*}} step %c32 iter_args
// CHECK-COUNT-16: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: scf.yield
// CHECK: arith.cmpi ult, %{{.+}}, %c96
// CHECK: ds.tile = #ds.tile<sizes = [64, 64, 32], warps = 4, stages = 1>
// CHECK-NOT: function(@gemv
func.func @given_gemm_tile(%x: memref<?x256xbf16>, %w: memref<96x256xbf16>,
                           %acc: memref<?x96xf32>) {
  linalg.matmul indexing_maps = [#x, #wt, #c]
      {ds.tile = #ds.tile<sizes = [64, 64, 32], warps = 4, stages = 1>}
      ins(%x, %w : memref<?x256xbf16>, memref<96x256xbf16>)
      outs(%acc : memref<?x96xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// A GEMM tile with the wrong warp count is refused, and the message names
// the tensor-core forms.
func.func @bad_gemm_tile(%x: memref<?x256xbf16>, %w: memref<64x256xbf16>,
                         %acc: memref<?x64xf32>) {
  // expected-error @+1 {{or [64, 64, 32 x stages] with 4 warps for the tensor-core GEMM}}
  linalg.matmul indexing_maps = [#x, #wt, #c]
      {ds.tile = #ds.tile<sizes = [64, 64, 32], warps = 8, stages = 1>}
      ins(%x, %w : memref<?x256xbf16>, memref<64x256xbf16>)
      outs(%acc : memref<?x64xf32>)
  return
}

// -----

#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>

// f16 on the tensor cores: nvvm.mma.sync takes f16 fragments as
// vector<2xf16> registers (bf16 ones as i32); both the GEMV and the GEMM.
// CHECK-LABEL: func.func @f16_mma
// CHECK: function(@gemv_64x256)
// CHECK: function(@gemm_mma_64x256)
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)
// CHECK: function(@gemv_mma_64x256)
// CHECK: nvvm.mma.sync {{.*}}shape = #nvvm.shape<m = 16, n = 8, k = 16>} : (vector<2xf16>, vector<2xf16>, f32)
func.func @f16_mma(%x: memref<?x256xf16>, %w: memref<64x256xf16>,
                   %acc: memref<?x64xf32>) {
  linalg.matmul indexing_maps = [#x, #wt, #c]
      ins(%x, %w : memref<?x256xf16>, memref<64x256xf16>)
      outs(%acc : memref<?x64xf32>)
  return
}
