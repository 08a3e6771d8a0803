// RUN: ds-opt %s -split-input-file -pass-pipeline='builtin.module(func.func(ds-fuse-activations,ds-fuse-linear,ds-merge-projections))' | FileCheck %s

// Llama's MLP as the dynamo and the TorchScript exporters both write it
// (test/Models/llama-{dynamo,torchscript} after graph-opt): MatMul gate,
// Sigmoid, Mul, MatMul up, Mul, MatMul down, residual Add. Gate and up
// become one GEMM over [Wgate | Wup] and ds.swiglu; down keeps its
// residual epilogue.
// CHECK-LABEL: func.func @llama_mlp
// CHECK: %[[W:.+]] = tensor.concat dim(1) %arg0, %arg1 : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x256xf32>
// CHECK: %[[Y:.+]] = ds.linear %arg3, %[[W]] : (tensor<?x?x64xf32>, tensor<64x256xf32>) -> tensor<?x?x256xf32>
// CHECK: %[[S:.+]] = ds.swiglu %[[Y]] : (tensor<?x?x256xf32>) -> tensor<?x?x128xf32>
// CHECK: %[[D:.+]] = ds.linear %[[S]], %arg2 residual(%arg4) : (tensor<?x?x128xf32>, tensor<128x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NOT: ds.silu
// CHECK-NOT: ds.sigmoid
// CHECK: return %[[D]]
func.func @llama_mlp(%wg: tensor<64x128xf32> {ds.weight = "val_219"}, %wu: tensor<64x128xf32> {ds.weight = "val_221"},
                     %wd: tensor<128x64xf32> {ds.weight = "val_222"},
                     %x: tensor<?x?x64xf32>, %res: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %0 = ds.matmul %x, %wg : (tensor<?x?x64xf32>, tensor<64x128xf32>) -> tensor<?x?x128xf32>
  %1 = ds.sigmoid %0 : tensor<?x?x128xf32>
  %2 = arith.mulf %0, %1 : tensor<?x?x128xf32>
  %3 = ds.matmul %x, %wu : (tensor<?x?x64xf32>, tensor<64x128xf32>) -> tensor<?x?x128xf32>
  %4 = arith.mulf %2, %3 : tensor<?x?x128xf32>
  %5 = ds.matmul %4, %wd : (tensor<?x?x128xf32>, tensor<128x64xf32>) -> tensor<?x?x64xf32>
  %6 = arith.addf %res, %5 : tensor<?x?x64xf32>
  return %6 : tensor<?x?x64xf32>
}

// -----

// nn.Linear weights ([N, K]) read through transposes, SiLU as
// x / (1 + exp(-x)) spelled out, up computed first and on the left of
// the product.
// CHECK-LABEL: func.func @transposed_weights
// CHECK: %[[W:.+]] = tensor.concat dim(0) %arg0, %arg1 : (tensor<32x16xf16>, tensor<32x16xf16>) -> tensor<64x16xf16>
// CHECK: %[[Y:.+]] = ds.linear %arg2, %[[W]] {transpose_weight} : (tensor<2x5x16xf16>, tensor<64x16xf16>) -> tensor<2x5x64xf16>
// CHECK: %[[S:.+]] = ds.swiglu %[[Y]] : (tensor<2x5x64xf16>) -> tensor<2x5x32xf16>
// CHECK-NOT: linalg.transpose
// CHECK: return %[[S]]
func.func @transposed_weights(%wg: tensor<32x16xf16> {ds.weight = "gate_proj.weight"},
                              %wu: tensor<32x16xf16> {ds.weight = "up_proj.weight"},
                              %x: tensor<2x5x16xf16>) -> tensor<2x5x32xf16> {
  %e0 = tensor.empty() : tensor<16x32xf16>
  %wgt = linalg.transpose ins(%wg : tensor<32x16xf16>) outs(%e0 : tensor<16x32xf16>) permutation = [1, 0]
  %e1 = tensor.empty() : tensor<16x32xf16>
  %wut = linalg.transpose ins(%wu : tensor<32x16xf16>) outs(%e1 : tensor<16x32xf16>) permutation = [1, 0]
  %u = ds.matmul %x, %wut : (tensor<2x5x16xf16>, tensor<16x32xf16>) -> tensor<2x5x32xf16>
  %g = ds.matmul %x, %wgt : (tensor<2x5x16xf16>, tensor<16x32xf16>) -> tensor<2x5x32xf16>
  %one = arith.constant dense<1.0> : tensor<2x5x32xf16>
  %n = arith.negf %g : tensor<2x5x32xf16>
  %e = math.exp %n : tensor<2x5x32xf16>
  %d = arith.addf %one, %e : tensor<2x5x32xf16>
  %sig = arith.divf %one, %d : tensor<2x5x32xf16>
  %s = arith.mulf %g, %sig : tensor<2x5x32xf16>
  %m = arith.mulf %u, %s : tensor<2x5x32xf16>
  return %m : tensor<2x5x32xf16>
}

// -----

