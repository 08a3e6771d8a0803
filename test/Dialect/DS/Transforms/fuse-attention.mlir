// ds-fuse-attention: matmul(softmax(scale * Q K^T + mask), V) -> ds.attention,
// in the forms the PyTorch exporters emit.
// RUN: ds-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(ds-fuse-attention))' | FileCheck %s

// GPT-2, dynamo: scale 0.5 on Q and on K^T separately (D = 16, so the
// default 1/sqrt(D)), K^T by collapse/transpose/expand, a causal mask ANDed
// with a packed-sequence test that is all true because the positions are an
// iota (cumsum of zeros gathered), and the NaN guard after the softmax.
// CHECK-LABEL: func @gpt2_dynamo
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x4x?x16xf32>, %[[K:[^:]+]]: tensor<?x4x?x16xf32>, %[[V:[^:]+]]: tensor<?x4x?x16xf32>)
// CHECK-NEXT: %[[O:.+]] = ds.attention %[[Q]], %[[K]], %[[V]] {causal} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[O]]
func.func @gpt2_dynamo(%q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %cst_5 = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %cst_6 = arith.constant dense<0.000000e+00> : tensor<f32>
  %cst_7 = arith.constant dense<5.000000e-01> : tensor<f32>
  %c4 = arith.constant 4 : index
  %cst_10 = arith.constant dense<true> : tensor<i1>
  %true = arith.constant true
  %cst_11 = arith.constant dense<1> : tensor<i64>
  %c2 = arith.constant 2 : index
  %c0 = arith.constant 0 : index
  %dim = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %dim_12 = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %generated = tensor.generate %dim_12 {
  ^bb0(%arg9: index):
    %96 = arith.index_cast %arg9 : index to i64
    tensor.yield %96 : i64
  } : tensor<?xi64>
  %expanded = tensor.expand_shape %generated [[0, 1]] output_shape [1, %dim_12] : tensor<?xi64> into tensor<1x?xi64>
  %4 = ds.broadcast %expanded[%dim, %dim_12] : (tensor<1x?xi64>) -> tensor<?x?xi64>
  %extracted_slice = tensor.extract_slice %4[0, 0] [%dim, 1] [1, 1] : tensor<?x?xi64> to tensor<?x1xi64>
  %5 = ds.broadcast %cst_11[%dim] : (tensor<i64>) -> tensor<?x1xi64>
  %6 = arith.subi %extracted_slice, %5 : tensor<?x1xi64>
  %concat = tensor.concat dim(1) %6, %4 : (tensor<?x1xi64>, tensor<?x?xi64>) -> tensor<?x?xi64>
  %extracted_slice_13 = tensor.extract_slice %concat[0, 0] [%dim, %dim_12] [1, 1] : tensor<?x?xi64> to tensor<?x?xi64>
  %extracted_slice_14 = tensor.extract_slice %concat[0, 1] [%dim, %dim_12] [1, 1] : tensor<?x?xi64> to tensor<?x?xi64>
  %7 = arith.subi %extracted_slice_14, %extracted_slice_13 : tensor<?x?xi64>
  %8 = ds.broadcast %cst_11[%dim, %dim_12] : (tensor<i64>) -> tensor<?x?xi64>
  %9 = arith.cmpi eq, %7, %8 : tensor<?x?xi64>
  %splat = tensor.splat %true[%dim, %dim_12] : tensor<?x?xi1>
  %10 = arith.xori %9, %splat : tensor<?x?xi1>
  %11 = arith.extui %10 : tensor<?x?xi1> to tensor<?x?xi64>
  %12 = ds.cumsum %11 {axis = 1 : i64} : tensor<?x?xi64>
  %generated_15 = tensor.generate %dim {
  ^bb0(%arg9: index):
    %96 = arith.index_cast %arg9 : index to i64
    tensor.yield %96 : i64
  } : tensor<?xi64>
  %expanded_16 = tensor.expand_shape %generated_15 [[0, 1, 2, 3]] output_shape [%dim, 1, 1, 1] : tensor<?xi64> into tensor<?x1x1x1xi64>
  %expanded_17 = tensor.expand_shape %generated [[0, 1, 2, 3]] output_shape [1, 1, %dim_12, 1] : tensor<?xi64> into tensor<1x1x?x1xi64>
  %expanded_18 = tensor.expand_shape %generated [[0, 1, 2, 3]] output_shape [1, 1, 1, %dim_12] : tensor<?xi64> into tensor<1x1x1x?xi64>
  %13 = ds.broadcast %expanded_18[%dim_12, %dim_12] : (tensor<1x1x1x?xi64>) -> tensor<1x1x?x?xi64>
  %14 = ds.broadcast %expanded_17[%dim_12, %dim_12] : (tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi64>
  %15 = arith.cmpi sle, %13, %14 : tensor<1x1x?x?xi64>
  %16 = ds.broadcast %cst_10[%dim_12, %dim_12] : (tensor<i1>) -> tensor<1x1x?x?xi1>
  %17 = arith.andi %16, %15 : tensor<1x1x?x?xi1>
  %18 = ds.broadcast %expanded_16[%dim, %dim_12] : (tensor<?x1x1x1xi64>) -> tensor<?x1x?x1xi64>
  %expanded_19 = tensor.expand_shape %18 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, %dim_12, 1, 1] : tensor<?x1x?x1xi64> into tensor<?x1x?x1x1xi64>
  %19 = ds.broadcast %expanded_17[%dim, %dim_12] : (tensor<1x1x?x1xi64>) -> tensor<?x1x?x1xi64>
  %expanded_20 = tensor.expand_shape %19 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, %dim_12, 1, 1] : tensor<?x1x?x1xi64> into tensor<?x1x?x1x1xi64>
  %concat_21 = tensor.concat dim(4) %expanded_19, %expanded_20 : (tensor<?x1x?x1x1xi64>, tensor<?x1x?x1x1xi64>) -> tensor<?x1x?x1x2xi64>
  %20 = ds.gather_nd %12, %concat_21 : (tensor<?x?xi64>, tensor<?x1x?x1x2xi64>) -> tensor<?x1x?x1xi64>
  %21 = ds.broadcast %expanded_16[%dim, %dim_12] : (tensor<?x1x1x1xi64>) -> tensor<?x1x1x?xi64>
  %expanded_22 = tensor.expand_shape %21 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, 1, %dim_12, 1] : tensor<?x1x1x?xi64> into tensor<?x1x1x?x1xi64>
  %22 = ds.broadcast %expanded_18[%dim, %dim_12] : (tensor<1x1x1x?xi64>) -> tensor<?x1x1x?xi64>
  %expanded_23 = tensor.expand_shape %22 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, 1, %dim_12, 1] : tensor<?x1x1x?xi64> into tensor<?x1x1x?x1xi64>
  %concat_24 = tensor.concat dim(4) %expanded_22, %expanded_23 : (tensor<?x1x1x?x1xi64>, tensor<?x1x1x?x1xi64>) -> tensor<?x1x1x?x2xi64>
  %23 = ds.gather_nd %12, %concat_24 : (tensor<?x?xi64>, tensor<?x1x1x?x2xi64>) -> tensor<?x1x1x?xi64>
  %24 = ds.broadcast %20[%dim, %dim_12, %dim_12] : (tensor<?x1x?x1xi64>) -> tensor<?x1x?x?xi64>
  %25 = ds.broadcast %23[%dim, %dim_12, %dim_12] : (tensor<?x1x1x?xi64>) -> tensor<?x1x?x?xi64>
  %26 = arith.cmpi eq, %24, %25 : tensor<?x1x?x?xi64>
  %27 = ds.broadcast %17[%dim, %dim_12, %dim_12] : (tensor<1x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  %28 = arith.andi %27, %26 : tensor<?x1x?x?xi1>
  %32 = arith.muli %dim, %c4 : index
  %collapsed_34 = tensor.collapse_shape %k [[0, 1], [2], [3]] : tensor<?x4x?x16xf32> into tensor<?x?x16xf32>
  %33 = tensor.empty(%32, %dim_12) : tensor<?x16x?xf32>
  %transposed_35 = linalg.transpose ins(%collapsed_34 : tensor<?x?x16xf32>) outs(%33 : tensor<?x16x?xf32>) permutation = [0, 2, 1]
  %expanded_36 = tensor.expand_shape %transposed_35 [[0, 1], [2], [3]] output_shape [%dim, 4, 16, %dim_12] : tensor<?x16x?xf32> into tensor<?x4x16x?xf32>
  %34 = ds.broadcast %cst_7[%dim, %dim_12] : (tensor<f32>) -> tensor<?x4x?x16xf32>
  %35 = arith.mulf %q, %34 : tensor<?x4x?x16xf32>
  %36 = ds.broadcast %cst_7[%dim, %dim_12] : (tensor<f32>) -> tensor<?x4x16x?xf32>
  %37 = arith.mulf %expanded_36, %36 : tensor<?x4x16x?xf32>
  %38 = ds.broadcast %cst_6[%dim, %dim_12, %dim_12] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %39 = ds.broadcast %cst_5[%dim, %dim_12, %dim_12] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %40 = arith.select %28, %38, %39 : tensor<?x1x?x?xi1>, tensor<?x1x?x?xf32>
  %41 = ds.matmul %35, %37 : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %42 = ds.broadcast %40[%dim, %dim_12, %dim_12] : (tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %43 = arith.addf %41, %42 : tensor<?x4x?x?xf32>
  %44 = ds.softmax %43 {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %45 = arith.cmpf uno, %44, %44 : tensor<?x4x?x?xf32>
  %46 = ds.broadcast %cst_6[%dim, %dim_12, %dim_12] : (tensor<f32>) -> tensor<?x4x?x?xf32>
  %47 = arith.select %45, %46, %44 : tensor<?x4x?x?xi1>, tensor<?x4x?x?xf32>
  %48 = ds.matmul %47, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %48 : tensor<?x4x?x16xf32>
}

// -----

// Llama, dynamo: grouped-query attention. K and V [B, 2, S, 16] are repeated
// to 4 heads by expand_shape + ds.broadcast + collapse_shape; the fused op
// reads the un-repeated tensors. K^T collapses the repeated 5-D tensor.
// CHECK-LABEL: func @llama_gqa
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x4x?x16xf32>, %[[K:[^:]+]]: tensor<?x2x?x16xf32>, %[[V:[^:]+]]: tensor<?x2x?x16xf32>, %[[M:[^:]+]]: tensor<?x1x?x?xi1>)
// CHECK-NEXT: %[[O:.+]] = ds.attention %[[Q]], %[[K]], %[[V]] mask(%[[M]]) : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1x?x?xi1>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[O]]
func.func @llama_gqa(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>, %m: tensor<?x1x?x?xi1>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %c4 = arith.constant 4 : index
  %half = arith.constant dense<5.000000e-01> : tensor<f32>
  %zero = arith.constant dense<0.000000e+00> : tensor<f32>
  %neg = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %s = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %ke = tensor.expand_shape %k [[0], [1], [2, 3], [4]] output_shape [%b, 2, 1, %s, 16] : tensor<?x2x?x16xf32> into tensor<?x2x1x?x16xf32>
  %kb = ds.broadcast %ke[%b, %s] : (tensor<?x2x1x?x16xf32>) -> tensor<?x2x2x?x16xf32>
  %ve = tensor.expand_shape %v [[0], [1], [2, 3], [4]] output_shape [%b, 2, 1, %s, 16] : tensor<?x2x?x16xf32> into tensor<?x2x1x?x16xf32>
  %vb = ds.broadcast %ve[%b, %s] : (tensor<?x2x1x?x16xf32>) -> tensor<?x2x2x?x16xf32>
  %vr = tensor.collapse_shape %vb [[0], [1, 2], [3], [4]] : tensor<?x2x2x?x16xf32> into tensor<?x4x?x16xf32>
  %kc = tensor.collapse_shape %kb [[0, 1, 2], [3], [4]] : tensor<?x2x2x?x16xf32> into tensor<?x?x16xf32>
  %bh = arith.muli %b, %c4 : index
  %e = tensor.empty(%bh, %s) : tensor<?x16x?xf32>
  %kt = linalg.transpose ins(%kc : tensor<?x?x16xf32>) outs(%e : tensor<?x16x?xf32>) permutation = [0, 2, 1]
  %kte = tensor.expand_shape %kt [[0, 1], [2], [3]] output_shape [%b, 4, 16, %s] : tensor<?x16x?xf32> into tensor<?x4x16x?xf32>
  %h1 = ds.broadcast %half[%b, %s] : (tensor<f32>) -> tensor<?x4x?x16xf32>
  %qs = arith.mulf %q, %h1 : tensor<?x4x?x16xf32>
  %h2 = ds.broadcast %half[%b, %s] : (tensor<f32>) -> tensor<?x4x16x?xf32>
  %ks = arith.mulf %kte, %h2 : tensor<?x4x16x?xf32>
  %scores = ds.matmul %qs, %ks : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %z = ds.broadcast %zero[%b, %s, %s] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %n = ds.broadcast %neg[%b, %s, %s] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %add = arith.select %m, %z, %n : tensor<?x1x?x?xi1>, tensor<?x1x?x?xf32>
  %addb = ds.broadcast %add[%b, %s, %s] : (tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %masked = arith.addf %scores, %addb : tensor<?x4x?x?xf32>
  %p = ds.softmax %masked {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = ds.matmul %p, %vr : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// GPT-2, TorchScript: K^T is one transpose of [B, S, H, D] (a K transpose is
// created), the causal mask is ANDed with a padding mask gathered from the
// attention_mask input: causal, and the padding conjunct stays as the mask.
// The fill is -inf.
// CHECK-LABEL: func @gpt2_torchscript
// CHECK: %[[PAD:.+]] = tensor.expand_shape %{{.+}} {{\[\[}}0, 1, 2, 3]] output_shape [%{{.+}}, 1, 1, %{{.+}}] : tensor<?xi1> into tensor<?x1x1x?xi1>
// CHECK: %[[KT:.+]] = linalg.transpose ins(%[[KX:.+]] : tensor<?x?x4x16xf32>) outs(%{{.+}} : tensor<?x4x?x16xf32>) permutation = [0, 2, 1, 3]
// CHECK: %[[O:.+]] = ds.attention %{{.+}}, %[[KT]], %{{.+}} mask(%[[PAD]]) {causal} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xf32>
// CHECK-NOT: ds.softmax
// CHECK: return %[[O]]
func.func @gpt2_torchscript(%q: tensor<?x4x?x16xf32>, %kx: tensor<?x?x4x16xf32>, %v: tensor<?x4x?x16xf32>, %arg10: tensor<?x?xi64>) -> tensor<?x4x?x16xf32> {
  %cst_6 = arith.constant dense<0xFF800000> : tensor<1xf32>
  %cst_7 = arith.constant dense<0.000000e+00> : tensor<1xf32>
  %cst_8 = arith.constant dense<5.000000e-01> : tensor<f32>
  %cst_12 = arith.constant dense<true> : tensor<i1>
  %c0_i64 = arith.constant 0 : i64
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %dim = tensor.dim %arg10, %c0 : tensor<?x?xi64>
  %dim_13 = tensor.dim %arg10, %c1 : tensor<?x?xi64>
  %0 = arith.muli %dim, %dim_13 : index
  %generated = tensor.generate %dim_13 {
  ^bb0(%arg11: index):
    %97 = arith.index_cast %arg11 : index to i64
    tensor.yield %97 : i64
  } : tensor<?xi64>
  %splat = tensor.splat %c0_i64[%dim, %dim_13] : tensor<?x?xi64>
  %5 = arith.cmpi ne, %arg10, %splat : tensor<?x?xi64>
  %generated_14 = tensor.generate %dim {
  ^bb0(%arg11: index):
    %97 = arith.index_cast %arg11 : index to i64
    tensor.yield %97 : i64
  } : tensor<?xi64>
  %expanded_15 = tensor.expand_shape %generated_14 [[0, 1, 2, 3]] output_shape [%dim, 1, 1, 1] : tensor<?xi64> into tensor<?x1x1x1xi64>
  %expanded_16 = tensor.expand_shape %generated [[0, 1, 2, 3]] output_shape [1, 1, %dim_13, 1] : tensor<?xi64> into tensor<1x1x?x1xi64>
  %expanded_17 = tensor.expand_shape %generated [[0, 1, 2, 3]] output_shape [1, 1, 1, %dim_13] : tensor<?xi64> into tensor<1x1x1x?xi64>
  %6 = ds.broadcast %expanded_17[%dim_13, %dim_13] : (tensor<1x1x1x?xi64>) -> tensor<1x1x?x?xi64>
  %7 = ds.broadcast %expanded_16[%dim_13, %dim_13] : (tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi64>
  %8 = arith.cmpi sle, %6, %7 : tensor<1x1x?x?xi64>
  %9 = ds.broadcast %cst_12[%dim_13, %dim_13] : (tensor<i1>) -> tensor<1x1x?x?xi1>
  %10 = arith.andi %9, %8 : tensor<1x1x?x?xi1>
  %collapsed = tensor.collapse_shape %5 [[0, 1]] : tensor<?x?xi1> into tensor<?xi1>
  %expanded_18 = tensor.expand_shape %collapsed [[0, 1]] output_shape [%0, 1] : tensor<?xi1> into tensor<?x1xi1>
  %11 = arith.index_cast %dim_13 : index to i64
  %from_elements = tensor.from_elements %11 : tensor<1xi64>
  %12 = ds.broadcast %from_elements[%dim] : (tensor<1xi64>) -> tensor<?x1x1x1xi64>
  %13 = arith.muli %expanded_15, %12 : tensor<?x1x1x1xi64>
  %14 = ds.broadcast %expanded_17[%dim, %dim_13] : (tensor<1x1x1x?xi64>) -> tensor<?x1x1x?xi64>
  %15 = ds.broadcast %13[%dim, %dim_13] : (tensor<?x1x1x1xi64>) -> tensor<?x1x1x?xi64>
  %16 = arith.addi %14, %15 : tensor<?x1x1x?xi64>
  %17 = ds.gather %expanded_18, %16 {axis = 0 : i64} : (tensor<?x1xi1>, tensor<?x1x1x?xi64>) -> tensor<?x1x1x?x1xi1>
  %collapsed_19 = tensor.collapse_shape %17 [[0, 1, 2, 3, 4]] : tensor<?x1x1x?x1xi1> into tensor<?xi1>
  %expanded_20 = tensor.expand_shape %collapsed_19 [[0, 1, 2, 3]] output_shape [%dim, 1, 1, %dim_13] : tensor<?xi1> into tensor<?x1x1x?xi1>
  %18 = ds.broadcast %10[%dim, %dim_13, %dim_13] : (tensor<1x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  %19 = ds.broadcast %expanded_20[%dim, %dim_13, %dim_13] : (tensor<?x1x1x?xi1>) -> tensor<?x1x?x?xi1>
  %20 = arith.andi %18, %19 : tensor<?x1x?x?xi1>
  %26 = tensor.empty(%dim, %dim_13) : tensor<?x4x16x?xf32>
  %transposed_29 = linalg.transpose ins(%kx : tensor<?x?x4x16xf32>) outs(%26 : tensor<?x4x16x?xf32>) permutation = [0, 2, 3, 1]
  %27 = ds.broadcast %cst_8[%dim, %dim_13] : (tensor<f32>) -> tensor<?x4x?x16xf32>
  %28 = arith.mulf %q, %27 : tensor<?x4x?x16xf32>
  %29 = ds.broadcast %cst_8[%dim, %dim_13] : (tensor<f32>) -> tensor<?x4x16x?xf32>
  %30 = arith.mulf %transposed_29, %29 : tensor<?x4x16x?xf32>
  %31 = ds.matmul %28, %30 : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %40 = ds.broadcast %cst_7[%dim, %dim_13, %dim_13] : (tensor<1xf32>) -> tensor<?x1x?x?xf32>
  %41 = ds.broadcast %cst_6[%dim, %dim_13, %dim_13] : (tensor<1xf32>) -> tensor<?x1x?x?xf32>
  %42 = arith.select %20, %40, %41 : tensor<?x1x?x?xi1>, tensor<?x1x?x?xf32>
  %43 = ds.broadcast %42[%dim, %dim_13, %dim_13] : (tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %44 = arith.addf %31, %43 : tensor<?x4x?x?xf32>
  %45 = ds.softmax %44 {axis = -1 : i64} : tensor<?x4x?x?xf32>
  %46 = arith.cmpf uno, %45, %45 : tensor<?x4x?x?xf32>
  %47 = ds.broadcast %cst_7[%dim, %dim_13, %dim_13] : (tensor<1xf32>) -> tensor<?x4x?x?xf32>
  %48 = arith.select %46, %47, %45 : tensor<?x4x?x?xi1>, tensor<?x4x?x?xf32>
  %49 = ds.matmul %48, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %49 : tensor<?x4x?x16xf32>
}

// -----

// Past key/values: T = P + S keys (K = concat(past, new)), query positions
// P + iota(S), key positions iota(T), keep key <= query: causal with the
// queries aligned to the end (offset T - S = P), plus a padding conjunct.
// CHECK-LABEL: func @gpt2_past
// CHECK: %[[PAD:.+]] = ds.gather_nd
// CHECK: %[[KC:.+]] = tensor.concat dim(2)
// CHECK: %[[VC:.+]] = tensor.concat dim(2)
// CHECK-NEXT: %[[O:.+]] = ds.attention %{{.+}}, %[[KC]], %[[VC]] mask(%[[PAD]]) {causal} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[O]]
func.func @gpt2_past(%arg8: tensor<?x?xi64>, %arg9: tensor<?x?xi64>, %arg10: tensor<?x4x?x16xf32>, %arg11: tensor<?x4x?x16xf32>, %q: tensor<?x4x?x16xf32>, %knew: tensor<?x4x?x16xf32>, %vnew: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %cst_5 = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %cst_6 = arith.constant dense<0.000000e+00> : tensor<f32>
  %cst_7 = arith.constant dense<5.000000e-01> : tensor<f32>
  %c4 = arith.constant 4 : index
  %cst_10 = arith.constant dense<true> : tensor<i1>
  %c0_i64 = arith.constant 0 : i64
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %dim = tensor.dim %arg8, %c0 : tensor<?x?xi64>
  %dim_11 = tensor.dim %arg8, %c1 : tensor<?x?xi64>
  %dim_12 = tensor.dim %arg9, %c1 : tensor<?x?xi64>
  %dim_13 = tensor.dim %arg10, %c2 : tensor<?x4x?x16xf32>
  %0 = arith.addi %dim_13, %dim_11 : index
  %generated = tensor.generate %dim_11 {
  ^bb0(%arg14: index):
    %87 = arith.index_cast %arg14 : index to i64
    tensor.yield %87 : i64
  } : tensor<?xi64>
  %2 = arith.index_cast %dim_13 : index to i64
  %from_elements = tensor.from_elements %2 : tensor<i64>
  %3 = ds.broadcast %from_elements[%dim_11] : (tensor<i64>) -> tensor<?xi64>
  %4 = arith.addi %generated, %3 : tensor<?xi64>
  %splat = tensor.splat %c0_i64[%dim, %dim_12] : tensor<?x?xi64>
  %8 = arith.cmpi ne, %arg9, %splat : tensor<?x?xi64>
  %generated_14 = tensor.generate %dim {
  ^bb0(%arg14: index):
    %87 = arith.index_cast %arg14 : index to i64
    tensor.yield %87 : i64
  } : tensor<?xi64>
  %generated_15 = tensor.generate %0 {
  ^bb0(%arg14: index):
    %87 = arith.index_cast %arg14 : index to i64
    tensor.yield %87 : i64
  } : tensor<?xi64>
  %expanded_16 = tensor.expand_shape %generated_14 [[0, 1, 2, 3]] output_shape [%dim, 1, 1, 1] : tensor<?xi64> into tensor<?x1x1x1xi64>
  %expanded_17 = tensor.expand_shape %4 [[0, 1, 2, 3]] output_shape [1, 1, %dim_11, 1] : tensor<?xi64> into tensor<1x1x?x1xi64>
  %expanded_18 = tensor.expand_shape %generated_15 [[0, 1, 2, 3]] output_shape [1, 1, 1, %0] : tensor<?xi64> into tensor<1x1x1x?xi64>
  %9 = ds.broadcast %expanded_18[%dim_11, %0] : (tensor<1x1x1x?xi64>) -> tensor<1x1x?x?xi64>
  %10 = ds.broadcast %expanded_17[%dim_11, %0] : (tensor<1x1x?x1xi64>) -> tensor<1x1x?x?xi64>
  %11 = arith.cmpi sle, %9, %10 : tensor<1x1x?x?xi64>
  %12 = ds.broadcast %cst_10[%dim_11, %0] : (tensor<i1>) -> tensor<1x1x?x?xi1>
  %13 = arith.andi %12, %11 : tensor<1x1x?x?xi1>
  %14 = ds.broadcast %expanded_16[%dim, %0] : (tensor<?x1x1x1xi64>) -> tensor<?x1x1x?xi64>
  %expanded_19 = tensor.expand_shape %14 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, 1, %0, 1] : tensor<?x1x1x?xi64> into tensor<?x1x1x?x1xi64>
  %15 = ds.broadcast %expanded_18[%dim, %0] : (tensor<1x1x1x?xi64>) -> tensor<?x1x1x?xi64>
  %expanded_20 = tensor.expand_shape %15 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, 1, %0, 1] : tensor<?x1x1x?xi64> into tensor<?x1x1x?x1xi64>
  %concat = tensor.concat dim(4) %expanded_19, %expanded_20 : (tensor<?x1x1x?x1xi64>, tensor<?x1x1x?x1xi64>) -> tensor<?x1x1x?x2xi64>
  %16 = ds.gather_nd %8, %concat : (tensor<?x?xi1>, tensor<?x1x1x?x2xi64>) -> tensor<?x1x1x?xi1>
  %17 = ds.broadcast %13[%dim, %dim_11, %0] : (tensor<1x1x?x?xi1>) -> tensor<?x1x?x?xi1>
  %18 = ds.broadcast %16[%dim, %dim_11, %0] : (tensor<?x1x1x?xi1>) -> tensor<?x1x?x?xi1>
  %19 = arith.andi %17, %18 : tensor<?x1x?x?xi1>
  %concat_29 = tensor.concat dim(2) %arg10, %knew : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %concat_30 = tensor.concat dim(2) %arg11, %vnew : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %23 = arith.muli %dim, %c4 : index
  %collapsed_31 = tensor.collapse_shape %concat_29 [[0, 1], [2], [3]] : tensor<?x4x?x16xf32> into tensor<?x?x16xf32>
  %24 = tensor.empty(%23, %0) : tensor<?x16x?xf32>
  %transposed_32 = linalg.transpose ins(%collapsed_31 : tensor<?x?x16xf32>) outs(%24 : tensor<?x16x?xf32>) permutation = [0, 2, 1]
  %expanded_33 = tensor.expand_shape %transposed_32 [[0, 1], [2], [3]] output_shape [%dim, 4, 16, %0] : tensor<?x16x?xf32> into tensor<?x4x16x?xf32>
  %25 = ds.broadcast %cst_7[%dim, %dim_11] : (tensor<f32>) -> tensor<?x4x?x16xf32>
  %26 = arith.mulf %q, %25 : tensor<?x4x?x16xf32>
  %27 = ds.broadcast %cst_7[%dim, %0] : (tensor<f32>) -> tensor<?x4x16x?xf32>
  %28 = arith.mulf %expanded_33, %27 : tensor<?x4x16x?xf32>
  %29 = ds.broadcast %cst_6[%dim, %dim_11, %0] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %30 = ds.broadcast %cst_5[%dim, %dim_11, %0] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %31 = arith.select %19, %29, %30 : tensor<?x1x?x?xi1>, tensor<?x1x?x?xf32>
  %32 = ds.matmul %26, %28 : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %33 = ds.broadcast %31[%dim, %dim_11, %0] : (tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %34 = arith.addf %32, %33 : tensor<?x4x?x?xf32>
  %35 = ds.softmax %34 {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %36 = arith.cmpf uno, %35, %35 : tensor<?x4x?x?xf32>
  %37 = ds.broadcast %cst_6[%dim, %dim_11, %0] : (tensor<f32>) -> tensor<?x4x?x?xf32>
  %38 = arith.select %36, %37, %35 : tensor<?x4x?x?xi1>, tensor<?x4x?x?xf32>
  %39 = ds.matmul %38, %concat_30 : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %39 : tensor<?x4x?x16xf32>
}

// -----

// BERT: a padding mask from attention_mask (the query-side test `i >= 0`
// folds to true) and no causality: the padding mask is the mask operand.
// CHECK-LABEL: func @bert_padding
// CHECK: %[[PAD:.+]] = ds.gather_nd
// CHECK-NEXT: %[[O:.+]] = ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%[[PAD]]) : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x1x1x?xi1>) -> tensor<?x4x?x16xf32>
// CHECK-NOT: causal
// CHECK: return %[[O]]
func.func @bert_padding(%arg7: tensor<?x?xi64>, %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %cst_7 = arith.constant dense<-3.40282347E+38> : tensor<f32>
  %cst_8 = arith.constant dense<0.000000e+00> : tensor<f32>
  %cst_9 = arith.constant dense<5.000000e-01> : tensor<f32>
  %c4 = arith.constant 4 : index
  %cst_13 = arith.constant dense<true> : tensor<i1>
  %cst_14 = arith.constant dense<0> : tensor<i64>
  %c0_i64 = arith.constant 0 : i64
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %dim = tensor.dim %arg7, %c0 : tensor<?x?xi64>
  %dim_20 = tensor.dim %arg7, %c1 : tensor<?x?xi64>
  %splat = tensor.splat %c0_i64[%dim, %dim_20] : tensor<?x?xi64>
  %10 = arith.cmpi ne, %arg7, %splat : tensor<?x?xi64>
  %generated = tensor.generate %dim {
  ^bb0(%arg8: index):
    %95 = arith.index_cast %arg8 : index to i64
    tensor.yield %95 : i64
  } : tensor<?xi64>
  %generated_21 = tensor.generate %dim_20 {
  ^bb0(%arg8: index):
    %95 = arith.index_cast %arg8 : index to i64
    tensor.yield %95 : i64
  } : tensor<?xi64>
  %expanded = tensor.expand_shape %generated [[0, 1, 2, 3]] output_shape [%dim, 1, 1, 1] : tensor<?xi64> into tensor<?x1x1x1xi64>
  %expanded_22 = tensor.expand_shape %generated_21 [[0, 1, 2, 3]] output_shape [1, 1, %dim_20, 1] : tensor<?xi64> into tensor<1x1x?x1xi64>
  %expanded_23 = tensor.expand_shape %generated_21 [[0, 1, 2, 3]] output_shape [1, 1, 1, %dim_20] : tensor<?xi64> into tensor<1x1x1x?xi64>
  %11 = ds.broadcast %cst_14[%dim_20] : (tensor<i64>) -> tensor<1x1x?x1xi64>
  %12 = arith.cmpi sge, %expanded_22, %11 : tensor<1x1x?x1xi64>
  %13 = ds.broadcast %cst_13[%dim_20] : (tensor<i1>) -> tensor<1x1x?x1xi1>
  %14 = arith.andi %13, %12 : tensor<1x1x?x1xi1>
  %15 = ds.broadcast %expanded[%dim, %dim_20] : (tensor<?x1x1x1xi64>) -> tensor<?x1x1x?xi64>
  %expanded_24 = tensor.expand_shape %15 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, 1, %dim_20, 1] : tensor<?x1x1x?xi64> into tensor<?x1x1x?x1xi64>
  %16 = ds.broadcast %expanded_23[%dim, %dim_20] : (tensor<1x1x1x?xi64>) -> tensor<?x1x1x?xi64>
  %expanded_25 = tensor.expand_shape %16 [[0], [1], [2], [3, 4]] output_shape [%dim, 1, 1, %dim_20, 1] : tensor<?x1x1x?xi64> into tensor<?x1x1x?x1xi64>
  %concat = tensor.concat dim(4) %expanded_24, %expanded_25 : (tensor<?x1x1x?x1xi64>, tensor<?x1x1x?x1xi64>) -> tensor<?x1x1x?x2xi64>
  %17 = ds.gather_nd %10, %concat : (tensor<?x?xi1>, tensor<?x1x1x?x2xi64>) -> tensor<?x1x1x?xi1>
  %18 = ds.broadcast %14[%dim, %dim_20, %dim_20] : (tensor<1x1x?x1xi1>) -> tensor<?x1x?x?xi1>
  %19 = ds.broadcast %17[%dim, %dim_20, %dim_20] : (tensor<?x1x1x?xi1>) -> tensor<?x1x?x?xi1>
  %20 = arith.andi %18, %19 : tensor<?x1x?x?xi1>
  %29 = arith.muli %dim, %c4 : index
  %collapsed = tensor.collapse_shape %k [[0, 1], [2], [3]] : tensor<?x4x?x16xf32> into tensor<?x?x16xf32>
  %30 = tensor.empty(%29, %dim_20) : tensor<?x16x?xf32>
  %transposed_31 = linalg.transpose ins(%collapsed : tensor<?x?x16xf32>) outs(%30 : tensor<?x16x?xf32>) permutation = [0, 2, 1]
  %expanded_32 = tensor.expand_shape %transposed_31 [[0, 1], [2], [3]] output_shape [%dim, 4, 16, %dim_20] : tensor<?x16x?xf32> into tensor<?x4x16x?xf32>
  %31 = ds.broadcast %cst_9[%dim, %dim_20] : (tensor<f32>) -> tensor<?x4x?x16xf32>
  %32 = arith.mulf %q, %31 : tensor<?x4x?x16xf32>
  %33 = ds.broadcast %cst_9[%dim, %dim_20] : (tensor<f32>) -> tensor<?x4x16x?xf32>
  %34 = arith.mulf %expanded_32, %33 : tensor<?x4x16x?xf32>
  %35 = ds.broadcast %cst_8[%dim, %dim_20, %dim_20] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %36 = ds.broadcast %cst_7[%dim, %dim_20, %dim_20] : (tensor<f32>) -> tensor<?x1x?x?xf32>
  %37 = arith.select %20, %35, %36 : tensor<?x1x?x?xi1>, tensor<?x1x?x?xf32>
  %38 = ds.matmul %32, %34 : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %39 = ds.broadcast %37[%dim, %dim_20, %dim_20] : (tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %40 = arith.addf %38, %39 : tensor<?x4x?x?xf32>
  %41 = ds.softmax %40 {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %42 = arith.cmpf uno, %41, %41 : tensor<?x4x?x?xf32>
  %43 = ds.broadcast %cst_8[%dim, %dim_20, %dim_20] : (tensor<f32>) -> tensor<?x4x?x?xf32>
  %44 = arith.select %42, %43, %41 : tensor<?x4x?x?xi1>, tensor<?x4x?x?xf32>
  %45 = ds.matmul %44, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %45 : tensor<?x4x?x16xf32>
}

// -----

// The scale as a Div of the scores by sqrt(D) = 4: the default scale, no
// attribute. K^T a [0, 1, 3, 2] transpose of K.
// CHECK-LABEL: func @div_scale
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<1x2x8x16xf32>, %[[K:[^:]+]]: tensor<1x2x8x16xf32>, %[[V:[^:]+]]: tensor<1x2x8x16xf32>)
// CHECK-NEXT: %[[O:.+]] = ds.attention %[[Q]], %[[K]], %[[V]] : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
// CHECK-NEXT: return %[[O]]
func.func @div_scale(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %c = arith.constant dense<4.0> : tensor<1x2x8x8xf32>
  %d = arith.divf %s, %c : tensor<1x2x8x8xf32>
  %p = ds.softmax %d {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// The scale as a Mul of the scores (0.125, not 1/sqrt(16)): an attribute.
// A plain additive float mask stays the mask operand, not causal.
// CHECK-LABEL: func @mul_scale_additive_mask
// CHECK-SAME: %[[M:[^:]+]]: tensor<1x1x8x8xf32>)
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%[[M]]) {scale = 1.250000e-01 : f32} :
func.func @mul_scale_additive_mask(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x1x8x8xf32>) -> tensor<1x2x8x16xf32> {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %c = arith.constant dense<0.125> : tensor<f32>
  %cb = ds.broadcast %c[] : (tensor<f32>) -> tensor<1x2x8x8xf32>
  %d = arith.mulf %cb, %s : tensor<1x2x8x8xf32>
  %mb = ds.broadcast %m[] : (tensor<1x1x8x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %d, %mb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Static shapes, query >= key as `sge`: causal.
// CHECK-LABEL: func @static_causal_sge
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, scale = 1.000000e+00 : f32} :
// CHECK-NOT: ds.softmax
func.func @static_causal_sge(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %m = arith.cmpi sge, %qp, %kp : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// key < query + 1 is key <= query: causal.
// CHECK-LABEL: func @static_causal_lt_plus_one
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, scale = 1.000000e+00 : f32} :
// CHECK-NOT: ds.softmax
func.func @static_causal_lt_plus_one(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %one = arith.constant dense<1> : tensor<8x8xi64>
  %qp1 = arith.addi %qp, %one : tensor<8x8xi64>
  %m = arith.cmpi slt, %kp, %qp1 : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Off by one: key <= query + 1 sees one future key. Not causal; the
// comparison stays the mask.
// CHECK-LABEL: func @not_causal_le_plus_one
// CHECK: %[[M:.+]] = arith.cmpi sle
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%[[M]]) {scale = 1.000000e+00 : f32} :
// CHECK-NOT: causal
func.func @not_causal_le_plus_one(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %one = arith.constant dense<1> : tensor<8x8xi64>
  %qp1 = arith.addi %qp, %one : tensor<8x8xi64>
  %m = arith.cmpi sle, %kp, %qp1 : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Off by one the other way: key < query hides the diagonal. Not causal.
// CHECK-LABEL: func @not_causal_strict
// CHECK: %[[M:.+]] = arith.cmpi slt
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%[[M]]) {scale = 1.000000e+00 : f32} :
// CHECK-NOT: causal
func.func @not_causal_strict(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %m = arith.cmpi slt, %kp, %qp : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// key >= query (anti-causal): not causal.
// CHECK-LABEL: func @not_causal_transposed
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%{{.+}}) {scale = 1.000000e+00 : f32} :
// CHECK-NOT: causal
func.func @not_causal_transposed(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %m = arith.cmpi sge, %kp, %qp : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// A comparison with data: not causal, the mask stays.
// CHECK-LABEL: func @not_causal_data
// CHECK-SAME: %[[D:[^:]+]]: tensor<8x8xi64>)
// CHECK: %[[M:.+]] = arith.cmpi sle, %{{.+}}, %[[D]]
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%[[M]]) {scale = 1.000000e+00 : f32} :
// CHECK-NOT: causal
func.func @not_causal_data(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %d: tensor<8x8xi64>) -> tensor<1x2x8x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %m = arith.cmpi sle, %kp, %d : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Two queries after six cached keys: positions 6 + iota(2) against iota(8)
// is causal with the queries aligned to the end (T - S = 6).
// CHECK-LABEL: func @past_static_causal
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, scale = 1.000000e+00 : f32} :
// CHECK-NOT: ds.softmax
func.func @past_static_causal(%q: tensor<1x2x2x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x2x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<2xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %off = arith.constant dense<6> : tensor<2xi64>
  %qpos = arith.addi %qiota, %off : tensor<2xi64>
  %row = tensor.expand_shape %qpos [[0, 1]] output_shape [2, 1] : tensor<2xi64> into tensor<2x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<2x1xi64>) -> tensor<2x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<2x8xi64>
  %m = arith.cmpi sle, %kp, %qp : tensor<2x8xi64>
  %z = arith.constant dense<0.0> : tensor<2x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<2x8xf32>
  %add = arith.select %m, %z, %n : tensor<2x8xi1>, tensor<2x8xf32>
  %addb = ds.broadcast %add[] : (tensor<2x8xf32>) -> tensor<1x2x2x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x2x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x2x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x2x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x2x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x2x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x2x16xf32>
  return %o : tensor<1x2x2x16xf32>
}

// -----

// Same shapes but the query positions start at 0: key <= query is not
// key <= query + (T - S). Not causal.
// CHECK-LABEL: func @past_static_not_aligned
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%{{.+}}) {scale = 1.000000e+00 : f32} :
// CHECK-NOT: causal
func.func @past_static_not_aligned(%q: tensor<1x2x2x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x2x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<2xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [2, 1] : tensor<2xi64> into tensor<2x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<2x1xi64>) -> tensor<2x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<2x8xi64>
  %m = arith.cmpi sle, %kp, %qp : tensor<2x8xi64>
  %z = arith.constant dense<0.0> : tensor<2x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<2x8xf32>
  %add = arith.select %m, %z, %n : tensor<2x8xi1>, tensor<2x8xf32>
  %addb = ds.broadcast %add[] : (tensor<2x8xf32>) -> tensor<1x2x2x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x2x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x2x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x2x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x2x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x2x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x2x16xf32>
  return %o : tensor<1x2x2x16xf32>
}

// -----

// A mask that is provably all true (key >= 0) is dropped.
// CHECK-LABEL: func @all_true_mask
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} {scale = 1.000000e+00 : f32} :
// CHECK-NOT: mask
// CHECK-NOT: causal
func.func @all_true_mask(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %qiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %kiota = tensor.generate {
  ^bb0(%i: index):
    %x = arith.index_cast %i : index to i64
    tensor.yield %x : i64
  } : tensor<8xi64>
  %row = tensor.expand_shape %qiota [[0, 1]] output_shape [8, 1] : tensor<8xi64> into tensor<8x1xi64>
  %col = tensor.expand_shape %kiota [[0, 1]] output_shape [1, 8] : tensor<8xi64> into tensor<1x8xi64>
  %qp = ds.broadcast %row[] : (tensor<8x1xi64>) -> tensor<8x8xi64>
  %kp = ds.broadcast %col[] : (tensor<1x8xi64>) -> tensor<8x8xi64>
  %zero = arith.constant dense<0> : tensor<8x8xi64>
  %m = arith.cmpi sge, %kp, %zero : tensor<8x8xi64>
  %z = arith.constant dense<0.0> : tensor<8x8xf32>
  %n = arith.constant dense<0xFF800000> : tensor<8x8xf32>
  %add = arith.select %m, %z, %n : tensor<8x8xi1>, tensor<8x8xf32>
  %addb = ds.broadcast %add[] : (tensor<8x8xf32>) -> tensor<1x2x8x8xf32>
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %sc = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %sc, %addb : tensor<1x2x8x8xf32>
  %p = ds.softmax %a {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Negative: softmax over the query axis.
// CHECK-LABEL: func @wrong_axis
// CHECK-NOT: ds.attention
// CHECK: ds.softmax
func.func @wrong_axis(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %p = ds.softmax %s {axis = 2 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Negative: the right operand of the scores matmul is not a transposed K.
// CHECK-LABEL: func @not_transposed
// CHECK-NOT: ds.attention
// CHECK: ds.softmax
func.func @not_transposed(%q: tensor<1x2x8x16xf32>, %kt: tensor<1x2x16x8xf32>, %v: tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32> {
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %p = ds.softmax %s {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Negative: a transpose that keeps the head dimension last is no K^T.
// CHECK-LABEL: func @identity_transpose
// CHECK-NOT: ds.attention
func.func @identity_transpose(%q: tensor<1x2x8x8xf32>, %k: tensor<1x2x8x8xf32>, %v: tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32> {
  %e = tensor.empty() : tensor<1x2x8x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x8xf32>) outs(%e : tensor<1x2x8x8xf32>) permutation = [0, 1, 2, 3]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  %p = ds.softmax %s {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x8xf32>) -> tensor<1x2x8x8xf32>
  return %o : tensor<1x2x8x8xf32>
}

// -----

// Negative: the probabilities are also returned.
// CHECK-LABEL: func @probs_escape
// CHECK-NOT: ds.attention
func.func @probs_escape(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>) {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %p = ds.softmax %s {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o, %p : tensor<1x2x8x16xf32>, tensor<1x2x8x8xf32>
}

// -----

// Negative: the scale applies to the masked scores (it would scale the mask).
// CHECK-LABEL: func @scale_after_mask
// CHECK-NOT: ds.attention
func.func @scale_after_mask(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>, %m: tensor<1x2x8x8xf32>) -> tensor<1x2x8x16xf32> {
  %e = tensor.empty() : tensor<1x2x16x8xf32>
  %kt = linalg.transpose ins(%k : tensor<1x2x8x16xf32>) outs(%e : tensor<1x2x16x8xf32>) permutation = [0, 1, 3, 2]
  %s = ds.matmul %q, %kt : (tensor<1x2x8x16xf32>, tensor<1x2x16x8xf32>) -> tensor<1x2x8x8xf32>
  %a = arith.addf %s, %m : tensor<1x2x8x8xf32>
  %c = arith.constant dense<0.25> : tensor<1x2x8x8xf32>
  %d = arith.mulf %a, %c : tensor<1x2x8x8xf32>
  %p = ds.softmax %d {axis = 3 : i64} : tensor<1x2x8x8xf32>
  %o = ds.matmul %p, %v : (tensor<1x2x8x8xf32>, tensor<1x2x8x16xf32>) -> tensor<1x2x8x16xf32>
  return %o : tensor<1x2x8x16xf32>
}

// -----

// Cleanup: an existing ds.attention with an all-true or all-zero mask loses
// it.
// CHECK-LABEL: func @constant_masks
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} {causal} : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) ->
// CHECK: ds.attention %{{.+}}, %{{.+}}, %{{.+}} : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) ->
func.func @constant_masks(%q: tensor<1x2x8x16xf32>, %k: tensor<1x2x8x16xf32>, %v: tensor<1x2x8x16xf32>) -> (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>) {
  %t = arith.constant dense<true> : tensor<8x8xi1>
  %z = arith.constant dense<0.0> : tensor<1x1x8x8xf32>
  %a = ds.attention %q, %k, %v mask(%t) {causal} : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<8x8xi1>) -> tensor<1x2x8x16xf32>
  %b = ds.attention %q, %k, %v mask(%z) : (tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<1x1x8x8xf32>) -> tensor<1x2x8x16xf32>
  return %a, %b : tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>
}

// -----

// Llama, TorchScript: K^T is a [0, 1, 3, 2] transpose of the repeated K, V
// the repeated V; both un-repeat. The scale divides Q and K^T by 2 each.
// CHECK-LABEL: func @llama_torchscript_gqa
// CHECK-SAME: (%[[Q:[^:]+]]: tensor<?x4x?x16xf32>, %[[K:[^:]+]]: tensor<?x2x?x16xf32>, %[[V:[^:]+]]: tensor<?x2x?x16xf32>)
// CHECK-NEXT: %[[O:.+]] = ds.attention %[[Q]], %[[K]], %[[V]] : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[O]]
func.func @llama_torchscript_gqa(%q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = arith.constant 0 : index
  %c2 = arith.constant 2 : index
  %two = arith.constant dense<2.000000e+00> : tensor<f32>
  %b = tensor.dim %q, %c0 : tensor<?x4x?x16xf32>
  %s = tensor.dim %q, %c2 : tensor<?x4x?x16xf32>
  %ke = tensor.expand_shape %k [[0], [1], [2, 3], [4]] output_shape [%b, 2, 1, %s, 16] : tensor<?x2x?x16xf32> into tensor<?x2x1x?x16xf32>
  %kb = ds.broadcast %ke[%b, %s] : (tensor<?x2x1x?x16xf32>) -> tensor<?x2x2x?x16xf32>
  %kr = tensor.collapse_shape %kb [[0], [1, 2], [3], [4]] : tensor<?x2x2x?x16xf32> into tensor<?x4x?x16xf32>
  %ve = tensor.expand_shape %v [[0], [1], [2, 3], [4]] output_shape [%b, 2, 1, %s, 16] : tensor<?x2x?x16xf32> into tensor<?x2x1x?x16xf32>
  %vb = ds.broadcast %ve[%b, %s] : (tensor<?x2x1x?x16xf32>) -> tensor<?x2x2x?x16xf32>
  %vr = tensor.collapse_shape %vb [[0], [1, 2], [3], [4]] : tensor<?x2x2x?x16xf32> into tensor<?x4x?x16xf32>
  %e = tensor.empty(%b, %s) : tensor<?x4x16x?xf32>
  %kt = linalg.transpose ins(%kr : tensor<?x4x?x16xf32>) outs(%e : tensor<?x4x16x?xf32>) permutation = [0, 1, 3, 2]
  %t1 = ds.broadcast %two[%b, %s] : (tensor<f32>) -> tensor<?x4x?x16xf32>
  %qs = arith.divf %q, %t1 : tensor<?x4x?x16xf32>
  %t2 = ds.broadcast %two[%b, %s] : (tensor<f32>) -> tensor<?x4x16x?xf32>
  %ks = arith.divf %kt, %t2 : tensor<?x4x16x?xf32>
  %scores = ds.matmul %qs, %ks : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %p = ds.softmax %scores {axis = 3 : i64} : tensor<?x4x?x?xf32>
  %o = ds.matmul %p, %vr : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
