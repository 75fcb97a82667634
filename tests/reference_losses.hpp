#pragma once
// The (marginal) supervised contrastive loss written as plain autograd ops, as a PyTorch user
// writes it (and as libcff did before the fused loss): the reference the fused and tiled paths are
// tested against in float64, and the baseline of the loss benchmarks.
#include <cmath>
#include <vector>

#include <torch/torch.h>

namespace cff::test {

inline torch::Tensor autograd_supcon(const std::vector<torch::Tensor>& views, const torch::Tensor& labels, double tau,
                                     double margin) {
  const auto z = torch::nn::functional::normalize(torch::cat(views, 0),
                                                  torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto y = labels.repeat({static_cast<int64_t>(views.size())});
  const int64_t m = z.size(0);
  auto sim = torch::matmul(z, z.t()).to(z.scalar_type());
  const auto self = torch::eye(m, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  const auto positive = y.unsqueeze(1).eq(y.unsqueeze(0)).logical_and(self.logical_not());
  if (margin > 0) sim = torch::where(positive, torch::clamp_max(sim + margin, 1.0), sim);
  const auto logits = sim / tau;
  const auto log_denominator = torch::logsumexp(logits.masked_fill(self, -INFINITY), 1, /*keepdim=*/true);
  const auto log_prob = logits - log_denominator;
  const auto pos = positive.to(logits.scalar_type());
  const auto count = pos.sum(1).clamp_min(1.0);
  return -((pos * log_prob).sum(1) / count).mean();
}

}  // namespace cff::test
