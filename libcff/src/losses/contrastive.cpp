// Supervised contrastive loss with optional positive margin (CFF and CFF+M), fused with its
// analytic gradient and optionally tiled, and the margin schedules of CFF+M.
#include <cmath>

#include "cff/error.hpp"
#include "cff/losses.hpp"
#include "cff/runtime.hpp"

namespace cff {

namespace {
// Above this many rows (2N) the loss works on row tiles of kTileRows by default: the whole
// 2N x 2N matrix would need 3 x (2N)^2 floats, the tiles 2 x kTileRows x 2N.
constexpr int64_t kAutoTileRows = 4096;
constexpr int64_t kTileRows = 256;

// One label's rows [start, start + count) in label-sorted order. Sorting by label makes every
// anchor's positives one contiguous run of columns, so the margin, the positive sums and the
// positive part of the gradient touch only the runs' diagonal rectangles (~(2N)^2 / classes
// elements) and no 2N x 2N mask is ever built.
struct LabelRun {
  int64_t start, count;
};

std::vector<LabelRun> label_runs(const torch::Tensor& sorted_labels) {
  const auto host = sorted_labels.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* y = host.data_ptr<int64_t>();
  std::vector<LabelRun> runs;
  for (int64_t i = 0, m = host.numel(); i < m; ++i)
    if (i == 0 || y[i] != y[i - 1]) runs.push_back({i, 1});
    else ++runs.back().count;
  return runs;
}

// out += scale * a b, whatever the operands' precision (bf16 products accumulate into float32).
void add_product(torch::Tensor out, const torch::Tensor& a, const torch::Tensor& b, double scale) {
  if (a.scalar_type() == out.scalar_type())
    out.addmm_(a, b, 1.0, scale);
  else
    out.add_(torch::mm(a, b), scale);
}

struct LossAndGradient {
  torch::Tensor loss;      // scalar, the features' dtype
  torch::Tensor gradient;  // d loss / d features (M x D), or undefined
};

// The (marginal) supervised contrastive loss of M feature rows and its analytic gradient.
// With L = S / tau (S the cosines, positives margin-clamped) and P = softmax over a != i:
//   loss = -(1/M) sum_i (1/c_i) sum_{p in P(i)} log P_ip,            c_i = max(|P(i)|, 1)
//   d loss / d L_ij = (w_i P_ij - [j in P(i)] / c_i) / M,            w_i = [|P(i)| > 0]
// zero where the margin clamp is active (s + m >= 1), and dZ = (G + G^T) Z / tau because S is
// symmetric; the normalisation's backward maps dZ to the features. Row tiles of `block` rows are
// computed, used and dropped (the Inf-CL idea); then G^T Z is accumulated tile by tile.
LossAndGradient contrastive_loss(const torch::Tensor& features, const torch::Tensor& labels, double tau,
                                 double margin, int64_t block, std::optional<torch::ScalarType> product_dtype,
                                 bool want_gradient) {
  torch::NoGradGuard no_grad;
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);  // precision is chosen here
  const auto f = features.detach();
  const int64_t m = f.size(0);
  const double eps = 1e-12;  // as torch::nn::functional::normalize: x / max(|x|, eps)
  const auto raw_norm = f.norm(2, 1, true);
  const auto norm = raw_norm.clamp_min(eps);
  const auto z = f / norm;

  auto [sorted_labels, order] = labels.sort(/*stable=*/true, 0, false);
  const auto runs = label_runs(sorted_labels);
  const auto zs = z.index_select(0, order);
  const auto zp = product_dtype && *product_dtype != zs.scalar_type() ? zs.to(*product_dtype) : zs;
  const auto opts = f.options();
  const double inv_tau = 1.0 / tau, inv_m = 1.0 / double(m);

  // Per-row gradient weight w_i / M (anchors without positives contribute nothing).
  std::vector<double> row_weight(size_t(m), inv_m);
  for (const auto& r : runs)
    if (r.count == 1) row_weight[size_t(r.start)] = 0.0;
  const auto weight = torch::tensor(row_weight, torch::TensorOptions().dtype(torch::kDouble)).to(opts).unsqueeze(1);

  if (block <= 0) block = m > kAutoTileRows ? kTileRows : m;
  block = std::min(block, m);
  const bool whole = block == m;
  auto total = torch::zeros({}, opts);
  torch::Tensor dzs = want_gradient && !whole ? torch::zeros_like(zs) : torch::Tensor();

