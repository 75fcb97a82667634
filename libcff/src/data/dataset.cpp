// Dataset helpers: validation, subsets, channel statistics and the seeded train/validation split.
#include <algorithm>
#include <numeric>
#include <random>

#include "cff/data.hpp"
#include "cff/error.hpp"

namespace cff {

void Dataset::validate() const {
  CFF_CHECK(images.defined() && labels.defined(), "dataset: images and labels are required");
  CFF_CHECK(images.dim() == 4, "dataset: images must be N x C x H x W, got ", images.dim(), " dimensions");
  CFF_CHECK(images.scalar_type() == torch::kUInt8 || images.scalar_type() == torch::kFloat,
            "dataset: images must be uint8 or float32");
  CFF_CHECK(labels.dim() == 1 && labels.scalar_type() == torch::kLong, "dataset: labels must be N int64");
  CFF_CHECK(images.size(0) == labels.size(0), "dataset: ", images.size(0), " images but ", labels.size(0), " labels");
  CFF_CHECK(num_classes >= 1, "dataset: num_classes must be >= 1");
  if (labels.numel() > 0)
    CFF_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < num_classes,
              "dataset: labels must lie in 0..", num_classes - 1);
  CFF_CHECK(class_names.empty() || int64_t(class_names.size()) == num_classes, "dataset: ", class_names.size(),
            " class names for ", num_classes, " classes");
}

ChannelStats channel_stats(const torch::Tensor& images) {
  CFF_CHECK(images.defined() && images.dim() == 4 && images.size(0) >= 1,
            "channel_stats: images must be N x C x H x W with N >= 1");
  const int64_t c = images.size(1);
  ChannelStats out{std::vector<double>(size_t(c)), std::vector<double>(size_t(c))};
  for (int64_t ch = 0; ch < c; ++ch) {
    auto x = images.select(1, ch).to(torch::kDouble);
    if (images.scalar_type() == torch::kUInt8) x = x / 255.0;
    out.mean[size_t(ch)] = x.mean().item<double>();
    out.std[size_t(ch)] = std::max(x.numel() > 1 ? x.std().item<double>() : 0.0, 1e-6);  // std of one value: NaN
  }
  return out;
}

Dataset Dataset::subset(const torch::Tensor& indices) const {
  Dataset d = *this;
  d.images = images.index_select(0, indices);
  d.labels = labels.index_select(0, indices);
  return d;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> split_indices(int64_t n, double fraction, uint64_t seed) {
  CFF_CHECK(fraction >= 0 && fraction < 1, "validation fraction must be in [0, 1), got ", fraction);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t n_val = static_cast<int64_t>(fraction * double(n));
  return {std::vector<int64_t>(order.begin() + n_val, order.end()), std::vector<int64_t>(order.begin(), order.begin() + n_val)};
}

std::pair<Dataset, Dataset> split(const Dataset& data, double fraction, uint64_t seed) {
  const auto [tr, val] = split_indices(data.size(), fraction, seed);
  return {data.subset(torch::tensor(tr, torch::kLong)), data.subset(torch::tensor(val, torch::kLong))};
}

}  // namespace cff
