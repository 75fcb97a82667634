// Local losses against float64 references written out loop by loop, and float64 gradient checks.
#include <cmath>
#include <vector>

#include "reference_losses.hpp"
#include "test_util.hpp"

namespace cff {
namespace {

using Matrix = std::vector<std::vector<double>>;

Matrix to_matrix(const torch::Tensor& t) {
  auto c = t.to(torch::kDouble).contiguous();
  Matrix m(size_t(c.size(0)), std::vector<double>(size_t(c.size(1))));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 0; j < c.size(1); ++j) m[i][j] = c[i][j].item<double>();
  return m;
}

// The supervised contrastive loss of the design (sum outside the log) with margin on positives.
double reference_supcon(const std::vector<Matrix>& views, const std::vector<int64_t>& labels, double tau, double m) {
  Matrix z;
  std::vector<int64_t> y;
  for (const auto& v : views) {
    for (size_t i = 0; i < v.size(); ++i) {
      double norm = 0;
      for (double x : v[i]) norm += x * x;
      norm = std::sqrt(norm);
      std::vector<double> row;
      for (double x : v[i]) row.push_back(x / norm);
      z.push_back(row);
      y.push_back(labels[i]);
    }
  }
  const size_t n = z.size();
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> s(n);
    for (size_t a = 0; a < n; ++a) {
      double dot = 0;
      for (size_t k = 0; k < z[i].size(); ++k) dot += z[i][k] * z[a][k];
      if (a != i && y[a] == y[i]) dot = std::min(dot + m, 1.0);
      s[a] = dot / tau;
    }
    double denom = 0;
    for (size_t a = 0; a < n; ++a)
      if (a != i) denom += std::exp(s[a]);
    double sum = 0;
    int count = 0;
    for (size_t p = 0; p < n; ++p)
      if (p != i && y[p] == y[i]) {
        sum += s[p] - std::log(denom);
        ++count;
      }
    total += count ? -sum / count : 0.0;
  }
  return total / double(n);
}

double reference_goodness_loss(const Matrix& pos, const Matrix& neg, bool symba, double param) {
  auto g = [](const std::vector<double>& row) {
    double s = 0;
    for (double x : row) s += x * x;
    return s / double(row.size());
  };
  auto softplus = [](double x) { return std::log1p(std::exp(x)); };
  double total = 0;
  for (size_t i = 0; i < pos.size(); ++i) {
    if (symba) {
      total += softplus(-param * (g(pos[i]) - g(neg[i])));
    } else {
      total += softplus(param - g(pos[i])) + softplus(g(neg[i]) - param);
    }
  }
  return total / double(symba ? pos.size() : 2 * pos.size());
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t.size(0); ++i) v.push_back(t[i].item<int64_t>());
  return v;
}

class LossTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(7); }
};

TEST_F(LossTest, SupervisedContrastiveMatchesReferenceTwoViews) {
  const auto z1 = torch::randn({12, 5}, torch::kDouble), z2 = torch::randn({12, 5}, torch::kDouble);
  const auto y = torch::randint(0, 3, {12}, torch::kLong);
  SupervisedContrastiveLoss loss(0.15, 0.0);
  const double got = loss.forward({{z1, z2}, y}).item<double>();
  EXPECT_NEAR(got, reference_supcon({to_matrix(z1), to_matrix(z2)}, to_vector(y), 0.15, 0.0), 1e-10);
}

TEST_F(LossTest, SupervisedContrastiveMatchesReferenceOneView) {
  const auto z = torch::randn({10, 4}, torch::kDouble);
  const auto y = torch::randint(0, 3, {10}, torch::kLong);
  SupervisedContrastiveLoss loss(0.5, 0.0);
  EXPECT_NEAR(loss.forward({{z}, y}).item<double>(), reference_supcon({to_matrix(z)}, to_vector(y), 0.5, 0.0), 1e-10);
}

