// The overhead of a C-ABI loss plugin: one stage-1 training step (every layer, both views,
// forward + local loss + backward + AdamW) with the shipped C plugin "supcon-c" (the supervised
// contrastive loss in C, its products through the host table's sgemm, gradient handed back)
// against the built-in "supcon" (the fused loss), same model and batch. Also the loss alone
// (forward + backward).
//   ./bench_plugins --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include "cff/cff.hpp"

namespace {

void load() {
  static const bool loaded = [] {
    cff::load_plugin(CFF_BENCH_PLUGIN);
    return true;
  }();
  (void)loaded;
}

// args: {plugin (0 = built-in supcon, 1 = C plugin supcon-c), batch, embed}
void BM_Stage1Step(benchmark::State& state) {
  load();
  cff::Config c;
  c.model.embed_dim = state.range(2);
  c.model.num_layers = 2;
  c.train.batch_size = state.range(1);
  c.train.loss = state.range(0) ? "supcon-c" : "supcon";
  c.train.augment = "none";
  c.train.threads = 1;
  c.train.device = "cpu";
  cff::Trainer trainer(c);
  const auto images = torch::randint(0, 256, {state.range(1), 1, 28, 28}, torch::kUInt8);
  const auto labels = torch::randint(0, 10, {state.range(1)}, torch::kLong);
  trainer.step(images, labels);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(images, labels));
  state.SetItemsProcessed(state.iterations() * state.range(1));
}

// args: {plugin, batch, dim}: the loss of one layer on 2 views, forward + backward
void BM_LossOnly(benchmark::State& state) {
  load();
  auto loss = cff::make_loss(state.range(0) ? "supcon-c" : "supcon", {0, 1, 10});
  const auto z1 = torch::randn({state.range(1), state.range(2)}), z2 = torch::randn({state.range(1), state.range(2)});
  const auto labels = torch::randint(0, 10, {state.range(1)}, torch::kLong);
  for (auto _ : state) {
    auto a = z1.clone().requires_grad_(true), b = z2.clone().requires_grad_(true);
    loss->forward({{a, b}, labels}).backward();
    benchmark::DoNotOptimize(a.grad());
  }
}

}  // namespace

BENCHMARK(BM_Stage1Step)
    ->ArgNames({"plugin", "batch", "embed"})
    ->Args({0, 128, 256})
    ->Args({1, 128, 256})
    ->Args({0, 256, 500})
    ->Args({1, 256, 500})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LossOnly)
    ->ArgNames({"plugin", "batch", "dim"})
    ->Args({0, 128, 256})
    ->Args({1, 128, 256})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_MAIN();
