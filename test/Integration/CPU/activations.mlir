// GELU (erf and tanh forms), SiLU, SwiGLU and sigmoid on the CPU, with
// dynamic shapes, and GELU on bf16 (computed in f32, rounded once).
// RUN: ds-opt %s --ds-lower-to-linalg %ds_linalg_to_llvm \
// RUN: | mlir-runner -e main -entry-point-result=void \
// RUN:     -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils \
// RUN: | FileCheck %s

// Expected values: numpy float64 on x = [-3, -1, -0.5, 0, 0.5, 1, 2, 3]:
//   gelu      0.5*x*(1+erf(x/sqrt(2)))            (math.erf per element)
//   gelu_tanh 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x**3)))
//   silu      x/(1+exp(-x)),  sigmoid 1/(1+exp(-x))
//   swiglu    silu(x[..., :F]) * x[..., F:]
// The 3x8 input is round(3*sin(0.73*arange(24) + 0.4), 2); the bf16 result
// is the float64 value rounded to bf16.

func.func @gelu(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ds.gelu %x : tensor<?xf32>
  return %0 : tensor<?xf32>
}

func.func @gelu_tanh(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ds.gelu %x approximation = tanh : tensor<?xf32>
  return %0 : tensor<?xf32>
}

func.func @silu(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ds.silu %x : tensor<?xf32>
  return %0 : tensor<?xf32>
}

func.func @sigmoid(%x: tensor<?xf32>) -> tensor<?xf32> {
  %0 = ds.sigmoid %x : tensor<?xf32>
  return %0 : tensor<?xf32>
}

func.func @swiglu(%x: tensor<?x?xf32>) -> tensor<?x?xf32> {
  %0 = ds.swiglu %x : (tensor<?x?xf32>) -> tensor<?x?xf32>
  return %0 : tensor<?x?xf32>
}

func.func @gelu_bf16(%x: tensor<8xbf16>) -> tensor<8xbf16> {
  %0 = ds.gelu %x : tensor<8xbf16>
  return %0 : tensor<8xbf16>
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
  %c = arith.constant dense<[-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0]> : tensor<8xf32>
  %x = tensor.cast %c : tensor<8xf32> to tensor<?xf32>
  %c2 = arith.constant dense<[[1.17, 2.71, 2.88, 1.57, -0.53, -2.37, -2.99, -2.1], [-0.13, 1.9, 2.96, 2.52, 0.79, -1.35, -2.79, -2.81], [-1.4, 0.72, 2.48, 2.97, 1.95, -0.07, -2.05, -2.99]]> : tensor<3x8xf32>
  %x2 = tensor.cast %c2 : tensor<3x8xf32> to tensor<?x?xf32>

  // CHECK: [{{(-0.004048[0-9]*|-0.004049[0-9]*|-0.00405[0-9]*)}}, {{-0.1586[0-9]*}}, {{-0.1542[0-9]*}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{0.3457[0-9]*}}, {{0.8413[0-9]*}}, {{1.954[0-9]*}}, {{2.99[56][0-9]*}}]
  %0 = call @gelu(%x) : (tensor<?xf32>) -> tensor<?xf32>
  call @print1(%0) : (tensor<?xf32>) -> ()
  // CHECK: [{{-0.00363[678][0-9]*}}, {{-0.1588[0-9]*}}, {{-0.1542[0-9]*}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{0.345[67][0-9]*}}, {{0.841[12][0-9]*}}, {{1.954[0-9]*}}, {{2.996[0-9]*}}]
  %1 = call @gelu_tanh(%x) : (tensor<?xf32>) -> tensor<?xf32>
  call @print1(%1) : (tensor<?xf32>) -> ()
  // CHECK: [{{-0.1422[0-9]*}}, {{-0.2689[0-9]*}}, {{-0.1887[0-9]*}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{0.3112[0-9]*}}, {{0.731[0-9]*}}, {{1.761[0-9]*}}, {{2.857[0-9]*}}]
  %2 = call @silu(%x) : (tensor<?xf32>) -> tensor<?xf32>
  call @print1(%2) : (tensor<?xf32>) -> ()
  // CHECK: [{{0.04742[0-9]*}}, {{0.2689[0-9]*}}, {{0.3775[0-9]*}}, {{(0.4999[0-9]*|0.5[0-9]*)}}, {{0.6224[0-9]*}}, {{0.731[0-9]*}}, {{0.880[78][0-9]*}}, {{0.952[56][0-9]*}}]
  %3 = call @sigmoid(%x) : (tensor<?xf32>) -> tensor<?xf32>
  call @print1(%3) : (tensor<?xf32>) -> ()
  // CHECK-LABEL: sizes = [3, 4]
  // CHECK-NEXT: {{\[\[}}{{-0.4732[0-9]*}}, {{-6.02[12][0-9]*}}, {{-8.153[0-9]*}}, {{-2.729[0-9]*}}],
  // CHECK-NEXT: [{{-0.04801[0-9]*}}, {{-2.231[0-9]*}}, {{-7.851[0-9]*}}, {{-6.55[34][0-9]*}}],
  // CHECK-NEXT: [{{-0.54[0-9]*}}, {{(-0.03389[0-9]*|-0.0339[0-9]*)}}, {{(-4.69[0-9]*|-4.691[0-9]*)}}, {{-8.44[67][0-9]*}}]]
  %4 = call @swiglu(%x2) : (tensor<?x?xf32>) -> tensor<?x?xf32>
  call @print2(%4) : (tensor<?x?xf32>) -> ()
  // CHECK: [{{-0.0040[56][0-9]*}}, {{-0.158[0-9]*}}, {{-0.154[0-9]*}}, {{-?(0|[0-9.]+e-[0-9]+)}}, {{0.345[0-9]*}}, {{(0.839[0-9]*|0.84[0-9]*)}}, {{1.95[0-9]*}}, {{(2.99[0-9]*|3(.[0-9]*)?)}}]
  %b = arith.truncf %c : tensor<8xf32> to tensor<8xbf16>
  %5 = call @gelu_bf16(%b) : (tensor<8xbf16>) -> tensor<8xbf16>
  %e5 = arith.extf %5 : tensor<8xbf16> to tensor<8xf32>
  %d5 = tensor.cast %e5 : tensor<8xf32> to tensor<?xf32>
  call @print1(%d5) : (tensor<?xf32>) -> ()
  return
}