TEST_F(LossTest, MarginalContrastiveMatchesReferenceAndClampsAtOne) {
  // Nearly parallel positives: s + m exceeds 1 and must be clamped.
  auto base = torch::randn({1, 6}, torch::kDouble);
  auto z1 = base.repeat({8, 1}) + 0.01 * torch::randn({8, 6}, torch::kDouble);
  auto z2 = torch::randn({8, 6}, torch::kDouble);
  const auto y = torch::tensor({0, 0, 0, 1, 1, 2, 2, 0}, torch::kLong);
  for (double m : {0.1, 0.4}) {
    SupervisedContrastiveLoss loss(0.15, m);
    EXPECT_NEAR(loss.forward({{z1, z2}, y}).item<double>(),
                reference_supcon({to_matrix(z1), to_matrix(z2)}, to_vector(y), 0.15, m), 1e-10);
  }
  // With the clamp, positive similarities never exceed 1/tau: a loss over identical positives
  // equals the one with margin 0 (s = 1 already).
  auto same = base.repeat({4, 1});
  const auto y2 = torch::tensor({0, 0, 0, 0}, torch::kLong);
  EXPECT_NEAR(SupervisedContrastiveLoss(0.15, 0.4).forward({{same}, y2}).item<double>(),
              SupervisedContrastiveLoss(0.15, 0.0).forward({{same}, y2}).item<double>(), 1e-12);
}

TEST_F(LossTest, AnchorsWithoutPositivesContributeZero) {
  // One view, all labels distinct: no anchor has a positive; the loss is exactly 0 and finite.
  const auto z = torch::randn({5, 3}, torch::kDouble);
  const auto y = torch::arange(5, torch::kLong);
  const auto value = SupervisedContrastiveLoss().forward({{z}, y});
  EXPECT_TRUE(std::isfinite(value.item<double>()));
  EXPECT_EQ(value.item<double>(), 0.0);
  // Mixed: labels {0,0,1}: anchor 2 has no positive; the reference averages over all 3 anchors.
  const auto z3 = torch::randn({3, 3}, torch::kDouble);
  const auto y3 = torch::tensor({0, 0, 1}, torch::kLong);
  EXPECT_NEAR(SupervisedContrastiveLoss().forward({{z3}, y3}).item<double>(),
              reference_supcon({to_matrix(z3)}, to_vector(y3), 0.15, 0.0), 1e-12);
}

// The fused loss (whole matrix and row tiles) against the plain autograd loss in float64: values
// and gradients to 1e-10, with margins that clamp, anchors without positives, one and two views.
struct FusedCase {
  int64_t n, d, classes, views;
  double tau, margin;
};

void expect_fused_matches_autograd(const FusedCase& c, torch::ScalarType dtype, double tol) {
  std::vector<torch::Tensor> views;
  auto base = torch::randn({1, c.d}, torch::kDouble);
  for (int64_t v = 0; v < c.views; ++v)  // half the rows nearly parallel: s + m > 1 clamps there
    views.push_back(torch::cat({base.repeat({c.n / 2, 1}) + 0.02 * torch::randn({c.n / 2, c.d}, torch::kDouble),
                                torch::randn({c.n - c.n / 2, c.d}, torch::kDouble)})
                        .to(dtype));
  auto y = torch::randint(0, c.classes, {c.n}, torch::kLong);
  y[c.n - 1] = c.classes;  // a label of its own: with one view, an anchor without positives
  for (auto& v : views) v.requires_grad_(true);
  auto reference = test::autograd_supcon(views, y, c.tau, c.margin);
  const auto want = torch::autograd::grad({reference}, views);
  for (int64_t block : {int64_t(0), int64_t(1), int64_t(3), c.n * c.views - 1, int64_t(1) << 20}) {
    SupervisedContrastiveLoss loss(c.tau, c.margin, block);
    auto value = loss.forward({views, y});
    const auto got = torch::autograd::grad({value}, views);
    EXPECT_NEAR(value.item<double>(), reference.item<double>(), tol * std::max(1.0, std::abs(reference.item<double>())))
        << "block " << block << " views " << c.views << " margin " << c.margin;
    for (size_t v = 0; v < views.size(); ++v)
      EXPECT_LT((got[v] - want[v]).abs().max().item<double>(), tol) << "block " << block << " view " << v;
  }
}

TEST_F(LossTest, FusedAndTiledMatchAutogradInFloat64) {
  for (const auto& c : {FusedCase{12, 5, 3, 2, 0.15, 0.0}, FusedCase{12, 5, 3, 2, 0.15, 0.4},
                        FusedCase{9, 4, 3, 1, 0.5, 0.0}, FusedCase{9, 4, 2, 1, 0.3, 0.25},
                        FusedCase{16, 7, 10, 2, 0.1, 0.1}})
    expect_fused_matches_autograd(c, torch::kDouble, 1e-10);
}

