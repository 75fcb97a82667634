#pragma once
// Internal: the checkpoint file format (checkpoint.cpp), independent of what a trainer keeps in
// it (train/persist.cpp writes and reads the trainer's state through these).
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include <torch/torch.h>

#include "cff/trainer.hpp"

namespace cff::detail {

/// The file bytes of a checkpoint holding `payload` (a torch::serialize archive): magic, format
/// version, payload size and CRC-32 in front of it.
std::string seal_checkpoint(const std::string& payload);

/// A checkpoint file read into memory whose header, size and CRC have been checked.
struct CheckpointFile {
  std::vector<uint8_t> bytes;
  const char* payload() const;  ///< the torch::serialize archive after the header
  size_t payload_size() const;
};

/// Reads the checkpoint at `path` (a regular file within the input limits) and checks its header,
/// size and CRC. Throws kIo / kFormat naming `path`.
CheckpointFile read_checkpoint_file(const std::string& path);

/// Walks the payload's zip directory, pickles and TorchScript source, then has LibTorch load it
/// into `archive`. Throws kFormat (messages without the path) or LibTorch's own exceptions.
void load_checkpoint_archive(const CheckpointFile& file, torch::serialize::InputArchive& archive);

/// Training history as JSON text, and back (kFormat for text that is not a history).
std::string history_json(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> parse_history(const std::string& text);

/// A list of tensors as archive entries "0", "1", ..., and back onto `device`.
void write_tensors(torch::serialize::OutputArchive& archive, const std::vector<torch::Tensor>& tensors);
std::vector<torch::Tensor> read_tensors(torch::serialize::InputArchive& archive, const torch::Device& device);

/// Name, shape and dtype of every tensor (parameters, then buffers) of a module.
using TensorLayout = std::vector<std::tuple<std::string, std::vector<int64_t>, torch::Dtype>>;
TensorLayout layout_of(const torch::nn::Module& module);
std::string shape_text(c10::IntArrayRef shape);
/// kFormat naming `what` unless `module`'s tensors have exactly the `expected` layout (LibTorch's
/// Module::load replaces each tensor by the stored one whatever its shape).
void check_layout(const torch::nn::Module& module, const TensorLayout& expected, const std::string& what);
/// kFormat unless every AdamW moment of `opt` matches its parameter.
void check_optimizer(torch::optim::Optimizer& opt, const std::string& what);

/// One scalar entry of an archive: int64_t, double or std::string.
template <typename T>
T read_value(torch::serialize::InputArchive& archive, const char* key);

}  // namespace cff::detail
