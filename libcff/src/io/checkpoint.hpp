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

/// Reads the checkpoint at `path` into `archive`, after checking the file (a regular file within
/// the input limits), its header, size and CRC, and walking the archive's zip directory, pickles
/// and TorchScript source. Throws kIo / kFormat naming `path`. Returns the payload's size.
uint64_t open_checkpoint(const std::string& path, torch::serialize::InputArchive& archive);

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
