// RUN: ds-opt %s --split-input-file --ds-drop-cache-results -verify-diagnostics | FileCheck %s

// A cache result that bufferization made the cache argument itself (here
// through a cast) is removed; the logits stay.
// CHECK-LABEL: func.func @decode
// CHECK-SAME: -> memref<?x4xf32>
// CHECK: return %{{.+}} : memref<?x4xf32>
func.func @decode(%x: memref<?x4xf32> {ds.input = "tokens"},
                  %k: memref<?x2x?x8xf32> {ds.input = "cache.key.0"})
    -> (memref<?x4xf32>, memref<?x2x?x8xf32> {ds.cache_result = "cache.key.0"}) {
  %c = memref.cast %k : memref<?x2x?x8xf32> to memref<?x2x?x8xf32>
  return %x, %c : memref<?x4xf32>, memref<?x2x?x8xf32>
}

// -----

// A cache that was copied is an error: the runtime's cache would not see
// the new keys.
// expected-error @+1 {{the KV cache 'cache.key.0' was not updated in place (bufferization copied it)}}
func.func @decode(%x: memref<?x4xf32> {ds.input = "tokens"},
                  %k: memref<?x2x?x8xf32> {ds.input = "cache.key.0"})
    -> (memref<?x4xf32>, memref<?x2x?x8xf32> {ds.cache_result = "cache.key.0"}) {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %b = memref.dim %k, %c0 : memref<?x2x?x8xf32>
  %s = memref.dim %k, %c2 : memref<?x2x?x8xf32>
  %copy = memref.alloc(%b, %s) : memref<?x2x?x8xf32>
  memref.copy %k, %copy : memref<?x2x?x8xf32> to memref<?x2x?x8xf32>
  return %x, %copy : memref<?x4xf32>, memref<?x2x?x8xf32>
}

// -----

// A result tied to a cache that is not an argument.
// expected-error @+1 {{result 1 is tied to cache 'cache.value.0', which is not an argument}}
func.func @decode(%x: memref<?x4xf32> {ds.input = "tokens"},
                  %k: memref<?x2x?x8xf32> {ds.input = "cache.key.0"})
    -> (memref<?x4xf32>, memref<?x2x?x8xf32> {ds.cache_result = "cache.value.0"}) {
  return %x, %k : memref<?x4xf32>, memref<?x2x?x8xf32>
}
