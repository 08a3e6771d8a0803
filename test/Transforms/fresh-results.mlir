// RUN: ds-opt %s -split-input-file --ds-fresh-results | FileCheck %s

// A returned argument is copied into a fresh allocation.
// CHECK-LABEL: func @return_argument
// CHECK-SAME: (%[[A:.+]]: memref<4xf32>)
func.func @return_argument(%a: memref<4xf32>) -> memref<4xf32> {
  // CHECK: %[[N:.+]] = memref.alloc() : memref<4xf32>
  // CHECK: memref.copy %[[A]], %[[N]]
  // CHECK: return %[[N]]
  return %a : memref<4xf32>
}

// -----

// A buffer the function allocated is returned as it is.
// CHECK-LABEL: func @return_alloc
func.func @return_alloc(%n: index) -> memref<?xf32> {
  // CHECK: %[[N:.+]] = memref.alloc(%{{.*}}) : memref<?xf32>
  // CHECK-NOT: memref.copy
  // CHECK: return %[[N]]
  %0 = memref.alloc(%n) : memref<?xf32>
  return %0 : memref<?xf32>
}

// -----

// A constant global cannot be freed by the caller: copied.
memref.global "private" constant @cst : memref<2xf32> = dense<[1.0, 2.0]>
// CHECK-LABEL: func @return_global
func.func @return_global() -> memref<2xf32> {
  // CHECK: %[[G:.+]] = memref.get_global @cst
  // CHECK: %[[N:.+]] = memref.alloc() : memref<2xf32>
  // CHECK: memref.copy %[[G]], %[[N]]
  // CHECK: return %[[N]]
  %0 = memref.get_global @cst : memref<2xf32>
  return %0 : memref<2xf32>
}

// -----

// A strided view of an argument becomes an identity-layout copy with its
// dynamic size, and the function type follows.
// CHECK-LABEL: func @return_view
// CHECK-SAME: -> memref<?xf32>
func.func @return_view(%a: memref<8xf32>, %n: index) -> memref<?xf32, strided<[2], offset: ?>> {
  // CHECK: %[[V:.+]] = memref.subview
  // CHECK: %[[D:.+]] = memref.dim %[[V]], %c0
  // CHECK: %[[N:.+]] = memref.alloc(%[[D]]) : memref<?xf32>
  // CHECK: memref.copy %[[V]], %[[N]]
  // CHECK: return %[[N]] : memref<?xf32>
  %0 = memref.subview %a[%n] [%n] [2] : memref<8xf32> to memref<?xf32, strided<[2], offset: ?>>
  return %0 : memref<?xf32, strided<[2], offset: ?>>
}

// -----

// The same allocation returned twice is copied the second time, so the
// caller frees two distinct buffers.
// CHECK-LABEL: func @return_twice
func.func @return_twice() -> (memref<4xf32>, memref<4xf32>) {
  // CHECK: %[[A:.+]] = memref.alloc() : memref<4xf32>
  // CHECK: %[[B:.+]] = memref.alloc() : memref<4xf32>
  // CHECK: memref.copy %[[A]], %[[B]]
  // CHECK: return %[[A]], %[[B]]
  %0 = memref.alloc() : memref<4xf32>
  return %0, %0 : memref<4xf32>, memref<4xf32>
}

// -----

// Private functions are internal: their results never reach the runtime.
// CHECK-LABEL: func private @internal
func.func private @internal(%a: memref<4xf32>) -> memref<4xf32> {
  // CHECK-NOT: memref.alloc
  return %a : memref<4xf32>
}
