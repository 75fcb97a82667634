#pragma once
// The one rule every format follows for its classes (IDX, CIFAR and image folders alike).
#include <string>

#include <torch/torch.h>

#include "cff/error.hpp"

namespace cff::detail {

/// Training data must hold at least two distinct classes (an image folder needs two class
/// folders for the same reason): a single-class set trains to a constant.
inline void check_two_classes(const torch::Tensor& labels, const std::string& where, const std::string& part) {
  if (part != "train" || labels.numel() == 0) return;
  const auto lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  CFF_CHECK_CODE(lo != hi, ErrorCode::kFormat, where, ": every training label is ", lo,
                 "; classification needs at least two classes");
}

}  // namespace cff::detail
