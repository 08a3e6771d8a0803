// RUN: ds-opt %s --ds-expand-shape-to-reinterpret-cast | FileCheck %s

// A strided source is not contiguous: left alone (upstream
// expand-strided-metadata still crashes on it; ds never bufferizes into one).
// CHECK-LABEL: func @strided_source
func.func @strided_source(%m: memref<?x64xf32, strided<[128, 1]>>, %b: index, %s: index) -> memref<?x?x64xf32, strided<[?, 128, 1]>> {
  // CHECK: memref.expand_shape
  %e = memref.expand_shape %m [[0, 1], [2]] output_shape [%b, %s, 64] : memref<?x64xf32, strided<[128, 1]>> into memref<?x?x64xf32, strided<[?, 128, 1]>>
  return %e : memref<?x?x64xf32, strided<[?, 128, 1]>>
}
