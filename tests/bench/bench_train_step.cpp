// One stage-1 training step (every layer, both views, forward + backward + AdamW) at the sizes
// the core issue names, in fp32 and bf16, and the thread settings the library chooses between.
//   ./bench_train_step --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include "cff/cff.hpp"

namespace {

cff::Config make_config(bool vit, bool bf16, int64_t batch) {
  cff::Config c;
  if (vit) {
    c.model.arch = cff::Architecture::kVit;
    c.model.embed_dim = 128;
    c.model.num_heads = 4;
    c.model.num_layers = 5;
    c.model.patch_size = 4;
  }
  c.train.batch_size = batch;
  c.train.precision = bf16 ? cff::Precision::kBFloat16 : cff::Precision::kFloat32;
  return c;
}

// args: {vit, bf16, batch, threads, blas}: LibTorch intra-op threads and OpenBLAS's own threads
// (TrainOptions::threads / blas_threads; 0 / 0 = the library's defaults: every core, and for a
// pthreads OpenBLAS 1 thread). The counter `blas` reports what OpenBLAS ran with.
void BM_Stage1Step(benchmark::State& state) {
  auto c = make_config(state.range(0) != 0, state.range(1) != 0, state.range(2));
  c.train.threads = state.range(3);
  c.train.blas_threads = state.range(4);
  cff::Trainer trainer(c);
  state.counters["blas"] = double(cff::blas_threads());
  const auto images = torch::randint(0, 256, {state.range(2), 1, 28, 28}, torch::kUInt8);
  const auto labels = torch::randint(0, 10, {state.range(2)}, torch::kLong);
  trainer.step(images, labels);  // warm-up: first-call allocations and oneDNN kernel selection
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(images, labels));
  state.SetItemsProcessed(state.iterations() * state.range(2));
}

void BM_Predict(benchmark::State& state) {
  auto c = make_config(state.range(0) != 0, state.range(1) != 0, state.range(2));
  cff::Trainer trainer(c);
  const auto images = torch::randint(0, 256, {state.range(2), 1, 28, 28}, torch::kUInt8);
  for (auto _ : state) benchmark::DoNotOptimize(trainer.predict(images));
  state.SetItemsProcessed(state.iterations() * state.range(2));
}

}  // namespace

// MLP[500 3] at batch 512 and ViT[128 4 5] (28x28, patch 4) at batch 128; fp32 and bf16; thread mixes.
BENCHMARK(BM_Stage1Step)
    ->ArgNames({"vit", "bf16", "batch", "threads", "blas"})
    ->Args({0, 0, 512, 1, 1})
    ->Args({0, 0, 512, 2, 1})
    ->Args({0, 0, 512, 2, 2})
    ->Args({0, 0, 512, 0, 0})
    ->Args({0, 1, 512, 1, 1})
    ->Args({0, 1, 512, 2, 1})
    ->Args({0, 1, 512, 2, 2})
    ->Args({0, 1, 512, 0, 0})
    ->Args({1, 0, 128, 1, 1})
    ->Args({1, 0, 128, 2, 1})
    ->Args({1, 0, 128, 2, 2})
    ->Args({1, 0, 128, 0, 0})
    ->Args({1, 1, 128, 1, 1})
    ->Args({1, 1, 128, 2, 1})
    ->Args({1, 1, 128, 2, 2})
    ->Args({1, 1, 128, 0, 0})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Predict)->ArgNames({"vit", "bf16", "batch"})->Args({0, 1, 1})->Args({0, 1, 512})->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
