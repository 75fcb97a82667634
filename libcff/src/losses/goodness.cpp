// Goodness-based local losses of the Forward-Forward baselines (Hinton 2022; SymBa).
#include "cff/error.hpp"
#include "cff/losses.hpp"

namespace cff {
namespace {
std::pair<torch::Tensor, torch::Tensor> positive_negative(const LossBatch& batch, const char* who) {
  CFF_CHECK(batch.features.size() == 2, who, " takes 2 feature sets (positive, negative), got ", batch.features.size());
  const auto& pos = batch.features[0];
  const auto& neg = batch.features[1];
  CFF_CHECK(pos.dim() == 2 && neg.dim() == 2 && pos.sizes() == neg.sizes(), who,
            ": positive and negative features must be N x D of the same size");
  return {goodness(pos), goodness(neg)};
}
}  // namespace

torch::Tensor goodness(const torch::Tensor& z) { return z.pow(2).mean(1); }

torch::Tensor ForwardForwardLoss::forward(const LossBatch& batch) {
  auto [g_pos, g_neg] = positive_negative(batch, "FF loss");
  return torch::softplus(torch::cat({threshold_ - g_pos, g_neg - threshold_})).mean();
}

torch::Tensor SymBaLoss::forward(const LossBatch& batch) {
  auto [g_pos, g_neg] = positive_negative(batch, "SymBa loss");
  return torch::softplus(-alpha_ * (g_pos - g_neg)).mean();
}

}  // namespace cff
