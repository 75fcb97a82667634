// Layer parallelism in one process: the stage split, the launch environment, and the in-process
// pipeline, which must train exactly what the sequential trainer trains (threads 1: bit for bit).
// Multi-process runs are tested end to end in tests/tools/test_distributed.sh.
#include <cstdlib>

#include "test_util.hpp"

namespace cff {
namespace {

const Dataset& train_data() {
  static const Dataset d = test::blobs(300, 4, 1, 8, 8, 1);
  return d;
}

// Every trained tensor of `a` equals `b`'s exactly; histories agree loss for loss.
void expect_identical(const Trainer& a, const Trainer& b, const std::string& what) {
  const auto ta = a.named_tensors(), tb = b.named_tensors();
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i)
    EXPECT_TRUE(torch::equal(ta[i].second, tb[i].second)) << what << ": " << ta[i].first;
  const auto ha = a.history(), hb = b.history();
  ASSERT_EQ(ha.size(), hb.size()) << what;
  for (size_t e = 0; e < ha.size(); ++e) {
    EXPECT_EQ(ha[e].train_loss, hb[e].train_loss) << what << " epoch " << e;
    EXPECT_EQ(ha[e].val_loss, hb[e].val_loss) << what << " epoch " << e;
    EXPECT_EQ(ha[e].best, hb[e].best) << what << " epoch " << e;
  }
}

Config three_layers(Config c) {
  c.model.num_layers = 3;
  c.train.blas_threads = 1;
  c.train.head_epochs = 1;
  return c;
}

TEST(SplitStagesTest, EqualCostsAndMeasuredCosts) {
  using Split = std::vector<std::pair<int64_t, int64_t>>;
  EXPECT_EQ(split_stages(3, 3), (Split{{0, 1}, {1, 2}, {2, 3}}));
  EXPECT_EQ(split_stages(4, 2), (Split{{0, 2}, {2, 4}}));
  EXPECT_EQ(split_stages(5, 1), (Split{{0, 5}}));
  // One heavy layer gets a stage of its own.
  EXPECT_EQ(split_stages(4, 2, {1, 1, 1, 5}), (Split{{0, 3}, {3, 4}}));
  EXPECT_EQ(split_stages(4, 3, {4, 1, 1, 4}), (Split{{0, 1}, {1, 3}, {3, 4}}));
  test::expect_error([] { split_stages(2, 3); }, ErrorCode::kInvalidArgument, "cannot split 2 layer(s) into 3 stage(s)");
  test::expect_error([] { split_stages(2, 0); }, ErrorCode::kInvalidArgument, "cannot split");
  test::expect_error([] { split_stages(2, 1, {1}); }, ErrorCode::kInvalidArgument, "1 costs for 2 layers");
}

TEST(ParallelOptionsTest, BadValuesAreNamed) {
  ParallelOptions o;
  o.queue_depth = 0;
  test::expect_error([&] { o.validate(); }, ErrorCode::kInvalidArgument, "queue depth");
  o = {};
  o.timeout_seconds = 0;
  test::expect_error([&] { o.validate(); }, ErrorCode::kInvalidArgument, "timeout");
  o = {};
  o.mode = ParallelMode::kPipelineData;
  test::expect_error([&] { o.validate(); }, ErrorCode::kInvalidArgument, "needs a stage count");
  o = {};
  o.pipeline = true;
  o.mode = ParallelMode::kData;
  test::expect_error([&] { o.validate(); }, ErrorCode::kInvalidArgument, "cannot be combined");
  EXPECT_EQ(from_string<ParallelMode>("pipeline,data", "mode"), ParallelMode::kPipelineData);
  test::expect_error([] { from_string<ParallelMode>("both", "--parallel"); }, ErrorCode::kInvalidArgument,
                     "--parallel must be one of none, pipeline, data, pipeline,data");
}

TEST(LaunchEnvironmentTest, ReadsTorchrunsVariablesAndNamesTheMissingOne) {
  for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                        "SLURM_NTASKS", "SLURM_LOCALID"})
    unsetenv(v);
  test::expect_error([] { launch_environment(); }, ErrorCode::kInvalidArgument, "WORLD_SIZE is not set");
  setenv("WORLD_SIZE", "2", 1);
  test::expect_error([] { launch_environment(); }, ErrorCode::kInvalidArgument, "RANK is not set");
  setenv("RANK", "2", 1);
  test::expect_error([] { launch_environment(); }, ErrorCode::kInvalidArgument, "RANK must be an integer in 0..1");
  setenv("RANK", "1", 1);
  test::expect_error([] { launch_environment(); }, ErrorCode::kInvalidArgument, "MASTER_ADDR is not set");
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "70000", 1);
  test::expect_error([] { launch_environment(); }, ErrorCode::kInvalidArgument, "MASTER_PORT must be an integer");
  setenv("MASTER_PORT", "29500", 1);
  const auto env = launch_environment();
  EXPECT_EQ(env.rank, 1);
  EXPECT_EQ(env.world_size, 2);
  EXPECT_EQ(env.local_rank, 0);
  EXPECT_EQ(env.master_addr, "127.0.0.1");
  EXPECT_EQ(env.master_port, 29500);
  for (const char* v : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(v);
  // SLURM's srun names the same things its own way.
  setenv("SLURM_NTASKS", "4", 1);
  setenv("SLURM_PROCID", "3", 1);
  setenv("SLURM_LOCALID", "1", 1);
  setenv("MASTER_ADDR", "node0", 1);
  setenv("MASTER_PORT", "29501", 1);
  const auto slurm = launch_environment();
  EXPECT_EQ(slurm.rank, 3);
  EXPECT_EQ(slurm.world_size, 4);
  EXPECT_EQ(slurm.local_rank, 1);
  for (const char* v : {"SLURM_NTASKS", "SLURM_PROCID", "SLURM_LOCALID", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(v);
}

// The pipeline against the sequential trainer: MLP CFF+M (cosine schedule), ViT CFF+M, FF
// (positive/negative streams), one-forward CFF; stage splits of every shape.
TEST(PipelineTest, TrainsBitIdenticalToSequentialAtOneThread) {
  struct Case {
    const char* name;
    Config config;
    int64_t stages;
    int64_t depth;
    bool balance;
  };
  Config ff = three_layers(test::tiny_mlp());
  ff.train.algorithm = Algorithm::kForwardForward;
  ff.train.loss = "ff";
  Config one_view = three_layers(test::tiny_mlp());
  one_view.train.views = 1;
  Config constant = three_layers(test::tiny_mlp());
  constant.train.lr_schedule = LrSchedule::kConstant;
  const Case cases[] = {{"mlp, a stage per layer", three_layers(test::tiny_mlp()), 0, 2, false},
                        {"mlp, 2 stages, depth 1", three_layers(test::tiny_mlp()), 2, 1, false},
                        {"mlp, balanced", constant, 2, 3, true},
                        {"vit", three_layers(test::tiny_vit()), 0, 2, false},
                        {"ff", ff, 3, 2, false},
                        {"one forward", one_view, 2, 2, false}};
  for (const auto& k : cases) {
    Trainer sequential(k.config), piped(k.config);
    sequential.fit(train_data());
    FitHooks hooks;
    hooks.parallel.pipeline = true;
    hooks.parallel.stages = k.stages;
    hooks.parallel.queue_depth = k.depth;
    hooks.parallel.balance = k.balance;
    const auto r = piped.fit(train_data(), hooks);
    EXPECT_EQ(int64_t(r.stage_seconds.size()), k.stages ? k.stages : k.config.model.num_layers) << k.name;
    expect_identical(sequential, piped, k.name);
  }
}

TEST(PipelineTest, MultiThreadedStagesAgreeToFloatTolerance) {
  Config c = three_layers(test::tiny_mlp());
  c.train.threads = 2;
  c.train.blas_threads = 2;
  Trainer sequential(c), piped(c);
  sequential.fit(train_data());
  FitHooks hooks;
  hooks.parallel.pipeline = true;
  piped.fit(train_data(), hooks);
  const auto a = sequential.named_tensors(), b = piped.named_tensors();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::allclose(a[i].second, b[i].second, 1e-3, 1e-4)) << a[i].first;
  EXPECT_NEAR(sequential.history().back().train_loss[0], piped.history().back().train_loss[0], 1e-4);
}

// A loss that fails on one layer after a few batches, to see the error leave the pipeline.
class FailingLoss : public LocalLoss {
 public:
  explicit FailingLoss(int64_t layer) : layer_(layer) {}
  LossInputs inputs() const override { return LossInputs::kViews; }
  torch::Tensor forward(const LossBatch& batch) override {
    CFF_CHECK_CODE(layer_ != 2 || ++calls_ < 4, ErrorCode::kPlugin, "test loss gave up");
    return batch.features[0].pow(2).mean();
  }

 private:
  int64_t layer_;
  int calls_ = 0;
};

TEST(PipelineTest, AStageErrorStopsEveryStageAndNamesStageAndLayer) {
  static bool registered = false;
  if (!registered) {
    loss_registry().add({"fails-at-layer-2", "test", {}}, [](const Params&, const LossContext& ctx) {
      return std::unique_ptr<LocalLoss>(new FailingLoss(ctx.layer));
    });
    registered = true;
  }
  Config c = three_layers(test::tiny_mlp());
  c.train.loss = "fails-at-layer-2";
  Trainer trainer(c);
  FitHooks hooks;
  hooks.parallel.pipeline = true;
  hooks.parallel.stages = 2;  // layers 0..1, layer 2
  test::expect_error([&] { trainer.fit(train_data(), hooks); }, ErrorCode::kPlugin,
                     "pipeline stage 1 (layer 2), layer 2: test loss gave up");
  // The trainer stays usable: nothing is left running and a prediction works.
  EXPECT_EQ(trainer.predict(train_data().images.narrow(0, 0, 4)).labels.size(0), 4);
}

TEST(PipelineTest, StopsAfterABatchAndKeepsNoPartialEpoch) {
  Config c = three_layers(test::tiny_mlp());
  Trainer trainer(c);
  std::atomic<bool> stop{false};
  FitHooks hooks;
  hooks.parallel.pipeline = true;
  hooks.stop = &stop;
  int64_t reports = 0;
  hooks.on_progress = [&](const Progress& p) {
    if (++reports == 3) stop = true;
    EXPECT_EQ(p.losses.size(), 3u);
  };
  const auto r = trainer.fit(train_data(), hooks);
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(reports, 3);
  EXPECT_EQ(trainer.epoch(), 0);
  EXPECT_TRUE(trainer.history().empty());
}

TEST(PipelineTest, BackpropIsRefused) {
  Config c = test::tiny_mlp();
  c.train.algorithm = Algorithm::kBackprop;
  Trainer trainer(c);
  FitHooks hooks;
  hooks.parallel.pipeline = true;
  test::expect_error([&] { trainer.fit(train_data(), hooks); }, ErrorCode::kInvalidArgument,
                     "the pipeline needs layer-local losses");
  hooks.parallel.pipeline = false;
  hooks.parallel.stages = 3;
  hooks.parallel.mode = ParallelMode::kNone;
  Config mlp = test::tiny_mlp();
  Trainer two_layers(mlp);
  hooks.parallel.pipeline = true;
  test::expect_error([&] { two_layers.fit(train_data(), hooks); }, ErrorCode::kInvalidArgument,
                     "cannot split 2 layer(s) into 3 stage(s)");
}

}  // namespace
}  // namespace cff
