//===- Passes.td - ds conversion passes --------------------*- tablegen -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
//===----------------------------------------------------------------------===//

#ifndef DS_CONVERSION_PASSES_TD
#define DS_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def DSLowerToLinalg : Pass<"ds-lower-to-linalg", "func::FuncOp"> {
  let summary = "lower every ds op to linalg, tensor, arith and math";
  let description = [{
    The `lower` phase: each `ds` op becomes upstream ops on tensors, with
    dynamic sizes read through `tensor.dim`. Elementwise work becomes
    `linalg.generic` ops with identity or broadcasting indexing maps (so
    `linalg-fuse-elementwise-ops` can fuse them), reductions become
    `linalg.generic` reductions into `linalg.fill`-initialised tensors, GEMMs
    become `linalg.matmul` or contraction `linalg.generic` ops, and
    attention is decomposed into `Q K^T`, masking, a numerically stable
    softmax and `P V`. Reductions, softmax and matrix products accumulate in
    f32 for f16/bf16 operands and cast the result back. docs/Lowering.md
    describes every op's lowering.

    ```mlir
    // before
    %y = ds.gelu %x : tensor<?x64xf32>

    // after
    %c0 = arith.constant 0 : index
    %d0 = tensor.dim %x, %c0 : tensor<?x64xf32>
    %e = tensor.empty(%d0) : tensor<?x64xf32>
    %y = linalg.generic {
        indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>,
                         affine_map<(d0, d1) -> (d0, d1)>],
        iterator_types = ["parallel", "parallel"]}
        ins(%x : tensor<?x64xf32>) outs(%e : tensor<?x64xf32>) {
    ^bb0(%in: f32, %out: f32):
      // 0.5 * x * (1 + erf(x / sqrt(2)))
      %s = arith.mulf %in, %cst_rsqrt2 : f32
      %erf = math.erf %s : f32
      ...
      linalg.yield %r : f32
    } -> tensor<?x64xf32>
    ```

    Arithmetic the importer left on tensors (`arith`/`math` on
    same-shaped tensors) is untouched: `convert-elementwise-to-linalg`
    lowers it later in the pipeline.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // DS_CONVERSION_PASSES_TD
