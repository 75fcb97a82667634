// MLP and ViT as stacks of independently trainable layers, the stage-2 head, and their
// seeded initialisation.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "cff/error.hpp"
#include "cff/model.hpp"
#include "cff/runtime.hpp"

namespace cff {
namespace F = torch::nn::functional;

torch::Tensor patchify(const torch::Tensor& images, int64_t p) {
  CFF_CHECK(images.dim() == 4, "patchify: expected N x C x H x W");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  CFF_CHECK(h % p == 0 && w % p == 0, "patch size ", p, " does not divide the image size ", h, "x", w);
  return images.reshape({n, c, h / p, p, w / p, p}).permute({0, 2, 4, 1, 3, 5}).reshape({n, (h / p) * (w / p), c * p * p});
}

// ---- layers -------------------------------------------------------------------------------------

namespace {
// fc(x), but one row without autograd or autocast goes through a matrix-vector product: for a
// one-row GEMM OpenBLAS (0.3.21) packs the whole weight first, 67% of a one-image MLP predict;
// gemv reads the weight once (one-image cff_model_predict on MLP[500 3]: see README, Speed).
torch::Tensor linear(torch::nn::Linear& fc, const torch::Tensor& x) {
  if (x.dim() == 2 && x.size(0) == 1 && !torch::GradMode::is_enabled() && x.scalar_type() == fc->weight.scalar_type() &&
      !autocast_dtype(x.device()))
    return torch::addmv(fc->bias, fc->weight, x[0]).unsqueeze(0);
  return fc->forward(x);
}
}  // namespace

MlpLayerImpl::MlpLayerImpl(int64_t in_features, int64_t out_features) {
  fc = register_module("fc", torch::nn::Linear(in_features, out_features));
}

torch::Tensor MlpLayerImpl::forward(const torch::Tensor& x) { return torch::relu(linear(fc, x)); }

SelfAttentionImpl::SelfAttentionImpl(int64_t dim, int64_t heads) : heads_(heads) {
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  proj = register_module("proj", torch::nn::Linear(dim, dim));
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t n = x.size(0), t = x.size(1), e = x.size(2), d = e / heads_;
  auto qkv_ = qkv->forward(x).reshape({n, t, 3, heads_, d}).permute({2, 0, 3, 1, 4});  // 3 x N x H x T x d
  auto q = qkv_[0], k = qkv_[1], v = qkv_[2];
  auto att = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(d)), -1);
  auto out = torch::matmul(att, v).transpose(1, 2).reshape({n, t, e});
  return proj->forward(out);
}

VitBlockImpl::VitBlockImpl(int64_t dim, int64_t heads, int64_t hidden) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  attn = register_module("attn", SelfAttention(dim, heads));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({dim})));
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden));
  fc2 = register_module("fc2", torch::nn::Linear(hidden, dim));
}

torch::Tensor VitBlockImpl::forward(const torch::Tensor& x) {
  auto u = x + attn->forward(norm1->forward(x));
  return u + fc2->forward(torch::gelu(fc1->forward(norm2->forward(u))));
}

VitStemImpl::VitStemImpl(int64_t patch_dim, int64_t dim, int64_t heads, int64_t hidden, int64_t tokens,
                         int64_t label_tokens, bool class_token)
    : label_tokens_(label_tokens) {
  embed = register_module("embed", torch::nn::Linear(patch_dim, dim));
  if (class_token) cls_token = register_parameter("cls_token", torch::zeros({1, 1, dim}));
  pos_embed = register_parameter("pos_embed", torch::zeros({1, tokens + (class_token ? 1 : 0), dim}));
  block = register_module("block", std::make_shared<VitBlockImpl>(dim, heads, hidden));
}

torch::Tensor VitStemImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(embed->forward(x));
  if (cls_token.defined()) {
    // The class token sits after any FF label token and before the image patches.
    const auto cls = cls_token.expand({h.size(0), 1, h.size(2)}).to(h.scalar_type());
    h = torch::cat({h.narrow(1, 0, label_tokens_), cls, h.narrow(1, label_tokens_, h.size(1) - label_tokens_)}, 1);
  }
  return block->forward(h + pos_embed);
}

// ---- network ------------------------------------------------------------------------------------

NetworkImpl::NetworkImpl(const ModelOptions& o, bool label_input) : options_(o), label_input_(label_input) {
  const int64_t e = o.embed_dim;
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t l = 0; l < o.num_layers; ++l) {
    std::shared_ptr<EncoderLayerImpl> layer;
    if (o.arch == Architecture::kMlp) {
      const int64_t in = l == 0 ? o.channels * o.height * o.width : e;
      layer = std::make_shared<MlpLayerImpl>(in, e);
    } else if (l == 0) {
      const int64_t patch_dim = o.channels * o.patch_size * o.patch_size;
      const int64_t tokens = (o.height / o.patch_size) * (o.width / o.patch_size) + (label_input ? 1 : 0);
      layer = std::make_shared<VitStemImpl>(patch_dim, e, o.num_heads, o.mlp_ratio * e, tokens, label_input ? 1 : 0,
                                            o.pooling == Pooling::kClassToken);
    } else {
      layer = std::make_shared<VitBlockImpl>(e, o.num_heads, o.mlp_ratio * e);
    }
    list->push_back(layer);
    layers_.push_back(layer);
  }
  if (o.arch == Architecture::kVit) {
    special_tokens_ = (label_input ? 1 : 0) + (o.pooling == Pooling::kClassToken ? 1 : 0);
    if (label_input)
      label_patches_ = register_buffer("label_patches", torch::zeros({o.num_classes, o.channels * o.patch_size * o.patch_size}));
  }
}

