// Supervised contrastive loss with optional positive margin (CFF and CFF+M) and the margin
// schedules of CFF+M.
#include <cmath>

#include "cff/error.hpp"
#include "cff/losses.hpp"

namespace cff {

SupervisedContrastiveLoss::SupervisedContrastiveLoss(double temperature, double margin)
    : temperature_(temperature), margin_(margin) {
  CFF_CHECK(std::isfinite(temperature) && temperature > 0, "contrastive loss: tau must be > 0, got ", temperature);
  CFF_CHECK(std::isfinite(margin) && margin >= 0 && margin <= 2, "contrastive loss: margin must be in [0, 2], got ",
            margin);
}

torch::Tensor SupervisedContrastiveLoss::forward(const LossBatch& batch) {
  const auto& views = batch.features;
  CFF_CHECK(views.size() == 1 || views.size() == 2, "contrastive loss takes 1 or 2 views, got ", views.size());
  const int64_t n = views[0].size(0);
  for (const auto& v : views)
    CFF_CHECK(v.dim() == 2 && v.size(0) == n && v.size(1) == views[0].size(1),
              "contrastive loss: every view must be N x D with the same N and D");
  CFF_CHECK(batch.labels.dim() == 1 && batch.labels.size(0) == n, "contrastive loss: expected ", n, " labels, got ",
            batch.labels.numel());

  // Z = normalize([z1; z2]); S = Z Z^T  (2N x 2N cosines)
  const auto z = torch::nn::functional::normalize(torch::cat(views, 0),
                                                  torch::nn::functional::NormalizeFuncOptions().dim(1));
  const auto labels = batch.labels.repeat({static_cast<int64_t>(views.size())});
  const int64_t m = z.size(0);
  // Under the trainer's bf16 autocast this product runs in bf16 (it is the loss's one large
  // matmul: 2N x 2N x D); everything after it runs in the features' own precision.
  auto sim = torch::matmul(z, z.t()).to(z.scalar_type());

  const auto self = torch::eye(m, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  const auto positive = labels.unsqueeze(1).eq(labels.unsqueeze(0)).logical_and(self.logical_not());
  if (margin_ > 0)  // CFF+M (the paper's marginal contrastive loss): s_ip -> min(s_ip + m, 1)
    sim = torch::where(positive, torch::clamp_max(sim + margin_, 1.0), sim);
  const auto logits = sim / temperature_;

  // log sum_{a != i} exp(S_ia), stabilised by the row maximum (logsumexp does that, detached in effect)
  const auto log_denominator = torch::logsumexp(logits.masked_fill(self, -INFINITY), 1, /*keepdim=*/true);
  const auto log_prob = logits - log_denominator;
  const auto pos = positive.to(logits.scalar_type());
  const auto count = pos.sum(1).clamp_min(1.0);  // anchors without positives contribute 0
  const auto mean_log_prob_pos = (pos * log_prob).sum(1) / count;
  return -mean_log_prob_pos.mean();
}

double MarginSchedule::margin(int64_t layer, int64_t num_layers) const {
  CFF_CHECK(num_layers >= 1 && layer >= 0 && layer < num_layers, "margin schedule: layer ", layer, " out of 0..",
            num_layers - 1);
  if (num_layers == 1) return m0;
  const double l = static_cast<double>(layer), last = static_cast<double>(num_layers - 1);
  switch (kind) {
    case Kind::kLinear:
      return m0 + (mL - m0) * l / last;
    case Kind::kParabolic: {
      const double t = std::pow(m0 - mL, 1.0 / (2 * k));
      return std::pow(l / (last / t) - t, 2 * k) + mL;
    }
    case Kind::kCosine:
      return 0.5 * (m0 - mL) * (std::cos(M_PI * std::pow(l, k) / std::pow(last, k)) + 1) + mL;
    case Kind::kExponential:
      // The authors write 0.1 for the final margin; we use mL, which is 0.1 by default.
      return m0 * std::pow(mL / m0, std::pow(l / last, k));
  }
  return m0;
}

MarginSchedule::Kind MarginSchedule::parse_kind(const std::string& name) {
  if (name == "linear") return Kind::kLinear;
  if (name == "parabolic") return Kind::kParabolic;
  if (name == "cosine") return Kind::kCosine;
  if (name == "exponential") return Kind::kExponential;
  detail::throw_error(ErrorCode::kInvalidArgument, "unknown margin schedule '", name,
                      "' (linear, parabolic, cosine, exponential)");
}

}  // namespace cff
