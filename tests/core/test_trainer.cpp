// The training engine end to end on small synthetic data: every algorithm learns, runs are
// reproducible, and bad inputs are refused with clear errors.
#include <cmath>
#include <thread>

#include "test_util.hpp"

namespace cff {
namespace {

class TrainerTest : public ::testing::Test {
 protected:
  const Dataset train = test::blobs(384, 4, 1, 8, 8, 1);
  const Dataset test_set = test::blobs(256, 4, 1, 8, 8, 2);

  double fit_and_score(const Config& c) {
    Trainer trainer(c);
    trainer.fit(train);
    return trainer.evaluate(test_set).top1();
  }
};

TEST_F(TrainerTest, CffMarginalLearnsSyntheticDataInSeconds) {
  Config c = test::tiny_mlp();
  c.train.epochs = 3;
  EXPECT_GT(fit_and_score(c), 0.9);  // chance is 0.25
}

TEST_F(TrainerTest, EveryAlgorithmTrainsAndPredicts) {
  struct Case {
    const char* name;
    Algorithm algo;
    std::string loss;
    int64_t views;
    double min_top1;
  };
  const Case cases[] = {{"cff", Algorithm::kContrastive, "supcon", 2, 0.8},
                        {"cff one-forward", Algorithm::kContrastive, "mcl", 1, 0.8},
                        {"ff", Algorithm::kForwardForward, "ff", 2, 0.8},
                        {"symba", Algorithm::kForwardForward, "symba", 2, 0.8},
                        {"bp", Algorithm::kBackprop, "", 2, 0.8}};
  for (const auto& k : cases) {
    Config c = test::tiny_mlp();
    c.train.algorithm = k.algo;
    c.train.loss = k.loss;
    c.train.views = k.views;
    c.train.epochs = k.algo == Algorithm::kForwardForward ? 40 : 3;  // FF converges far more slowly
    if (k.algo == Algorithm::kForwardForward) c.train.lr = 0.01;
    Trainer trainer(c);
    trainer.fit(train);
    const double top1 = trainer.evaluate(test_set).top1();
    EXPECT_GT(top1, k.min_top1) << k.name;
    if (k.algo == Algorithm::kForwardForward) {
      trainer.set_ff_prediction(FFPrediction::kHead);
      EXPECT_GT(trainer.evaluate(test_set).top1(), k.min_top1) << k.name << " one-pass head";
    }
  }
}

TEST_F(TrainerTest, VitCffMarginalAndBf16Train) {
  Config c = test::tiny_vit();
  c.train.epochs = 6;
  c.train.augment = "crop:padding=1+hflip";  // the default padding 4 is half of these 8x8 images
  EXPECT_GT(fit_and_score(c), 0.6);
  Config b = test::tiny_mlp();
  b.train.precision = Precision::kBFloat16;
  b.train.epochs = 3;
  EXPECT_GT(fit_and_score(b), 0.85);
}

TEST_F(TrainerTest, EveryAlgorithmTrainsInBf16OnTheMlp) {
  for (const auto& [algo, loss] : {std::pair{Algorithm::kContrastive, "mcl"},
                                   std::pair{Algorithm::kForwardForward, "ff"}, std::pair{Algorithm::kBackprop, ""}}) {
    Config c = test::tiny_mlp();
    c.train.algorithm = algo;
    c.train.loss = loss;
    c.train.precision = Precision::kBFloat16;
    c.train.epochs = 1;
    c.train.head_epochs = 1;
    Trainer t(c);
    t.fit(train);
    const auto scores = t.predict(test_set.images).scores;
    EXPECT_TRUE(torch::isfinite(scores).all().item<bool>()) << loss;
  }
}

TEST_F(TrainerTest, SameSeedSameResultOtherSeedOtherResult) {
  Config c = test::tiny_vit();
  c.train.epochs = 1;
  c.train.head_epochs = 1;
  auto run = [&](uint64_t seed) {
    Config s = c;
    s.train.seed = seed;
    Trainer t(s);
    t.fit(train);
    return std::make_pair(t.history().front().train_loss, t.predict(test_set.images).scores);
  };
  const auto a = run(3), b = run(3), d = run(4);
  EXPECT_EQ(a.first, b.first);
  EXPECT_TRUE(torch::equal(a.second, b.second));
  EXPECT_NE(a.first, d.first);
}

TEST_F(TrainerTest, CosineScheduleStartsAtTheConfiguredLrThenDecays) {
  auto run = [&](LrSchedule schedule, int64_t batch) {
    Config c = test::tiny_mlp();
    c.train.epochs = 1;
    c.train.head_epochs = 1;
    c.train.batch_size = batch;
    c.train.lr_schedule = schedule;
    Trainer t(c);
    t.fit(train);
    return t.predict(test_set.images).scores;
  };
  // One batch per stage: the cosine's first step is the configured lr, so both schedules agree.
  const int64_t whole = train.images.size(0);
  EXPECT_TRUE(torch::equal(run(LrSchedule::kCosine, whole), run(LrSchedule::kConstant, whole)));
  // Several batches: later steps run at a lower lr, and the model differs.
  EXPECT_FALSE(torch::equal(run(LrSchedule::kCosine, 64), run(LrSchedule::kConstant, 64)));
}

TEST_F(TrainerTest, ThreadSettingsReachOpenBlas) {
  if (blas_threads() == 0) GTEST_SKIP() << "LibTorch does not use OpenBLAS here";
  set_threads(2, 1);
  EXPECT_EQ(blas_threads(), 1);
  set_threads(1, 2);
  EXPECT_EQ(blas_threads(), 2);
  set_threads(1, 0);  // the default follows a single LibTorch thread
  EXPECT_EQ(blas_threads(), 1);
  set_threads(2, 0);  // 1 next to a multi-threaded LibTorch (pthreads OpenBLAS), else 2
  EXPECT_TRUE(blas_threads() == 1 || blas_threads() == 2) << blas_threads();
  test::expect_error([] { set_threads(1, -1); }, ErrorCode::kInvalidArgument, "blas threads must be >= 0");
  // Both automatic: fp32 hands every core to a pthreads OpenBLAS, bf16 to LibTorch.
  const int64_t cores = available_cores();
  set_threads(0, 0, Precision::kFloat32);
  const bool own_pool = torch::get_num_threads() == 1 && blas_threads() == cores;
  EXPECT_TRUE(own_pool || (torch::get_num_threads() == cores && blas_threads() == cores))
      << torch::get_num_threads() << "/" << blas_threads();
  set_threads(0, 0, Precision::kBFloat16);
  EXPECT_EQ(torch::get_num_threads(), cores);
  EXPECT_EQ(blas_threads(), own_pool && cores > 1 ? 1 : cores);
  set_threads(1, 1);
}

TEST_F(TrainerTest, AutoPrecisionFollowsTheMachine) {
  EXPECT_EQ(resolve_precision(Precision::kAuto, torch::kCPU), cpu_has_bf16() ? Precision::kBFloat16 : Precision::kFloat32);
  EXPECT_EQ(resolve_precision(Precision::kFloat32, torch::kCPU), Precision::kFloat32);
  EXPECT_EQ(resolve_precision(Precision::kBFloat16, torch::kCPU), Precision::kBFloat16);
  Config c = test::tiny_mlp();
  c.train.precision = Precision::kAuto;
  EXPECT_EQ(Trainer(c).precision(), resolve_precision(Precision::kAuto, torch::kCPU));
  EXPECT_EQ(Config::from_json(c.to_json()).train.precision, Precision::kAuto);
}

TEST_F(TrainerTest, StepByStepApiMatchesItsContract) {
  Config c = test::tiny_mlp();
  Trainer trainer(c);
  const auto losses = trainer.step(train.images.slice(0, 0, 64), train.labels.slice(0, 0, 64));
  EXPECT_EQ(losses.size(), 2u);
  EXPECT_GT(trainer.head_step(train.images.slice(0, 0, 64), train.labels.slice(0, 0, 64)), 0.0);
  const auto p = trainer.predict(test_set.images.slice(0, 0, 10), 3);
  EXPECT_EQ(p.topk.sizes(), torch::IntArrayRef({10, 3}));
  EXPECT_TRUE(torch::equal(p.labels, p.topk.select(1, 0)));
  EXPECT_TRUE(torch::allclose(p.scores.sum(1), torch::ones({10}), 1e-5));
  EXPECT_EQ(trainer.embed(test_set.images.slice(0, 0, 10), 1).sizes(), torch::IntArrayRef({10, 32}));
  const auto e = trainer.evaluate(test_set, {1, 2, 4});
  EXPECT_LE(e.topk.at(1), e.topk.at(2));
  EXPECT_DOUBLE_EQ(e.topk.at(4), 1.0);
}

TEST_F(TrainerTest, LrScaleIsTheConfiguredLrTimesTheScale) {
  // A host's own schedule: scale 0.5 on lr 0.004 trains exactly as lr 0.002 does, head included.
  Config half = test::tiny_mlp();
  half.train.lr = 0.002;
  half.train.head_lr = 0.01;
  Config base = half;
  base.train.lr = 0.004;
  base.train.head_lr = 0.02;
  Trainer a(base), b(half);
  a.set_lr_scale(0.5);
  const auto x = train.images.slice(0, 0, 64), y = train.labels.slice(0, 0, 64);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(a.step(x, y), b.step(x, y));
  EXPECT_EQ(a.head_step(x, y), b.head_step(x, y));
  EXPECT_TRUE(torch::equal(a.predict(test_set.images).scores, b.predict(test_set.images).scores));
  test::expect_error([&] { a.set_lr_scale(-1); }, ErrorCode::kInvalidArgument, "lr scale must be finite and >= 0");
  test::expect_error([&] { a.set_lr_scale(std::nan("")); }, ErrorCode::kInvalidArgument, "lr scale");
  // fit()'s schedule, as a host computes it
  EXPECT_EQ(lr_scale_at(LrSchedule::kCosine, 0, 8), 1.0);
  EXPECT_NEAR(lr_scale_at(LrSchedule::kCosine, 2, 8), 0.5 * (1 + std::cos(M_PI / 4)), 1e-15);
  EXPECT_EQ(lr_scale_at(LrSchedule::kConstant, 5, 8), 1.0);
  test::expect_error([] { lr_scale_at(LrSchedule::kAuto, 0, 8); }, ErrorCode::kInvalidArgument, "resolve kAuto");
  test::expect_error([] { lr_scale_at(LrSchedule::kCosine, 9, 8); }, ErrorCode::kInvalidArgument, "step 9 of 8");
  EXPECT_EQ(a.num_losses(), 2);
}

TEST_F(TrainerTest, BadInputsAreRefusedClearly) {
  Trainer trainer(test::tiny_mlp());
  const auto images = train.images.slice(0, 0, 8), labels = train.labels.slice(0, 0, 8);
  auto nan_images = images.to(torch::kFloat) / 255;
  nan_images[0][0][0][0] = std::nan("");
  test::expect_error([&] { trainer.step(nan_images, labels); }, ErrorCode::kNumerics, "NaN");
  test::expect_error([&] { trainer.step(torch::zeros({8, 1, 9, 8}), labels); }, ErrorCode::kInvalidArgument,
                     "expected images of shape N x 1 x 8 x 8");
  test::expect_error([&] { trainer.step(images, labels.slice(0, 0, 7)); }, ErrorCode::kInvalidArgument,
                     "expected 8 labels");
  test::expect_error([&] { trainer.step(images, labels + 10); }, ErrorCode::kInvalidArgument, "labels must lie in 0..3");
  test::expect_error([&] { trainer.predict(images, 5); }, ErrorCode::kInvalidArgument, "k must be in 1..4");
  auto batch = trainer.prepare(images, labels);
  test::expect_error([&] { trainer.train_layer(2, batch); }, ErrorCode::kInvalidArgument, "layer 2 out of 0..1");
  Config bp = test::tiny_mlp();
  bp.train.algorithm = Algorithm::kBackprop;
  Trainer bp_trainer(bp);
  auto bp_batch = bp_trainer.prepare(images, labels);
  test::expect_error([&] { bp_trainer.train_layer(0, bp_batch); }, ErrorCode::kState, "BP trains end to end");
  test::expect_error([] { Trainer t([] { Config c = test::tiny_mlp(); c.train.device = "cuda:7"; return c; }()); },
                     torch::cuda::is_available() ? ErrorCode::kUnsupported : ErrorCode::kUnsupported, "cuda:7");
}

TEST_F(TrainerTest, SeparateTrainersRunOnSeparateThreads) {
  std::vector<double> top1(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i)
    threads.emplace_back([&, i] {
      Config c = test::tiny_mlp();
      c.train.seed = uint64_t(i);
      Trainer t(c);
      t.fit(train);
      top1[size_t(i)] = t.evaluate(test_set).top1();
    });
  for (auto& t : threads) t.join();
  EXPECT_GT(top1[0], 0.8);
  EXPECT_GT(top1[1], 0.8);
}

// CUDA and the CPU give the same losses to float tolerance (skipped without a GPU).
TEST_F(TrainerTest, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  Config c = test::tiny_vit();
  c.train.epochs = 1;
  c.train.head_epochs = 1;
  c.train.tf32 = false;
  Trainer cpu(c);
  c.train.device = "cuda";
  Trainer gpu(c);
  const auto images = train.images.slice(0, 0, 64), labels = train.labels.slice(0, 0, 64);
  for (int i = 0; i < 3; ++i) {
    const auto a = cpu.step(images, labels), b = gpu.step(images, labels);
    for (size_t l = 0; l < a.size(); ++l) EXPECT_NEAR(a[l], b[l], 1e-3 * (1 + std::abs(a[l])));
  }
  EXPECT_TRUE(torch::allclose(cpu.predict(images).scores, gpu.predict(images).scores, 1e-3, 1e-3));
}

TEST(TrainerInputTest, FloatPixelsOutsideZeroToOneAreRefused) {
  Trainer t(test::tiny_mlp());
  const auto labels = torch::zeros({4}, torch::kLong);
  test::expect_error([&] { t.step(torch::full({4, 1, 8, 8}, 255.0), labels); }, ErrorCode::kInvalidArgument,
                     "float pixels must lie in 0..1, got 255..255");
  test::expect_error([&] { t.predict(torch::full({4, 1, 8, 8}, -3.0)); }, ErrorCode::kInvalidArgument,
                     "float pixels must lie in 0..1");
  test::expect_error([&] { t.predict(torch::full({4, 1, 8, 8}, NAN)); }, ErrorCode::kNumerics, "NaN or Inf");
  t.predict(torch::full({4, 1, 8, 8}, 1.0));  // the ends of the range are fine
  t.predict(torch::zeros({4, 1, 8, 8}));
}

}  // namespace
}  // namespace cff
