#pragma once
// Small synthetic data and helpers shared by the test suites.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "cff/cff.hpp"

namespace cff::test {

// `classes` classes of C x H x W images: class c lights a distinct block of pixels, plus noise.
inline Dataset blobs(int64_t n, int64_t classes, int64_t c, int64_t h, int64_t w, uint64_t seed, double noise = 0.3) {
  auto gen = at::detail::createCPUGenerator(seed);
  Dataset d;
  d.num_classes = classes;
  d.labels = torch::randint(0, classes, {n}, gen, torch::TensorOptions().dtype(torch::kLong));
  auto x = torch::rand({n, c, h, w}, gen) * noise;
  const int64_t cells = h * w;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = d.labels[i].item<int64_t>();
    const int64_t start = (k * cells) / classes, len = std::max<int64_t>(1, cells / classes);
    x[i].view({c, cells}).narrow(1, start, len).add_(1.0 - noise);
  }
  d.images = (x.clamp(0, 1) * 255).round().to(torch::kUInt8);
  return d;
}

inline Config tiny_mlp(int64_t classes = 4, int64_t h = 8, int64_t w = 8) {
  Config c;
  c.model.embed_dim = 32;
  c.model.num_layers = 2;
  c.model.height = h;
  c.model.width = w;
  c.model.num_classes = classes;
  c.train.batch_size = 32;
  c.train.epochs = 2;
  c.train.head_epochs = 3;
  c.train.head_lr = 0.02;  // few head steps on tiny data: the paper's 0.0005 would barely move it
  c.train.threads = 1;
  c.train.device = "cpu";
  c.train.precision = Precision::kFloat32;  // the same numerics on every host (auto picks bf16 on AMX)
  return c;
}

inline Config tiny_vit(int64_t classes = 4) {
  Config c = tiny_mlp(classes);
  c.model.arch = Architecture::kVit;
  c.model.embed_dim = 16;
  c.model.num_heads = 2;
  c.model.patch_size = 4;
  return c;
}

// A fresh temporary folder, removed with the object.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = std::filesystem::temp_directory_path() /
           ("cff_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// Expects `fn` to throw cff::Error with `code` and a message containing `part`.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "expected cff::Error containing '" << part << "'";
  } catch (const Error& e) {
    EXPECT_EQ(int(e.code()), int(code)) << e.what();
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

}  // namespace cff::test
