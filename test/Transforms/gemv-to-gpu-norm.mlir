// RUN: ds-opt %s --split-input-file --ds-gemv-to-gpu --ds-record-alternative-launches --cse | FileCheck %s
// RUN: ds-opt %s --split-input-file --ds-gemv-to-gpu=fold-norms=false | FileCheck %s --check-prefix=OFF

// ds-gemv-to-gpu folds an RMSNorm-like producer of a linear layer's
// activation into the CUDA-core GEMV (NormFold in GemvToGPU.h).

#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// An RMSNorm feeding a linear layer, as a Llama decoder's attention input
// (batch dynamic): the CUDA-core kernel reads the norm's inputs instead of
// its output. Each lane multiplies its weight vector by the norm weight
// times the residual's elements (column factors), accumulates the
// residual's sum of squares beside the dot product, and after the warp's
// butterfly scales the dot product by rsqrt(sum / 64 + eps) (the row
// factor). The tensor-core branch runs the norm first, as it was.
// CHECK-LABEL: func.func @rms_norm
// CHECK-SAME: (%[[H:.+]]: memref<?x1x64xbf16>, %[[G:.+]]: memref<64xbf16>, %[[W:.+]]: memref<96x64xbf16>)
// CHECK-SAME: ds.alternative_launches = 2
// CHECK-NOT: linalg.
// CHECK: scf.if
// CHECK: gpu.launch {{.*}} function(@gemv_96x64)
// CHECK-NOT: memref<?x64xbf16>
// CHECK: scf.for {{.*}} -> (f32, f32)
// CHECK: vector.load %[[W]]
// CHECK: vector.load %[[G]][%{{.+}}] {alignment = 16 : i64} : memref<64xbf16>, vector<8xbf16>
// CHECK: vector.load %[[H]][%{{.+}}, %{{.+}}, %{{.+}}] {alignment = 16 : i64} : memref<?x1x64xbf16>, vector<8xbf16>
// CHECK: %[[GX:.+]] = arith.mulf
// CHECK: math.fma %{{.+}}, %[[GX]], %{{.+}} : f32
// The sum of squares may contract into an fma:
// CHECK: %[[SQ:.+]] = arith.mulf %[[E:.+]], %[[E]] fastmath<contract> : f32
// CHECK: arith.addf %{{.+}}, %[[SQ]] fastmath<contract> : f32
// CHECK: gpu.shuffle xor
// The whole row's sum of squares, divided by K, plus eps:
// CHECK: arith.divf %{{.+}}, %{{.+}} : f32
// CHECK: %[[R:.+]] = math.rsqrt
// CHECK: arith.mulf %{{.+}}, %[[R]] : f32
// CHECK-NOT: memref<?x64xbf16>
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: linalg.fill
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK: linalg.generic
// CHECK: math.rsqrt
// CHECK: function(@gemm_mma_96x64)
// CHECK: function(@gemv_mma_96x64)
// CHECK-NOT: ds.alternatives
// OFF-LABEL: func.func @rms_norm
// OFF: linalg.generic {{.*}}"reduction"
// OFF: linalg.generic
// OFF: scf.if
// OFF: function(@gemv_96x64)

