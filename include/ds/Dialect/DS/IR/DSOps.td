//===- DSOps.td - ds operations -----------------------------*- tablegen -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Constraint numbers (`attention_c1`, ...) refer to docs/DSDialect.md; every
// verifier check cites one.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_IR_DSOPS_TD
#define DS_DIALECT_DS_IR_DSOPS_TD

include "ds/Dialect/DS/IR/DSAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/DestinationStyleOpInterface.td"

def DS_FloatTensor : RankedTensorOf<[AnyFloat]>;
def DS_IntTensor : RankedTensorOf<[AnySignlessInteger]>;
def DS_MaskTensor : RankedTensorOf<[AnyFloat, I1]>;

/// An i64 attribute whose getter returns a signed value: axes, diagonals
/// and dimension counts may be negative. (Upstream I64Attr returns
/// uint64_t, which silently turns `axis = -1` into 2^64 - 1.)
def DS_I64Attr : TypedSignlessIntegerAttrBase<I64, "int64_t",
    "64-bit signless integer attribute with a signed value"> {
  let convertFromStorage = "$_self.getValue().getSExtValue()";
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

def DS_AttentionOp : DS_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "scaled dot-product attention with masks and grouped heads";
  let description = [{
    `softmax(scale * Q K^T + mask) V` per head. Shapes are
    `query: [B, Hq, S, D]`, `key: [B, Hkv, T, D]`, `value: [B, Hkv, T, Dv]`,
    `result: [B, Hq, S, Dv]`. Query head `h` reads key/value head
    `h / (Hq / Hkv)`: grouped-query attention needs no repeated K/V.

    `scale` defaults to `1 / sqrt(D)`. With `causal`, query `i` sees keys
    `j <= i + (T - S)`: the queries are the last `S` positions of the `T`
    keys, which is what decoding over a KV cache needs. `mask` is either
    boolean (true keeps a score) or additive in the query's element type,
    and broadcasts to `[B, Hq, S, T]` with the trailing dimensions aligned.
    `kv_length`, when present, is a `[B]` i64 tensor: the number of valid
    key positions of each sequence (`<= T`). Keys past it are ignored, so
    a preallocated cache of capacity `T` needs no copy, and with `causal`
    sequence `b`'s queries are its last `S` positions: query `i` sees keys
    `j <= i + (kv_length[b] - S)`. Sequences of one batch may be at
    different lengths.

    ```mlir
    %o = ds.attention %q, %k, %v {causal}
        : (tensor<1x8x?x64xf16>, tensor<1x2x?x64xf16>, tensor<1x2x?x64xf16>)
          -> tensor<1x8x?x64xf16>
    ```
  }];
  let arguments = (ins
    DS_FloatTensor:$query,
    DS_FloatTensor:$key,
    DS_FloatTensor:$value,
    Optional<DS_MaskTensor>:$mask,
    Optional<1DTensorOf<[I64]>>:$kv_length,
    OptionalAttr<F32Attr>:$scale,
    UnitAttr:$causal,
    OptionalAttr<DS_TileAttr>:$tile);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `)`)?
    (`kv_length` `(` $kv_length^ `)`)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The scale applied to Q K^T: the attribute, else 1/sqrt(head_dim).
    /// Null when head_dim is dynamic and no attribute is set.
    std::optional<double> getEffectiveScale();
  }];
}

def DS_FusedAttentionOp : DS_Op<"fused_attention", [
    DestinationStyleOpInterface,
    DeclareOpInterfaceMethods<MemoryEffectsOpInterface>]> {
  let summary = "attention kept whole for one generated kernel, destination style";
  let description = [{
    `ds.attention` without a mask, in destination-passing style, on
    tensors or on buffers: the result is written into `init`
    (`[B, Hq, S, Dv]`). On tensors the op has one result, tied to `init`;
    on buffers none. `causal`, `kv_length` and the grouped-head mapping
    mean what they mean on `ds.attention`; `scale` is required.

    A target that generates one kernel for the whole attention forms this
    op before lowering to linalg (`ds-form-fused-attention`), so that it
    survives bufferization in one piece (`ds-attention-to-gpu` builds the
    CUDA target's flash kernel from it); other targets decompose
    `ds.attention` instead.

    ```mlir
    %o = ds.fused_attention %q, %k, %v kv_length(%len) outs(%init)
        {causal, scale = 0.125 : f32}
        : (tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>,
           tensor<?x2x?x64xbf16>, tensor<?xi64>, tensor<?x8x?x64xbf16>)
          -> tensor<?x8x?x64xbf16>
    ```
  }];
  let arguments = (ins
    TensorOrMemRef<[AnyFloat]>:$query,
    TensorOrMemRef<[AnyFloat]>:$key,
    TensorOrMemRef<[AnyFloat]>:$value,
    Optional<TensorOrMemRef<[I64]>>:$kv_length,
    TensorOrMemRef<[AnyFloat]>:$init,
    F32Attr:$scale,
    UnitAttr:$causal);
  let results = (outs Variadic<AnyRankedTensor>:$result);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`kv_length` `(` $kv_length^ `)`)?
    `outs` `(` $init `)` attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::MutableOperandRange getDpsInitsMutable() {
      return getInitMutable();
    }
  }];
}

