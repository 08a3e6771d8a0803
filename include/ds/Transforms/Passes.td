//===- Passes.td - dialect-agnostic ds passes ---------------*- tablegen -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_TRANSFORMS_PASSES_TD
#define DS_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def DSFreshResults : Pass<"ds-fresh-results", "func::FuncOp"> {
  let summary = "make every returned buffer a fresh allocation";
  let description = [{
    The artifact calling convention (docs/Artifact.md) hands result buffers
    to the caller, which releases each with `free`. A bufferized function
    may instead return one of its arguments, a global constant or a view
    into either. This pass gives every public function's returned memref
    that is not itself a `memref.alloc` a new allocation and a copy, with
    an identity layout.

    ```mlir
    // before
    func.func @f(%a: memref<4xf32>) -> memref<4xf32> {
      return %a : memref<4xf32>
    }
    // after
    func.func @f(%a: memref<4xf32>) -> memref<4xf32> {
      %0 = memref.alloc() : memref<4xf32>
      memref.copy %a, %0 : memref<4xf32> to memref<4xf32>
      return %0 : memref<4xf32>
    }
    ```

    Run it after bufferization and before the buffer-deallocation pipeline,
    which then treats the copies like any other returned allocation.
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def DSPrepareEntryPoints : Pass<"ds-prepare-entry-points", "ModuleOp"> {
  let summary = "apply the artifact ABI to public functions before bufferization";
  let description = [{
    Every public `func.func` is an entry point of the artifact
    (docs/Artifact.md). Its arguments are caller-owned and may be
    read-only memory (weights are memory-mapped read-only), so each tensor
    argument gets `bufferization.writable = false`: bufferization copies
    instead of writing in place. The function gets `llvm.emit_c_interface`
    so that `convert-func-to-llvm` emits `_mlir_ciface_<name>`, which
    `ds-emit-entry-points` wraps.

    ```mlir
    // after
    func.func @forward(%w: tensor<4xf32> {bufferization.writable = false})
        -> tensor<4xf32> attributes {llvm.emit_c_interface}
    ```
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect"];
}

def DSEmitEntryPoints : Pass<"ds-emit-entry-points", "ModuleOp"> {
  let summary = "emit the artifact entry points around C-interface functions";
  let description = [{
    For each `llvm.func @_mlir_ciface_<name>` emits
    `llvm.func @ds_entry_<name>(%args: !llvm.ptr)`, the calling convention
    of docs/Artifact.md: `args[0]` points to the result block and
    `args[1 + i]` to the descriptor of argument `i`. The wrapper loads the
    pointers and calls the C-interface function.

    ```mlir
    // after, for @_mlir_ciface_forward(!llvm.ptr, !llvm.ptr, !llvm.ptr)
    llvm.func @ds_entry_forward(%args: !llvm.ptr) {
      %p0 = llvm.load %args : !llvm.ptr -> !llvm.ptr
      %g1 = llvm.getelementptr %args[1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
      %p1 = llvm.load %g1 : !llvm.ptr -> !llvm.ptr
      ...
      llvm.call @_mlir_ciface_forward(%p0, %p1, %p2) : (...) -> ()
      llvm.return
    }
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def DSExpandShapeToReinterpretCast
    : Pass<"ds-expand-shape-to-reinterpret-cast", "func::FuncOp"> {
  let summary = "lower contiguous dynamic memref.expand_shape to reinterpret_cast";
  let description = [{
    Upstream `expand-strided-metadata` (LLVM 22) crashes on a
    `memref.expand_shape` that splits one dimension into several dynamic
    ones (`memref<?x64xf32> into memref<?x?x64xf32>`), which every
    `[B*S, K] -> [B, S, K]` reshape of a symbolic batch and sequence
    produces. For a contiguous (identity-layout) source the result is a
    `memref.reinterpret_cast` with the output sizes and their suffix
    products as strides, which this pass emits. Other expand_shapes are
    left to `expand-strided-metadata`.

    ```mlir
    // before
    %e = memref.expand_shape %m [[0, 1], [2]] output_shape [%b, %s, 64]
        : memref<?x64xf32> into memref<?x?x64xf32>
    // after
    %st = arith.muli %s, %c64 : index
    %e = memref.reinterpret_cast %m to offset: [0], sizes: [%b, %s, 64],
        strides: [%st, 64, 1] : memref<?x64xf32> to memref<?x?x64xf32>
    ```
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def DSStridedCopyToLinalg : Pass<"ds-strided-copy-to-linalg", "func::FuncOp"> {
  let summary = "turn copies between non-contiguous buffers into linalg.copy";
  let description = [{
    `finalize-memref-to-llvm` lowers a `memref.copy` between buffers that
    are not both contiguous to a call to `memrefCopy` from MLIR's
    runner-utils library, which artifacts must not depend on (the runtime
    links no MLIR). This pass rewrites those copies to `linalg.copy`, which
    becomes loops with the rest of the linalg ops; contiguous copies stay
    and become `memcpy`.

    ```mlir
    // before
    memref.copy %a, %b : memref<?x4xf32, strided<[8, 1]>> to memref<?x4xf32>
    // after
    linalg.copy ins(%a : memref<?x4xf32, strided<[8, 1]>>)
                outs(%b : memref<?x4xf32>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def DSDropCacheResults : Pass<"ds-drop-cache-results", "ModuleOp"> {
  let summary = "remove KV-cache results that bufferization made in place";
  let description = [{
    `ds-insert-kv-cache` returns each cache's new value as a result marked
    `{ds.cache_result = "<cache input name>"}`. After one-shot bufferization
    the returned buffer must be that argument itself (the append happened
    in place); this pass then removes the result, so the entry point's
    ABI has the logits as its only result and the runtime keeps owning the
    cache. A cache result that is not its argument is an error: the cache
    would have been copied.

    ```mlir
    // before
    func.func @decode(..., %k: memref<?x2x?x16xf32> {ds.cache = ...})
        -> (memref<?x?x256xf32>, memref<?x2x?x16xf32> {ds.cache_result = "cache.key.0"})
    { ... return %logits, %k : ... }
    // after
    func.func @decode(..., %k: memref<?x2x?x16xf32> {ds.cache = ...})
        -> memref<?x?x256xf32>
    { ... return %logits : ... }
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

#endif // DS_TRANSFORMS_PASSES_TD
