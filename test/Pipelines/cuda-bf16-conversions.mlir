// The CUDA pipeline leaves bf16 conversions inside kernels as conversions
// (NVPTX selects cvt.f32.bf16 / cvt.rn.bf16.f32); only host code expands
// them to integer arithmetic (arith-expand include-bf16, for libgcc's
// missing __truncsfbf2).
// REQUIRES: cuda-toolkit
// RUN: ds-opt %s --ds-compile-pipeline="from=lower to=llvm target=cuda cuda-arch=sm_90" \
// RUN:   --mlir-print-ir-after=convert-gpu-to-nvvm -o /dev/null 2>&1 | FileCheck %s
// CHECK-LABEL: gpu.module
// CHECK: llvm.func @gemv_128x64
// CHECK-NOT: llvm.shl
// CHECK: llvm.fpext %{{.+}} : vector<8xbf16> to vector<8xf32>
// CHECK-NOT: llvm.shl
// CHECK: llvm.fptrunc %{{.+}} : f32 to bf16
func.func @forward(%w: tensor<64x128xbf16> {ds.weight = "w"},
                   %x: tensor<?x64xbf16> {ds.input = "x"}) -> tensor<?x128xbf16>
    attributes {ds.output_names = ["y"]} {
  %y = ds.linear %x, %w : (tensor<?x64xbf16>, tensor<64x128xbf16>) -> tensor<?x128xbf16>
  return %y : tensor<?x128xbf16>
}