//===----------------------------------------------------------------------===//
// Normalization
//===----------------------------------------------------------------------===//

def DS_LayerNormOp : DS_Op<"layer_norm", [Pure]> {
  let summary = "layer normalization over the trailing dimensions";
  let description = [{
    Normalizes `input` over dimensions `[axis, rank)` to zero mean and unit
    variance (`epsilon` added to the variance), then multiplies by `scale`
    and adds `bias` (both shaped like the normalized dimensions).

    ```mlir
    %y = ds.layer_norm %x, %g, %b {epsilon = 1.0e-05 : f32}
        : (tensor<?x768xf32>, tensor<768xf32>, tensor<768xf32>)
          -> tensor<?x768xf32>
    ```
  }];
  let arguments = (ins
    DS_FloatTensor:$input,
    DS_FloatTensor:$scale,
    Optional<DS_FloatTensor>:$bias,
    DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon,
    DefaultValuedAttr<DS_I64Attr, "-1">:$axis);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_RMSNormOp : DS_Op<"rms_norm", [Pure]> {
  let summary = "root-mean-square normalization over the trailing dimensions";
  let description = [{
    `input / sqrt(mean(input^2) + epsilon) * scale` over dimensions
    `[axis, rank)`, with `scale` shaped like those dimensions (Llama,
    T5, ONNX RMSNormalization).

    ```mlir
    %y = ds.rms_norm %x, %g {epsilon = 1.0e-06 : f32}
        : (tensor<?x2048xbf16>, tensor<2048xbf16>) -> tensor<?x2048xbf16>
    ```
  }];
  let arguments = (ins
    DS_FloatTensor:$input,
    DS_FloatTensor:$scale,
    DefaultValuedAttr<F32Attr, "1.0e-5">:$epsilon,
    DefaultValuedAttr<DS_I64Attr, "-1">:$axis);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

class DS_UnaryFloatOp<string mnemonic, list<Trait> traits = []>
    : DS_Op<mnemonic, !listconcat(traits, [Pure, SameOperandsAndResultType])> {
  let results = (outs DS_FloatTensor:$result);
}

def DS_GeluOp : DS_UnaryFloatOp<"gelu"> {
  let summary = "Gaussian error linear unit";
  let description = [{
    `x * Phi(x)`: exactly with `approximation = none` (erf form), or with
    the tanh approximation
    `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.

    ```mlir
    %y = ds.gelu %x approximation = tanh : tensor<?x3072xf32>
    ```
  }];
  let arguments = (ins
    DS_FloatTensor:$input,
    DefaultValuedAttr<DS_GeluApproximationAttr,
                      "GeluApproximation::none">:$approximation);
  let assemblyFormat = [{
    $input (`approximation` `=` `` $approximation^)? attr-dict `:` type($input)
  }];
}

def DS_SiluOp : DS_UnaryFloatOp<"silu"> {
  let summary = "sigmoid linear unit, x * sigmoid(x)";
  let description = [{
    ```mlir
    %y = ds.silu %x : tensor<?x8192xbf16>
    ```
  }];
  let arguments = (ins DS_FloatTensor:$input);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def DS_SwiGLUOp : DS_Op<"swiglu", [Pure]> {
  let summary = "SwiGLU over a merged gate/up projection";
  let description = [{
    `silu(input[..., :F]) * input[..., F:]` for an input whose last
    dimension is `2F`: the form a merged gate/up GEMM produces, so the
    gated activation reads one tensor and writes half of it.

    ```mlir
    %y = ds.swiglu %gu : (tensor<?x16384xbf16>) -> tensor<?x8192xbf16>
    ```
  }];
  let arguments = (ins DS_FloatTensor:$input);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Rotary embedding
//===----------------------------------------------------------------------===//

def DS_RopeOp : DS_Op<"rope", [Pure]> {
  let summary = "rotary position embedding";
  let description = [{
    Rotates pairs of elements of the first `rotary_dim` entries of the last
    dimension of `input` (`[..., S, D]`) by angles whose cosines and sines
    are `cos` and `sin` (`[..., S, rotary_dim / 2]`, broadcast over the
    leading dimensions of `input`). `rotate_half` pairs element `i` with
    `i + rotary_dim / 2` (GPT-NeoX, Llama); `interleaved` pairs `2i` with
    `2i + 1` (GPT-J). The remaining `D - rotary_dim` entries pass through.
    `rotary_dim` defaults to `D`.

    ```mlir
    %y = ds.rope %q, %cos, %sin
        : (tensor<1x32x?x64xf16>, tensor<1x1x?x32xf16>, tensor<1x1x?x32xf16>)
          -> tensor<1x32x?x64xf16>
    ```
  }];
  let arguments = (ins
    DS_FloatTensor:$input,
    DS_FloatTensor:$cos,
    DS_FloatTensor:$sin,
    DefaultValuedAttr<DS_RopeModeAttr, "RopeMode::rotate_half">:$mode,
    OptionalAttr<DS_I64Attr>:$rotary_dim);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $cos `,` $sin (`mode` `=` `` $mode^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear layers and embeddings
//===----------------------------------------------------------------------===//

def DS_LinearOp : DS_Op<"linear", [Pure, AttrSizedOperandSegments]> {
  let summary = "matrix product with a fused bias, activation and residual";
  let description = [{
    `activation(input @ W + bias) + residual` over the last dimension of
    `input` (`[..., K]`). `weight` is `[K, N]`, or `[N, K]` with
    `transpose_weight` (the `nn.Linear` layout); `bias` is `[N]` and
    `residual` has the result's type `[..., N]`. `tile` records the tiling
    chosen for code generation.

    ```mlir
    %y = ds.linear %x, %w bias(%b) {activation = #ds<activation gelu>}
        : (tensor<?x768xf32>, tensor<768x3072xf32>, tensor<3072xf32>)
          -> tensor<?x3072xf32>
    ```
  }];
  let arguments = (ins
    DS_FloatTensor:$input,
    DS_FloatTensor:$weight,
    Optional<DS_FloatTensor>:$bias,
    Optional<DS_FloatTensor>:$residual,
    DefaultValuedAttr<DS_ActivationAttr, "Activation::none">:$activation,
    UnitAttr:$transpose_weight,
    OptionalAttr<DS_TileAttr>:$tile);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `)`)? (`residual` `(` $residual^ `)`)?
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_EmbeddingOp : DS_Op<"embedding", [Pure]> {
  let summary = "row lookup in an embedding table";
  let description = [{
    `result[i..., :] = table[indices[i...], :]` for a `[V, D]` table. An
    index outside `[0, V)` is undefined behaviour after lowering; the
    runtime checks token ids before they reach a kernel.

    ```mlir
    %h = ds.embedding %wte, %ids
        : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
    ```
  }];
  let arguments = (ins DS_FloatTensor:$table, DS_IntTensor:$indices);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $table `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// KV cache
//===----------------------------------------------------------------------===//

def DS_KVCacheAppendOp : DS_Op<"kv_cache.append", [Pure]> {
  let summary = "write new key or value rows into a preallocated cache";
  let description = [{
    Returns `cache` with `update[b, :, i, :]` written at sequence position
    `offset[b] + i` of sequence `b`. The cache is `[B, H, capacity, D]`,
    the update `[B, H, S, D]` and `offset` a `[B]` i64 tensor, so the
    sequences of a batch may be at different lengths; `offset[b] + S <=
    capacity` is checked by the runtime before a step runs. After
    bufferization the write happens in place.

    ```mlir
    %c1 = ds.kv_cache.append %c0, %k, %pos
        : (tensor<?x8x1024x64xf16>, tensor<?x8x?x64xf16>, tensor<?xi64>)
          -> tensor<?x8x1024x64xf16>
    ```
  }];
  let arguments = (ins DS_FloatTensor:$cache, DS_FloatTensor:$update,
                       1DTensorOf<[I64]>:$offset);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $cache `,` $update `,` $offset attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_KVCacheReadOp : DS_Op<"kv_cache.read", [Pure]> {
  let summary = "the filled prefix of a cache";
  let description = [{
    The first `length` positions of a `[B, H, capacity, D]` cache, as a
    `[B, H, length, D]` tensor (a view after bufferization).

    ```mlir
    %k = ds.kv_cache.read %c1, %len
        : (tensor<1x8x1024x64xf16>, index) -> tensor<1x8x?x64xf16>
    ```
  }];
  let arguments = (ins DS_FloatTensor:$cache, Index:$length);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $cache `,` $length attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantization
//===----------------------------------------------------------------------===//

def DS_QuantizeOp : DS_Op<"quantize", [Pure]> {
  let summary = "float to quantized integers";
  let description = [{
    `clamp(round(input / scale) + zero_point)` with the scale (and zero
    point) of each element's group, per `quant`. Scales have the input's
    rank: all ones for `per_tensor` (or rank 0), the input's shape with the
    last dimension 1 for `per_channel`, and the last dimension divided by
    `group_size` for `per_group`. `symmetric` results are signed and have no
    zero point; `asymmetric` results are unsigned and need one.

    ```mlir
    %q = ds.quantize %w, %s {quant = #ds.quant<bits = 8, scheme = symmetric,
           granularity = per_channel, group_size = 0, scale_type = f16>}
        : (tensor<3072x768xf16>, tensor<3072x1xf16>) -> tensor<3072x768xi8>
    ```
  }];
  let arguments = (ins DS_FloatTensor:$input, DS_FloatTensor:$scale,
                       Optional<DS_IntTensor>:$zero_point,
                       DS_QuantAttr:$quant);
  let results = (outs DS_IntTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale (`,` $zero_point^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_DequantizeOp : DS_Op<"dequantize", [Pure]> {
  let summary = "quantized integers to float";
  let description = [{
    `(input - zero_point) * scale`, the inverse of `ds.quantize` under the
    same `quant` and the same scale layout. A `ds.dequantize` feeding the
    weight of a `ds.linear` is a weight-only quantized GEMM; code generation
    fuses the two.

    ```mlir
    %w = ds.dequantize %q, %s {quant = #ds.quant<bits = 4, scheme = symmetric,
           granularity = per_group, group_size = 128, scale_type = f16>}
        : (tensor<3072x768xi4>, tensor<3072x6xf16>) -> tensor<3072x768xf16>
    ```
  }];
  let arguments = (ins DS_IntTensor:$input, DS_FloatTensor:$scale,
                       Optional<DS_IntTensor>:$zero_point,
                       DS_QuantAttr:$quant);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale (`,` $zero_point^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Rotary tables
//===----------------------------------------------------------------------===//

def DS_RopeTableOp : DS_Op<"rope_table", [Pure]> {
  let summary = "cos/sin tables of rotary angles from positions";
  let description = [{
    `angle[p, s, h] = float(positions[p, s]) * inv_freq[h]`; the results
    are `cos(angle) * attention_scaling` and `sin(angle) *
    attention_scaling`, computed in f32 and rounded to the result element
    type. `positions` is `[P, S]` (`P` is 1 or the batch), `inv_freq` is
    `[H]` (`H = rotary_dim / 2`). Keeping the tables a function of the
    positions lets the KV-cache rewrite offset them by the start position.

    ```mlir
    %cos, %sin = ds.rope_table %pos, %inv_freq
        : (tensor<1x?xi64>, tensor<32xf32>)
          -> (tensor<1x?x32xf16>, tensor<1x?x32xf16>)
    ```
  }];
  let arguments = (ins
    DS_IntTensor:$positions,
    DS_FloatTensor:$inv_freq,
    DefaultValuedAttr<F32Attr, "1.0">:$attention_scaling);
  let results = (outs DS_FloatTensor:$cos, DS_FloatTensor:$sin);
  let assemblyFormat = [{
    $positions `,` $inv_freq attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

include "ds/Dialect/DS/IR/DSGraphOps.td"

#endif // DS_DIALECT_DS_IR_DSOPS_TD
