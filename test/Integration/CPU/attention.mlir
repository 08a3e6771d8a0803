// Decomposed attention on the CPU: causal grouped-query attention (4 query
// heads over 2 KV heads) with fewer queries than keys (S = 3, T = 5), a
// per-head boolean mask (one row with no visible key), an additive mask with
// an explicit scale, kv_length over a longer key tensor, and f16 inputs.
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: a float64 numpy loop, independent of the lowering:
//   for every (b, h, i): kh = h // (Hq // Hkv)
//     s = scale * k[b, kh] @ q[b, h, i]              (scale = 1/sqrt(D) by default)
//     visible = (j <= i + T - S if causal) & mask[b, h, i] & (j < kv_length)
//     s += additive_mask[b, h, i] (broadcast)
//     out = softmax(where(visible, s, -inf)) @ v[b, kh]   (0 when nothing is visible)
// The f16 case rounds inputs and the result to float16. Inputs are
// round(sin(0.73 * arange(n) + seed), 2).

func.func @causal_gqa(%q: tensor<?x?x?x?xf32>, %k: tensor<?x?x?x?xf32>, %v: tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32> {
  %0 = ds.attention %q, %k, %v {causal} : (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  return %0 : tensor<?x?x?x?xf32>
}

func.func @bool_mask(%q: tensor<1x4x3x4xf32>, %k: tensor<1x2x5x4xf32>, %v: tensor<1x2x5x3xf32>, %m: tensor<1x4x3x5xi1>) -> tensor<1x4x3x3xf32> {
  %0 = ds.attention %q, %k, %v mask(%m) : (tensor<1x4x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x3xf32>, tensor<1x4x3x5xi1>) -> tensor<1x4x3x3xf32>
  return %0 : tensor<1x4x3x3xf32>
}

func.func @additive_mask(%q: tensor<1x4x?x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x3xf32>, %m: tensor<?x?xf32>) -> tensor<1x4x?x3xf32> {
  %0 = ds.attention %q, %k, %v mask(%m) {scale = 0.5 : f32} : (tensor<1x4x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x3xf32>, tensor<?x?xf32>) -> tensor<1x4x?x3xf32>
  return %0 : tensor<1x4x?x3xf32>
}

func.func @kv_length(%q: tensor<1x4x1x4xf32>, %k: tensor<1x2x?x4xf32>, %v: tensor<1x2x?x3xf32>, %n: tensor<1xi64>) -> tensor<1x4x1x3xf32> {
  %0 = ds.attention %q, %k, %v kv_length(%n) {causal} : (tensor<1x4x1x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x3xf32>, tensor<1xi64>) -> tensor<1x4x1x3xf32>
  return %0 : tensor<1x4x1x3xf32>
}

func.func @causal_f16(%q: tensor<1x4x?x4xf16>, %k: tensor<1x2x?x4xf16>, %v: tensor<1x2x?x3xf16>) -> tensor<1x4x?x3xf16> {
  %0 = ds.attention %q, %k, %v {causal} : (tensor<1x4x?x4xf16>, tensor<1x2x?x4xf16>, tensor<1x2x?x3xf16>) -> tensor<1x4x?x3xf16>
  return %0 : tensor<1x4x?x3xf16>
}

func.func private @printMemrefF32(tensor<*xf32>)

func.func @print(%t: tensor<?x?x?x?xf32>) {
  %m = tensor.collapse_shape %t [[0, 1, 2], [3]] : tensor<?x?x?x?xf32> into tensor<?x?xf32>
  %u = tensor.cast %m : tensor<?x?xf32> to tensor<*xf32>
  call @printMemrefF32(%u) : (tensor<*xf32>) -> ()
  return
}

func.func @main() {
  %q = arith.constant dense<[[[[0.1, 0.74, 1.0, 0.75], [0.12, -0.57, -0.97, -0.88], [-0.34, 0.38, 0.9, 0.96]], [[0.54, -0.16, -0.78, -1.0], [-0.71, -0.06, 0.62, 0.99], [0.85, 0.27, -0.44, -0.93]], [[-0.94, -0.48, 0.23, 0.82], [0.99, 0.66, -0.01, -0.67], [-0.99, -0.81, -0.21, 0.49]], [[0.95, 0.92, 0.42, -0.29], [-0.86, -0.98, -0.61, 0.07], [0.72, 1.0, 0.77, 0.15]]], [[[-0.55, -0.97, -0.89, -0.36], [0.35, 0.89, 0.97, 0.56], [-0.14, -0.76, -1.0, -0.73]], [[-0.08, 0.6, 0.98, 0.86], [0.3, -0.41, -0.92, -0.95], [-0.5, 0.2, 0.8, 1.0]], [[0.68, 0.02, -0.65, -0.99], [-0.82, -0.24, 0.47, 0.94], [0.93, 0.44, -0.27, -0.84]], [[-0.99, -0.63, 0.05, 0.7], [1.0, 0.79, 0.17, -0.53], [-0.96, -0.9, -0.38, 0.33]]]]> : tensor<2x4x3x4xf32>
  %k = arith.constant dense<[[[[0.64, 0.99, 0.83, 0.25], [-0.46, -0.94, -0.93, -0.46], [0.25, 0.83, 0.99, 0.64], [-0.04, -0.69, -1.0, -0.79], [-0.19, 0.52, 0.96, 0.91]], [[0.4, -0.32, -0.87, -0.98], [-0.59, 0.1, 0.74, 1.0], [0.75, 0.12, -0.57, -0.97], [-0.88, -0.34, 0.38, 0.9], [0.96, 0.53, -0.16, -0.78]]], [[[-1.0, -0.71, -0.06, 0.62], [0.99, 0.85, 0.27, -0.44], [-0.93, -0.94, -0.48, 0.23], [0.82, 0.99, 0.66, -0.01], [-0.67, -0.99, -0.81, -0.21]], [[0.49, 0.95, 0.92, 0.42], [-0.29, -0.86, -0.98, -0.61], [0.07, 0.72, 1.0, 0.77], [0.15, -0.55, -0.97, -0.89], [-0.36, 0.35, 0.89, 0.97]]]]> : tensor<2x2x5x4xf32>
  %v = arith.constant dense<[[[[0.96, 0.9, 0.37], [-0.34, -0.88, -0.97], [-0.57, 0.13, 0.76], [1.0, 0.73, 0.09], [-0.59, -0.98, -0.87]], [[-0.31, 0.4, 0.91], [0.95, 0.51, -0.19], [-0.8, -1.0, -0.69], [-0.03, 0.64, 0.99], [0.83, 0.25, -0.46]]], [[[-0.94, -0.93, -0.46], [0.25, 0.83, 0.99], [0.64, -0.04, -0.69], [-1.0, -0.79, -0.18], [0.52, 0.96, 0.91]], [[0.4, -0.32, -0.87], [-0.98, -0.59, 0.1], [0.74, 1.0, 0.75], [0.12, -0.57, -0.97], [-0.88, -0.34, 0.38]]]]> : tensor<2x2x5x3xf32>
  %bm = arith.constant dense<[[[[true, false, true, true, true], [true, true, true, true, true], [true, true, true, true, true]], [[true, true, true, true, true], [true, true, true, true, true], [true, true, true, true, false]], [[true, true, true, true, true], [false, true, true, true, true], [true, true, true, true, true]], [[true, true, true, true, true], [false, false, false, false, false], [true, true, true, true, true]]]]> : tensor<1x4x3x5xi1>
  %am = arith.constant dense<[[0.0, -1.0e+09, 0.5, 0.0, -0.25], [0.1, 0.2, -1.0e+09, 0.0, 0.0], [-1.0e+09, -1.0e+09, 0.0, 1.0, 0.0]]> : tensor<3x5xf32>
  %qd = arith.constant dense<[[[[0.86, 0.31, -0.41, -0.91]], [[-0.95, -0.51, 0.2, 0.8]], [[1.0, 0.69, 0.02, -0.65]], [[-0.99, -0.83, -0.24, 0.46]]]]> : tensor<1x4x1x4xf32>
  %q1 = tensor.extract_slice %q[0, 0, 0, 0] [1, 4, 3, 4] [1, 1, 1, 1] : tensor<2x4x3x4xf32> to tensor<1x4x3x4xf32>
  %k1 = tensor.extract_slice %k[0, 0, 0, 0] [1, 2, 5, 4] [1, 1, 1, 1] : tensor<2x2x5x4xf32> to tensor<1x2x5x4xf32>
  %v1 = tensor.extract_slice %v[0, 0, 0, 0] [1, 2, 5, 3] [1, 1, 1, 1] : tensor<2x2x5x3xf32> to tensor<1x2x5x3xf32>

  %qa = tensor.cast %q : tensor<2x4x3x4xf32> to tensor<?x?x?x?xf32>
  %ka = tensor.cast %k : tensor<2x2x5x4xf32> to tensor<?x?x?x?xf32>
  %va = tensor.cast %v : tensor<2x2x5x3xf32> to tensor<?x?x?x?xf32>
  %0 = call @causal_gqa(%qa, %ka, %va) : (tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>, tensor<?x?x?x?xf32>) -> tensor<?x?x?x?xf32>
  // CHECK-LABEL: sizes = [24, 3]
  // CHECK: {{\[\[}}{{(0.108[0-9]*|0.1081[0-9]*)}}, {{0.3993[0-9]*}}, {{0.480[34][0-9]*}}],
  // CHECK-NEXT: [{{0.361[56][0-9]*}}, {{0.0589[56][0-9]*}}, {{-0.273[23][0-9]*}}],
  // CHECK-NEXT: [{{-0.1339[0-9]*}}, {{-0.1159[0-9]*}}, {{-0.04221[0-9]*}}],
  // CHECK-NEXT: [{{-0.0665[56][0-9]*}}, {{-0.281[12][0-9]*}}, {{(-0.3549[0-9]*|-0.355[0-9]*)}}],
  // CHECK-NEXT: [{{0.1005[0-9]*}}, {{0.2415[0-9]*}}, {{0.2552[0-9]*}}],
  // CHECK-NEXT: [{{0.3087[0-9]*}}, {{0.1554[0-9]*}}, {{-0.0791[12][0-9]*}}],
  // CHECK-NEXT: [{{(0.4849[0-9]*|0.485[0-9]*)}}, {{0.2803[0-9]*}}, {{-0.0665[0-9]*}}],
  // CHECK-NEXT: [{{-0.356[23][0-9]*}}, {{-0.2016[0-9]*}}, {{(0.05779[0-9]*|0.0578[0-9]*)}}],
  // CHECK-NEXT: [{{0.1919[0-9]*}}, {{0.371[12][0-9]*}}, {{(0.364[0-9]*|0.3641[0-9]*)}}],
  // CHECK-NEXT: [{{-0.2345[0-9]*}}, {{(-0.219[0-9]*|-0.2191[0-9]*)}}, {{-0.0906[89][0-9]*}}],
  // CHECK-NEXT: [{{-0.02102[0-9]*}}, {{0.268[56][0-9]*}}, {{0.4245[0-9]*}}],
  // CHECK-NEXT: [{{0.2745[0-9]*}}, {{0.1394[0-9]*}}, {{-0.0660[78][0-9]*}}],
  // CHECK-NEXT: [{{0.01427[0-9]*}}, {{-0.278[0-9]*}}, {{-0.428[45][0-9]*}}],
  // CHECK-NEXT: [{{-0.4428[0-9]*}}, {{-0.217[0-9]*}}, {{0.1181[0-9]*}}],
  // CHECK-NEXT: [{{0.1593[0-9]*}}, {{0.2181[0-9]*}}, {{0.1658[0-9]*}}],
  // CHECK-NEXT: [{{-0.0931[78][0-9]*}}, {{-0.01589[0-9]*}}, {{0.06784[0-9]*}}],
  // CHECK-NEXT: [{{-0.1034[0-9]*}}, {{-0.1129[0-9]*}}, {{-0.0643[56][0-9]*}}],
  // CHECK-NEXT: [{{-0.2706[0-9]*}}, {{-0.2166[0-9]*}}, {{-0.0547[34][0-9]*}}],
  // CHECK-NEXT: [{{-0.335[78][0-9]*}}, {{-0.2437[0-9]*}}, {{-0.02625[0-9]*}}],
  // CHECK-NEXT: [{{0.2436[0-9]*}}, {{0.1318[0-9]*}}, {{-0.0456[0-9]*}}],
  // CHECK-NEXT: [{{(-0.0601[0-9]*|-0.06011[0-9]*)}}, {{-0.2575[0-9]*}}, {{-0.3217[0-9]*}}],
  // CHECK-NEXT: [{{-0.0440[45][0-9]*}}, {{0.03741[0-9]*}}, {{0.101[0-9]*}}],
  // CHECK-NEXT: [{{0.232[45][0-9]*}}, {{-0.0687[89][0-9]*}}, {{-0.3326[0-9]*}}],
  // CHECK-NEXT: [{{-0.3595[0-9]*}}, {{-0.312[34][0-9]*}}, {{-0.1045[0-9]*}}]]
  call @print(%0) : (tensor<?x?x?x?xf32>) -> ()

  %1 = call @bool_mask(%q1, %k1, %v1, %bm) : (tensor<1x4x3x4xf32>, tensor<1x2x5x4xf32>, tensor<1x2x5x3xf32>, tensor<1x4x3x5xi1>) -> tensor<1x4x3x3xf32>
  %r1 = tensor.cast %1 : tensor<1x4x3x3xf32> to tensor<?x?x?x?xf32>
  // CHECK-LABEL: sizes = [12, 3]
  // CHECK: {{\[\[}}{{-0.0617[34][0-9]*}}, {{0.0216[0-9]*}}, {{(0.08959[0-9]*|0.0896[0-9]*)}}],
  // CHECK-NEXT: [{{0.308[56][0-9]*}}, {{0.00109[567][0-9]*}}, {{-0.3065[0-9]*}}],
  // CHECK-NEXT: [{{-0.1339[0-9]*}}, {{-0.1159[0-9]*}}, {{-0.04221[0-9]*}}],
  // CHECK-NEXT: [{{0.332[23][0-9]*}}, {{0.08257[0-9]*}}, {{-0.2096[0-9]*}}],
  // CHECK-NEXT: [{{-0.1449[0-9]*}}, {{-0.1927[0-9]*}}, {{-0.144[78][0-9]*}}],
  // CHECK-NEXT: [{{(0.4119[0-9]*|0.412[0-9]*)}}, {{0.2858[0-9]*}}, {{0.01172[0-9]*}}],
  // CHECK-NEXT: [{{0.294[0-9]*}}, {{0.427[78][0-9]*}}, {{0.3462[0-9]*}}],
  // CHECK-NEXT: [{{0.162[12][0-9]*}}, {{-0.1649[0-9]*}}, {{-0.4085[0-9]*}}],
  // CHECK-NEXT: [{{0.1919[0-9]*}}, {{0.371[12][0-9]*}}, {{(0.364[0-9]*|0.3641[0-9]*)}}],
  // CHECK-NEXT: [{{0.1666[0-9]*}}, {{0.02561[0-9]*}}, {{-0.1281[0-9]*}}],
  // CHECK-NEXT: [{{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{-?(0|[0-9.]+e-[0-9]+)}}],
  // CHECK-NEXT: [{{0.2745[0-9]*}}, {{0.1394[0-9]*}}, {{-0.0660[78][0-9]*}}]]
  call @print(%r1) : (tensor<?x?x?x?xf32>) -> ()

  %q2 = tensor.cast %q1 : tensor<1x4x3x4xf32> to tensor<1x4x?x4xf32>
  %k2 = tensor.cast %k1 : tensor<1x2x5x4xf32> to tensor<1x2x?x4xf32>
  %v2 = tensor.cast %v1 : tensor<1x2x5x3xf32> to tensor<1x2x?x3xf32>
  %am2 = tensor.cast %am : tensor<3x5xf32> to tensor<?x?xf32>
  %2 = call @additive_mask(%q2, %k2, %v2, %am2) : (tensor<1x4x?x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x3xf32>, tensor<?x?xf32>) -> tensor<1x4x?x3xf32>
  %r2 = tensor.cast %2 : tensor<1x4x?x3xf32> to tensor<?x?x?x?xf32>
  // CHECK-LABEL: sizes = [12, 3]
  // CHECK: {{\[\[}}{{-0.1265[0-9]*}}, {{0.104[89][0-9]*}}, {{0.2783[0-9]*}}],
  // CHECK-NEXT: [{{(0.31[0-9]*|0.3101[0-9]*)}}, {{-0.0711[23][0-9]*}}, {{-0.415[34][0-9]*}}],
  // CHECK-NEXT: [{{-0.311[23][0-9]*}}, {{-0.2585[0-9]*}}, {{-0.0748[45][0-9]*}}],
  // CHECK-NEXT: [{{(0.5629[0-9]*|0.563[0-9]*)}}, {{0.5116[0-9]*}}, {{0.198[0-9]*}}],
  // CHECK-NEXT: [{{0.0208[78][0-9]*}}, {{-0.2989[0-9]*}}, {{-0.4685[0-9]*}}],
  // CHECK-NEXT: [{{0.645[78][0-9]*}}, {{0.492[12][0-9]*}}, {{0.0889[45][0-9]*}}],
  // CHECK-NEXT: [{{-0.1362[0-9]*}}, {{0.290[12][0-9]*}}, {{0.5729[0-9]*}}],
  // CHECK-NEXT: [{{0.4106[0-9]*}}, {{0.3626[0-9]*}}, {{0.1303[0-9]*}}],
  // CHECK-NEXT: [{{-0.03906[0-9]*}}, {{0.4819[0-9]*}}, {{0.762[45][0-9]*}}],
  // CHECK-NEXT: [{{-0.164[45][0-9]*}}, {{-0.2376[0-9]*}}, {{-0.189[0-9]*}}],
  // CHECK-NEXT: [{{0.241[0-9]*}}, {{0.4929[0-9]*}}, {{0.4965[0-9]*}}],
  // CHECK-NEXT: [{{0.0975[89][0-9]*}}, {{0.1463[0-9]*}}, {{0.1224[0-9]*}}]]
  call @print(%r2) : (tensor<?x?x?x?xf32>) -> ()

  %n = arith.constant dense<3> : tensor<1xi64>
  %3 = call @kv_length(%qd, %k2, %v2, %n) : (tensor<1x4x1x4xf32>, tensor<1x2x?x4xf32>, tensor<1x2x?x3xf32>, tensor<1xi64>) -> tensor<1x4x1x3xf32>
  %r3 = tensor.cast %3 : tensor<1x4x1x3xf32> to tensor<?x?x?x?xf32>
  // CHECK-LABEL: sizes = [4, 3]
  // CHECK: {{\[\[}}{{0.103[56][0-9]*}}, {{0.07015[0-9]*}}, {{(-0.00386[0-9]*|-0.003861[0-9]*|-0.003862[0-9]*)}}],
  // CHECK-NEXT: [{{-0.1136[0-9]*}}, {{-0.1037[0-9]*}}, {{-0.04432[0-9]*}}],
  // CHECK-NEXT: [{{-0.3842[0-9]*}}, {{-0.2875[0-9]*}}, {{(-0.04269[0-9]*|-0.0427[0-9]*)}}],
  // CHECK-NEXT: [{{0.243[12][0-9]*}}, {{0.1825[0-9]*}}, {{0.0300[45][0-9]*}}]]
  call @print(%r3) : (tensor<?x?x?x?xf32>) -> ()

  %q16 = arith.truncf %q2 : tensor<1x4x?x4xf32> to tensor<1x4x?x4xf16>
  %k16 = arith.truncf %k2 : tensor<1x2x?x4xf32> to tensor<1x2x?x4xf16>
  %v16 = arith.truncf %v2 : tensor<1x2x?x3xf32> to tensor<1x2x?x3xf16>
  %4 = call @causal_f16(%q16, %k16, %v16) : (tensor<1x4x?x4xf16>, tensor<1x2x?x4xf16>, tensor<1x2x?x3xf16>) -> tensor<1x4x?x3xf16>
  %e4 = arith.extf %4 : tensor<1x4x?x3xf16> to tensor<1x4x?x3xf32>
  %r4 = tensor.cast %e4 : tensor<1x4x?x3xf32> to tensor<?x?x?x?xf32>
  // CHECK-LABEL: sizes = [12, 3]
  // CHECK: {{\[\[}}{{0.108[0-9]*}}, {{0.399[0-9]*}}, {{0.48[0-9]*}}],
  // CHECK-NEXT: [{{0.361[0-9]*}}, {{0.0589[0-9]*}}, {{-0.273[0-9]*}}],
  // CHECK-NEXT: [{{-0.133[0-9]*}}, {{-0.115[0-9]*}}, {{-0.042[23][0-9]*}}],
  // CHECK-NEXT: [{{-0.066[56][0-9]*}}, {{-0.281[0-9]*}}, {{-0.355[0-9]*}}],
  // CHECK-NEXT: [{{0.1[0-9]*}}, {{0.241[0-9]*}}, {{0.25[45][0-9]*}}],
  // CHECK-NEXT: [{{0.308[0-9]*}}, {{0.155[0-9]*}}, {{-0.079[12][0-9]*}}],
  // CHECK-NEXT: [{{0.48[45][0-9]*}}, {{(0.279[0-9]*|0.28[0-9]*)}}, {{-0.066[34][0-9]*}}],
  // CHECK-NEXT: [{{-0.356[0-9]*}}, {{-0.201[0-9]*}}, {{0.0578[0-9]*}}],
  // CHECK-NEXT: [{{0.19[12][0-9]*}}, {{0.371[0-9]*}}, {{0.364[0-9]*}}],
  // CHECK-NEXT: [{{-0.234[0-9]*}}, {{-0.219[0-9]*}}, {{-0.090[56][0-9]*}}],
  // CHECK-NEXT: [{{(-0.0209[0-9]*|-0.021[0-9]*)}}, {{0.268[0-9]*}}, {{0.42[45][0-9]*}}],
  // CHECK-NEXT: [{{0.274[0-9]*}}, {{0.139[0-9]*}}, {{-0.066[0-9]*}}]]
  call @print(%r4) : (tensor<?x?x?x?xf32>) -> ()
  return
}
