// The C-ABI loss wrapper: float64 gradient check of plugins' analytic gradients through the
// autograd wrapper, the shipped C contrastive losses against the built-ins, the C and C++
// samples against each other, and training with the sample C loss.
#include "cff/plugins.hpp"

#include "plugins/plugin_paths.hpp"
#include "test_util.hpp"

namespace cff::test {
namespace {

class CLossTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    load_plugin(sample_plugin("cosine_margin"));
    load_plugin(sample_plugin("cosine_margin_cpp"));
    load_plugin(shipped_plugin("contrastive_c"));
  }
};

// Loss value and gradient w.r.t. the two views, through LocalLoss::forward and autograd.
std::pair<double, std::vector<torch::Tensor>> value_and_grad(LocalLoss& loss, const std::vector<torch::Tensor>& views,
                                                            const torch::Tensor& labels) {
  std::vector<torch::Tensor> leaves;
  for (const auto& v : views) leaves.push_back(v.detach().clone().requires_grad_(true));
  auto value = loss.forward({leaves, labels});
  value.backward();
  std::vector<torch::Tensor> grads;
  for (const auto& l : leaves) grads.push_back(l.grad());
  return {value.item<double>(), grads};
}

// Central finite differences in float64 against the plugin's analytic gradient.
void gradient_check(const std::string& spec, const LossContext& ctx = {}) {
  auto loss = make_loss(spec, ctx);
  torch::manual_seed(3);
  const int64_t n = 6, d = 4;
  const auto opts = torch::TensorOptions().dtype(torch::kDouble);
  std::vector<torch::Tensor> views = {torch::randn({n, d}, opts), torch::randn({n, d}, opts)};
  const auto labels = torch::tensor({0, 1, 2, 0, 1, 1}, torch::kLong);
  auto [value, grads] = value_and_grad(*loss, views, labels);
  EXPECT_TRUE(std::isfinite(value));
  ASSERT_EQ(grads[0].scalar_type(), torch::kDouble);
  const double eps = 1e-3;
  torch::NoGradGuard no_grad;
  for (size_t v = 0; v < views.size(); ++v)
    for (int64_t i = 0; i < n * d; ++i) {
      auto plus = views, minus = views;
      plus[v] = views[v].clone();
      minus[v] = views[v].clone();
      plus[v].view({-1})[i] += eps;
      minus[v].view({-1})[i] -= eps;
      const double fd = (loss->forward({plus, labels}).item<double>() - loss->forward({minus, labels}).item<double>()) /
                        (2 * eps);
      const double analytic = grads[v].view({-1})[i].item<double>();
      EXPECT_NEAR(analytic, fd, 2e-4 + 2e-3 * std::abs(fd)) << spec << " view " << v << " element " << i;
    }
}

TEST_F(CLossTest, SampleCosineMarginPassesAFloat64GradientCheck) { gradient_check("cosine-margin:margin=0.2"); }

TEST_F(CLossTest, ShippedContrastivePassesAFloat64GradientCheck) {
  gradient_check("supcon-c:tau=0.5");
  gradient_check("mcl-c:tau=0.5,m0=0.3,mL=0.1", {1, 3, 3});
}

TEST_F(CLossTest, ShippedContrastiveMatchesTheBuiltIns) {
  torch::manual_seed(5);
  const int64_t n = 32, d = 16;
  const std::vector<torch::Tensor> views = {torch::randn({n, d}), torch::randn({n, d})};
  const auto labels = torch::randint(0, 4, {n}, torch::kLong);
  struct Case {
    std::string plugin, builtin;
  };
  for (const auto& k : {Case{"supcon-c", "supcon"}, Case{"supcon-c:tau=0.3", "supcon:tau=0.3"},
                        Case{"mcl-c", "mcl"}, Case{"mcl-c:m0=0.5,mL=0.2,tau=0.2", "mcl:m0=0.5,mL=0.2,tau=0.2"}})
    for (int64_t layer = 0; layer < 3; ++layer) {
      const LossContext ctx{layer, 3, 4};
      auto a = make_loss(k.plugin, ctx);
      auto b = make_loss(k.builtin, ctx);
      EXPECT_EQ(a->inputs(), b->inputs());
      for (size_t nv : {size_t(1), size_t(2)}) {
        const std::vector<torch::Tensor> v(views.begin(), views.begin() + long(nv));
        auto [va, ga] = value_and_grad(*a, v, labels);
        auto [vb, gb] = value_and_grad(*b, v, labels);
        EXPECT_NEAR(va, vb, 1e-5 * std::max(1.0, std::abs(vb))) << k.plugin << " layer " << layer;
        for (size_t i = 0; i < nv; ++i)
          EXPECT_TRUE(torch::allclose(ga[i], gb[i], 1e-4, 1e-6)) << k.plugin << " layer " << layer << " view " << i
                                                                 << " max diff " << (ga[i] - gb[i]).abs().max();
      }
    }
}

TEST_F(CLossTest, CAndCxxSamplesAgree) {
  torch::manual_seed(7);
  const std::vector<torch::Tensor> views = {torch::randn({16, 8}), torch::randn({16, 8})};
  const auto labels = torch::randint(0, 3, {16}, torch::kLong);
  auto c = make_loss("cosine-margin:margin=0.1", {});
  auto cxx = make_loss("cosine-margin-cpp:margin=0.1", {});
  auto [vc, gc] = value_and_grad(*c, views, labels);
  auto [vx, gx] = value_and_grad(*cxx, views, labels);
  EXPECT_NEAR(vc, vx, 1e-5);
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(torch::allclose(gc[i], gx[i], 1e-4, 1e-6)) << (gc[i] - gx[i]).abs().max();
}

TEST_F(CLossTest, TrainingWithTheSampleCLossLearns) {
  const Dataset train = blobs(384, 4, 1, 8, 8, 1);
  const Dataset test_set = blobs(256, 4, 1, 8, 8, 2);
  Config c = tiny_mlp();
  c.train.algorithm = Algorithm::kContrastive;
  c.train.loss = "cosine-margin:margin=0.1";
  c.train.epochs = 3;
  Trainer untrained(c);
  const double before = untrained.layer_losses(train.images.narrow(0, 0, 64), train.labels.narrow(0, 0, 64)).back();
  Trainer trainer(c);
  const auto result = trainer.fit(train);
  (void)result;
  const double after = trainer.layer_losses(train.images.narrow(0, 0, 64), train.labels.narrow(0, 0, 64)).back();
  EXPECT_LT(after, before);
  EXPECT_GT(trainer.evaluate(test_set).top1(), 0.8);  // chance is 0.25
}

}  // namespace
}  // namespace cff::test
