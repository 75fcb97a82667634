// Per-call overhead of the C API: cff_model_predict on one image against the C++ Trainer::predict on
// the same model and image (MLP[500 3] on 1x28x28, 10 classes, CPU, one thread), plus a call that
// does no tensor work (cff_model_num_layers) to show the fixed cost of the boundary itself.
//   build/tests/bench/bench_capi --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "cff.h"
#include "cff/cff.hpp"

namespace {
const char* kConfig =
    R"({"model": {"embed_dim": 500, "num_layers": 3}, "train": {"device": "cpu", "threads": 1, "seed": 0}})";

std::vector<uint8_t> image() {
  std::vector<uint8_t> px(28 * 28);
  for (size_t i = 0; i < px.size(); ++i) px[i] = uint8_t((i * 37) % 256);
  return px;
}

void BM_CppPredictOneImage(benchmark::State& state) {
  cff::Trainer trainer(cff::Config::from_json(kConfig));
  auto px = image();
  const auto images = torch::from_blob(px.data(), {1, 1, 28, 28}, torch::kUInt8);
  for (auto _ : state) {
    auto p = trainer.predict(images, 1);
    benchmark::DoNotOptimize(p.labels.data_ptr<int64_t>()[0]);
  }
}
BENCHMARK(BM_CppPredictOneImage);

// ViT[128 4 5], patch 4, on 1x28x28 (the speed issue's latency target: <= 2 ms on the CPU).
const char* kVitConfig =
    R"({"model": {"arch": "vit", "embed_dim": 128, "num_heads": 4, "num_layers": 5, "patch_size": 4},
        "train": {"device": "cpu", "threads": 1, "seed": 0}})";

// args: {vit: 0 = MLP[500 3] (kConfig), 1 = ViT[128 4 5] (kVitConfig); threads: 1, or 0 = the
// library's automatic choice (fp32: LibTorch 1, OpenBLAS every core)}
void BM_CPredictOneImage(benchmark::State& state) {
  cff_model* model = nullptr;
  if (cff_status* s = cff_model_create_json(state.range(0) ? kVitConfig : kConfig, &model)) {
    state.SkipWithError(cff_status_message(s));
    cff_status_free(s);
    return;
  }
  if (cff_status* s = cff_threads_set(state.range(1))) {
    state.SkipWithError(cff_status_message(s));
    cff_status_free(s);
    return;
  }
  auto px = image();
  cff_batch batch = CFF_BATCH_INIT;
  batch.images = px.data();
  batch.images_length = int64_t(px.size());
  batch.count = 1;
  batch.channels = 1;
  batch.height = batch.width = 28;
  int64_t label = -1;
  for (auto _ : state) {
    cff_status* s = cff_model_predict(model, &batch, 1, &label, 1, nullptr, 0, nullptr, 0);
    if (s) state.SkipWithError(cff_status_message(s));
    cff_status_free(s);
    benchmark::DoNotOptimize(label);
  }
  cff_model_free(model);
}
BENCHMARK(BM_CPredictOneImage)->ArgNames({"vit", "threads"})->Args({0, 1})->Args({0, 0})->Args({1, 1})->Args({1, 0});

void BM_CEmptyCall(benchmark::State& state) {
  cff_model* model = nullptr;
  cff_status_free(cff_model_create_json(kConfig, &model));
  int64_t layers = 0;
  for (auto _ : state) {
    cff_status_free(cff_model_num_layers(model, &layers));
    benchmark::DoNotOptimize(layers);
  }
  cff_model_free(model);
}
BENCHMARK(BM_CEmptyCall);
}  // namespace

BENCHMARK_MAIN();
