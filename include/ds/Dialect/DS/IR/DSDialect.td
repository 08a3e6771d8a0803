//===- DSDialect.td - the ds dialect ------------------------*- tablegen -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_IR_DSDIALECT_TD
#define DS_DIALECT_DS_IR_DSDIALECT_TD

include "mlir/IR/OpBase.td"

def DS_Dialect : Dialect {
  let name = "ds";
  let cppNamespace = "::mlir::ds";
  let summary = "Transformer-level operations for the ds compiler";
  let description = [{
    The `ds` dialect holds what upstream MLIR lacks for transformer graphs:
    attention with masks, grouped-query heads and a KV cache, normalization,
    rotary embeddings, fused linear layers and quantization, plus typed
    attributes for tiling and quantization parameters. Everything else is
    expressed with upstream dialects. See docs/DSDialect.md.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let dependentDialects = ["::mlir::arith::ArithDialect"];
  let extraClassDeclaration = [{
    void registerAttributes();
  }];
}

class DS_Op<string mnemonic, list<Trait> traits = []>
    : Op<DS_Dialect, mnemonic, traits>;

#endif // DS_DIALECT_DS_IR_DSDIALECT_TD
