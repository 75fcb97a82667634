#pragma once
/// @file data.hpp
/// In-memory labelled image sets and the IDX (MNIST layout) reader.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace cff {

/// A labelled image set held in memory.
struct Dataset {
  torch::Tensor images;  ///< N x C x H x W, uint8 (0..255) or float32 (0..1), on the CPU
  torch::Tensor labels;  ///< N, int64, each in 0 .. num_classes-1
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  ///< may be empty (then names are "0", "1", ...)

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  /// Rows `indices` (int64 tensor) as a new dataset with the same classes.
  Dataset subset(const torch::Tensor& indices) const;
  /// Throws kInvalidArgument unless images/labels agree in count, shape and range.
  void validate() const;
};

/// A seeded split of `data` into (train, validation); `fraction` of it goes to validation.
std::pair<Dataset, Dataset> split(const Dataset& data, double fraction, uint64_t seed);

/// Reads an IDX image file (magic 0x00000803, uint8, N x rows x cols), gzip'd or plain.
/// Returns N x 1 x rows x cols uint8. Throws kIo / kFormat naming the file and what is wrong.
torch::Tensor read_idx_images(const std::string& path);
/// Reads an IDX label file (magic 0x00000801, uint8, N). Returns N int64.
torch::Tensor read_idx_labels(const std::string& path);

/// Reads an MNIST-layout folder: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
/// `part` is "train" or "test". Checks that image and label counts agree.
Dataset load_idx_folder(const std::string& folder, const std::string& part);

/// Class names of Fashion-MNIST, used when a folder is recognised as Fashion-MNIST.
const std::vector<std::string>& fashion_mnist_classes();

}  // namespace cff
