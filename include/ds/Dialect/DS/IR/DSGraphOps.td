//===- DSGraphOps.td - ds graph-level operations ------------*- tablegen -*-===//
//
// Part of the ds project: an MLIR-based compiler for transformer graphs.
//
// Tensor-level operations with ONNX semantics that upstream MLIR lacks in a
// form that keeps dynamic shapes: the importer emits them, fusion matches
// them, and ds-lower-to-linalg lowers them. Elementwise arithmetic is not
// here: it is arith/math on same-shaped tensors after a ds.broadcast.
//
//===----------------------------------------------------------------------===//

#ifndef DS_DIALECT_DS_IR_DSGRAPHOPS_TD
#define DS_DIALECT_DS_IR_DSGRAPHOPS_TD

include "ds/Dialect/DS/IR/DSAttrs.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/IR/OpBase.td"

def DS_AnyTensor : RankedTensorOf<[AnyType]>;

def DS_BroadcastOp : DS_Op<"broadcast", [Pure]> {
  let summary = "numpy-style broadcast to a shape";
  let description = [{
    Broadcasts `input` to the result shape with ONNX/numpy rules: trailing
    dimensions align, and each input dimension is 1 or equals the result's.
    `dynamic_dims` gives the result's dynamic sizes, in order (as
    `tensor.empty` does). A dynamic input dimension is taken to equal the
    result's (it is never broadcast from 1 at run time).

    ```mlir
    %b = ds.broadcast %bias [%n] : (tensor<768xf32>) -> tensor<1x?x768xf32>
    ```
  }];
  let arguments = (ins DS_AnyTensor:$input, Variadic<Index>:$dynamic_dims);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = [{
    $input `[` $dynamic_dims `]` attr-dict `:` `(` type($input) `)` `->`
    type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def DS_MatMulOp : DS_Op<"matmul", [Pure]> {
  let summary = "numpy-style matrix product";
  let description = [{
    ONNX/numpy `matmul`: the last two dimensions multiply, leading (batch)
    dimensions broadcast. A rank-1 operand is promoted to a matrix and the
    promoted dimension removed from the result. Integer operands are
    accepted for constant folding; lowering accumulates floats in the
    element type.

    ```mlir
    %s = ds.matmul %q, %kt : (tensor<1x12x?x64xf32>, tensor<1x12x64x?xf32>)
        -> tensor<1x12x?x?xf32>
    ```
  }];
  let arguments = (ins DS_AnyTensor:$lhs, DS_AnyTensor:$rhs);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_SoftmaxOp : DS_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax or log-softmax along one axis";
  let description = [{
    `exp(x - max) / sum(exp(x - max))` along `axis`, or its logarithm with
    `log` (ONNX LogSoftmax).

    ```mlir
    %p = ds.softmax %s {axis = -1 : i64} : tensor<1x12x?x?xf32>
    ```
  }];
  let arguments = (ins DS_FloatTensor:$input, DS_I64Attr:$axis, UnitAttr:$log);
  let results = (outs DS_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def DS_ReduceOp : DS_Op<"reduce", [Pure]> {
  let summary = "sum, mean, max, min or product over axes";
  let description = [{
    Reduces `input` over `axes` (non-negative, sorted, unique). With
    `keep_dims` the reduced dimensions stay with size 1.

    ```mlir
    %m = ds.reduce mean %x {axes = array<i64: 2>, keep_dims}
        : (tensor<1x?x768xf32>) -> tensor<1x?x1xf32>
    ```
  }];
  let arguments = (ins DS_ReduceKindAttr:$kind, DS_AnyTensor:$input,
                       DenseI64ArrayAttr:$axes, UnitAttr:$keep_dims);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = [{
    $kind $input attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_GatherOp : DS_Op<"gather", [Pure]> {
  let summary = "ONNX Gather: take slices along one axis";
  let description = [{
    `result[i..., j..., k...] = data[i..., indices[j...], k...]` with the
    indexed dimension at `axis`. Negative indices count from the end; an
    index outside `[-n, n)` is clamped after lowering (the importer and the
    runtime reject out-of-range constants and token ids).

    ```mlir
    %r = ds.gather %data, %idx {axis = 0 : i64}
        : (tensor<50257x768xf32>, tensor<1x?xi64>) -> tensor<1x?x768xf32>
    ```
  }];
  let arguments = (ins DS_AnyTensor:$data, DS_IntTensor:$indices,
                       DS_I64Attr:$axis);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_GatherElementsOp : DS_Op<"gather_elements", [Pure]> {
  let summary = "ONNX GatherElements";
  let description = [{
    `result[i] = data[i with i[axis] replaced by indices[i]]`; the result
    has the indices' shape.
  }];
  let arguments = (ins DS_AnyTensor:$data, DS_IntTensor:$indices,
                       DS_I64Attr:$axis);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_GatherNDOp : DS_Op<"gather_nd", [Pure]> {
  let summary = "ONNX GatherND";
  let description = [{
    Gathers slices of `data` addressed by the last dimension of `indices`,
    after `batch_dims` shared leading dimensions.
  }];
  let arguments = (ins DS_AnyTensor:$data, DS_IntTensor:$indices,
                       DefaultValuedAttr<DS_I64Attr, "0">:$batch_dims);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def DS_CumSumOp : DS_Op<"cumsum", [Pure, SameOperandsAndResultType]> {
  let summary = "cumulative sum along one axis";
  let description = [{
    ONNX CumSum with a constant axis: `exclusive` leaves out the element
    itself, `reverse` sums from the end.
  }];
  let arguments = (ins DS_AnyTensor:$input, DS_I64Attr:$axis,
                       UnitAttr:$exclusive, UnitAttr:$reverse);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def DS_TriluOp : DS_Op<"trilu", [Pure, SameOperandsAndResultType]> {
  let summary = "keep the upper or lower triangle of the last two dims";
  let description = [{
    ONNX Trilu: elements outside the triangle (`j - i >= diagonal` for
    `upper`, `j - i <= diagonal` otherwise) become zero. Causal masks are
    built from this; fusion recognises them.
  }];
  let arguments = (ins DS_AnyTensor:$input,
                       DefaultValuedAttr<DS_I64Attr, "0">:$diagonal,
                       UnitAttr:$upper);
  let results = (outs DS_AnyTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def DS_SigmoidOp : DS_UnaryFloatOp<"sigmoid"> {
  let summary = "logistic sigmoid, 1 / (1 + exp(-x))";
  let description = [{
    One op rather than its four-op expansion, so SiLU (`x * sigmoid(x)`)
    stays recognisable for fusion. upstream `math` has no sigmoid.
  }];
  let arguments = (ins DS_FloatTensor:$input);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

#endif // DS_DIALECT_DS_IR_DSGRAPHOPS_TD