func.func @rms_norm(%h: memref<?x1x64xbf16>, %g: memref<64xbf16>, %w: memref<96x64xbf16>) -> memref<?x96xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %h, %c0 : memref<?x1x64xbf16>
  %sum = memref.alloc(%b) : memref<?x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x1xf32>)
  linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<?x1x64xbf16>) outs(%sum : memref<?x1xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  %y = memref.alloc(%b) : memref<?x1x64xbf16>
  linalg.generic {indexing_maps = [#col3, #map1, #map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g, %h, %sum : memref<64xbf16>, memref<?x1x64xbf16>, memref<?x1xf32>) outs(%y : memref<?x1x64xbf16>) {
  ^bb0(%gi: bf16, %in: bf16, %s: f32, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.divf %s, %k : f32
    %2 = arith.addf %1, %eps : f32
    %3 = math.rsqrt %2 : f32
    %4 = arith.mulf %0, %3 : f32
    %5 = arith.truncf %4 : f32 to bf16
    %6 = arith.mulf %gi, %5 : bf16
    linalg.yield %6 : bf16
  }
  %x = memref.collapse_shape %y [[0, 1], [2]] : memref<?x1x64xbf16> into memref<?x64xbf16>
  %acc = memref.alloc(%b) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x96xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c] ins(%x, %w : memref<?x64xbf16>, memref<96x64xbf16>) outs(%acc : memref<?x96xf32>)
  %out = memref.alloc(%b) : memref<?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : memref<?x96xf32>) outs(%out : memref<?x96xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<?x96xbf16>
}

// -----

#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// One row, known statically: no dispatch, and the norm goes.
// CHECK-LABEL: func.func @one_row
// CHECK-NOT: linalg.
// CHECK: function(@gemv_96x64)
// CHECK: math.rsqrt
// CHECK-NOT: linalg.
// CHECK: return

func.func @one_row(%h: memref<1x1x64xbf16>, %g: memref<64xbf16>, %w: memref<96x64xbf16>) -> memref<1x96xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %h, %c0 : memref<1x1x64xbf16>
  %sum = memref.alloc() : memref<1x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<1x1xf32>)
  linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<1x1x64xbf16>) outs(%sum : memref<1x1xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  %y = memref.alloc() : memref<1x1x64xbf16>
  linalg.generic {indexing_maps = [#col3, #map1, #map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g, %h, %sum : memref<64xbf16>, memref<1x1x64xbf16>, memref<1x1xf32>) outs(%y : memref<1x1x64xbf16>) {
  ^bb0(%gi: bf16, %in: bf16, %s: f32, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.divf %s, %k : f32
    %2 = arith.addf %1, %eps : f32
    %3 = math.rsqrt %2 : f32
    %4 = arith.mulf %0, %3 : f32
    %5 = arith.truncf %4 : f32 to bf16
    %6 = arith.mulf %gi, %5 : bf16
    linalg.yield %6 : bf16
  }
  %x = memref.collapse_shape %y [[0, 1], [2]] : memref<1x1x64xbf16> into memref<1x64xbf16>
  %acc = memref.alloc() : memref<1x96xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<1x96xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c] ins(%x, %w : memref<1x64xbf16>, memref<96x64xbf16>) outs(%acc : memref<1x96xf32>)
  %out = memref.alloc() : memref<1x96xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : memref<1x96xf32>) outs(%out : memref<1x96xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<1x96xbf16>
}

// -----

#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// A constant norm weight's splat between the sum and the norm writes
// neither: the norm still folds (the splat stays).
// CHECK-LABEL: func.func @splat_between
// CHECK: linalg.generic
// CHECK-NOT: "reduction"
// CHECK: scf.if
// CHECK: function(@gemv_96x64)
// CHECK: math.rsqrt
// CHECK: } else {
// CHECK: linalg.generic {{.*}}"reduction"

func.func @splat_between(%h: memref<?x1x64xbf16>, %g: memref<64xbf16>, %w: memref<96x64xbf16>) -> memref<?x96xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %h, %c0 : memref<?x1x64xbf16>
  %sum = memref.alloc(%b) : memref<?x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x1xf32>)
  linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<?x1x64xbf16>) outs(%sum : memref<?x1xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  %gs = memref.alloc(%b) : memref<?x1x64xbf16>
  linalg.generic {indexing_maps = [#map1], iterator_types = ["parallel", "parallel", "parallel"]} outs(%gs : memref<?x1x64xbf16>) {
  ^bb0(%o: bf16):
    %one = arith.constant 1.0 : bf16
    linalg.yield %one : bf16
  }
  %y = memref.alloc(%b) : memref<?x1x64xbf16>
  linalg.generic {indexing_maps = [#map1, #map1, #map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%gs, %h, %sum : memref<?x1x64xbf16>, memref<?x1x64xbf16>, memref<?x1xf32>) outs(%y : memref<?x1x64xbf16>) {
  ^bb0(%gi: bf16, %in: bf16, %s: f32, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.divf %s, %k : f32
    %2 = arith.addf %1, %eps : f32
    %3 = math.rsqrt %2 : f32
    %4 = arith.mulf %0, %3 : f32
    %5 = arith.truncf %4 : f32 to bf16
    %6 = arith.mulf %gi, %5 : bf16
    linalg.yield %6 : bf16
  }
  %x = memref.collapse_shape %y [[0, 1], [2]] : memref<?x1x64xbf16> into memref<?x64xbf16>
  %acc = memref.alloc(%b) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x96xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c] ins(%x, %w : memref<?x64xbf16>, memref<96x64xbf16>) outs(%acc : memref<?x96xf32>)
  %out = memref.alloc(%b) : memref<?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : memref<?x96xf32>) outs(%out : memref<?x96xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<?x96xbf16>
}

// -----

#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// A LayerNorm-like body subtracts the mean: the sum is not a factor of
// the result, so the norm stays a kernel of its own.
// CHECK-LABEL: func.func @not_a_product
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK: linalg.generic
// CHECK: arith.subf
// CHECK: scf.if
// CHECK: function(@gemv_96x64)

func.func @not_a_product(%h: memref<?x1x64xbf16>, %g: memref<64xbf16>, %w: memref<96x64xbf16>) -> memref<?x96xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %h, %c0 : memref<?x1x64xbf16>
  %sum = memref.alloc(%b) : memref<?x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x1xf32>)
  linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<?x1x64xbf16>) outs(%sum : memref<?x1xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  %y = memref.alloc(%b) : memref<?x1x64xbf16>
  linalg.generic {indexing_maps = [#col3, #map1, #map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g, %h, %sum : memref<64xbf16>, memref<?x1x64xbf16>, memref<?x1xf32>) outs(%y : memref<?x1x64xbf16>) {
  ^bb0(%gi: bf16, %in: bf16, %s: f32, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.divf %s, %k : f32
    %2 = arith.addf %1, %eps : f32
    %3 = math.rsqrt %2 : f32
    %4 = arith.subf %0, %1 : f32
    %5 = arith.truncf %4 : f32 to bf16
    %6 = arith.mulf %gi, %5 : bf16
    linalg.yield %6 : bf16
  }
  %x = memref.collapse_shape %y [[0, 1], [2]] : memref<?x1x64xbf16> into memref<?x64xbf16>
  %acc = memref.alloc(%b) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x96xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c] ins(%x, %w : memref<?x64xbf16>, memref<96x64xbf16>) outs(%acc : memref<?x96xf32>)
  %out = memref.alloc(%b) : memref<?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : memref<?x96xf32>) outs(%out : memref<?x96xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<?x96xbf16>
}

// -----

#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// 8200 columns: 1025 blocks of 8 warps, more than kNormFoldMaxBlocks, and
// the norm multiplies by a scale the kernel would load beside the residual,
// so the norm stays a kernel of its own.
// CHECK-LABEL: func.func @large_grid
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK: linalg.generic
// CHECK: scf.if
// CHECK: function(@gemv_8200x64)

func.func @large_grid(%h: memref<?x1x64xbf16>, %g: memref<64xbf16>, %w: memref<8200x64xbf16>) -> memref<?x8200xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %h, %c0 : memref<?x1x64xbf16>
  %sum = memref.alloc(%b) : memref<?x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x1xf32>)
  linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<?x1x64xbf16>) outs(%sum : memref<?x1xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  %y = memref.alloc(%b) : memref<?x1x64xbf16>
  linalg.generic {indexing_maps = [#col3, #map1, #map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g, %h, %sum : memref<64xbf16>, memref<?x1x64xbf16>, memref<?x1xf32>) outs(%y : memref<?x1x64xbf16>) {
  ^bb0(%gi: bf16, %in: bf16, %s: f32, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.divf %s, %k : f32
    %2 = arith.addf %1, %eps : f32
    %3 = math.rsqrt %2 : f32
    %4 = arith.mulf %0, %3 : f32
    %5 = arith.truncf %4 : f32 to bf16
    %6 = arith.mulf %gi, %5 : bf16
    linalg.yield %6 : bf16
  }
  %x = memref.collapse_shape %y [[0, 1], [2]] : memref<?x1x64xbf16> into memref<?x64xbf16>
  %acc = memref.alloc(%b) : memref<?x8200xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x8200xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c] ins(%x, %w : memref<?x64xbf16>, memref<8200x64xbf16>) outs(%acc : memref<?x8200xf32>)
  %out = memref.alloc(%b) : memref<?x8200xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : memref<?x8200xf32>) outs(%out : memref<?x8200xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<?x8200xbf16>
}

// -----

#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// The same grid with the norm's scale moved into the weight
// (ds-fold-norm-scale): the norm reads only the residual, which the
// kernel loads anyway, so it folds into any grid.
// CHECK-LABEL: func.func @large_grid_unit_scale
// CHECK-NOT: linalg.
// CHECK: scf.if
// CHECK: gpu.launch {{.*}} function(@gemv_8200x64)
// CHECK: scf.for {{.*}} -> (f32, f32)
// CHECK: math.rsqrt
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: linalg.generic {{.*}}"reduction"

func.func @large_grid_unit_scale(%h: memref<?x1x64xbf16>, %w: memref<8200x64xbf16>) -> memref<?x8200xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %h, %c0 : memref<?x1x64xbf16>
  %sum = memref.alloc(%b) : memref<?x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x1xf32>)
  linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<?x1x64xbf16>) outs(%sum : memref<?x1xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  %y = memref.alloc(%b) : memref<?x1x64xbf16>
  linalg.generic {indexing_maps = [#map1, #map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%h, %sum : memref<?x1x64xbf16>, memref<?x1xf32>) outs(%y : memref<?x1x64xbf16>) {
  ^bb0(%in: bf16, %s: f32, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.divf %s, %k : f32
    %2 = arith.addf %1, %eps : f32
    %3 = math.rsqrt %2 : f32
    %4 = arith.mulf %0, %3 : f32
    %5 = arith.truncf %4 : f32 to bf16
    linalg.yield %5 : bf16
  }
  %x = memref.collapse_shape %y [[0, 1], [2]] : memref<?x1x64xbf16> into memref<?x64xbf16>
  %acc = memref.alloc(%b) : memref<?x8200xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x8200xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c] ins(%x, %w : memref<?x64xbf16>, memref<8200x64xbf16>) outs(%acc : memref<?x8200xf32>)
  %out = memref.alloc(%b) : memref<?x8200xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : memref<?x8200xf32>) outs(%out : memref<?x8200xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  return %out : memref<?x8200xbf16>
}

// -----

#map1 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#map = affine_map<(d0, d1, d2) -> (d0, d1)>
#col3 = affine_map<(d0, d1, d2) -> (d2)>
#x = affine_map<(m, n, k) -> (m, k)>
#wt = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(d0, d1) -> (d0, d1)>

// The normalised activation is read again after the linear layer: it
// must be stored, so no fold.
// CHECK-LABEL: func.func @read_again
// CHECK: linalg.generic {{.*}}"reduction"
// CHECK: linalg.generic
// CHECK: scf.if
// CHECK: function(@gemv_96x64)

func.func @read_again(%h: memref<?x1x64xbf16>, %g: memref<64xbf16>, %w: memref<96x64xbf16>) -> memref<?x96xbf16> {
  %c0 = arith.constant 0 : index
  %zero = arith.constant 0.0 : f32
  %k = arith.constant 64.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %b = memref.dim %h, %c0 : memref<?x1x64xbf16>
  %sum = memref.alloc(%b) : memref<?x1xf32>
  linalg.fill ins(%zero : f32) outs(%sum : memref<?x1xf32>)
  linalg.generic {indexing_maps = [#map1, #map], iterator_types = ["parallel", "parallel", "reduction"]} ins(%h : memref<?x1x64xbf16>) outs(%sum : memref<?x1xf32>) {
  ^bb0(%in: bf16, %out: f32):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.mulf %0, %0 : f32
    %2 = arith.addf %out, %1 : f32
    linalg.yield %2 : f32
  }
  %y = memref.alloc(%b) : memref<?x1x64xbf16>
  linalg.generic {indexing_maps = [#col3, #map1, #map, #map1], iterator_types = ["parallel", "parallel", "parallel"]} ins(%g, %h, %sum : memref<64xbf16>, memref<?x1x64xbf16>, memref<?x1xf32>) outs(%y : memref<?x1x64xbf16>) {
  ^bb0(%gi: bf16, %in: bf16, %s: f32, %out: bf16):
    %0 = arith.extf %in : bf16 to f32
    %1 = arith.divf %s, %k : f32
    %2 = arith.addf %1, %eps : f32
    %3 = math.rsqrt %2 : f32
    %4 = arith.mulf %0, %3 : f32
    %5 = arith.truncf %4 : f32 to bf16
    %6 = arith.mulf %gi, %5 : bf16
    linalg.yield %6 : bf16
  }
  %x = memref.collapse_shape %y [[0, 1], [2]] : memref<?x1x64xbf16> into memref<?x64xbf16>
  %acc = memref.alloc(%b) : memref<?x96xf32>
  linalg.fill ins(%zero : f32) outs(%acc : memref<?x96xf32>)
  linalg.matmul indexing_maps = [#x, #wt, #c] ins(%x, %w : memref<?x64xbf16>, memref<96x64xbf16>) outs(%acc : memref<?x96xf32>)
  %out = memref.alloc(%b) : memref<?x96xbf16>
  linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]} ins(%acc : memref<?x96xf32>) outs(%out : memref<?x96xbf16>) {
  ^bb0(%a: f32, %o: bf16):
    %t = arith.truncf %a : f32 to bf16
    linalg.yield %t : bf16
  }
  %c1 = arith.constant 1 : index
  %e = memref.load %y[%c0, %c0, %c1] : memref<?x1x64xbf16>
  memref.store %e, %out[%c0, %c0] : memref<?x96xbf16>
  return %out : memref<?x96xbf16>
}
