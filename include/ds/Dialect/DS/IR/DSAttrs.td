//===- DSAttrs.td - ds enums and attributes -----------------*- tablegen -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_IR_DSATTRS_TD
#define DS_DIALECT_DS_IR_DSATTRS_TD

include "ds/Dialect/DS/IR/DSDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def DS_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "how GELU is evaluated", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"tanh", 1>]> {
  let cppNamespace = "::mlir::ds";
  let genSpecializedAttr = 0;
}
def DS_GeluApproximationAttr
    : EnumAttr<DS_Dialect, DS_GeluApproximation, "gelu_approximation">;

def DS_RopeMode : I32EnumAttr<"RopeMode",
    "how rotary embedding pairs the elements of a head", [
      I32EnumAttrCase<"rotate_half", 0>,
      I32EnumAttrCase<"interleaved", 1>]> {
  let cppNamespace = "::mlir::ds";
  let genSpecializedAttr = 0;
}
def DS_RopeModeAttr : EnumAttr<DS_Dialect, DS_RopeMode, "rope_mode">;

def DS_Activation : I32EnumAttr<"Activation",
    "activation applied in a linear epilogue", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"relu", 1>,
      I32EnumAttrCase<"gelu", 2>,
      I32EnumAttrCase<"gelu_tanh", 3>,
      I32EnumAttrCase<"silu", 4>]> {
  let cppNamespace = "::mlir::ds";
  let genSpecializedAttr = 0;
}
def DS_ActivationAttr : EnumAttr<DS_Dialect, DS_Activation, "activation">;

def DS_QuantScheme : I32EnumAttr<"QuantScheme",
    "how quantized integers map to real values", [
      I32EnumAttrCase<"symmetric", 0>,
      I32EnumAttrCase<"asymmetric", 1>]> {
  let cppNamespace = "::mlir::ds";
  let genSpecializedAttr = 0;
}
def DS_QuantSchemeAttr : EnumAttr<DS_Dialect, DS_QuantScheme, "quant_scheme">;

def DS_QuantGranularity : I32EnumAttr<"QuantGranularity",
    "which elements share one scale", [
      I32EnumAttrCase<"per_tensor", 0>,
      I32EnumAttrCase<"per_channel", 1>,
      I32EnumAttrCase<"per_group", 2>]> {
  let cppNamespace = "::mlir::ds";
  let genSpecializedAttr = 0;
}
def DS_QuantGranularityAttr
    : EnumAttr<DS_Dialect, DS_QuantGranularity, "quant_granularity">;

def DS_ReduceKind : I32EnumAttr<"ReduceKind",
    "how ds.reduce combines elements", [
      I32EnumAttrCase<"sum", 0>,
      I32EnumAttrCase<"mean", 1>,
      I32EnumAttrCase<"max", 2>,
      I32EnumAttrCase<"min", 3>,
      I32EnumAttrCase<"prod", 4>]> {
  let cppNamespace = "::mlir::ds";
  let genSpecializedAttr = 0;
}
def DS_ReduceKindAttr : EnumAttr<DS_Dialect, DS_ReduceKind, "reduce_kind">;

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

class DS_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<DS_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

def DS_TileAttr : DS_Attr<"Tile", "tile"> {
  let summary = "tile sizes, warps and pipeline stages of one kernel";
  let description = [{
    Tiling parameters chosen for one operation, by the tuning database or a
    heuristic. `sizes` lists one tile extent per iteration dimension of the
    operation (for a GEMM: M, N, K), `warps` the warps per thread block and
    `stages` the depth of the software pipeline over K.

    ```mlir
    #ds.tile<sizes = [128, 128, 32], warps = 4, stages = 3>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "tile extent per iteration dimension">:$sizes,
    "int64_t":$warps,
    "int64_t":$stages);
  let assemblyFormat =
      "`<` `sizes` `=` `[` $sizes `]` `,` `warps` `=` $warps `,` "
      "`stages` `=` $stages `>`";
  let genVerifyDecl = 1;
}

def DS_QuantAttr : DS_Attr<"Quant", "quant"> {
  let summary = "quantization parameters of one tensor";
  let description = [{
    `bits` is the integer width (4 or 8); `scheme` says whether a zero point
    is used; `granularity` says which elements share a scale: the whole
    tensor, each row (every index but the last), or each group of
    `group_size` consecutive elements along the last dimension. `scale_type`
    is the float type scales are stored in.

    ```mlir
    #ds.quant<bits = 4, scheme = symmetric, granularity = per_group,
              group_size = 128, scale_type = f16>
    ```
  }];
  let parameters = (ins
    "unsigned":$bits,
    "QuantScheme":$scheme,
    "QuantGranularity":$granularity,
    "int64_t":$group_size,
    "Type":$scale_type);
  let assemblyFormat =
      "`<` `bits` `=` $bits `,` `scheme` `=` $scheme `,` `granularity` `=` "
      "$granularity `,` `group_size` `=` $group_size `,` `scale_type` `=` "
      "$scale_type `>`";
  let genVerifyDecl = 1;
}

#endif // DS_DIALECT_DS_IR_DSATTRS_TD