  for (int64_t r0 = 0; r0 < m; r0 += block) {
    const int64_t b = std::min(block, m - r0), r1 = r0 + b;
    auto logits = torch::mm(zp.narrow(0, r0, b), zp.t()).to(f.scalar_type()).mul_(inv_tau);  // rows r0..r1 of S/tau
    // The runs crossing these rows; rect() is a run's rectangle of positives within the tile.
    std::vector<const LabelRun*> crossing;
    for (const auto& r : runs)
      if (r.start < r1 && r.start + r.count > r0) crossing.push_back(&r);
    auto rect = [&](torch::Tensor& t, const LabelRun& r) {
      const int64_t lo = std::max(r.start, r0), hi = std::min(r.start + r.count, r1);
      return t.narrow(0, lo - r0, hi - lo).narrow(1, r.start, r.count);
    };
    if (margin > 0)  // Eq. of the marginal contrastive loss: s_ip -> min(s_ip + m, 1), here divided by tau
      for (const LabelRun* r : crossing) rect(logits, *r).add_(margin * inv_tau).clamp_max_(inv_tau);
    logits.diagonal(r0).fill_(-INFINITY);  // self-pairs are in no sum
    auto log_prob = torch::log_softmax(logits, 1);
    log_prob.diagonal(r0).zero_();  // so that the rectangles' sums skip the anchor itself
    for (const LabelRun* r : crossing) total.sub_(rect(log_prob, *r).sum(), 1.0 / double(std::max<int64_t>(r->count - 1, 1)));
    if (!want_gradient) continue;

    auto g = log_prob.exp_().mul_(weight.narrow(0, r0, b));  // w_i P_ij / M
    for (const LabelRun* r : crossing) {
      auto gr = rect(g, *r);
      gr.sub_(inv_m / double(std::max<int64_t>(r->count - 1, 1)));
      if (margin > 0) gr.masked_fill_(rect(logits, *r).ge(inv_tau), 0.0);  // the clamp passes no gradient
    }
    g.diagonal(r0).zero_();
    if (whole) {
      const auto sym = g + g.t();
      dzs = torch::mm(product_dtype ? sym.to(zp.scalar_type()) : sym, zp).to(f.scalar_type()).mul_(inv_tau);
    } else {
      const auto gp = zp.scalar_type() == g.scalar_type() ? g : g.to(zp.scalar_type());
      add_product(dzs.narrow(0, r0, b), gp, zp, inv_tau);             // G_rows Z
      add_product(dzs, gp.t(), zp.narrow(0, r0, b), inv_tau);         // G_rows^T Z_rows
    }
  }
  LossAndGradient out;
  out.loss = total.mul_(inv_m);
  if (want_gradient) {
    const auto dz = torch::empty_like(dzs).index_copy_(0, order, dzs);  // back to the callers' row order
    // Backward of z = f / max(|f|, eps): (dz - z (z . dz)) / |f|, or dz / eps where the floor holds.
    const auto radial = (z * dz).sum(1, true).masked_fill_(raw_norm.le(eps), 0.0);
    out.gradient = (dz - z * radial) / norm;
  }
  return out;
}

// A value whose gradient with respect to `input` was computed with it: backward scales it.
struct PrecomputedGradient : torch::autograd::Function<PrecomputedGradient> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& value, const torch::Tensor& gradient) {
    ctx->save_for_backward({gradient});
    (void)input;
    return value.clone();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto gradient = ctx->get_saved_variables()[0];
    return {gradient * grad_outputs[0].to(gradient.scalar_type()), torch::Tensor(), torch::Tensor()};
  }
};
}  // namespace

torch::Tensor with_precomputed_gradient(const torch::Tensor& input, const torch::Tensor& value,
                                        const torch::Tensor& gradient) {
  CFF_CHECK(value.numel() == 1 && gradient.sizes() == input.sizes(),
            "with_precomputed_gradient: expected a scalar value and a gradient shaped like the input");
  return PrecomputedGradient::apply(input, value, gradient);
}

SupervisedContrastiveLoss::SupervisedContrastiveLoss(double temperature, double margin, int64_t block_rows)
    : temperature_(temperature), margin_(margin), block_rows_(block_rows) {
  CFF_CHECK(std::isfinite(temperature) && temperature > 0, "contrastive loss: tau must be > 0, got ", temperature);
  CFF_CHECK(std::isfinite(margin) && margin >= 0 && margin <= 2, "contrastive loss: margin must be in [0, 2], got ",
            margin);
  CFF_CHECK(block_rows >= 0, "contrastive loss: block must be >= 0 (0 = automatic), got ", block_rows);
}

torch::Tensor SupervisedContrastiveLoss::forward(const LossBatch& batch) {
  const auto& views = batch.features;
  CFF_CHECK(views.size() == 1 || views.size() == 2, "contrastive loss takes 1 or 2 views, got ", views.size());
  const int64_t n = views[0].size(0);
  for (const auto& v : views)
    CFF_CHECK(v.dim() == 2 && v.size(0) == n && v.size(1) == views[0].size(1) && v.is_floating_point(),
              "contrastive loss: every view must be N x D floating point with the same N and D");
  CFF_CHECK(n >= 1, "contrastive loss: empty batch");
  CFF_CHECK(batch.labels.dim() == 1 && batch.labels.size(0) == n, "contrastive loss: expected ", n, " labels, got ",
            batch.labels.numel());
  const auto features = views.size() == 1 ? views[0] : torch::cat(views, 0);
  const auto labels = batch.labels.repeat({static_cast<int64_t>(views.size())});
  // Under the trainer's bf16 autocast the two products (S = Z Z^T and (G + G^T) Z) run in bf16;
  // exp, log and the sums stay in the features' precision.
  const auto product = autocast_dtype(features.device());
  const bool grad = torch::GradMode::is_enabled() && features.requires_grad();
  auto r = contrastive_loss(features, labels, temperature_, margin_, block_rows_,
                            features.scalar_type() == torch::kDouble ? std::nullopt : product, grad);
  if (!grad) return r.loss;
  return with_precomputed_gradient(features, r.loss, r.gradient);
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
