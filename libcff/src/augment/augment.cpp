// Built-in augmentations (random crop with zero padding, horizontal flip) and the pipeline.
#include <random>

#include "cff/augment.hpp"
#include "cff/error.hpp"

namespace cff {
namespace {
using torch::indexing::Slice;

void check_batch(const torch::Tensor& images, const char* who) {
  CFF_CHECK(images.defined() && images.dim() == 4, who, ": expected N x C x H x W images, got ",
            images.defined() ? images.dim() : 0, " dimensions");
  CFF_CHECK(images.is_floating_point(), who, ": expected floating-point images");
}

torch::Tensor on_device(std::vector<int64_t> values, const torch::Device& device) {
  return torch::tensor(values, torch::kLong).to(device);
}
}  // namespace

uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr int64_t kMaxCropPadding = 64;  // augment.hpp

RandomCrop::RandomCrop(int64_t padding) : padding_(padding) {
  // Beyond a few dozen pixels a crop is mostly zeros, and the padded batch is materialised (a
  // fuzz run reached 2 GiB with 4096); unbounded, 2p overflowed (fuzz finding,
  // tests/fuzz/regressions/fuzz_spec-crop-padding-overflow).
  CFF_CHECK(padding >= 0 && padding <= kMaxCropPadding, "crop: padding must be in 0..", kMaxCropPadding, ", got ",
            padding);
}

torch::Tensor RandomCrop::apply(const torch::Tensor& images, uint64_t seed) const {
  check_batch(images, "crop");
  if (padding_ == 0) return images;
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3), p = padding_;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> offset(0, 2 * p);
  std::vector<int64_t> oy(n), ox(n);
  for (int64_t i = 0; i < n; ++i) {
    oy[i] = offset(rng);
    ox[i] = offset(rng);
  }
  const auto dev = images.device();
  const auto padded = torch::constant_pad_nd(images, {p, p, p, p}, 0).permute({0, 2, 3, 1});  // N x H' x W' x C
  const auto ar_h = torch::arange(h, torch::TensorOptions().dtype(torch::kLong).device(dev));
  const auto ar_w = torch::arange(w, torch::TensorOptions().dtype(torch::kLong).device(dev));
  const auto rows = (on_device(oy, dev).unsqueeze(1) + ar_h.unsqueeze(0)).unsqueeze(2);  // N x H x 1
  const auto cols = (on_device(ox, dev).unsqueeze(1) + ar_w.unsqueeze(0)).unsqueeze(1);  // N x 1 x W
  const auto batch = torch::arange(n, torch::TensorOptions().dtype(torch::kLong).device(dev)).view({n, 1, 1});
  return padded.index({batch, rows, cols}).permute({0, 3, 1, 2}).contiguous();
}

HorizontalFlip::HorizontalFlip(double p) : p_(p) {
  CFF_CHECK(p >= 0 && p <= 1, "hflip: p must be in [0, 1], got ", p);
}

torch::Tensor HorizontalFlip::apply(const torch::Tensor& images, uint64_t seed) const {
  check_batch(images, "hflip");
  const int64_t n = images.size(0);
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution coin(p_);
  std::vector<int64_t> flip(n);
  for (auto& f : flip) f = coin(rng) ? 1 : 0;
  const auto mask = on_device(flip, images.device()).to(torch::kBool).view({n, 1, 1, 1});
  return torch::where(mask, images.flip({3}), images);
}

AugmentRegistry& augment_registry() {
  static AugmentRegistry* registry = [] {
    auto* r = new AugmentRegistry();  // never destroyed: plugins may unregister during static teardown
    r->add({"crop", "random crop after zero padding on every side", {{"padding", "4", "pixels of zero padding"}}},
           [](const Params& p) { return std::make_unique<RandomCrop>(p.get_int("padding")); });
    r->add({"hflip", "horizontal flip", {{"p", "0.5", "probability of flipping an image"}}},
           [](const Params& p) { return std::make_unique<HorizontalFlip>(p.get_double("p")); });
    return r;
  }();
  return *registry;
}

AugmentPipeline::AugmentPipeline(const std::string& spec) {
  if (spec.empty() || spec == "none") return;
  for (const auto& s : Spec::parse_pipeline(spec)) {
    auto [entry, params] = augment_registry().resolve(s, "augmentation");
    auto step = entry.factory(params);
    CFF_CHECK_CODE(step != nullptr, ErrorCode::kPlugin, "augmentation '", s.name, "' (", entry.info.origin,
                   ") returned no object");
    steps_.push_back(std::move(step));
  }
}

torch::Tensor AugmentPipeline::apply(const torch::Tensor& images, uint64_t seed) const {
  auto out = images;
  for (size_t i = 0; i < steps_.size(); ++i) {
    auto next = steps_[i]->apply(out, mix_seed(seed, i));
    CFF_CHECK_CODE(next.defined() && next.sizes() == out.sizes(), ErrorCode::kPlugin, "augmentation step ", i,
                   " changed the batch shape");
    out = next;
  }
  return out;
}

}  // namespace cff
