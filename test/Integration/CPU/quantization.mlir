// ds.quantize -> ds.dequantize round trips on the CPU: symmetric int8
// per-channel, asymmetric uint8 per-tensor with a zero point (saturating at
// both ends), symmetric int4 per-group (saturating), ties rounding half to
// even, and f16 with f16 scales. Prints the integers, then the round trip.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy float64 with np.round (round half to even):
//   q = clip(round(x / scale) + zp, lo, hi),  x' = (q - zp) * scale
// with [lo, hi] = [-2^(b-1), 2^(b-1) - 1] for symmetric schemes and
// [0, 2^b - 1] for asymmetric ones (integers read as unsigned). Per-channel
// scales are max|row| / 127; per-group scales are given. Inputs are
// round(k*sin(0.73*arange(n) + seed), 2).

#int8_channel = #ds.quant<bits = 8, scheme = symmetric, granularity = per_channel, group_size = 0, scale_type = f32>
#uint8_tensor = #ds.quant<bits = 8, scheme = asymmetric, granularity = per_tensor, group_size = 0, scale_type = f32>
#int4_group = #ds.quant<bits = 4, scheme = symmetric, granularity = per_group, group_size = 4, scale_type = f32>
#int8_tensor = #ds.quant<bits = 8, scheme = symmetric, granularity = per_tensor, group_size = 0, scale_type = f32>
#int8_channel_f16 = #ds.quant<bits = 8, scheme = symmetric, granularity = per_channel, group_size = 0, scale_type = f16>

