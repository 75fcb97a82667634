#pragma once
/// @file augment.hpp
/// Augmentations: the interface (built-ins and plugins), the built-ins of the paper, and the
/// pipeline that turns a batch into one random view. The trainer calls the pipeline once per view,
/// each time with a fresh seed, so the two CFF views are augmented independently.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "cff/registry.hpp"

namespace cff {

/// Transforms a batch of images. Input: N x C x H x W float32 in [0, 1] on any device; output:
/// the same shape, dtype and device. The same seed must give the same result.
class Augmentation {
 public:
  virtual ~Augmentation() = default;
  virtual torch::Tensor apply(const torch::Tensor& images, uint64_t seed) const = 0;
};

/// Random crop after zero padding of `padding` pixels (0..64) on every side, per image
/// (torchvision's RandomCrop(size, padding)).
class RandomCrop : public Augmentation {
 public:
  explicit RandomCrop(int64_t padding = 4);
  torch::Tensor apply(const torch::Tensor& images, uint64_t seed) const override;

 private:
  int64_t padding_;
};

/// Mirrors each image left-right with probability p.
class HorizontalFlip : public Augmentation {
 public:
  explicit HorizontalFlip(double p = 0.5);
  torch::Tensor apply(const torch::Tensor& images, uint64_t seed) const override;

 private:
  double p_;
};

using AugmentFactory = std::function<std::unique_ptr<Augmentation>(const Params&)>;
using AugmentRegistry = Registry<AugmentFactory>;

/// The process-wide augmentation registry, holding the built-ins "crop" (padding=4) and
/// "hflip" (p=0.5).
AugmentRegistry& augment_registry();

/// A sequence of augmentations built from a spec such as "crop:padding=2+hflip"; "none" or ""
/// is the identity.
class AugmentPipeline {
 public:
  AugmentPipeline() = default;
  explicit AugmentPipeline(const std::string& spec);
  torch::Tensor apply(const torch::Tensor& images, uint64_t seed) const;
  bool empty() const { return steps_.empty(); }

 private:
  std::vector<std::shared_ptr<const Augmentation>> steps_;
};

/// Mixes a seed with a stream index (splitmix64), for deriving independent per-step seeds.
uint64_t mix_seed(uint64_t seed, uint64_t stream);

}  // namespace cff
