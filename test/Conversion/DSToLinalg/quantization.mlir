// RUN: ds-opt %s --ds-lower-to-linalg -split-input-file | FileCheck %s

// Symmetric int4 per-group quantization of f16: the scale is indexed by
// d1 floordiv group_size; round half to even, saturate to [-8, 7] and
// convert signed.
// CHECK-DAG: #[[$ID:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$GROUP:.+]] = affine_map<(d0, d1) -> (d0, d1 floordiv 128)>
// CHECK-LABEL: func @quantize_int4_group
// CHECK-SAME: (%[[W:.+]]: tensor<64x256xf16>, %[[S:.+]]: tensor<64x2xf16>)
// CHECK: linalg.generic {indexing_maps = [#[[$ID]], #[[$GROUP]], #[[$ID]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME: ins(%[[W]], %[[S]] : tensor<64x256xf16>, tensor<64x2xf16>) outs(%{{.+}} : tensor<64x256xi4>)
// CHECK: %[[X:.+]] = arith.extf %{{.+}} : f16 to f32
// CHECK: %[[SC:.+]] = arith.extf %{{.+}} : f16 to f32
// CHECK: %[[D:.+]] = arith.divf %[[X]], %[[SC]] : f32
// CHECK: %[[R:.+]] = math.roundeven %[[D]] : f32
// CHECK: %[[LO:.+]] = arith.constant -8.000000e+00 : f32
// CHECK: %[[C1:.+]] = arith.maxnumf %[[R]], %[[LO]] : f32
// CHECK: %[[HI:.+]] = arith.constant 7.000000e+00 : f32
// CHECK: %[[C2:.+]] = arith.minnumf %[[C1]], %[[HI]] : f32
// CHECK: arith.fptosi %[[C2]] : f32 to i4
func.func @quantize_int4_group(%w: tensor<64x256xf16>, %s: tensor<64x2xf16>) -> tensor<64x256xi4> {
  %q = ds.quantize %w, %s {quant = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 128, scale_type = f16>} : (tensor<64x256xf16>, tensor<64x2xf16>) -> tensor<64x256xi4>
  return %q : tensor<64x256xi4>
}

// -----

// Asymmetric uint8 per-tensor with a rank-0 scale and zero point: the zero
// point is read unsigned, the range is [0, 255] and the result unsigned.
// CHECK-DAG: #[[$SCALAR:.+]] = affine_map<(d0, d1) -> ()>
// CHECK-LABEL: func @quantize_uint8_tensor
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$SCALAR]], #[[$SCALAR]], #{{.+}}]
// CHECK: math.roundeven
// CHECK: %[[ZP:.+]] = arith.uitofp %{{.+}} : i8 to f32
// CHECK: arith.addf %{{.+}}, %[[ZP]] : f32
// CHECK: arith.constant 0.000000e+00 : f32
// CHECK: arith.constant 2.550000e+02 : f32
// CHECK: arith.fptoui %{{.+}} : f32 to i8
func.func @quantize_uint8_tensor(%x: tensor<?x?xf32>, %s: tensor<f32>, %zp: tensor<i8>) -> tensor<?x?xi8> {
  %q = ds.quantize %x, %s, %zp {quant = #ds.quant<bits = 8, scheme = asymmetric, granularity = per_tensor, group_size = 0, scale_type = f32>} : (tensor<?x?xf32>, tensor<f32>, tensor<i8>) -> tensor<?x?xi8>
  return %q : tensor<?x?xi8>
}

// -----

// Symmetric int8 per-channel dequantization to bf16: (float(q)) * scale,
// with the scale's last dimension sent to 0.
// CHECK-DAG: #[[$CHAN:.+]] = affine_map<(d0, d1) -> (d0, 0)>
// CHECK-LABEL: func @dequantize_int8_channel
// CHECK: linalg.generic {indexing_maps = [#{{.+}}, #[[$CHAN]], #{{.+}}]
// CHECK-SAME: outs(%{{.+}} : tensor<?x768xbf16>)
// CHECK: %[[Q:.+]] = arith.sitofp %{{.+}} : i8 to f32
// CHECK: %[[S:.+]] = arith.extf %{{.+}} : bf16 to f32
// CHECK: %[[X:.+]] = arith.mulf %[[Q]], %[[S]] : f32
// CHECK: arith.truncf %[[X]] : f32 to bf16
func.func @dequantize_int8_channel(%q: tensor<?x768xi8>, %s: tensor<?x1xbf16>) -> tensor<?x768xbf16> {
  %x = ds.dequantize %q, %s {quant = #ds.quant<bits = 8, scheme = symmetric, granularity = per_channel, group_size = 0, scale_type = bf16>} : (tensor<?x768xi8>, tensor<?x1xbf16>) -> tensor<?x768xbf16>
  return %x : tensor<?x768xbf16>
}

// -----

// Asymmetric uint4 dequantization subtracts the unsigned zero point.
// CHECK-LABEL: func @dequantize_uint4_group
// CHECK: %[[Q:.+]] = arith.uitofp %{{.+}} : i4 to f32
// CHECK: %[[ZP:.+]] = arith.uitofp %{{.+}} : i4 to f32
// CHECK: %[[D:.+]] = arith.subf %[[Q]], %[[ZP]] : f32
// CHECK: arith.mulf %[[D]], %{{.+}} : f32
func.func @dequantize_uint4_group(%q: tensor<8x64xi4>, %s: tensor<8x2xf32>, %zp: tensor<8x2xi4>) -> tensor<8x64xf32> {
  %x = ds.dequantize %q, %s, %zp {quant = #ds.quant<bits = 4, scheme = asymmetric, granularity = per_group, group_size = 32, scale_type = f32>} : (tensor<8x64xi4>, tensor<8x2xf32>, tensor<8x2xi4>) -> tensor<8x64xf32>
  return %x : tensor<8x64xf32>
}
