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
  let options = [
    Option<"contiguous", "contiguous", "bool", /*default=*/"false",
           "also rewrite copies between contiguous buffers (the CUDA target: "
           "every copy becomes a kernel)">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def DSAppendNextTokens : Pass<"ds-append-next-tokens", "ModuleOp"> {
  let summary = "give @prefill and @decode a greedy next_tokens result";
  let description = [{
    Adds result 1, `next_tokens` (i64 [batch, seq]), to the generation entry
    points @prefill and @decode: the argmax of the logits (result 0) over
    the vocabulary, lowest index on ties, NaNs ignored, 0 for a row of
    NaNs. The runtime reads it instead of the logits when sampling
    greedily. Built as one or two "select reductions" (a chunked first
    stage for long vocabularies) on tensors, before bufferization.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
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

def DSMapToGPU : Pass<"ds-map-to-gpu", "func::FuncOp"> {
  let summary = "move every buffer access of a host function into gpu.launch";
  let description = [{
    The generic CUDA code path (docs/CUDA.md). Runs after bufferization and
    `convert-linalg-to-parallel-loops`. Each top-level `scf.parallel`
    becomes a `gpu.launch` of one thread per iteration (the iteration space
    linearised, the last dimension fastest, 256 threads a block); nested
    parallel loops run sequentially in their thread. Any other top-level op
    that reads or writes buffers becomes a launch of its own: of one block
    when it writes only inside parallel loops (the per-sequence KV-cache
    append: every thread runs the sequential code, the parallel loops are
    spread over the block's 256 threads with a barrier after each),
    otherwise of one thread. Host code
    keeps allocations, views and shape arithmetic only. A value read from a
    buffer and used by the host (a data-dependent shape) is an error: the
    host cannot read device memory without a synchronisation.

    ```mlir
    // before
    scf.parallel (%i) = (%c0) to (%n) step (%c1) {
      %x = memref.load %a[%i] : memref<?xf32>
      memref.store %x, %b[%i] : memref<?xf32>
    }
    // after
    %blocks = arith.ceildivsi %n, %c256 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %blocks, ...)
               threads(%tx, %ty, %tz) in (%sx = %c256, ...) {
      %id = ...  // bx * 256 + tx
      scf.if %in_range { ... memref.load / memref.store at %id ... }
      gpu.terminator
    }
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def DSLowerGPULaunches : Pass<"ds-lower-gpu-launches", "ModuleOp"> {
  let summary = "host code reaches the GPU through the runtime's table";
  let description = [{
    Runs on the LLVM dialect after `gpu-to-llvm`. The host code of a CUDA
    artifact calls the runtime through function pointers stored in its
    global `__ds_cuda_api` (the ds CUDA host ABI v1, docs/CUDA.md): slot 0
    `alloc(bytes)`, 1 `free(ptr)`, 2 `launch(kernel, gx, gy, gz, bx, by, bz,
    shared_bytes, params)`, 3 `constant(index, host_ptr, bytes)`.
    Each `gpu.launch_func` becomes a `launch` call whose kernel index is the
    kernel's position in the module attribute `ds.cuda_kernels`;
    `malloc`/`free` become `alloc`/`free`; the address of a constant global
    becomes its device copy.

    ```mlir
    // before
    gpu.launch_func @k::@k blocks in (%g, %c1, %c1) threads in (%c256, %c1, %c1)
        : i64 args(%p : !llvm.ptr, %n : i64)
    // after
    %fn = llvm.load %slot2 : !llvm.ptr -> !llvm.ptr
    llvm.call %fn(%c0_i32, %g, %c1, %c1, %c256, %c1, %c1, %c0_i32, %params)
        : !llvm.ptr, (i32, i64, i64, i64, i64, i64, i64, i32, !llvm.ptr) -> ()
    ```
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def DSFuseParallelProducers
    : Pass<"ds-fuse-parallel-producers", "::mlir::func::FuncOp"> {
  let summary = "recompute an elementwise loop's value where its temporary is read";
  let description = [{
    A top-level `scf.parallel` from 0 with step 1 whose body only reads
    memory but for one store into a fresh allocation at its induction
    variables (constant 0 at unit dimensions) is removed: each load of the
    allocation (directly or through a unit-stride subview of the same
    rank) in a later host-level op becomes the loop body evaluated at the
    loaded coordinates. No op from the loop to the last load may write a
    buffer the loop reads. In a decode step this puts RoPE on the new keys
    into the key-cache append: one kernel, no temporary.

    ```mlir
    // before
    scf.parallel (%i) = (%c0) to (%c64) step (%c1) {
      %x = memref.load %in[%i] : memref<64xf32>
      %y = arith.negf %x : f32
      memref.store %y, %t[%i] : memref<64xf32>
    }
    %v = memref.load %t[%k] : memref<64xf32>
    // after
    %x = memref.load %in[%k] : memref<64xf32>
    %v = arith.negf %x : f32
    ```
  }];
}

def DSMergeSiblingLaunches
    : Pass<"ds-merge-sibling-launches", "::mlir::func::FuncOp"> {
  let summary = "merge consecutive independent generic-path kernels";
  let description = [{
    Two consecutive `gpu.launch` ops of the generic path (no kernel name, no
    `ds.tile`, no shared memory, 1-D grid, the same constant block) with
    only buffer-free host code between them, neither writing a buffer the
    other reads or writes (buffers compared by their root allocation or
    function argument), become one launch: a block below A's grid size runs
    A's body, the others B's with the block index shifted. Runs of
    independent kernels (RoPE on queries and keys, the key and value cache
    appends) become one kernel.

    ```mlir
    // before
    gpu.launch blocks(%a, %c1, %c1) threads(%c256, %c1, %c1) { A }
    gpu.launch blocks(%b, %c1, %c1) threads(%c256, %c1, %c1) { B }
    // after
    %n = arith.addi %a, %b : index
    gpu.launch blocks(%n, %c1, %c1) threads(%c256, %c1, %c1) {
      scf.if (%bx < %a) { A } else { B at %bx - %a }
    }
    ```
  }];
  let dependentDialects = ["::mlir::scf::SCFDialect"];
}

def DSRecordAlternativeLaunches
    : Pass<"ds-record-alternative-launches", "::mlir::func::FuncOp"> {
  let summary = "count the kernels a host dispatch runs instead of others";
  let description = [{
    ds-gemv-to-gpu and ds-attention-to-gpu dispatch on the host by shape:
    an `scf.if` marked `ds.alternatives` runs the kernels of its then region
    (decode at small batch) or those of its else region (the tensor-core
    kernels, prefill), never both. After every kernel-building pass, this
    pass adds the number of `gpu.launch` ops inside such else regions to
    the function's `ds.alternative_launches` (ds-lower-gpu-launches
    subtracts it when it counts a call's launches for the statistics) and
    drops the marks.
  }];
}

def DSGPUProgrammaticLaunch
    : Pass<"ds-gpu-programmatic-launch", "ModuleOp"> {
  let summary = "let each kernel start before the one ahead of it ends (sm_90)";
  let description = [{
    Puts `nvvm.griddepcontrol wait` and `nvvm.griddepcontrol
    launch_dependents` at the start of every kernel of every `gpu.module`
    and lists the modules in the module attribute
    `ds.programmatic_gpu_modules`. ds-compile marks those images
    `programmatic_launch` in the artifact (format 1.5), and the runtime
    then launches their kernels with programmatic stream serialization:
    the next kernel's launch overlaps the end of this one, and its wait
    keeps every memory access in stream order. Needs sm_90 or newer.

    A kernel that opens with L2 prefetches (`nvvm.prefetch level = L2`,
    `nvvm.cp.async.bulk.prefetch`) behind only pure ops, as the
    tensor-core GEMV does for its weights, gets the wait after the last
    of them: L2 is where global memory is coherent, so a prefetch cannot
    make a later load stale, and it starts the stream early.

    ```mlir
    // before
    gpu.func @k(...) kernel { %v = memref.load ... }
    // after
    gpu.func @k(...) kernel {
      nvvm.griddepcontrol wait
      nvvm.griddepcontrol launch_dependents
      %v = memref.load ...
    }
    ```
  }];
  let dependentDialects = ["::mlir::NVVM::NVVMDialect"];
}

def DSMergeGPUModules : Pass<"ds-merge-gpu-modules", "ModuleOp"> {
  let summary = "move every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` puts each kernel in its own `gpu.module`, and
    each module becomes a device image: one ptxas run when compiling and
    one `cuModuleLoadData` when loading. This pass moves every kernel into
    the first module (renaming on a name clash) and retargets the
    `gpu.launch_func` ops.

    ```mlir
    // before
    gpu.module @f_kernel { gpu.func @f_kernel(...) kernel {...} }
    gpu.module @f_kernel_0 { gpu.func @f_kernel(...) kernel {...} }
    gpu.launch_func @f_kernel_0::@f_kernel ...
    // after
    gpu.module @f_kernel { gpu.func @f_kernel(...) kernel {...}
                           gpu.func @f_kernel_1(...) kernel {...} }
    gpu.launch_func @f_kernel::@f_kernel_1 ...
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def DSFoldUnitTransposes : Pass<"ds-fold-unit-transposes", "func::FuncOp"> {
  let summary = "transposes that move only unit dimensions become reshapes";
  let description = [{
    A `linalg.transpose` on tensors that keeps its input's non-unit
    dimensions in order moves no element: in a one-token decode step the
    head transposes `[B, 1, H, D] -> [B, H, 1, D]` and back are such. It
    becomes a `tensor.collapse_shape` dropping the unit dimensions and a
    `tensor.expand_shape` to the output shape, which bufferize to views
    of the same buffer: no copy (on the CUDA target, no kernel).

    ```mlir
    // before
    %t = linalg.transpose ins(%x : tensor<?x1x32x64xbf16>)
        outs(%e : tensor<?x32x1x64xbf16>) permutation = [0, 2, 1, 3]
    // after
    %c = tensor.collapse_shape %x [[0, 1], [2], [3]]
        : tensor<?x1x32x64xbf16> into tensor<?x32x64xbf16>
    %t = tensor.expand_shape %c [[0], [1, 2], [3]] output_shape [%b, 32, 1, 64]
        : tensor<?x32x64xbf16> into tensor<?x32x1x64xbf16>
    ```
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def DSFuseElementwise : Pass<"ds-fuse-elementwise", "func::FuncOp"> {
  let summary = "elementwise fusion and reshape propagation that keep "
                "contractions whole (CUDA path)";
  let description = [{
    The patterns of upstream `linalg-fuse-elementwise-ops` (elementwise
    producer/consumer fusion, reshape propagation by expansion, constant
    folding), except that no reshape is folded into or out of a
    contraction: a linear layer's matmul keeps one M, one N and one K
    dimension, the form the GEMV kernels (`ds-gemv-to-gpu`) match.
    Upstream would fold the attention output's `[B, S, H, D]` view into the
    output projection's K, giving three reduction dimensions.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::affine::AffineDialect"];
}

def DSAttentionToGPU : Pass<"ds-attention-to-gpu", "func::FuncOp"> {
  let summary = "ds.fused_attention as one flash-attention kernel (CUDA path)";
  let description = [{
    Runs on host code after bufferization, first in the CUDA kernel
    passes. Each `ds.fused_attention` (buffer form, see
    `ds-form-fused-attention`) becomes one `gpu.launch` computing
    `softmax(scale Q K^T) V` with an online softmax: a KV head's rows are
    its G query heads at each query position (`row = s * G + g`); a row
    belongs to L lanes of a warp, each holding `D / L` query elements and
    `Dv / L` accumulators; keys are read from K and V a few at a time, the
    lanes' partial dot products summed by shuffles, and the running max,
    sum and accumulators updated once per group of keys. A row sees keys
    below its sequence's `kv_length` (clamped to the buffer) and, with
    `causal`, up to its own position; a warp stops after the last key any
    of its rows sees, so causal prefill skips the masked half and decode
    over a preallocated cache reads only the filled part. GQA reads each
    K/V head once for its G query heads.

    Two variants: `flash_attention_h<Hq>_d<D>` (warps on different rows,
    4 lanes a row: prefill) and `flash_decode_h<Hq>_d<D>` (one position's
    G rows a warp, the block's warps splitting the keys and combining
    their partial results through shared memory: decode). With a dynamic
    query length both are built and the host picks by `S * G`. The
    variant's shape is recorded on the launch as
    `#ds.tile<sizes = [rows a block, keys a step], warps = ..>`.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def DSGemvToGPU : Pass<"ds-gemv-to-gpu", "func::FuncOp"> {
  let summary = "linear layers as warp-per-column GEMV kernels (CUDA path)";
  let description = [{
    Runs on host code after bufferization, before the generic path
    (`convert-linalg-to-parallel-loops`, `ds-map-to-gpu`). A top-level
    `linalg.matmul` `[M, K] x [N, K]^T` (a linear layer with its weight in
    the `nn.Linear` layout, see `ds-pretranspose-weights`), f16/bf16/f32
    operands with an f32 accumulator, becomes one `gpu.launch`:

    - a warp per output column; its lanes read the weight row in 16-byte
      vector loads, `stages` of them in flight per lane, and multiply them
      with up to `rows` activation rows, an f32 accumulator per row;
    - warp shuffles (butterfly) sum the accumulators; lane `j` writes row
      `j` of the block's rows;
    - the zero `linalg.fill` of the accumulator is dropped, and an
      elementwise `linalg.generic` consuming it (bias, activation,
      residual, the cast back to bf16) is cloned into the store, when no
      op in between touches memory and nothing else reads the accumulator;
    - grid: `ceil(N / warps)` x `ceil(M / rows)` blocks of `32 * warps`
      threads.

    The tile is the matmul's `ds.tile` attribute
    (`#ds.tile<sizes = [rows, warps, 32 * (16 / element bytes) * stages],
    warps = .., stages = ..>`) when present, else a heuristic (16 rows, 8
    warps, up to 4 stages); it is recorded on the launch. Matmuls of other
    shapes or layouts are left to the generic path.

    With `prefetch-weights` (sm_90 and PTX 8.0) the tensor-core GEMV
    kernel opens with `nvvm.cp.async.bulk.prefetch` (to L2) of the weight
    bytes each warp will stream, the lanes sharing its 8 rows, before any
    memory access; `ds-gpu-programmatic-launch` keeps them ahead of its
    `griddepcontrol.wait`, so the weights stream in while the kernel
    before runs. The CUDA-core kernel (batch <= 4) does not: on an H200
    it made Llama-1B's batch-1 step slower (docs/Benchmarks.md).

    With `fold-norms` (the default) an RMSNorm-like producer of the
    activation folds into the CUDA-core kernel when its grid has at most
    1024 blocks: an all-parallel generic right before the matmul that
    writes the whole activation from a row sum (a `sum + f(x)` reduction
    from a zero fill of one of its identity-mapped inputs) and inputs
    indexed along K, whose result is a product of factors of the sum alone
    and factors of the other inputs alone (through `mulf`, `divf` by the
    sum's factors and casts). Each lane multiplies its weight elements by
    the column factors and accumulates the row sum from the elements it
    loads anyway; after the butterfly the row factors (`rsqrt(sum / K +
    eps)`) scale the dot product. The activation is never stored and the
    norm is no kernel of its own at batch <= 4; it is computed in f32
    without the activation's bf16 roundings. The tensor-core branches run
    the norm first, as before (moved into their branch). Larger grids keep
    the norm: the fold's arithmetic in every warp costs Llama-1B's gate/up
    GEMV (2048 blocks) and LM head more than the kernel it saves.
  }];
  let options = [
    Option<"prefetchWeights", "prefetch-weights", "bool", /*default=*/"false",
           "open the tensor-core GEMV with L2 prefetches of its weights">,
    Option<"foldNorms", "fold-norms", "bool", /*default=*/"true",
           "fold an RMSNorm-like producer of the activation into the "
           "CUDA-core GEMV">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::NVVM::NVVMDialect",
                           "::mlir::LLVM::LLVMDialect",
                           "::mlir::ds::DSDialect"];
}

def DSReductionsToGPU : Pass<"ds-reductions-to-gpu", "func::FuncOp"> {
  let summary = "row reductions as warp/block-per-output kernels (CUDA path)";
  let description = [{
    Runs on host code after bufferization, before the generic path
    (`convert-linalg-to-parallel-loops`, `ds-map-to-gpu`), which would give
    each output element one thread running its reduction sequentially. A
    top-level `linalg.generic` on buffers with one or more inputs, one f32
    init indexed by a permutation of the parallel dimensions, one reduction
    dimension that is the last loop, and a body yielding
    `combiner(%out, %v)` (`arith.addf`, `maximumf`, `maxnumf`, `minimumf`,
    `minnumf`; `%out` used nowhere else, no ops with regions or side
    effects) becomes one `gpu.launch`:

    - a warp per output element, 8 warps (256 threads) a block, grid
      `ceil(outputs / 8)`; the output index is delinearised over the
      parallel dimensions, the last fastest;
    - lane `l` evaluates the body's `%v` at `r = l, l + 32, ...` (inputs
      loaded at their indexing maps) and folds it into an accumulator that
      starts at the combiner's identity (-0, -inf or +inf);
    - a butterfly of `gpu.shuffle xor` (16, 8, 4, 2, 1) combines the lanes;
      lane 0 combines the result with the init's value and stores it.

    Refinements of that scheme:

    - each lane evaluates 4 elements (r, r + 32, r + 64, r + 96), loads
      first, before folding them, so the loads overlap;
    - a static reduction of at least 256 elements gets a block of 8 warps
      per output: the warps' results meet in shared memory;
    - select reductions (several inits, e.g. an argmax's value and index;
      each yields `select(%c, %candidate_i, %out_i)` with one condition
      computed from the outputs and the candidates) are matched too: the
      inits seed every lane (a select is idempotent) and 64-bit values
      cross the butterfly as two 32-bit shuffles;
    - when the next op touching memory is an all-parallel generic that
      reads the result broadcast over the row the reduction read (an
      RMSNorm's normalisation, softmax's exponentials) and nothing else
      reads the result, the warp/block runs that op over its row and the
      result is not stored;
    - when every input that varies with the last parallel dimension has it
      as its last index (attention's P x V: values contiguous in the
      output's last dimension), a column kernel (`reduce_columns`): a block
      per 32 outputs along that dimension, one per lane, the 8 warps
      splitting the reduction, combined in shared memory;
    - a static reduction shorter than 256 gets a group of lanes rather
      than a whole warp: a power of two, about 8 elements a lane
      (attention's scores over a 64-wide head: 8 lanes, 4 scores a warp);
    - when every input that varies along the reduction reads it as its
      last index, with rows provably 16-byte aligned, and 16-byte pieces
      tile the static row, each lane loads a whole piece (`vector.load`)
      per input per step;
    - pointwise epilogues: a chain of all-parallel ops right after the
      reduction, each reading the previous link's buffer (first the
      result) once through a permutation and writing in place or to a
      buffer the kernel does not otherwise touch (attention's scale and
      mask, a mean's division, the cast and head transpose after P x V),
      runs in the thread that stores each result element; a buffer only
      the chain reads is never stored.

    Reductions with a static extent below 32, and every op that does not
    match, are left to the generic path.

    ```mlir
    // before: sum of squares of each row of %x [?, 2048] into %acc [?]
    linalg.generic {iterator_types = ["parallel", "reduction"], ...}
        ins(%x : memref<?x2048xf32>) outs(%acc : memref<?xf32>) {
    ^bb0(%in: f32, %out: f32):
      %sq = arith.mulf %in, %in : f32
      %s = arith.addf %sq, %out : f32
      linalg.yield %s : f32
    }
    // after
    gpu.launch blocks(...) in (%gx = ceil(M / 8), ...)
               threads(...) in (%sx = %c256, ...) {
      // warp = tx / 32, lane = tx % 32, row = bx * 8 + warp
      scf.if %row < M {
        %part = scf.for %r = %lane to %c2048 step %c32 iter_args(%a = -0.0)
          { %x = memref.load %x[%row, %r]; %sq = arith.mulf %x, %x;
            %s = arith.addf %sq, %a; scf.yield %s }
        // 5 x gpu.shuffle xor + arith.addf; lane 0: %acc[%row] += result
      }
    }
    ```
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect"];
}

def DSSplitReductions : Pass<"ds-split-reductions", "func::FuncOp"> {
  let summary = "split long reductions into parallel partials";
  let description = [{
    (Not in the CUDA pipeline since the warp-per-row reductions of
    `ds-reductions-to-gpu`, measured faster without it; kept for ds-opt.)

    On the generic CUDA path each output element is one thread that runs
    its reduction sequentially, so a decode GEMV `[1, K] x [K, N]` has only
    N threads. This pass applies upstream `linalg::splitReduction` to every
    linalg op on tensors with one static reduction dimension of at least
    `min-reduction` elements whose static output is at most `max-outputs`
    elements: the reduction becomes `ratio` partial reductions (a new
    parallel dimension) and a second reduction of the partials. `ratio` is
    the largest power of two up to `max-ratio` dividing the reduction with
    chunks of at least `min-chunk`. Ops with a dynamic dimension are split
    only in `@decode`, where the rows are the batch (one token each); in
    `@prefill`/`@forward` they are batch x sequence and the partials would
    cost more than the split saves. (Upstream builds the partials''
    `tensor.empty` without its dynamic sizes; the pass supplies them from
    the output.)

    ```mlir
    // before: [1, 2048] x [2048, 64]
    %r = linalg.matmul ins(%x, %w : tensor<1x2048xf32>, tensor<2048x64xf32>)
                       outs(%o : tensor<1x64xf32>) -> tensor<1x64xf32>
    // after (ratio 16): partials [16, 1, 64], each a 128-long reduction,
    // then a reduction over the 16 partials into [1, 64]
    ```
  }];
  let options = [
    Option<"minReduction", "min-reduction", "int64_t", "512",
           "shortest reduction worth splitting">,
    Option<"maxRatio", "max-ratio", "int64_t", "32", "largest split">,
    Option<"minChunk", "min-chunk", "int64_t", "64",
           "shortest partial reduction">,
    Option<"maxOutputs", "max-outputs", "int64_t", "1048576",
           "largest static output worth splitting for">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

#endif // DS_TRANSFORMS_PASSES_TD