TEST_F(LossTest, FusedAndTiledMatchAutogradInFloat32) {
  expect_fused_matches_autograd({64, 32, 10, 2, 0.15, 0.3}, torch::kFloat, 2e-5);
}

TEST_F(LossTest, FusedLossUnderBf16AutocastStaysCloseToFloat32) {
  auto f = torch::randn({256, 64});
  const auto y = torch::randint(0, 10, {128}, torch::kLong);
  auto views = f.split(128, 0);
  for (auto& v : views) v.requires_grad_(true);
  const double fp32 = SupervisedContrastiveLoss(0.15, 0.2).forward({views, y}).item<double>();
  for (int64_t block : {0, 50}) {
    AutocastGuard bf16(torch::kCPU, Precision::kBFloat16);
    auto value = SupervisedContrastiveLoss(0.15, 0.2, block).forward({views, y});
    EXPECT_NEAR(value.item<double>(), fp32, 0.02 * fp32) << "block " << block;
    const auto g = torch::autograd::grad({value}, views);
    EXPECT_TRUE(torch::isfinite(g[0]).all().item<bool>());
  }
}

TEST_F(LossTest, FusedLossOfOneImageIsZeroAndFinite) {
  auto z = torch::randn({1, 4}, torch::kDouble).requires_grad_(true);
  auto value = SupervisedContrastiveLoss(0.15, 0.4).forward({{z}, torch::zeros({1}, torch::kLong)});
  EXPECT_EQ(value.item<double>(), 0.0);
  const auto g = torch::autograd::grad({value}, {z});
  EXPECT_EQ(g[0].abs().max().item<double>(), 0.0);
}

TEST_F(LossTest, GoodnessLossesMatchReference) {
  const auto pos = torch::randn({9, 7}, torch::kDouble) * 2, neg = torch::randn({9, 7}, torch::kDouble);
  EXPECT_NEAR(ForwardForwardLoss(2.0).forward({{pos, neg}, torch::zeros({9}, torch::kLong)}).item<double>(),
              reference_goodness_loss(to_matrix(pos), to_matrix(neg), false, 2.0), 1e-12);
  EXPECT_NEAR(SymBaLoss(1.5).forward({{pos, neg}, torch::zeros({9}, torch::kLong)}).item<double>(),
              reference_goodness_loss(to_matrix(pos), to_matrix(neg), true, 1.5), 1e-12);
}

// Central finite differences in float64 against autograd, for every element of every input.
void gradient_check(LocalLoss& loss, std::vector<torch::Tensor> inputs, const torch::Tensor& labels) {
  for (auto& t : inputs) t.requires_grad_(true);
  auto value = loss.forward({inputs, labels});
  auto grads = torch::autograd::grad({value}, inputs);
  const double eps = 1e-6;
  for (size_t v = 0; v < inputs.size(); ++v) {
    auto flat = inputs[v].detach().clone();
    for (int64_t i = 0; i < flat.numel(); ++i) {
      auto plus = inputs, minus = inputs;
      for (auto& t : plus) t = t.detach();
      for (auto& t : minus) t = t.detach();
      plus[v] = flat.clone();
      minus[v] = flat.clone();
      plus[v].view(-1)[i] += eps;
      minus[v].view(-1)[i] -= eps;
      const double numeric =
          (loss.forward({plus, labels}).item<double>() - loss.forward({minus, labels}).item<double>()) / (2 * eps);
      EXPECT_NEAR(grads[v].view(-1)[i].item<double>(), numeric, 1e-6) << "input " << v << " element " << i;
    }
  }
}