func.func @int8_channel(%w: tensor<?x8xf32>, %s: tensor<?x1xf32>) -> (tensor<?x8xi8>, tensor<?x8xf32>) {
  %q = ds.quantize %w, %s {quant = #int8_channel} : (tensor<?x8xf32>, tensor<?x1xf32>) -> tensor<?x8xi8>
  %d = ds.dequantize %q, %s {quant = #int8_channel} : (tensor<?x8xi8>, tensor<?x1xf32>) -> tensor<?x8xf32>
  return %q, %d : tensor<?x8xi8>, tensor<?x8xf32>
}

func.func @uint8_tensor(%x: tensor<?x?xf32>, %s: tensor<f32>, %zp: tensor<i8>) -> (tensor<?x?xi8>, tensor<?x?xf32>) {
  %q = ds.quantize %x, %s, %zp {quant = #uint8_tensor} : (tensor<?x?xf32>, tensor<f32>, tensor<i8>) -> tensor<?x?xi8>
  %d = ds.dequantize %q, %s, %zp {quant = #uint8_tensor} : (tensor<?x?xi8>, tensor<f32>, tensor<i8>) -> tensor<?x?xf32>
  return %q, %d : tensor<?x?xi8>, tensor<?x?xf32>
}

func.func @int4_group(%w: tensor<2x8xf32>, %s: tensor<2x2xf32>) -> (tensor<2x8xi4>, tensor<2x8xf32>) {
  %q = ds.quantize %w, %s {quant = #int4_group} : (tensor<2x8xf32>, tensor<2x2xf32>) -> tensor<2x8xi4>
  %d = ds.dequantize %q, %s {quant = #int4_group} : (tensor<2x8xi4>, tensor<2x2xf32>) -> tensor<2x8xf32>
  return %q, %d : tensor<2x8xi4>, tensor<2x8xf32>
}

func.func @ties(%x: tensor<?xf32>, %s: tensor<1xf32>) -> tensor<?xi8> {
  %q = ds.quantize %x, %s {quant = #int8_tensor} : (tensor<?xf32>, tensor<1xf32>) -> tensor<?xi8>
  return %q : tensor<?xi8>
}

func.func @f16_channel(%w: tensor<3x8xf16>, %s: tensor<3x1xf16>) -> (tensor<3x8xi8>, tensor<3x8xf16>) {
  %q = ds.quantize %w, %s {quant = #int8_channel_f16} : (tensor<3x8xf16>, tensor<3x1xf16>) -> tensor<3x8xi8>
  %d = ds.dequantize %q, %s {quant = #int8_channel_f16} : (tensor<3x8xi8>, tensor<3x1xf16>) -> tensor<3x8xf16>
  return %q, %d : tensor<3x8xi8>, tensor<3x8xf16>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print1(%t: tensor<?xf32>) {
  %u = tensor.cast %t : tensor<?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @print2(%t: tensor<?x?xf32>) {
  %u = tensor.cast %t : tensor<?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  // CHECK-LABEL: sizes = [3, 8]
  // CHECK-NEXT: {{\[\[}}{{(61.99[0-9]*|62(.[0-9]*)?)}}, {{(120.9[0-9]*|121(.[0-9]*)?)}}, {{(118.9[0-9]*|119(.[0-9]*)?)}}, {{(55.99[0-9]*|56(.[0-9]*)?)}}, {{(-34.99[0-9]*|-35(.[0-9]*)?)}}, {{(-108.9[0-9]*|-109(.[0-9]*)?)}}, {{(-126.9[0-9]*|-127(.[0-9]*)?)}}, {{(-80.99[0-9]*|-81(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(89.99[0-9]*|90(.[0-9]*)?)}}, {{(126.9[0-9]*|127(.[0-9]*)?)}}, {{(98.99[0-9]*|99(.[0-9]*)?)}}, {{(20.99[0-9]*|21(.[0-9]*)?)}}, {{(-67.99[0-9]*|-68(.[0-9]*)?)}}, {{(-121.9[0-9]*|-122(.[0-9]*)?)}}, {{(-113.9[0-9]*|-114(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(-47.99[0-9]*|-48(.[0-9]*)?)}}, {{(42.99[0-9]*|43(.[0-9]*)?)}}, {{(111.9[0-9]*|112(.[0-9]*)?)}}, {{(123.9[0-9]*|124(.[0-9]*)?)}}, {{(71.99[0-9]*|72(.[0-9]*)?)}}, {{(-14.99[0-9]*|-15(.[0-9]*)?)}}, {{(-95.99[0-9]*|-96(.[0-9]*)?)}}, {{(-126.9[0-9]*|-127(.[0-9]*)?)}}]]
  // CHECK-LABEL: sizes = [3, 8]
  // CHECK-NEXT: {{\[\[}}{{0.961[67][0-9]*}}, {{1.87[67][0-9]*}}, {{1.84[56][0-9]*}}, {{0.868[67][0-9]*}}, {{-0.542[89][0-9]*}}, {{-1.69[0-9]*}}, {{(-1.969[0-9]*|-1.97[0-9]*)}}, {{-1.256[0-9]*}}],
  // CHECK-NEXT: [{{0.1102[0-9]*}}, {{1.417[0-9]*}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}, {{1.55[89][0-9]*}}, {{0.330[67][0-9]*}}, {{-1.07[0-9]*}}, {{-1.921[0-9]*}}, {{-1.795[0-9]*}}],
  // CHECK-NEXT: [{{-0.755[89][0-9]*}}, {{0.6771[0-9]*}}, {{1.763[0-9]*}}, {{1.952[0-9]*}}, {{1.133[0-9]*}}, {{-0.2362[0-9]*}}, {{-1.511[0-9]*}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}]]
  %w = arith.constant dense<[[0.96, 1.88, 1.85, 0.87, -0.55, -1.69, -1.97, -1.25], [0.11, 1.42, 2.0, 1.56, 0.33, -1.07, -1.92, -1.8], [-0.75, 0.67, 1.76, 1.95, 1.14, -0.24, -1.51, -2.0]]> : tensor<3x8xf32>
  %s = arith.constant dense<[[0.015511812], [0.015748031], [0.015748031]]> : tensor<3x1xf32>
  %wd = tensor.cast %w : tensor<3x8xf32> to tensor<?x8xf32>
  %sd = tensor.cast %s : tensor<3x1xf32> to tensor<?x1xf32>
  %0:2 = call @int8_channel(%wd, %sd) : (tensor<?x8xf32>, tensor<?x1xf32>) -> (tensor<?x8xi8>, tensor<?x8xf32>)
  %q0 = arith.sitofp %0#0 : tensor<?x8xi8> to tensor<?x8xf32>
  %q0d = tensor.cast %q0 : tensor<?x8xf32> to tensor<?x?xf32>
  call @print2(%q0d) : (tensor<?x?xf32>) -> ()
  %d0 = tensor.cast %0#1 : tensor<?x8xf32> to tensor<?x?xf32>
  call @print2(%d0) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [2, 4]
  // CHECK-NEXT: {{\[\[}}{{-?(0|[0-9.]+e-[0-9]+)}}, {{(69.99[0-9]*|70(.[0-9]*)?)}}, {{(100(.[0-9]*)?|99.99[0-9]*)}}, {{(124.9[0-9]*|125(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(169.9[0-9]*|170(.[0-9]*)?)}}, {{(229.9[0-9]*|230(.[0-9]*)?)}}, {{(254.9[0-9]*|255(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}]]
  // CHECK-LABEL: sizes = [2, 4]
  // CHECK-NEXT: {{\[\[}}{{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(-0.2999[0-9]*|-0.3[0-9]*)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{(0.2499[0-9]*|0.25[0-9]*)}}],
  // CHECK-NEXT: [{{(0.6999[0-9]*|0.7[0-9]*)}}, {{(1.299[0-9]*|1.3[0-9]*)}}, {{(1.549[0-9]*|1.55[0-9]*)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}]]
  %x = arith.constant dense<[[-1.0, -0.3, 0.0, 0.25], [0.7, 1.3, 2.9, -3.5]]> : tensor<2x4xf32>
  %xd = tensor.cast %x : tensor<2x4xf32> to tensor<?x?xf32>
  %sa = arith.constant dense<0.01> : tensor<f32>
  %zp = arith.constant dense<100> : tensor<i8>
  %1:2 = call @uint8_tensor(%xd, %sa, %zp) : (tensor<?x?xf32>, tensor<f32>, tensor<i8>) -> (tensor<?x?xi8>, tensor<?x?xf32>)
  %q1 = arith.uitofp %1#0 : tensor<?x?xi8> to tensor<?x?xf32>
  call @print2(%q1) : (tensor<?x?xf32>) -> ()
  call @print2(%1#1) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [2, 8]
  // CHECK-NEXT: {{\[\[}}{{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(-7.999[0-9]*|-8(.[0-9]*)?)}}, {{(-7.999[0-9]*|-8(.[0-9]*)?)}}, {{(-5.999[0-9]*|-6(.[0-9]*)?)}}, {{(-0.9999[0-9]*|-1(.[0-9]*)?)}}, {{(3.999[0-9]*|4(.[0-9]*)?)}}, {{(6.999[0-9]*|7(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(4.999[0-9]*|5(.[0-9]*)?)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-4.999[0-9]*|-5(.[0-9]*)?)}}, {{(-7.999[0-9]*|-8(.[0-9]*)?)}}, {{(-7.999[0-9]*|-8(.[0-9]*)?)}}, {{(4.999[0-9]*|5(.[0-9]*)?)}}, {{(6.999[0-9]*|7(.[0-9]*)?)}}]]
  // CHECK-LABEL: sizes = [2, 8]
  // CHECK-NEXT: {{\[\[}}{{(0.6999[0-9]*|0.7[0-9]*)}}, {{(-0.09999[0-9]*|-0.1[0-9]*)}}, {{(-0.7999[0-9]*|-0.8[0-9]*)}}, {{(-0.7999[0-9]*|-0.8[0-9]*)}}, {{(-1.199[0-9]*|-1.2[0-9]*)}}, {{(-0.1999[0-9]*|-0.2[0-9]*)}}, {{(0.7999[0-9]*|0.8[0-9]*)}}, {{(1.399[0-9]*|1.4[0-9]*)}}],
  // CHECK-NEXT: [{{(1.249[0-9]*|1.25[0-9]*)}}, {{(0.4999[0-9]*|0.5[0-9]*)}}, {{(-0.4999[0-9]*|-0.5[0-9]*)}}, {{(-1.249[0-9]*|-1.25[0-9]*)}}, {{(-0.3999[0-9]*|-0.4[0-9]*)}}, {{(-0.3999[0-9]*|-0.4[0-9]*)}}, {{(0.2499[0-9]*|0.25[0-9]*)}}, {{(0.3499[0-9]*|0.35[0-9]*)}}]]
  %wg = arith.constant dense<[[0.9, -0.13, -1.1, -1.5, -1.14, -0.2, 0.84, 1.46], [1.33, 0.52, -0.55, -1.34, -1.45, -0.82, 0.23, 1.16]]> : tensor<2x8xf32>
  %sg = arith.constant dense<[[0.1, 0.2], [0.25, 0.05]]> : tensor<2x2xf32>
  %2:2 = call @int4_group(%wg, %sg) : (tensor<2x8xf32>, tensor<2x2xf32>) -> (tensor<2x8xi4>, tensor<2x8xf32>)
  %q2 = arith.sitofp %2#0 : tensor<2x8xi4> to tensor<2x8xf32>
  %q2d = tensor.cast %q2 : tensor<2x8xf32> to tensor<?x?xf32>
  call @print2(%q2d) : (tensor<?x?xf32>) -> ()
  %d2 = tensor.cast %2#1 : tensor<2x8xf32> to tensor<?x?xf32>
  call @print2(%d2) : (tensor<?x?xf32>) -> ()

  // CHECK-LABEL: sizes = [8]
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}, {{(1.999[0-9]*|2(.[0-9]*)?)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(-1.999[0-9]*|-2(.[0-9]*)?)}}, {{(3.999[0-9]*|4(.[0-9]*)?)}}, {{(125.9[0-9]*|126(.[0-9]*)?)}}]
  %t = arith.constant dense<[0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 126.5]> : tensor<8xf32>
  %td = tensor.cast %t : tensor<8xf32> to tensor<?xf32>
  %one = arith.constant dense<1.0> : tensor<1xf32>
  %3 = call @ties(%td, %one) : (tensor<?xf32>, tensor<1xf32>) -> tensor<?xi8>
  %q3 = arith.sitofp %3 : tensor<?xi8> to tensor<?xf32>
  call @print1(%q3) : (tensor<?xf32>) -> ()

  // CHECK-LABEL: sizes = [3, 8]
  // CHECK-NEXT: {{\[\[}}{{(61.99[0-9]*|62(.[0-9]*)?)}}, {{(120.9[0-9]*|121(.[0-9]*)?)}}, {{(118.9[0-9]*|119(.[0-9]*)?)}}, {{(55.99[0-9]*|56(.[0-9]*)?)}}, {{(-34.99[0-9]*|-35(.[0-9]*)?)}}, {{(-108.9[0-9]*|-109(.[0-9]*)?)}}, {{(-126.9[0-9]*|-127(.[0-9]*)?)}}, {{(-80.99[0-9]*|-81(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(6.999[0-9]*|7(.[0-9]*)?)}}, {{(89.99[0-9]*|90(.[0-9]*)?)}}, {{(126.9[0-9]*|127(.[0-9]*)?)}}, {{(98.99[0-9]*|99(.[0-9]*)?)}}, {{(20.99[0-9]*|21(.[0-9]*)?)}}, {{(-67.99[0-9]*|-68(.[0-9]*)?)}}, {{(-121.9[0-9]*|-122(.[0-9]*)?)}}, {{(-113.9[0-9]*|-114(.[0-9]*)?)}}],
  // CHECK-NEXT: [{{(-47.99[0-9]*|-48(.[0-9]*)?)}}, {{(42.99[0-9]*|43(.[0-9]*)?)}}, {{(111.9[0-9]*|112(.[0-9]*)?)}}, {{(123.9[0-9]*|124(.[0-9]*)?)}}, {{(71.99[0-9]*|72(.[0-9]*)?)}}, {{(-14.99[0-9]*|-15(.[0-9]*)?)}}, {{(-95.99[0-9]*|-96(.[0-9]*)?)}}, {{(-126.9[0-9]*|-127(.[0-9]*)?)}}]]
  // CHECK-LABEL: sizes = [3, 8]
  // CHECK-NEXT: {{\[\[}}{{(0.96[0-9]*|0.961[0-9]*)}}, {{1.87[0-9]*}}, {{1.84[0-9]*}}, {{0.86[89][0-9]*}}, {{-0.54[23][0-9]*}}, {{-1.6[89][0-9]*}}, {{-1.9[67][0-9]*}}, {{-1.25[0-9]*}}],
  // CHECK-NEXT: [{{0.11[0-9]*}}, {{1.41[0-9]*}}, {{(1.99[0-9]*|2(.[0-9]*)?)}}, {{1.55[0-9]*}}, {{0.33[0-9]*}}, {{-1.0[67][0-9]*}}, {{-1.9[12][0-9]*}}, {{-1.79[0-9]*}}],
  // CHECK-NEXT: [{{-0.75[56][0-9]*}}, {{0.67[67][0-9]*}}, {{1.76[0-9]*}}, {{1.95[0-9]*}}, {{1.13[0-9]*}}, {{-0.236[0-9]*}}, {{-1.51[0-9]*}}, {{(-1.99[0-9]*|-2(.[0-9]*)?)}}]]
  %w16 = arith.truncf %w : tensor<3x8xf32> to tensor<3x8xf16>
  %s16 = arith.truncf %s : tensor<3x1xf32> to tensor<3x1xf16>
  %4:2 = call @f16_channel(%w16, %s16) : (tensor<3x8xf16>, tensor<3x1xf16>) -> (tensor<3x8xi8>, tensor<3x8xf16>)
  %q4 = arith.sitofp %4#0 : tensor<3x8xi8> to tensor<3x8xf32>
  %q4d = tensor.cast %q4 : tensor<3x8xf32> to tensor<?x?xf32>
  call @print2(%q4d) : (tensor<?x?xf32>) -> ()
  %e4 = arith.extf %4#1 : tensor<3x8xf16> to tensor<3x8xf32>
  %d4 = tensor.cast %e4 : tensor<3x8xf32> to tensor<?x?xf32>
  call @print2(%d4) : (tensor<?x?xf32>) -> ()
  return
}
