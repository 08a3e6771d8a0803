// RUN: ds-opt %s --ds-read-whole-kv-cache | FileCheck %s

// The read length, computed from data, becomes the cache's capacity.
// CHECK-LABEL: func.func @decode
// CHECK: %[[C2:.+]] = arith.constant 2 : index
// CHECK: %[[CAP:.+]] = tensor.dim %[[CACHE:.+]], %[[C2]]
// CHECK: ds.kv_cache.read %[[CACHE]], %[[CAP]]
func.func @decode(%cache: tensor<?x2x?x16xf32>, %len: index) -> tensor<?x2x?x16xf32> {
  %r = ds.kv_cache.read %cache, %len : (tensor<?x2x?x16xf32>, index) -> tensor<?x2x?x16xf32>
  return %r : tensor<?x2x?x16xf32>
}
