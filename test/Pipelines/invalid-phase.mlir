// An unknown or backwards phase range is reported, not silently ignored.
// RUN: ds-opt %s --ds-compile-pipeline="from=llvm to=lower" 2>&1 | FileCheck %s
// RUN: ds-opt %s --ds-compile-pipeline="from=graph-opt to=quantize" 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// CHECK: error: ds-compile-pipeline: invalid phase range 'llvm' to 'lower'
// UNKNOWN: error: ds-compile-pipeline: invalid phase range 'graph-opt' to 'quantize'
func.func @f() {
  return
}
