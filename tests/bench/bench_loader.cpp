// The Loader's throughput (decoded + augmented images per second from a folder of 28x28 PNGs,
// streamed, not cached) with 1 and 2 worker threads, against the rate at which a stage-1 MLP
// step consumes images. The loader must not be the bottleneck of MLP training.
//   ./bench_loader --benchmark_min_time=2
#include <stb_image_write.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <filesystem>

#include "cff/cff.hpp"

namespace {
namespace fs = std::filesystem;

// 10 classes x 256 PNGs of 28 x 28 noise, written once per process.
const std::string& png_folder() {
  static const std::string root = [] {
    const auto dir = fs::temp_directory_path() / ("cff_bench_loader_" + std::to_string(::getpid()));
    auto gen = at::detail::createCPUGenerator(0);
    for (int c = 0; c < 10; ++c) {
      fs::create_directories(dir / ("class" + std::to_string(c)));
      for (int i = 0; i < 256; ++i) {
        const auto img = torch::randint(0, 256, {28, 28}, gen, torch::kUInt8).contiguous();
        const auto path = dir / ("class" + std::to_string(c)) / (std::to_string(i) + ".png");
        stbi_write_png(path.c_str(), 28, 28, 1, img.data_ptr<uint8_t>(), 28);
      }
    }
    std::atexit([] { fs::remove_all(fs::temp_directory_path() / ("cff_bench_loader_" + std::to_string(::getpid()))); });
    return dir.string();
  }();
  return root;
}

// args: {workers, augment: 0 none, 1 hflip (MLP default), 2 crop:padding=4+hflip (ViT default)}
void BM_LoaderFromPngs(benchmark::State& state) {
  cff::ImageFolderOptions fo;
  fo.report_skipped = false;
  auto folder = std::make_shared<cff::ImageFolder>(png_folder(), fo);
  static const char* augment[] = {"", "hflip", "crop:padding=4+hflip"};
  cff::set_threads(1);  // the augmentation's tensor ops stay on the worker thread
  cff::Loader loader(folder, {512, state.range(0), 4, augment[state.range(1)], 0});
  int64_t epoch = 0, images = 0;
  loader.start_epoch(epoch);
  for (auto _ : state) {
    cff::LoaderBatch batch;
    if (!loader.next(batch)) {
      state.PauseTiming();
      loader.start_epoch(++epoch);
      state.ResumeTiming();
      loader.next(batch);
    }
    images += batch.images.size(0);
    benchmark::DoNotOptimize(batch.images.data_ptr());
  }
  state.SetItemsProcessed(images);
}

// A stage-1 CFF+M step of MLP[500 3] on 1x28x28 at batch 512: images consumed per second.
// args: {bf16, threads}
void BM_MlpStepConsumption(benchmark::State& state) {
  cff::Config c;
  c.train.batch_size = 512;
  c.train.precision = state.range(0) ? cff::Precision::kBFloat16 : cff::Precision::kFloat32;
  c.train.threads = state.range(1);
  c.train.device = "cpu";
  cff::Trainer trainer(c);
  const auto images = torch::randint(0, 256, {512, 1, 28, 28}, torch::kUInt8);
  const auto labels = torch::randint(0, 10, {512}, torch::kLong);
  trainer.step(images, labels);
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(images, labels));
  state.SetItemsProcessed(state.iterations() * 512);
}

}  // namespace

BENCHMARK(BM_LoaderFromPngs)
    ->ArgNames({"workers", "augment"})
    ->Args({1, 1})
    ->Args({2, 1})
    ->Args({1, 2})
    ->Args({2, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MlpStepConsumption)
    ->ArgNames({"bf16", "threads"})
    ->Args({0, 2})
    ->Args({1, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