// GEMMs on [B*S, K] between a collapse and expands, with biases: the bias
// folds into each projection, then the pair merges with concatenated
// biases; ds.swiglu runs on the GEMM's shape and its result is expanded.
// CHECK-LABEL: func.func @collapsed_bias
// CHECK-DAG: %[[W:.+]] = tensor.concat dim(1) %arg0, %arg1 : (tensor<64x128xf32>, tensor<64x128xf32>) -> tensor<64x256xf32>
// CHECK-DAG: %[[B:.+]] = tensor.concat dim(0) %arg2, %arg3 : (tensor<128xf32>, tensor<128xf32>) -> tensor<256xf32>
// CHECK: %[[Y:.+]] = ds.linear %{{.+}}, %[[W]] bias(%[[B]]) : (tensor<?x64xf32>, tensor<64x256xf32>, tensor<256xf32>) -> tensor<?x256xf32>
// CHECK: %[[S:.+]] = ds.swiglu %[[Y]] : (tensor<?x256xf32>) -> tensor<?x128xf32>
// CHECK: %[[E:.+]] = tensor.expand_shape %[[S]] {{\[}}[0, 1], [2]] output_shape [%{{.+}}, %{{.+}}, 128]
// CHECK: return %[[E]]
func.func @collapsed_bias(%wg: tensor<64x128xf32> {ds.weight = "gate.w"}, %wu: tensor<64x128xf32> {ds.weight = "up.w"},
                          %bg: tensor<128xf32> {ds.weight = "gate.b"}, %bu: tensor<128xf32> {ds.weight = "up.b"},
                          %x: tensor<?x?x64xf32>) -> tensor<?x?x128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %d0 = tensor.dim %x, %c0 : tensor<?x?x64xf32>
  %d1 = tensor.dim %x, %c1 : tensor<?x?x64xf32>
  %xc = tensor.collapse_shape %x [[0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
  %g = ds.matmul %xc, %wg : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %ge = tensor.expand_shape %g [[0, 1], [2]] output_shape [%d0, %d1, 128] : tensor<?x128xf32> into tensor<?x?x128xf32>
  %bgb = ds.broadcast %bg[%d0, %d1] : (tensor<128xf32>) -> tensor<?x?x128xf32>
  %ga = arith.addf %ge, %bgb : tensor<?x?x128xf32>
  %sig = ds.sigmoid %ga : tensor<?x?x128xf32>
  %s = arith.mulf %ga, %sig : tensor<?x?x128xf32>
  %u = ds.matmul %xc, %wu : (tensor<?x64xf32>, tensor<64x128xf32>) -> tensor<?x128xf32>
  %ue = tensor.expand_shape %u [[0, 1], [2]] output_shape [%d0, %d1, 128] : tensor<?x128xf32> into tensor<?x?x128xf32>
  %bub = ds.broadcast %bu[%d0, %d1] : (tensor<128xf32>) -> tensor<?x?x128xf32>
  %ua = arith.addf %ue, %bub : tensor<?x?x128xf32>
  %m = arith.mulf %s, %ua : tensor<?x?x128xf32>
  return %m : tensor<?x?x128xf32>
}

// -----

// Not merged: gate and up read different inputs, so the SiLU folds into
// the gate's GEMM as before.
// CHECK-LABEL: func.func @different_inputs
// CHECK: %[[G:.+]] = ds.linear %arg2, %arg0 {activation = #ds<activation silu>}
// CHECK: %[[U:.+]] = ds.linear %arg3, %arg1 :
// CHECK: arith.mulf %[[G]], %[[U]]
// CHECK-NOT: ds.swiglu
func.func @different_inputs(%wg: tensor<8x16xf32> {ds.weight = "gate"}, %wu: tensor<8x16xf32> {ds.weight = "up"},
                            %x: tensor<4x8xf32>, %y: tensor<4x8xf32>) -> tensor<4x16xf32> {
  %g = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %sig = ds.sigmoid %g : tensor<4x16xf32>
  %s = arith.mulf %g, %sig : tensor<4x16xf32>
  %u = ds.matmul %y, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %m = arith.mulf %s, %u : tensor<4x16xf32>
  return %m : tensor<4x16xf32>
}

// -----

// Not merged: the up operand is no weight (an activation times
// activation product), and only the gate has a bias: in both the SiLU
// ends in the gate's epilogue.
// CHECK-LABEL: func.func @not_a_pair
// CHECK: %[[G:.+]] = ds.linear %arg3, %arg0 {activation = #ds<activation silu>}
// CHECK: %[[P:.+]] = ds.matmul %arg3, %arg4
// CHECK: arith.mulf %[[G]], %[[P]]
// CHECK: %[[G2:.+]] = ds.linear %arg3, %arg0 bias(%arg2) {activation = #ds<activation silu>}
// CHECK: %[[U2:.+]] = ds.linear %arg3, %arg1 :
// CHECK: arith.mulf %[[G2]], %[[U2]]
// CHECK-NOT: ds.swiglu
// CHECK-NOT: ds.silu
func.func @not_a_pair(%wg: tensor<8x16xf32> {ds.weight = "gate"}, %wu: tensor<8x16xf32> {ds.weight = "up"},
                      %bg: tensor<16xf32> {ds.weight = "gate.b"},
                      %x: tensor<4x8xf32>, %act: tensor<8x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %g = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %sig = ds.sigmoid %g : tensor<4x16xf32>
  %s = arith.mulf %g, %sig : tensor<4x16xf32>
  %p = ds.matmul %x, %act : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %m = arith.mulf %s, %p : tensor<4x16xf32>
  %g2 = ds.matmul %x, %wg : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %bgb = ds.broadcast %bg[] : (tensor<16xf32>) -> tensor<4x16xf32>
  %ga = arith.addf %g2, %bgb : tensor<4x16xf32>
  %sig2 = ds.sigmoid %ga : tensor<4x16xf32>
  %s2 = arith.mulf %ga, %sig2 : tensor<4x16xf32>
  %u2 = ds.matmul %x, %wu : (tensor<4x8xf32>, tensor<8x16xf32>) -> tensor<4x16xf32>
  %m2 = arith.mulf %s2, %u2 : tensor<4x16xf32>
  return %m, %m2 : tensor<4x16xf32>, tensor<4x16xf32>
}
