// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// Append writes each sequence's rows at its own offset: an scf.for over the
// batch carrying the cache, one insert_slice per sequence, so bufferization
// writes in place.
// CHECK-LABEL: func @append
// CHECK-SAME: (%[[C:.+]]: tensor<?x8x1024x64xf16>, %[[U:.+]]: tensor<?x8x?x64xf16>, %[[OFF:.+]]: tensor<?xi64>)
// CHECK: %[[R:.+]] = scf.for %[[B:.+]] = %{{.+}} to %{{.+}} step %{{.+}} iter_args(%[[ACC:.+]] = %[[C]])
// CHECK:   %[[O:.+]] = tensor.extract %[[OFF]][%[[B]]] : tensor<?xi64>
// CHECK:   %[[OI:.+]] = arith.index_cast %[[O]] : i64 to index
// CHECK:   %[[ROW:.+]] = tensor.extract_slice %[[U]][%[[B]], 0, 0, 0] [1, 8, %{{.+}}, 64]
// CHECK:   %[[NEXT:.+]] = tensor.insert_slice %[[ROW]] into %[[ACC]][%[[B]], 0, %[[OI]], 0] [1, 8, %{{.+}}, 64]
// CHECK:   scf.yield %[[NEXT]]
// CHECK: return %[[R]]
func.func @append(%c: tensor<?x8x1024x64xf16>, %u: tensor<?x8x?x64xf16>, %off: tensor<?xi64>) -> tensor<?x8x1024x64xf16> {
  %0 = ds.kv_cache.append %c, %u, %off : (tensor<?x8x1024x64xf16>, tensor<?x8x?x64xf16>, tensor<?xi64>) -> tensor<?x8x1024x64xf16>
  return %0 : tensor<?x8x1024x64xf16>
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
