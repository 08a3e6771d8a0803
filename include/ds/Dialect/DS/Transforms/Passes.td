//===- Passes.td - ds graph passes: fusion and KV cache -----*- tablegen -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Fusion passes rewrite the imported graph (ds graph ops plus arith/math/
// tensor/linalg on tensors) into ds transformer ops. Every fusion pass has
// an `emit-remarks` option: when set, each candidate that does not fuse gets
// a remark "<pass>: not fused: <reason>" at the candidate's location
// (ds-compile --fusion-remarks sets it on all of them).
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_TRANSFORMS_PASSES_TD
#define DS_DIALECT_DS_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

class DSFusionPass<string name, string summaryText>
    : Pass<name, "func::FuncOp"> {
  let summary = summaryText;
  let options = [
    Option<"emitRemarks", "emit-remarks", "bool", /*default=*/"false",
           "emit a remark for every candidate that does not fuse, with why">
  ];
  let dependentDialects = [
    "::mlir::ds::DSDialect", "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect", "::mlir::math::MathDialect"];
}

def DSFuseAttention : DSFusionPass<"ds-fuse-attention",
    "fuse MatMul-scale-mask-Softmax-MatMul chains into ds.attention"> {
  let description = [{
    Matches `matmul(softmax(scale * Q K^T + mask), V)` in the forms the
    PyTorch exporters emit (scale as Div or Mul, applied to the scores or to
    Q and K separately; mask as an additive tensor or a `select` on a
    boolean; grouped-query attention with K/V repeated by Expand, Reshape
    or Tile) and replaces it with `ds.attention`. A mask that is provably
    the causal pattern (keys `j <= i + (T - S)`, computed from iotas) becomes
    the `causal` flag; the rest of the mask stays an operand.
  }];
}

def DSFuseNorms : DSFusionPass<"ds-fuse-norms",
    "fuse decomposed LayerNorm and RMSNorm into ds.layer_norm / ds.rms_norm"> {
  let description = [{
    Recognizes LayerNorm (`(x - mean) / sqrt(var + eps) * g + b`) and RMSNorm
    (`x * rsqrt(mean(x^2) + eps) * g`) built from ReduceMean, Sub, Pow/Mul,
    Sqrt, Div or Reciprocal, and folds a following scale and shift into
    the fused op.
  }];
}

def DSFuseActivations : DSFusionPass<"ds-fuse-activations",
    "fuse GELU (erf and tanh forms), SiLU and SwiGLU"> {
  let description = [{
    `0.5 x (1 + erf(x / sqrt 2))` and `0.5 x (1 + tanh(sqrt(2/pi)(x +
    0.044715 x^3)))` become `ds.gelu` (exact / tanh approximation);
    `x * sigmoid(x)` becomes `ds.silu`; `silu(gate) * up` becomes
    `ds.swiglu`.
  }];
}

def DSFuseRope : DSFusionPass<"ds-fuse-rope",
    "fuse rotary position embeddings into ds.rope"> {
  let description = [{
    Matches `x * cos + rotate_half(x) * sin` with `rotate_half` built from
    Slice/Neg/Concat, and cos/sin computed from positions (an iota or a
    position-id input) times inverse frequencies, or gathered from tables
    by position. Rewrites the tables to `ds.rope_table` of the positions so
    that the KV-cache rewrite can offset the positions.
  }];
}

