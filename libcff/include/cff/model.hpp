#pragma once
/// @file model.hpp
/// The network as a stack of independently trainable layers, and the stage-2 head.
/// Module and parameter names are stable: they are the keys of checkpoints and of `cff export`.

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "cff/options.hpp"

namespace cff {

/// One independently trained layer: h_l = layer(h_{l-1}).
class EncoderLayerImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
};

/// MLP layer: ReLU(Linear(x)). Parameters: fc.weight, fc.bias.
class MlpLayerImpl : public EncoderLayerImpl {
 public:
  MlpLayerImpl(int64_t in_features, int64_t out_features);
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::nn::Linear fc{nullptr};
};

/// Multi-head self-attention. Parameters: qkv.{weight,bias} (3E x E, packed q|k|v), proj.{weight,bias}.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  SelfAttentionImpl(int64_t dim, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear qkv{nullptr}, proj{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(SelfAttention);

/// Pre-norm transformer encoder block: u = x + MHA(LN(x)); out = u + fc2(GELU(fc1(LN(u)))).
/// Parameters: norm1, attn, norm2, fc1, fc2.
class VitBlockImpl : public EncoderLayerImpl {
 public:
  VitBlockImpl(int64_t dim, int64_t heads, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  SelfAttention attn{nullptr};
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};

/// ViT layer 1: ReLU(Linear(patch)) + positional embedding, then an encoder block. Input tokens
/// are flattened patches (C*p*p); special tokens (FF label patch) come first in the input.
/// Parameters: embed.{weight,bias}, pos_embed (1 x T x E), cls_token (1 x 1 x E, class-token
/// pooling only), block.*.
class VitStemImpl : public EncoderLayerImpl {
 public:
  /// `tokens`: input tokens including `label_tokens` leading FF label tokens.
  VitStemImpl(int64_t patch_dim, int64_t dim, int64_t heads, int64_t hidden, int64_t tokens, int64_t label_tokens,
              bool class_token);
  torch::Tensor forward(const torch::Tensor& x) override;
  torch::nn::Linear embed{nullptr};
  torch::Tensor pos_embed, cls_token;
  std::shared_ptr<VitBlockImpl> block;

 private:
  int64_t label_tokens_;
};

/// The encoder: input encoding (flatten / patchify, FF label), L layers, pooling, and the
/// transform between layers. Layer l's parameters are `layers.<l>.*`.
class NetworkImpl : public torch::nn::Module {
 public:
  /// `label_input`: the label enters the input (FF, SymBa): MLP one-hot over the first
  /// num_classes inputs; ViT a fixed random label patch per class as an extra first token.
  NetworkImpl(const ModelOptions& options, bool label_input);

  /// Images (N x C x H x W, normalised float) -> layer-1 input. `labels` is required iff
  /// label_input; a label of -1 encodes the neutral label (uniform one-hot / mean label patch).
  torch::Tensor encode_input(const torch::Tensor& images, const torch::Tensor& labels = {}) const;
  torch::Tensor forward_layer(int64_t layer, const torch::Tensor& x);
  /// z_l = pool(h_l): identity for the MLP; mean over image tokens (or the class token) for ViT.
  torch::Tensor pool(const torch::Tensor& h) const;
  /// What layer l+1 receives: h_l, L2-normalised over all its features when label_input (FF).
  torch::Tensor between_layers(const torch::Tensor& h) const;

  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }
  int64_t feature_dim() const { return options_.embed_dim; }
  bool label_input() const { return label_input_; }
  std::vector<torch::Tensor> layer_parameters(int64_t layer) const;
  /// Re-initialises every parameter from `seed` alone (PyTorch's default schemes), on the CPU.
  void reset_parameters(uint64_t seed);

 private:
  ModelOptions options_;
  bool label_input_;
  int64_t special_tokens_ = 0;  // tokens before the image patches in a layer's output (ViT)
  torch::Tensor label_patches_;  // num_classes x C*p*p (ViT FF)
  std::vector<std::shared_ptr<EncoderLayerImpl>> layers_;
};
TORCH_MODULE(Network);

/// Stage-2 classifier: LayerNorm + Linear, for every model (the paper puts the norm on the ViT
/// only). Parameters: norm, fc.
class HeadImpl : public torch::nn::Module {
 public:
  HeadImpl(int64_t in_features, int64_t num_classes);
  torch::Tensor forward(const torch::Tensor& z);
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(Head);

/// Patchifies N x C x H x W into N x (H/p * W/p) x (C*p*p), row-major patches, channel-major
/// inside a patch (the authors' order).
torch::Tensor patchify(const torch::Tensor& images, int64_t patch);

}  // namespace cff
