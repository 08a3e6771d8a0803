// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// Append is an insert_slice of the update at the sequence offset; the result
// replaces the cache, so bufferization writes in place.
// CHECK-LABEL: func @append
// CHECK-SAME: (%[[C:.+]]: tensor<1x8x1024x64xf16>, %[[U:.+]]: tensor<1x8x?x64xf16>, %[[OFF:.+]]: index)
// CHECK: %[[S:.+]] = tensor.dim %[[U]]
// CHECK: %[[R:.+]] = tensor.insert_slice %[[U]] into %[[C]][0, 0, %[[OFF]], 0] [1, 8, %[[S]], 64] [1, 1, 1, 1] : tensor<1x8x?x64xf16> into tensor<1x8x1024x64xf16>
// CHECK: return %[[R]]
func.func @append(%c: tensor<1x8x1024x64xf16>, %u: tensor<1x8x?x64xf16>, %off: index) -> tensor<1x8x1024x64xf16> {
  %0 = ds.kv_cache.append %c, %u, %off : (tensor<1x8x1024x64xf16>, tensor<1x8x?x64xf16>, index) -> tensor<1x8x1024x64xf16>
  return %0 : tensor<1x8x1024x64xf16>
}

// -----

// Read is an extract_slice of the first `length` positions.
// CHECK-LABEL: func @read
// CHECK-SAME: (%[[C:.+]]: tensor<?x8x1024x64xf32>, %[[LEN:.+]]: index)
// CHECK: %[[B:.+]] = tensor.dim %[[C]]
// CHECK: %[[R:.+]] = tensor.extract_slice %[[C]][0, 0, 0, 0] [%[[B]], 8, %[[LEN]], 64] [1, 1, 1, 1] : tensor<?x8x1024x64xf32> to tensor<?x8x?x64xf32>
// CHECK: return %[[R]]
func.func @read(%c: tensor<?x8x1024x64xf32>, %len: index) -> tensor<?x8x?x64xf32> {
  %0 = ds.kv_cache.read %c, %len : (tensor<?x8x1024x64xf32>, index) -> tensor<?x8x?x64xf32>
  return %0 : tensor<?x8x?x64xf32>
}

// -----

// A static result length becomes a static slice size.
// CHECK-LABEL: func @read_static
// CHECK: tensor.extract_slice %{{.+}}[0, 0, 0, 0] [1, 8, 4, 64] [1, 1, 1, 1] : tensor<1x8x1024x64xf32> to tensor<1x8x4x64xf32>
func.func @read_static(%c: tensor<1x8x1024x64xf32>, %len: index) -> tensor<1x8x4x64xf32> {
  %0 = ds.kv_cache.read %c, %len : (tensor<1x8x1024x64xf32>, index) -> tensor<1x8x4x64xf32>
  return %0 : tensor<1x8x4x64xf32>
}