TEST_F(LossTest, GradientsMatchFiniteDifferences) {
  const auto y = torch::tensor({0, 1, 0, 2, 1, 0}, torch::kLong);
  SupervisedContrastiveLoss supcon(0.3, 0.0);
  gradient_check(supcon, {torch::randn({6, 4}, torch::kDouble), torch::randn({6, 4}, torch::kDouble)}, y);
  // Margin 0.2 with well-separated cosines (the clamp at 1 is not differentiable at the kink).
  SupervisedContrastiveLoss marginal(0.3, 0.2);
  gradient_check(marginal, {torch::randn({6, 4}, torch::kDouble), torch::randn({6, 4}, torch::kDouble)}, y);
  SupervisedContrastiveLoss tiled(0.3, 0.2, 5);
  gradient_check(tiled, {torch::randn({6, 4}, torch::kDouble), torch::randn({6, 4}, torch::kDouble)}, y);
  ForwardForwardLoss ff(2.0);
  gradient_check(ff, {torch::randn({5, 3}, torch::kDouble), torch::randn({5, 3}, torch::kDouble)}, y.slice(0, 0, 5));
  SymBaLoss symba(1.0);
  gradient_check(symba, {torch::randn({5, 3}, torch::kDouble), torch::randn({5, 3}, torch::kDouble)}, y.slice(0, 0, 5));
}

TEST_F(LossTest, MarginSchedulesFollowTheAuthorsFormulas) {
  MarginSchedule s;  // linear 0.4 -> 0.1: numpy.linspace(0.4, 0.1, 5)
  const double linear[] = {0.4, 0.325, 0.25, 0.175, 0.1};
  for (int l = 0; l < 5; ++l) EXPECT_NEAR(s.margin(l, 5), linear[l], 1e-12);
  for (auto kind : {MarginSchedule::Kind::kParabolic, MarginSchedule::Kind::kCosine, MarginSchedule::Kind::kExponential}) {
    s.kind = kind;
    EXPECT_NEAR(s.margin(0, 5), 0.4, 1e-12);
    EXPECT_NEAR(s.margin(4, 5), 0.1, 1e-12);
  }
  // Interior points, computed by hand from the design's formulas (k = 1, L = 5, l = 1).
  s.kind = MarginSchedule::Kind::kParabolic;
  const double t = std::sqrt(0.3);
  EXPECT_NEAR(s.margin(1, 5), std::pow(1.0 / (4.0 / t) - t, 2) + 0.1, 1e-12);
  s.kind = MarginSchedule::Kind::kCosine;
  EXPECT_NEAR(s.margin(1, 5), 0.5 * 0.3 * (std::cos(M_PI / 4) + 1) + 0.1, 1e-12);
  s.kind = MarginSchedule::Kind::kExponential;
  EXPECT_NEAR(s.margin(1, 5), 0.4 * std::pow(0.1 / 0.4, 0.25), 1e-12);
}

TEST_F(LossTest, RegistryBuildsPerLayerMarginsAndRejectsBadSpecs) {
  auto first = make_loss("mcl", {0, 5, 10});
  auto last = make_loss("mcl:m0=0.3,mL=0.05", {4, 5, 10});
  EXPECT_NEAR(dynamic_cast<SupervisedContrastiveLoss&>(*first).margin(), 0.4, 1e-12);
  EXPECT_NEAR(dynamic_cast<SupervisedContrastiveLoss&>(*last).margin(), 0.05, 1e-12);
  EXPECT_EQ(make_loss("ff", {0, 3, 10})->inputs(), LossInputs::kPositiveNegative);
  test::expect_error([] { make_loss("nope", {0, 1, 10}); }, ErrorCode::kInvalidArgument, "unknown loss 'nope'");
  test::expect_error([] { make_loss("mcl:zz=1", {0, 1, 10}); }, ErrorCode::kInvalidArgument, "no parameter 'zz'");
  test::expect_error([] { make_loss("mcl:tau=abc", {0, 1, 10}); }, ErrorCode::kInvalidArgument, "finite number");
  test::expect_error([] { make_loss("supcon:tau=-1", {0, 1, 10}); }, ErrorCode::kInvalidArgument, "tau must be > 0");
  test::expect_error([] { make_loss("mcl:schedule=wavy", {0, 1, 10}); }, ErrorCode::kInvalidArgument, "wavy");
  test::expect_error([] { make_loss("mcl:block=-2", {0, 1, 10}); }, ErrorCode::kInvalidArgument, "block must be >= 0");
  EXPECT_EQ(dynamic_cast<SupervisedContrastiveLoss&>(*make_loss("supcon:block=64", {0, 1, 10})).block_rows(), 64);
  test::expect_error([] { loss_registry().add({"ff", "again", {}}, LossFactory{}); }, ErrorCode::kInvalidArgument,
                     "duplicate provider name 'ff'");
}

}  // namespace
}  // namespace cff
