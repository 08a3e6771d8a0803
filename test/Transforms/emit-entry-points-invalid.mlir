// RUN: ds-opt %s --ds-prepare-entry-points --convert-func-to-llvm --ds-emit-entry-points --verify-diagnostics -o /dev/null

// A name clash with an existing symbol is an error, not a silent overwrite.
llvm.func @ds_entry_clash(%arg0: !llvm.ptr) {
  llvm.return
}
// expected-error @+1 {{entry point symbol 'ds_entry_clash' already exists}}
func.func @clash(%a: memref<4xf32>) -> memref<4xf32> {
  return %a : memref<4xf32>
}
