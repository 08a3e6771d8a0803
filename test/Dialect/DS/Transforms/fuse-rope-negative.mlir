// RUN: ds-opt %s -split-input-file -ds-fuse-rope="emit-remarks" -verify-diagnostics | FileCheck %s

// concat(-x[..., :h], x[..., h:]): the halves are swapped.
// CHECK-LABEL: func @rope_swapped
// CHECK-NOT: ds.rope
func.func @rope_swapped(%q: tensor<1x2x4x8xf32>, %c: tensor<1x2x4x8xf32>, %s: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %x1 = tensor.extract_slice %q[0, 0, 0, 0] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %x2 = tensor.extract_slice %q[0, 0, 0, 4] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %n = arith.negf %x1 : tensor<1x2x4x4xf32>
  // expected-remark @below {{ds-fuse-rope: not fused: rotate_half candidate: expected concat(-x[..., h:2h], x[..., 0:h]) (halves swapped or misplaced)}}
  %r = tensor.concat dim(3) %n, %x2 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  %0 = arith.mulf %q, %c : tensor<1x2x4x8xf32>
  %1 = arith.mulf %r, %s : tensor<1x2x4x8xf32>
  %2 = arith.addf %0, %1 : tensor<1x2x4x8xf32>
  return %2 : tensor<1x2x4x8xf32>
}

// -----

// The negated half comes second.
// CHECK-LABEL: func @rope_neg_second
// CHECK-NOT: ds.rope
func.func @rope_neg_second(%q: tensor<1x2x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %x1 = tensor.extract_slice %q[0, 0, 0, 0] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %x2 = tensor.extract_slice %q[0, 0, 0, 4] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %n = arith.negf %x2 : tensor<1x2x4x4xf32>
  // expected-remark @below {{rotate_half candidate: the negated half comes second (halves swapped)}}
  %r = tensor.concat dim(3) %x1, %n : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  return %r : tensor<1x2x4x8xf32>
}

// -----

// Tables that are arguments: their halves cannot be proven equal.
// CHECK-LABEL: func @rope_opaque_tables
// CHECK-NOT: ds.rope
func.func @rope_opaque_tables(%q: tensor<1x2x4x8xf32>, %c: tensor<1x1x4x8xf32>, %s: tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32> {
  %cb = ds.broadcast %c[] : (tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %sb = ds.broadcast %s[] : (tensor<1x1x4x8xf32>) -> tensor<1x2x4x8xf32>
  %x1 = tensor.extract_slice %q[0, 0, 0, 0] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %x2 = tensor.extract_slice %q[0, 0, 0, 4] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x8xf32> to tensor<1x2x4x4xf32>
  %n = arith.negf %x2 : tensor<1x2x4x4xf32>
  // expected-remark @below {{RoPE candidate: cannot prove the cos/sin table is concat(t, t) (equal halves)}}
  %r = tensor.concat dim(3) %n, %x1 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  %0 = arith.mulf %q, %cb : tensor<1x2x4x8xf32>
  %1 = arith.mulf %r, %sb : tensor<1x2x4x8xf32>
  %2 = arith.addf %0, %1 : tensor<1x2x4x8xf32>
  return %2 : tensor<1x2x4x8xf32>
}

// -----

// Partial rotary over a slice that is not the whole head: refused.
// CHECK-LABEL: func @rope_partial
// CHECK-NOT: ds.rope
func.func @rope_partial(%q: tensor<1x2x4x16xf32>) -> tensor<1x2x4x8xf32> {
  %x1 = tensor.extract_slice %q[0, 0, 0, 0] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x16xf32> to tensor<1x2x4x4xf32>
  %x2 = tensor.extract_slice %q[0, 0, 0, 4] [1, 2, 4, 4] [1, 1, 1, 1] : tensor<1x2x4x16xf32> to tensor<1x2x4x4xf32>
  %n = arith.negf %x2 : tensor<1x2x4x4xf32>
  // expected-remark @below {{rotate_half candidate: partial rotary (rotary_dim 8 of head_dim 16) is not supported}}
  %r = tensor.concat dim(3) %n, %x1 : (tensor<1x2x4x4xf32>, tensor<1x2x4x4xf32>) -> tensor<1x2x4x8xf32>
  return %r : tensor<1x2x4x8xf32>
}