torch::Tensor NetworkImpl::encode_input(const torch::Tensor& images, const torch::Tensor& labels) const {
  const auto& o = options_;
  CFF_CHECK(images.dim() == 4 && images.size(1) == o.channels && images.size(2) == o.height &&
                images.size(3) == o.width,
            "expected images of shape N x ", o.channels, " x ", o.height, " x ", o.width, ", got ", images.sizes());
  CFF_CHECK(labels.defined() == label_input_, label_input_ ? "this model needs labels in its input (FF)"
                                                           : "this model takes no labels in its input");
  if (o.arch == Architecture::kMlp) {
    auto x = images.flatten(1);
    if (!label_input_) return x;
    // Hinton's FF: the label as a one-hot over the first num_classes inputs, scaled to the
    // image's own maximum; the neutral label (-1) spreads that value uniformly.
    const int64_t c = o.num_classes;
    const auto peak = std::get<0>(x.max(1, /*keepdim=*/true));
    const auto neutral = labels.lt(0).unsqueeze(1);
    auto one_hot = F::one_hot(labels.clamp_min(0), c).to(x.scalar_type());
    one_hot = torch::where(neutral, torch::full_like(one_hot, 1.0 / double(c)), one_hot);
    x = x.clone();
    x.narrow(1, 0, c).copy_(one_hot * peak);
    return x;
  }
  auto x = patchify(images, o.patch_size);
  if (!label_input_) return x;
  const auto neutral = label_patches_.mean(0, /*keepdim=*/true).expand({labels.size(0), -1});
  const auto token = torch::where(labels.lt(0).unsqueeze(1), neutral, label_patches_.index_select(0, labels.clamp_min(0)));
  return torch::cat({token.unsqueeze(1).to(x.scalar_type()), x}, 1);
}

torch::Tensor NetworkImpl::forward_layer(int64_t layer, const torch::Tensor& x) {
  CFF_CHECK(layer >= 0 && layer < num_layers(), "layer ", layer, " out of 0..", num_layers() - 1);
  return layers_[size_t(layer)]->forward(x);
}

torch::Tensor NetworkImpl::pool(const torch::Tensor& h) const {
  if (options_.arch == Architecture::kMlp) return h;
  if (options_.pooling == Pooling::kClassToken) return h.select(1, special_tokens_ - 1);
  return h.narrow(1, special_tokens_, h.size(1) - special_tokens_).mean(1);
}

torch::Tensor NetworkImpl::between_layers(const torch::Tensor& h) const {
  if (!label_input_) return h;
  // FF: the next layer sees only the direction of this layer's activity, not its goodness.
  return F::normalize(h.flatten(1), F::NormalizeFuncOptions().dim(1)).view(h.sizes());
}

std::vector<torch::Tensor> NetworkImpl::layer_parameters(int64_t layer) const {
  CFF_CHECK(layer >= 0 && layer < num_layers(), "layer ", layer, " out of 0..", num_layers() - 1);
  return layers_[size_t(layer)]->parameters();
}

namespace {
// PyTorch's default initialisation of nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
void init_linear(torch::nn::LinearImpl* fc, at::Generator& gen) {
  const double bound = 1.0 / std::sqrt(double(fc->weight.size(1)));
  fc->weight.uniform_(-bound, bound, gen);
  if (fc->bias.defined()) fc->bias.uniform_(-bound, bound, gen);
}
}  // namespace

void NetworkImpl::reset_parameters(uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* fc = module->as<torch::nn::Linear>()) init_linear(fc, gen);
    if (auto* attn = module->as<SelfAttention>()) {
      // nn.MultiheadAttention: xavier-uniform packed in-projection, zero biases.
      const double bound = std::sqrt(6.0 / double(attn->qkv->weight.size(0) / 3 + attn->qkv->weight.size(1)));
      attn->qkv->weight.uniform_(-bound, bound, gen);
      attn->qkv->bias.zero_();
      attn->proj->bias.zero_();
    }
    if (auto* stem = module->as<VitStemImpl>()) {
      stem->pos_embed.normal_(0.0, 1.0, gen);  // the authors' torch.randn
      if (stem->cls_token.defined()) stem->cls_token.normal_(0.0, 1.0, gen);
    }
  }
  if (label_patches_.defined()) label_patches_.normal_(0.0, 1.0, gen);  // fixed random label patch per class
}

// ---- head ---------------------------------------------------------------------------------------

HeadImpl::HeadImpl(int64_t in_features, int64_t num_classes) {
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({in_features})));
  fc = register_module("fc", torch::nn::Linear(in_features, num_classes));
}

torch::Tensor HeadImpl::forward(const torch::Tensor& z) {
  // The norm runs in float32 (its parameters' type) whatever autocast made of z: an MLP's
  // features are bf16 under bf16 autocast; a ViT's residual stream is already float32.
  return linear(fc, norm->forward(z.to(torch::kFloat)));
}

}  // namespace cff
