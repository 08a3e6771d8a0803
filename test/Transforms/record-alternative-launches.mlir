// RUN: ds-opt %s --split-input-file --ds-record-alternative-launches | FileCheck %s

// The launches in the else regions of scf.if ops marked ds.alternatives
// (three here: the inner dispatch sits in the outer one's else region)
// are counted once each, nested ifs included, and added to what the
// function already records; the marks go. Unmarked ifs and then regions
// do not count.
// CHECK-LABEL: func.func @dispatch
// CHECK-SAME: ds.alternative_launches = 4 : i64
// CHECK-NOT: ds.alternatives
func.func @dispatch(%few: i1, %many: i1) attributes {ds.alternative_launches = 1 : i64} {
  %c1 = arith.constant 1 : index
  scf.if %few {
    gpu.launch blocks(%a, %b, %c) in (%x = %c1, %y = %c1, %z = %c1)
               threads(%d, %e, %f) in (%u = %c1, %v = %c1, %w = %c1) {
      gpu.terminator
    }
  } else {
    gpu.launch blocks(%a, %b, %c) in (%x = %c1, %y = %c1, %z = %c1)
               threads(%d, %e, %f) in (%u = %c1, %v = %c1, %w = %c1) {
      gpu.terminator
    }
    scf.if %many {
      gpu.launch blocks(%a, %b, %c) in (%x = %c1, %y = %c1, %z = %c1)
                 threads(%d, %e, %f) in (%u = %c1, %v = %c1, %w = %c1) {
        gpu.terminator
      }
    } else {
      gpu.launch blocks(%a, %b, %c) in (%x = %c1, %y = %c1, %z = %c1)
                 threads(%d, %e, %f) in (%u = %c1, %v = %c1, %w = %c1) {
        gpu.terminator
      }
    } {ds.alternatives}
  } {ds.alternatives}
  scf.if %many {
    gpu.launch blocks(%a, %b, %c) in (%x = %c1, %y = %c1, %z = %c1)
               threads(%d, %e, %f) in (%u = %c1, %v = %c1, %w = %c1) {
      gpu.terminator
    }
  } else {
    gpu.launch blocks(%a, %b, %c) in (%x = %c1, %y = %c1, %z = %c1)
               threads(%d, %e, %f) in (%u = %c1, %v = %c1, %w = %c1) {
      gpu.terminator
    }
  }
  return
}

// -----

// No marked dispatch: no attribute.
// CHECK-LABEL: func.func @straight
// CHECK-NOT: ds.alternative_launches
func.func @straight() {
  %c1 = arith.constant 1 : index
  gpu.launch blocks(%a, %b, %c) in (%x = %c1, %y = %c1, %z = %c1)
             threads(%d, %e, %f) in (%u = %c1, %v = %c1, %w = %c1) {
    gpu.terminator
  }
  return
}
