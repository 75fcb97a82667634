// Layer-wise diagnostics (the paper's Sec. 4.2): Fisher criterion, margin band, cosine similarity
// by class relation, and a 2-D PCA of each layer's pooled representation.
#include "cff/diagnostics.hpp"

#include <algorithm>

#include "cff/error.hpp"
#include "cff/losses.hpp"

namespace cff {
namespace {

double layer_margin(const Config& cfg, int64_t layer) {
  const int64_t L = cfg.model.num_layers;
  if (cfg.train.algorithm == Algorithm::kContrastive) {
    try {
      const auto loss = make_loss(cfg.loss_spec(), {layer, L, cfg.model.num_classes});
      if (const auto* c = dynamic_cast<const SupervisedContrastiveLoss*>(loss.get()); c && c->margin() > 0)
        return c->margin();
    } catch (const Error&) {  // a loss from a plugin that is not loaded: fall back to the default
    }
  }
  return MarginSchedule{}.margin(layer, L);
}

// tr((S_W + lambda I)^-1 S_B) of rows z (N x D, double) with integer labels.
double fisher_criterion(const torch::Tensor& z, const torch::Tensor& labels, int64_t classes, double ridge) {
  const int64_t d = z.size(1);
  const auto mu = z.mean(0);
  auto sw = torch::zeros({d, d}, z.options()), sb = torch::zeros({d, d}, z.options());
  for (int64_t c = 0; c < classes; ++c) {
    const auto rows = z.index({labels.eq(c)});
    if (rows.size(0) == 0) continue;
    const auto mc = rows.mean(0);
    const auto centered = rows - mc;
    sw += centered.t().mm(centered);
    const auto diff = (mc - mu).unsqueeze(1);
    sb += double(rows.size(0)) * diff.mm(diff.t());
  }
  const double lambda = ridge * std::max(sw.trace().item<double>() / double(d), 1e-12);
  sw += lambda * torch::eye(d, z.options());
  return at::linalg_solve(sw, sb).trace().item<double>();
}

}  // namespace

Diagnostics diagnose(Trainer& trainer, const Dataset& data, const DiagnosticsOptions& options) {
  data.validate();
  CFF_CHECK(data.size() >= 2, "diagnostics: need at least 2 images, got ", data.size());
  CFF_CHECK(options.max_samples >= 2, "diagnostics: max_samples must be >= 2");
  CFF_CHECK(options.ridge >= 0, "diagnostics: ridge must be >= 0");
  const Config cfg = trainer.config();
  const int64_t n = std::min(data.size(), options.max_samples);
  const auto images = data.images.narrow(0, 0, n);
  Diagnostics out;
  out.labels = data.labels.narrow(0, 0, n).clone();
  out.class_names = !cfg.model.class_names.empty() ? cfg.model.class_names : data.class_names;
  out.samples = n;
  out.ridge = options.ridge;
  const auto same = out.labels.unsqueeze(1).eq(out.labels.unsqueeze(0));
  const auto off_diag = torch::eye(n, torch::kBool).logical_not();
  const auto pos = same.logical_and(off_diag), neg = same.logical_not();
  const double n_pos = pos.sum().item<double>(), n_neg = neg.sum().item<double>();
  const int64_t bs = std::max<int64_t>(2, cfg.train.batch_size);
  for (int64_t l = 0; l < trainer.num_layers(); ++l) {
    std::vector<torch::Tensor> parts;
    for (int64_t s = 0; s < n; s += bs) parts.push_back(trainer.embed(images.narrow(0, s, std::min(bs, n - s)), l));
    const auto z = torch::nn::functional::normalize(torch::cat(parts).to(torch::kDouble),
                                                    torch::nn::functional::NormalizeFuncOptions().dim(1));
    LayerDiagnostics d;
    d.layer = l;
    d.margin = layer_margin(cfg, l);
    const auto cos = z.mm(z.t());
    d.cos_same = n_pos > 0 ? cos.masked_select(pos).mean().item<double>() : 0.0;
    d.cos_diff = n_neg > 0 ? cos.masked_select(neg).mean().item<double>() : 0.0;
    d.band_share = n_pos > 0 ? cos.ge(1.0 - d.margin).logical_and(pos).sum().item<double>() / n_pos : 0.0;
    d.fisher = fisher_criterion(z, out.labels, std::max(cfg.model.num_classes, data.num_classes), options.ridge);
    // PCA: the two eigenvectors of the covariance with the largest eigenvalues.
    const auto centered = z - z.mean(0);
    const auto cov = centered.t().mm(centered) / double(std::max<int64_t>(1, n - 1));
    const auto [values, vectors] = at::linalg_eigh(cov);
    const int64_t dim = values.size(0);
    auto axes = vectors.narrow(1, std::max<int64_t>(0, dim - 2), std::min<int64_t>(2, dim)).flip({1});
    // Fix each axis's sign (eigenvectors are defined up to sign): largest |entry| positive.
    const auto pivot = axes.abs().argmax(0);
    for (int64_t k = 0; k < axes.size(1); ++k)
      if (axes[pivot[k].item<int64_t>()][k].item<double>() < 0) axes.select(1, k).neg_();
    auto proj = centered.mm(axes);
    if (proj.size(1) < 2) proj = torch::cat({proj, torch::zeros({n, 2 - proj.size(1)}, proj.options())}, 1);
    d.projection = proj.to(torch::kFloat);
    const double total = std::max(values.sum().item<double>(), 1e-30);
    for (int64_t k = 0; k < std::min<int64_t>(2, dim); ++k) d.explained[k] = values[dim - 1 - k].item<double>() / total;
    out.layers.push_back(std::move(d));
  }
  return out;
}

}  // namespace cff