def DSFuseLinear : DSFusionPass<"ds-fuse-linear",
    "turn weight matmuls into ds.linear and fold bias, activation, residual"> {
  let description = [{
    A `ds.matmul` whose right operand is a 2-D weight (a `ds.weight`
    argument or a constant, or a `linalg.transpose` of one, which becomes
    `transpose_weight`) becomes `ds.linear`. Single-use ops after it fold
    into its epilogue in the op's order, `activation(x W + bias) +
    residual`: an `arith.addf` with a `ds.broadcast` of an `[N]` weight or
    constant (bias), `ds.gelu` (both forms), `ds.silu` or `arith.maximumf`
    with zero (relu), and an `arith.addf` with any tensor of the result's
    type, in either operand order (residual). An add after the activation
    is a residual. A SiLU whose only use multiplies it by another
    projection of the same input stays unfolded: it is the gate of a
    gated MLP, which `ds-merge-projections` turns into `ds.swiglu`.

    A GEMM on `[B*S, K]` between a collapse and an expand (the dynamo
    exporter's form) keeps its shape: the pass looks through
    `tensor.expand_shape` ops that only split leading dimensions, folds the
    epilogue into the linear, collapses a residual to the GEMM's shape and
    expands the linear's result as before.
  }];
}

def DSMergeProjections : DSFusionPass<"ds-merge-projections",
    "merge ds.linear ops that read the same input into one GEMM"> {
  let description = [{
    The Q, K and V projections of one input become one `ds.linear` over the
    weights (and biases) concatenated along N (`tensor.concat`), followed
    by one `tensor.extract_slice` per projection. Projections merge when
    they have no residual and no activation, the same weight layout, K and
    element type, static N, and all or none have a bias. A gated MLP,
    `silu(gate(x)) * up(x)` in either operand order, becomes one
    `ds.linear` over `[Wgate | Wup]` followed by `ds.swiglu`; a pair that
    cannot merge gets a remark and its SiLU folded back into the gate. The
    weight concatenation depends on weights only and moves to the
    `prepare` entry point (`ds-hoist-weight-prep`).
  }];
}

def DSHoistWeightPrep : Pass<"ds-hoist-weight-prep", "ModuleOp"> {
  let summary = "move computations on weights alone into a prepare function";
  let description = [{
    Every value of a public function that is computed from `ds.weight`
    arguments and constants alone (by side-effect free ops: transposes,
    concatenations of merged projections, packing), has a static shape and
    is used by something that is not, moves into one public
    `func.func @prepare(%w: ... {ds.weight = "name"}, ...) -> (derived...)`.
    Weights, constants, reshapes of those and broadcasts of splat constants
    stay in place (they fold or are views).

    Contract with the runtime: `@prepare` takes only weights (each argument
    marked `ds.weight` with the weight's name) and returns the derived
    tensors; the runtime runs it once at load and keeps its results. A
    function that used a derived value instead takes it as an argument
    marked `{ds.derived = <index of @prepare's result> : i64}`, inserted
    after its last weight argument; the runtime passes @prepare's result of
    that index. The same computation on the same named weights in several
    functions (@forward, @prefill, @decode) is one result of @prepare.
    Weight arguments that hoisting leaves unused are removed from a
    function that nothing calls (arguments are identified by attributes,
    not positions). Without anything to hoist, no @prepare is created; a
    module that already has a `@prepare` symbol is an error.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def DSInsertKVCache : Pass<"ds-insert-kv-cache", "ModuleOp"> {
  let summary = "derive prefill and decode entry points over a KV cache";
  let description = [{
    From `@forward(weights..., input_ids) -> logits` of a decoder whose
    attentions are causal `ds.attention` ops, derives `@prefill` and
    `@decode` taking the token ids, each sequence's start position
    (`tensor<?xi64>`) and one key and one value cache per attention layer
    (`[batch, kv_heads, max_seq_len, head_dim]`, updated in place). Keys and
    values are appended at the start positions; attention reads the
    filled prefix; position ids, RoPE tables and causal masks are offset
    by the start. Everything outside attention must be position-wise; the
    pass refuses, with an error naming the op, where it is not.
  }];
  let options = [
    Option<"required", "required", "bool", /*default=*/"true",
           "fail when the model cannot be cached; otherwise leave it alone "
           "and record why in the module attribute ds.kv_cache">
  ];
  let dependentDialects = [
    "::mlir::ds::DSDialect", "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect", "::mlir::func::FuncDialect"];
}

def DSPrefillLastLogits : Pass<"ds-prefill-last-logits", "ModuleOp"> {
  let summary = "prefill computes the LM head at each row's last prompt position only";
  let description = [{
    Generation needs the logits of each prompt's last position only, but
    `@prefill` (from `ds-insert-kv-cache`) computed the LM head at every
    position: for a 512-token Llama-3-sized prompt, a 512 x 128256 x 2048
    GEMM of which one row per sequence is used. When `@prefill`'s first
    result is a `ds.linear` over `[B, S, D]` (no residual), this pass adds
    the input `last_positions` (i64 `[batch]`: each row's last prompt
    position, clamped to the prompt), gathers those rows of the LM head's
    input, and runs the LM head on `[B, 1, D]`: the logits become
    `[B, 1, V]`. The runtime fills the input and reads position 0
    (artifact format 1.4, `Generation.last_positions`). Otherwise
    `@prefill` is left as it is.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def DSReadWholeKVCache : Pass<"ds-read-whole-kv-cache", "func::FuncOp"> {
  let summary = "attend over the whole cache capacity instead of its filled prefix";
  let description = [{
    `ds-insert-kv-cache` reads each cache's filled prefix, `max(start) + S`
    positions: a length computed from tensor data. The CUDA target cannot
    size buffers from device data on the host (that needs a
    synchronisation, and a decode step captured into a CUDA graph must
    have the same shapes every step), so this pass makes every
    `ds.kv_cache.read` read the cache's whole capacity. `ds.attention`
    already hides keys at or past each sequence's `kv_length`, so the
    result is unchanged; the runtime zeroes caches when it allocates them,
    so the hidden positions hold finite values.

    ```mlir
    // before
    %k = ds.kv_cache.read %cache, %filled : (tensor<?x2x?x16xf32>, index) -> tensor<?x2x?x16xf32>
    // after
    %cap = tensor.dim %cache, %c2 : tensor<?x2x?x16xf32>
    %k = ds.kv_cache.read %cache, %cap : (tensor<?x2x?x16xf32>, index) -> tensor<?x2x?x16xf32>
    ```
  }];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect"];
}

def DSFormFusedAttention : Pass<"ds-form-fused-attention", "func::FuncOp"> {
  let summary = "keep maskless attention whole, for a generated kernel (CUDA target)";
  let description = [{
    Rewrites `ds.attention` into `ds.fused_attention`, its
    destination-style form, which lowering to linalg leaves alone and
    one-shot bufferization turns into its buffer form; `ds-attention-to-gpu`
    then builds one flash-attention kernel from it. Attention with an
    explicit mask, a dynamic number of heads or head size, or an element
    type other than f16/bf16/f32 is left to the linalg decomposition (with
    `remarks`, a remark says why).

    ```mlir
    // before
    %o = ds.attention %q, %k, %v kv_length(%len) {causal, scale = 0.125 : f32} : ...
    // after
    %init = tensor.empty(%b, %s) : tensor<?x8x?x64xbf16>
    %o = ds.fused_attention %q, %k, %v kv_length(%len) outs(%init)
        {causal, scale = 0.125 : f32} : ...
    ```
  }];
  let options = [
    Option<"remarks", "remarks", "bool", /*default=*/"false",
           "emit a remark on every attention left to the decomposition">
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect"];
}

def DSFoldNormScale : Pass<"ds-fold-norm-scale", "func::FuncOp"> {
  let summary = "move an RMSNorm's scale into the weights of the linears it feeds (CUDA target)";
  let description = [{
    `linear(rms_norm(x, g), W)` equals `linear(rms_norm(x, 1), W')` with
    `W'[k, n] = g[k] * W[k, n]`: the scale multiplies the reduction
    dimension. Two forms are matched: a `ds.rms_norm` over the last
    dimension with a weight-derived scale, and an `arith.mulf` of any value
    by a `ds.broadcast` of a weight-derived vector along the last dimension
    (Llama's `weight * norm(x).to(bf16)`, where the norm itself has a unit
    scale). When every user of the scaled value is a `ds.linear` reading it
    as its input with a weight whose K matches, each weight gets the
    multiplication, as a `linalg.generic` in f32 rounded once to the
    weight's element type; the norm's scale becomes ones, or the linears
    read the multiplication's other operand. `ds-hoist-weight-prep` moves it into `@prepare`
    with the rest of the weight's preparation, so it costs nothing per
    step and no memory the preparation did not already take.

    Why: `ds-gemv-to-gpu` folds an RMSNorm into the GEMV that reads it
    (the lane multiplies the weight by the norm's per-element factors).
    With a unit scale those factors are the activation alone, so the fold
    adds one multiply-add per element (the row's sum of squares) instead
    of a load and two multiplies; that is what makes the fold pay on grids
    of many waves (docs/Benchmarks.md).

    A weight that is a plain `ds.weight` argument is left alone unless
    `copy-weights` is set: scaling it would keep a second, scaled copy of
    it beside the original (a tied embedding read as the LM head).

    ```mlir
    // before
    %n = ds.rms_norm %x, %g : (tensor<?x64xbf16>, tensor<64xbf16>) -> tensor<?x64xbf16>
    %y = ds.linear %n, %w {transpose_weight} : (tensor<?x64xbf16>, tensor<128x64xbf16>) -> tensor<?x128xbf16>
    // after
    %one = arith.constant dense<1.0> : tensor<64xbf16>
    %n = ds.rms_norm %x, %one : ...
    %s = linalg.generic ... ins(%w, %g) ... // %w[n, k] * %g[k]
    %y = ds.linear %n, %s {transpose_weight} : ...
    ```
  }];
  let options = [
    Option<"copyWeights", "copy-weights", "bool", /*default=*/"false",
           "also scale weights that are plain weight arguments (keeps a "
           "scaled copy beside the original)">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

def DSPretransposeWeights : Pass<"ds-pretranspose-weights", "func::FuncOp"> {
  let summary = "store [K, N] linear weights as [N, K] (CUDA target)";
  let description = [{
    The CUDA GEMV kernels (`ds-gemv-to-gpu`) give each output column `n`
    one warp whose lanes read consecutive 16-byte pieces of the weight's
    row `W[n, :]`: that needs the reduction dimension contiguous, the
    `nn.Linear` `[N, K]` layout (`transpose_weight`). For every `ds.linear`
    without `transpose_weight` whose `[K, N]` weight is computed from
    weights alone, this pass inserts the transpose and sets the flag;
    `ds-hoist-weight-prep` then moves the transpose into `@prepare`, so it
    runs once at load. Weights already `[N, K]` (a tied embedding used as
    the LM head) need no copy.

    ```mlir
    // before
    %y = ds.linear %x, %w : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
    // after
    %e = tensor.empty() : tensor<128x64xf32>
    %t = linalg.transpose ins(%w : tensor<64x128xf32>) outs(%e : tensor<128x64xf32>) permutation = [1, 0]
    %y = ds.linear %x, %t {transpose_weight} : (tensor<?x64xf32>, tensor<128x64xf32>) -> tensor<?x128xf32>
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // DS_DIALECT_DS_TRANSFORMS_PASSES_TD
