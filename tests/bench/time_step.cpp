// Times one piece of libcff's training in a fresh process and prints one JSON object: the
// libcff side of compare_pytorch.py and the probe behind measure_memory.py.
//
//   time_step step --arch mlp|vit --layers L --precision fp32|bf16 --batch N [--algo cff+m|bp]
//                  [--threads T --blas B] [--steps K --warmup W]
//   time_step loss --rows M --dim D --impl fused|tiled|autograd [--block R] [--steps K --warmup W]
//
// step: a CFF+M stage-1 step (both views augmented inside the step, every layer's forward,
// local loss, backward and AdamW) on 28x28 grey images, 10 classes; MLP[500 L] or
// ViT[128 4 L] patch 4. loss: the (marginal) contrastive loss alone, forward + backward, on
// M = 2N rows of D features. Every run reports each timed iteration in milliseconds and the
// process's peak resident memory during the timed part (VmHWM after resetting it, minus the
// resident memory before it) next to the resident memory before it. With --warmup 0 the peak is
// that of the first iterations in a fresh process (later ones reuse the heap glibc keeps).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cff/cff.hpp"
#include "reference_losses.hpp"

namespace {

int64_t status_kib(const char* key) {  // a field of /proc/self/status, in KiB
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line))
    if (line.rfind(k, 0) == 0) return std::atoll(line.c_str() + k.size());
  return -1;
}

void reset_peak() { std::ofstream("/proc/self/clear_refs") << "5"; }  // VmHWM := VmRSS

std::map<std::string, std::string> parse(int argc, char** argv) {
  std::map<std::string, std::string> a;
  for (int i = 2; i + 1 < argc; i += 2) a[std::string(argv[i]).substr(2)] = argv[i + 1];
  return a;
}

std::string get(const std::map<std::string, std::string>& a, const std::string& k, const std::string& def) {
  auto it = a.find(k);
  return it == a.end() ? def : it->second;
}

template <typename Fn>
void run(const std::map<std::string, std::string>& args, const std::string& extra, Fn&& once) {
  const int steps = std::stoi(get(args, "steps", "10")), warmup = std::stoi(get(args, "warmup", "2"));
  for (int i = 0; i < warmup; ++i) once();
  const int64_t before = status_kib("VmRSS");
  reset_peak();
  std::vector<double> ms;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    once();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const int64_t peak = status_kib("VmHWM");
  std::printf("{%s\"rss_before_mib\": %.1f, \"peak_mib\": %.1f, \"peak_extra_mib\": %.1f, \"torch_threads\": %d, "
              "\"blas_threads\": %lld, \"times_ms\": [",
              extra.c_str(), before / 1024.0, peak / 1024.0, (peak - before) / 1024.0, torch::get_num_threads(),
              static_cast<long long>(cff::blas_threads()));
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.3f", i ? ", " : "", ms[i]);
  std::printf("]}\n");
}

int step(const std::map<std::string, std::string>& args) {
  cff::Config c;
  const bool vit = get(args, "arch", "mlp") == "vit";
  const int64_t batch = std::stoll(get(args, "batch", "512"));
  c.model.num_layers = std::stoll(get(args, "layers", vit ? "5" : "3"));
  if (vit) {
    c.model.arch = cff::Architecture::kVit;
    c.model.embed_dim = 128;
    c.model.num_heads = 4;
    c.model.patch_size = 4;
  }
  c.train.batch_size = batch;
  c.train.precision = get(args, "precision", "fp32") == "bf16" ? cff::Precision::kBFloat16 : cff::Precision::kFloat32;
  c.train.algorithm = get(args, "algo", "cff+m") == "bp" ? cff::Algorithm::kBackprop : cff::Algorithm::kContrastive;
  c.train.threads = std::stoll(get(args, "threads", "0"));
  c.train.blas_threads = std::stoll(get(args, "blas", "0"));
  cff::Trainer trainer(c);
  const auto images = torch::randint(0, 256, {batch, 1, 28, 28}, torch::kUInt8);
  const auto labels = torch::randint(0, 10, {batch}, torch::kLong);
  run(args, "", [&] { trainer.step(images, labels); });
  return 0;
}

int loss(const std::map<std::string, std::string>& args) {
  const int64_t rows = std::stoll(get(args, "rows", "1024")), dim = std::stoll(get(args, "dim", "500"));
  const std::string impl = get(args, "impl", "fused");
  cff::set_threads(std::stoll(get(args, "threads", "0")), std::stoll(get(args, "blas", "0")));
  cff::tune_allocator();
  auto views = torch::randn({rows, dim}).split(rows / 2, 0);
  for (auto& v : views) v = v.clone().requires_grad_(true);
  const auto labels = torch::randint(0, 10, {rows / 2}, torch::kLong);
  const int64_t block = impl == "tiled" ? std::stoll(get(args, "block", "256")) : impl == "fused" ? rows : 0;
  cff::SupervisedContrastiveLoss fused(0.15, 0.25, block);
  run(args, "", [&] {
    auto value = impl == "autograd" ? cff::test::autograd_supcon(views, labels, 0.15, 0.25)
                                    : fused.forward({views, labels});
    value.backward();
    for (auto& v : views) v.mutable_grad().reset();
  });
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    const auto args = parse(argc, argv);
    if (mode == "step") return step(args);
    if (mode == "loss") return loss(args);
    std::fprintf(stderr, "usage: time_step step|loss [--key value ...] (see the file's header)\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "time_step: %s\n", e.what());
  }
  return 1;
}
