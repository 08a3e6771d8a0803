// A GPT-2 style decoder block (d_model 768, 12 heads) in the ds dialect,
// with a dynamic sequence length: the built-in model of the quick start
// until the ONNX importer lands.
func.func @gpt2_block(
    %x: tensor<1x?x768xf32>,
    %ln1_g: tensor<768xf32>, %ln1_b: tensor<768xf32>,
    %wq: tensor<768x768xf32>, %wk: tensor<768x768xf32>, %wv: tensor<768x768xf32>,
    %bq: tensor<768xf32>, %bk: tensor<768xf32>, %bv: tensor<768xf32>,
    %wo: tensor<768x768xf32>, %bo: tensor<768xf32>,
    %ln2_g: tensor<768xf32>, %ln2_b: tensor<768xf32>,
    %w1: tensor<768x3072xf32>, %b1: tensor<3072xf32>,
    %w2: tensor<3072x768xf32>, %b2: tensor<768xf32>) -> tensor<1x?x768xf32> {
  %c1 = arith.constant 1 : index
  %seq = tensor.dim %x, %c1 : tensor<1x?x768xf32>

  // Attention sub-block.
  %h = ds.layer_norm %x, %ln1_g, %ln1_b : (tensor<1x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %q = ds.linear %h, %wq bias(%bq) : (tensor<1x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %k = ds.linear %h, %wk bias(%bk) : (tensor<1x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %v = ds.linear %h, %wv bias(%bv) : (tensor<1x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %q4 = tensor.expand_shape %q [[0], [1], [2, 3]] output_shape [1, %seq, 12, 64] : tensor<1x?x768xf32> into tensor<1x?x12x64xf32>
  %k4 = tensor.expand_shape %k [[0], [1], [2, 3]] output_shape [1, %seq, 12, 64] : tensor<1x?x768xf32> into tensor<1x?x12x64xf32>
  %v4 = tensor.expand_shape %v [[0], [1], [2, 3]] output_shape [1, %seq, 12, 64] : tensor<1x?x768xf32> into tensor<1x?x12x64xf32>
  %e = tensor.empty(%seq) : tensor<1x12x?x64xf32>
  %qh = linalg.transpose ins(%q4 : tensor<1x?x12x64xf32>) outs(%e : tensor<1x12x?x64xf32>) permutation = [0, 2, 1, 3]
  %kh = linalg.transpose ins(%k4 : tensor<1x?x12x64xf32>) outs(%e : tensor<1x12x?x64xf32>) permutation = [0, 2, 1, 3]
  %vh = linalg.transpose ins(%v4 : tensor<1x?x12x64xf32>) outs(%e : tensor<1x12x?x64xf32>) permutation = [0, 2, 1, 3]
  %o = ds.attention %qh, %kh, %vh {causal} : (tensor<1x12x?x64xf32>, tensor<1x12x?x64xf32>, tensor<1x12x?x64xf32>) -> tensor<1x12x?x64xf32>
  %e2 = tensor.empty(%seq) : tensor<1x?x12x64xf32>
  %ot = linalg.transpose ins(%o : tensor<1x12x?x64xf32>) outs(%e2 : tensor<1x?x12x64xf32>) permutation = [0, 2, 1, 3]
  %o3 = tensor.collapse_shape %ot [[0], [1], [2, 3]] : tensor<1x?x12x64xf32> into tensor<1x?x768xf32>
  %x1 = ds.linear %o3, %wo bias(%bo) residual(%x) : (tensor<1x?x768xf32>, tensor<768x768xf32>, tensor<768xf32>, tensor<1x?x768xf32>) -> tensor<1x?x768xf32>

  // MLP sub-block: GELU (tanh form) fused into the first GEMM, the
  // residual into the second.
  %h2 = ds.layer_norm %x1, %ln2_g, %ln2_b : (tensor<1x?x768xf32>, tensor<768xf32>, tensor<768xf32>) -> tensor<1x?x768xf32>
  %m = ds.linear %h2, %w1 bias(%b1) {activation = #ds<activation gelu_tanh>} : (tensor<1x?x768xf32>, tensor<768x3072xf32>, tensor<3072xf32>) -> tensor<1x?x3072xf32>
  %y = ds.linear %m, %w2 bias(%b2) residual(%x1) : (tensor<1x?x3072xf32>, tensor<3072x768xf32>, tensor<768xf32>, tensor<1x?x768xf32>) -> tensor<1x?x768xf32>
  return %y : tensor<1x?x768xf32>
}
